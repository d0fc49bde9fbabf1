package policy_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
	"dysl_vla/policy/policytest"
	"dysl_vla/skipping"
)

// stateManifest is fakeManifest with a robot-state input of two values.
func stateManifest() *bundle.Manifest {
	m := fakeManifest()
	m.State = &bundle.StateSpec{Names: []string{"ee_z", "gripper"}, Mean: []float64{0.15, 0}, Std: []float64{0.1, 2}}
	return m
}

func newStateEngine(t *testing.T, b policy.Backend) *policy.Engine {
	t.Helper()
	cfg := skipping.DefaultConfig()
	e := &policy.Engine{Manifest: stateManifest(), Backend: b, Skipping: &cfg}
	require.NoError(t, e.Initialize())
	return e
}

// The engine normalizes the observation's state with the manifest's statistics before every graph
// that reads it: the segmented run's prefix, the stepwise pass's and the single graph.
func TestStateIsNormalizedForEveryEntryPoint(t *testing.T) {
	fake := policytest.NewFake(stateManifest())
	e := newStateEngine(t, fake)
	obs := policy.Observation{Image: grayImage(4, 4, 0), Instruction: "go", State: []float64{0.35, -1}}
	want := []float32{2, -0.5} // (0.35-0.15)/0.1, (-1-0)/2

	res, err := e.Infer(obs)
	require.NoError(t, err)
	require.InDeltaSlice(t, want, fake.LastState(), 1e-6)
	// The fake's prefix adds the state's sum to the hidden state: the chunk shows it reached the model.
	require.NotEqual(t, res.Chunk, mustInfer(t, e, policy.Observation{Image: obs.Image, Instruction: "go", State: []float64{0.15, 0}}))

	_, err = e.InferSingleGraph(policy.Observation{Image: obs.Image, State: []float64{0.05, 4}})
	require.NoError(t, err)
	require.InDeltaSlice(t, []float32{-1, 2}, fake.LastState(), 1e-6)

	_, err = e.InferStepwise(policy.Observation{Image: obs.Image, State: []float64{0.25, 1}}, func(p *policy.Pass) ([][]float64, error) {
		return p.Peek(policy.NoAdapter)
	})
	require.NoError(t, err)
	require.InDeltaSlice(t, []float32{1, 0.5}, fake.LastState(), 1e-6)
}

func mustInfer(t *testing.T, e *policy.Engine, obs policy.Observation) [][]float32 {
	t.Helper()
	res, err := e.Infer(obs)
	require.NoError(t, err)
	return res.Chunk
}

// A state of the wrong length or with a non-finite value is the observation's fault: an InputError
// naming what is wrong, no graph runs, and the next good observation is served.
func TestBadStateIsAnInputErrorAndTheNextObservationServed(t *testing.T) {
	counting := policytest.NewCounting(policytest.NewFake(stateManifest()))
	e := newStateEngine(t, counting)
	img := grayImage(4, 4, 10)
	cases := []struct {
		name  string
		state []float64
		want  string
	}{
		{"missing", nil, "observation state: 0 values, expected 2 (ee_z, gripper)"},
		{"too few", []float64{0.1}, "observation state: 1 values, expected 2 (ee_z, gripper)"},
		{"too many", []float64{0.1, 0, 0}, "observation state: 3 values, expected 2 (ee_z, gripper)"},
		{"NaN", []float64{math.NaN(), 0}, `observation state: "ee_z" is NaN (expected a finite value)`},
		{"Inf", []float64{0.1, math.Inf(1)}, `observation state: "gripper" is +Inf (expected a finite value)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			counting.Reset()
			for _, infer := range []func(policy.Observation) error{
				func(o policy.Observation) error { _, err := e.Infer(o); return err },
				func(o policy.Observation) error { _, err := e.InferSingleGraph(o); return err },
			} {
				err := infer(policy.Observation{Image: img, State: c.state})
				var inErr *policy.InputError
				require.ErrorAs(t, err, &inErr)
				require.Equal(t, "state", inErr.Field)
				require.EqualError(t, err, c.want)
			}
			require.Empty(t, counting.Sequence(), "no graph runs on a bad state")
			_, err := e.Infer(policy.Observation{Image: img, State: []float64{0.1, 0}})
			require.NoError(t, err)
		})
	}
}

// A bundle without a state block behaves as before states existed: whatever State holds is ignored and
// the backend gets no state.
func TestStatelessBundleIgnoresTheState(t *testing.T) {
	fake := policytest.NewFake(fakeManifest())
	e := newEngine(t, fake, skipping.DefaultConfig())
	img := grayImage(4, 4, 10)
	without := mustInfer(t, e, policy.Observation{Image: img, Instruction: "go"})
	with := mustInfer(t, e, policy.Observation{Image: img, Instruction: "go", State: []float64{math.NaN(), 1, 2}})
	require.Equal(t, without, with)
	require.Nil(t, fake.LastState())
}

func TestBadStateStatisticsAreRefusedAtInitialize(t *testing.T) {
	m := stateManifest()
	m.State.Std[1] = 0
	e := &policy.Engine{Manifest: m, Backend: policytest.NewFake(m)}
	require.ErrorContains(t, e.Initialize(), `policy: bundle "fake": modelinput: state "gripper" has mean 0 and std 0`)
}
