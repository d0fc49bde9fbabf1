package nodecore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/nodecore"
	"dysl_vla/policy"
	"dysl_vla/policy/policytest"
	"dysl_vla/skipping"
)

// A Config.Infer stands in for Engine.Infer: its chunk and statistics are what the Core publishes, and
// it sees the frame and the instruction in force. Its timings go out on ~/skip_stats in milliseconds.
func TestInferReplacesTheEnginesInference(t *testing.T) {
	m := policytest.Manifest()
	engine := &policy.Engine{Manifest: m, Backend: policytest.NewFake(m), Now: func() time.Time { return t0 }}
	require.NoError(t, engine.Initialize())
	srv, _, err := nodecore.NewParamServer("/dysl_vla_node", nil, func() time.Time { return t0 })
	require.NoError(t, err)
	var seen []policy.Observation
	infer := func(obs policy.Observation) (policy.Result, error) {
		seen = append(seen, obs)
		return policy.Result{Chunk: [][]float32{{0.5, 1}, {0.25, -1}},
			Stats: policy.Stats{Stats: skipping.Stats{Strategy: skipping.StrategyFull, Passes: 1, LayersTotal: 8, LayersExecuted: 3, LayersSkipped: 5},
				Timing: policy.Timing{Prefix: time.Millisecond, Layers: 8 * time.Millisecond, Adapters: 500 * time.Microsecond,
					Controllers: 250 * time.Microsecond, Head: 2 * time.Millisecond, Verification: 750 * time.Microsecond, Total: 12500 * time.Microsecond}}}, nil
	}
	sink := &recorder{}
	core, err := nodecore.New(nodecore.Config{Engine: engine, Params: srv, Sink: sink, Infer: infer})
	require.NoError(t, err)
	defer core.Close()
	core.SetInstruction("pick")
	core.OfferFrame(frame(0, "cam", 100))
	core.Step(t0.Add(10 * time.Millisecond))
	require.Len(t, seen, 1)
	require.Equal(t, "pick", seen[0].Instruction)
	require.Len(t, sink.chunks, 1)
	require.Equal(t, []float32{0.5, 1, 0.25, -1}, sink.chunks[0].Actions)
	require.Equal(t, uint32(3), sink.chunks[0].LayersExecuted)
	s := sink.stats[0]
	require.Equal(t, []float64{12.5, 1, 8, 0.5, 0.25, 2, 0.75},
		[]float64{s.LatencyMs, s.PrefixLatencyMs, s.LayersLatencyMs, s.AdaptersLatencyMs, s.ControllersLatencyMs, s.HeadLatencyMs, s.VerificationLatencyMs})
}
