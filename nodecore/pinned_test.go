package nodecore_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/msgs"
	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
	"dysl_vla/policy"
	"dysl_vla/policy/policytest"
	"dysl_vla/skipping"
)

// countingForwarder is a ChunkForwarder that keeps what it is given.
type countingForwarder struct{ chunks []*msgs.ActionChunk }

func (f *countingForwarder) ForwardChunk(c *msgs.ActionChunk, _ int) error {
	f.chunks = append(f.chunks, c)
	return nil
}
func (f *countingForwarder) LinkStatus() msgs.DiagnosticStatus {
	return msgs.DiagnosticStatus{Level: msgs.DiagnosticOK, Message: "link up"}
}

// A Config.Infer (a baseline's inference) bypasses the engine's own refusal of non-finite chunks, so
// the core checks every chunk itself: a NaN or an infinity in a chunk is neither published on ROS nor
// forwarded to the arm controller, which would drive a joint to it; the notice names the step and the
// dimension, and the diagnostics count each.
func TestNonFiniteChunksOfAnInferFunctionAreNeverPublishedOrForwarded(t *testing.T) {
	m := policytest.Manifest()
	engine := &policy.Engine{Manifest: m, Backend: policytest.NewFake(m), Now: func() time.Time { return t0 }}
	require.NoError(t, engine.Initialize())
	srv, _, err := nodecore.NewParamServer("/dysl_vla_node", nil, func() time.Time { return t0 })
	require.NoError(t, err)
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	chunks := [][][]float32{
		{{0.5, 1}, {nan, -1}}, // step 1, dimension 0 (x)
		{{0.5, inf}, {0, 1}},  // step 0, dimension 1 (gripper)
		{{0.5, 1}, {0.25, -1}},
	}
	infer := func(policy.Observation) (policy.Result, error) {
		c := chunks[0]
		chunks = chunks[1:]
		return policy.Result{Chunk: c, Stats: policy.Stats{Stats: skipping.Stats{Strategy: skipping.StrategyFull, Passes: 1, LayersTotal: 8, LayersExecuted: 8}}}, nil
	}
	sink, fwd := &recorder{}, &countingForwarder{}
	core, err := nodecore.New(nodecore.Config{Engine: engine, Params: srv, Sink: sink, Forwarder: fwd, Infer: infer})
	require.NoError(t, err)
	defer core.Close()
	core.Diagnostics(t0)
	core.SetInstruction("pick")
	for i := range 2 {
		at := time.Duration(i) * 100 * time.Millisecond
		core.OfferFrame(frame(at, "cam", 100))
		require.True(t, core.Step(t0.Add(at+10*time.Millisecond)))
	}
	require.Empty(t, sink.chunks)
	require.Empty(t, sink.stats)
	require.Empty(t, fwd.chunks)
	ev := eventsOf[nodecore.EventNonFiniteAction](sink)
	require.Len(t, ev, 2)
	require.Equal(t, []int{1, 0}, []int{ev[0].Step, ev[0].Dim})
	require.Equal(t, "x", ev[0].Name)
	require.True(t, math.IsNaN(float64(ev[0].Value)))
	require.Equal(t, []int{0, 1}, []int{ev[1].Step, ev[1].Dim})
	require.Equal(t, "gripper", ev[1].Name)
	require.Equal(t, inf, ev[1].Value)
	st := core.Diagnostics(t0.Add(time.Second)).Status[0]
	require.Equal(t, msgs.DiagnosticError, st.Level)
	require.Equal(t, "2", value(t, st, "non-finite chunks"))

	core.OfferFrame(frame(time.Second, "cam", 100)) // a finite chunk goes out again
	require.True(t, core.Step(t0.Add(time.Second+10*time.Millisecond)))
	require.Len(t, sink.chunks, 1)
	require.Len(t, fwd.chunks, 1)
}

// With max_image_age on, a frame without a stamp is stale whatever the clock reads: its age is
// unknown. Under sim time early in a recording (/clock at 0.3 s) the stamp 0 would otherwise look
// 0.3 s old, within max_image_age, and the arm would act on a frame of unknown age.
func TestUnstampedFrameIsStaleEarlyInSimTime(t *testing.T) {
	f := newFixture(t, nil, map[string]paramserver.Value{nodecore.ParamUseSimTime: paramserver.Bool(true)}) // max_image_age 0.5 s
	f.core.SetInstruction("pick")
	img := frame(0, "cam", 100)
	img.Header.Stamp = msgs.Time{}
	f.core.OfferFrame(img)
	require.True(t, f.core.Step(time.Unix(0, int64(300*time.Millisecond))))
	require.Empty(t, f.sink.chunks)
	stale := eventsOf[nodecore.EventFrameStale](f.sink)
	require.Len(t, stale, 1)
	require.True(t, stale[0].Stamp.IsZero())
}

// Two robot-state readings equally far from the frame's stamp: the newer is taken (state.go, nearest:
// "ties go to the newer"), the arm's latest known pose rather than one it has already left.
func TestStateTieGoesToTheNewerReading(t *testing.T) {
	f := newStateFixture(t, nil)
	f.core.SetInstruction("pick")
	f.core.OfferState(stampAt(-10*time.Millisecond), []string{"ee_z", "gripper"}, []float64{0.2, 1})
	f.core.OfferState(stampAt(10*time.Millisecond), []string{"ee_z", "gripper"}, []float64{0.4, 1})
	f.core.OfferFrame(frame(0, "cam", 100))
	f.core.Step(t0.Add(20 * time.Millisecond))
	require.Len(t, f.sink.chunks, 1)
	require.InDeltaSlice(t, []float32{3, 1}, f.fake.LastState(), 1e-6, "ee_z 0.4, of the reading at +10 ms")
}
