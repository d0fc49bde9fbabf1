package policy_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/policy"
	"dysl_vla/policy/policytest"
	"dysl_vla/skipping"
)

// A stepwise pass runs what the caller asks, in order; a peek through an adapter shows the adapter's
// effect on the chunk and leaves the pass where it stood, and the stats count what ran.
func TestStepwisePassPeeksWithoutMovingThePass(t *testing.T) {
	fake := policytest.NewFake(fakeManifest())
	fake.AdapterJump[1] = 10
	counting := policytest.NewCounting(fake)
	e := newEngine(t, counting, skipping.DefaultConfig())

	var before, through, after, deeper [][]float64
	res, err := e.InferStepwise(policy.Observation{Image: grayImage(4, 4, 100), Instruction: "pick"},
		func(p *policy.Pass) ([][]float64, error) {
			var err error
			require.NoError(t, p.RunLayer(0))
			require.NoError(t, p.RunLayer(1))
			before, err = p.Peek(policy.NoAdapter)
			require.NoError(t, err)
			through, err = p.Peek(1)
			require.NoError(t, err)
			after, err = p.Peek(policy.NoAdapter)
			require.NoError(t, err)
			require.NoError(t, p.RunLayer(2))
			deeper, err = p.Peek(policy.NoAdapter)
			require.NoError(t, err)
			return through, nil
		})
	require.NoError(t, err)
	require.Equal(t, "prefix, layer 0, layer 1, head, save, adapter 1, head, restore, head, layer 2, head", counting.Sequence())
	for k := range before {
		for d := range before[k] {
			require.InDelta(t, before[k][d]+10, through[k][d], 1e-9, "the adapter's jump shows through the peek")
			require.Equal(t, before[k][d], after[k][d], "the peek left the hidden state as it was")
			require.InDelta(t, before[k][d]+float64(policytest.LayerDelta(2)), deeper[k][d], 1e-9, "the pass went on from layer 1")
			require.InDelta(t, through[k][d], float64(res.Chunk[k][d]), 1e-5, "the result is the chunk step returned")
		}
	}
	s := res.Stats
	require.Equal(t, 3, s.LayersExecuted)
	require.Equal(t, 5, s.LayersSkipped)
	require.Equal(t, 8, s.LayersTotal)
	require.Equal(t, 1, s.AdaptersRun)
	require.Equal(t, 1, s.Passes)
	require.Equal(t, uint64(1), s.Sequence)
	require.True(t, math.IsNaN(s.Continuity) && math.IsNaN(s.ContinuityDelta),
		"a stepwise pass keeps no trajectory: its continuity is undefined, not %v (Δ %v)", s.Continuity, s.ContinuityDelta)
}

// A stepwise pass neither reads nor changes the skipping state: the next plain inference is the one it
// would have been without it.
func TestStepwisePassLeavesTheSkippingStateAlone(t *testing.T) {
	obs := func(v byte) policy.Observation {
		return policy.Observation{Image: grayImage(4, 4, v), Instruction: "pick"}
	}
	run := func(stepwise bool) policy.Stats {
		fake := policytest.NewFake(fakeManifest())
		for j := range fake.SkipProb {
			fake.SkipProb[j] = 0.9
		}
		e := newEngine(t, fake, skipping.DefaultConfig())
		for _, v := range []byte{10, 30, 60, 100} {
			_, err := e.Infer(obs(v))
			require.NoError(t, err)
		}
		if stepwise {
			_, err := e.InferStepwise(obs(250), func(p *policy.Pass) ([][]float64, error) {
				return p.Peek(policy.NoAdapter)
			})
			require.NoError(t, err)
		}
		res, err := e.Infer(obs(150))
		require.NoError(t, err)
		return res.Stats
	}
	without, with := run(false), run(true)
	require.Equal(t, without.Sequence+1, with.Sequence)
	require.Equal(t, without.Stats.AllowPoints, with.Stats.AllowPoints)
	require.Equal(t, without.Stats.NextAllowPoints, with.Stats.NextAllowPoints)
	require.Equal(t, without.Stats.LayersExecuted, with.Stats.LayersExecuted)
	require.False(t, math.IsNaN(without.Stats.Continuity), "the history is long enough for continuity")
	require.Equal(t, without.Stats.Continuity, with.Stats.Continuity)
	require.Equal(t, without.Stats.ContinuityDelta, with.Stats.ContinuityDelta)
}

// What step returns is checked like a head output, step's error is returned, a Pass kept past its
// inference refuses to run, and the engine serves the next observation after each failure.
func TestStepwisePassFailures(t *testing.T) {
	e := newEngine(t, policytest.NewFake(fakeManifest()), skipping.DefaultConfig())
	obs := policy.Observation{Image: grayImage(4, 4, 100), Instruction: "pick"}
	errStep := errors.New("step failed")
	var kept *policy.Pass
	cases := []struct {
		name    string
		step    func(p *policy.Pass) ([][]float64, error)
		wantErr string
	}{
		{"NaN in the chunk", func(*policy.Pass) ([][]float64, error) {
			return [][]float64{{0, 0}, {math.NaN(), 0}}, nil
		}, `action chunk step 1, dimension "x" is NaN: not published`},
		{"too few rows", func(*policy.Pass) ([][]float64, error) { return [][]float64{{0, 0}}, nil }, "1 action rows, expected 2 (dims.chunk)"},
		{"short row", func(*policy.Pass) ([][]float64, error) { return [][]float64{{0, 0}, {0}}, nil }, "action row 1 has 1 values, expected 2"},
		{"step's own error", func(*policy.Pass) ([][]float64, error) { return nil, errStep }, "step failed"},
		{"a layer out of range", func(p *policy.Pass) ([][]float64, error) { return nil, p.RunLayer(99) }, "layer 99"},
		{"kept pass", func(p *policy.Pass) ([][]float64, error) { kept = p; return p.Peek(policy.NoAdapter) }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.InferStepwise(obs, c.step)
			if c.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, c.wantErr)
			}
			_, err = e.Infer(obs)
			require.NoError(t, err, "the engine serves the next observation")
		})
	}
	require.ErrorContains(t, kept.RunLayer(0), "pass used after its inference ended")
	_, err := kept.Peek(policy.NoAdapter)
	require.ErrorContains(t, err, "pass used after its inference ended")
}

// clockedBackend advances a fake clock by a fixed time per graph it runs.
type clockedBackend struct {
	policy.Backend
	now                        *time.Time
	layer, adapter, head, pref time.Duration
}

func (c *clockedBackend) RunPrefix(image []float32, tokens []int64, state []float32) error {
	*c.now = c.now.Add(c.pref)
	return c.Backend.RunPrefix(image, tokens, state)
}
func (c *clockedBackend) RunLayer(j int) error {
	*c.now = c.now.Add(c.layer)
	return c.Backend.RunLayer(j)
}
func (c *clockedBackend) RunAdapter(j int) error {
	*c.now = c.now.Add(c.adapter)
	return c.Backend.RunAdapter(j)
}
func (c *clockedBackend) RunHead(out []float32) error {
	*c.now = c.now.Add(c.head)
	return c.Backend.RunHead(out)
}

// The head runs of the peeks before the last decided whether to go on (an early exit's criterion):
// they are booked as controller time, part of the backbone's, and only the last one's as the head's.
func TestStepwisePassBooksSideExitHeadsAsControllers(t *testing.T) {
	now := time.Unix(1000, 0)
	b := &clockedBackend{Backend: policytest.NewFake(fakeManifest()), now: &now,
		pref: time.Second, layer: 100 * time.Millisecond, adapter: 10 * time.Millisecond, head: time.Millisecond}
	e := &policy.Engine{Manifest: fakeManifest(), Backend: b, Now: func() time.Time { return now }}
	require.NoError(t, e.Initialize())
	res, err := e.InferStepwise(policy.Observation{Image: grayImage(4, 4, 100), Instruction: "pick"},
		func(p *policy.Pass) ([][]float64, error) {
			require.NoError(t, p.RunLayer(0))
			_, err := p.Peek(0) // a side exit: adapter and head
			require.NoError(t, err)
			require.NoError(t, p.RunLayer(1))
			_, err = p.Peek(1)
			require.NoError(t, err)
			require.NoError(t, p.RunLayer(2))
			return p.Peek(policy.NoAdapter) // the output
		})
	require.NoError(t, err)
	tm := res.Stats.Timing
	require.Equal(t, 300*time.Millisecond, tm.Layers)
	require.Equal(t, 20*time.Millisecond, tm.Adapters)
	require.Equal(t, 2*time.Millisecond, tm.Controllers, "two side exits' heads")
	require.Equal(t, time.Millisecond, tm.Head, "the output's head")
}
