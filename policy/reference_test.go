package policy_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/policy"
	"dysl_vla/policy/policytest"
	"dysl_vla/skipping"
)

// wrongLayer runs layer Twice twice where the bundle asks for it once: a layer graph that is not the
// model's, which the single graph, built from the model's own layers, does not share.
type wrongLayer struct {
	*policytest.Fake
	Twice int
}

func (w wrongLayer) RunLayer(j int) error {
	if j == w.Twice {
		if err := w.Fake.RunLayer(j); err != nil {
			return err
		}
	}
	return w.Fake.RunLayer(j)
}

// The segmented run with every layer matches the single graph when the graphs are the model's, and
// parts from it, by a layer's worth, when one is not, whatever the controllers would skip.
func TestCompareWithSingleGraph(t *testing.T) {
	obs := policy.Observation{Image: grayImage(4, 4, 100), Instruction: "pick"}
	fake := policytest.NewFake(fakeManifest())
	for j := range fake.SkipProb {
		fake.SkipProb[j] = 1 // a plan would skip every dynamic layer; the comparison runs them all
	}
	e := newEngine(t, fake, skipping.DefaultConfig())
	c, err := e.CompareWithSingleGraph(obs)
	require.NoError(t, err)
	require.Zero(t, c.MaxDiff, "%v", c)

	e = newEngine(t, wrongLayer{Fake: fake, Twice: 5}, skipping.DefaultConfig())
	c, err = e.CompareWithSingleGraph(obs)
	require.NoError(t, err)
	require.Equal(t, float64(policytest.LayerDelta(5)), c.MaxDiff, "%v", c)
	require.Greater(t, c.MaxDiff, policy.SingleGraphTolerance)
	require.Equal(t, `largest difference 6 at step 0, dimension "x" (segmented 42.3922, single graph 36.3922; normalized units)`, c.String())
}

// A value that is not finite on either side is as far apart as can be: a chunk of NaN compares false
// with every tolerance, and must not pass `dysl model check` as agreeing with the other run.
func TestCompareChunksNotFinite(t *testing.T) {
	e := newEngine(t, policytest.NewFake(fakeManifest()), skipping.DefaultConfig())
	nan, inf := math.NaN(), math.Inf(-1)
	finite := [][]float64{{0.5, 0.25}, {1, 2}}
	for _, tc := range []struct {
		segmented, single [][]float64
		want              string
	}{
		{[][]float64{{nan, nan}, {nan, nan}}, finite,
			`the segmented run's value is not finite at step 0, dimension "x" (segmented NaN, single graph 0.5; normalized units)`},
		{finite, [][]float64{{0.5, 0.25}, {1, inf}},
			`the single graph's value is not finite at step 1, dimension "gripper" (segmented 2, single graph -Inf; normalized units)`},
		{[][]float64{{nan, nan}, {nan, nan}}, [][]float64{{nan, nan}, {nan, nan}},
			`both runs' value is not finite at step 0, dimension "x" (segmented NaN, single graph NaN; normalized units)`},
	} {
		c := e.CompareChunks(tc.segmented, tc.single)
		require.True(t, math.IsInf(c.MaxDiff, 1), "%v", c)
		require.False(t, c.MaxDiff <= policy.SingleGraphTolerance, "the check `dysl model check` makes")
		require.Equal(t, tc.want, c.String())
	}

	// A chunk of NaN from either graph never reaches the comparison: the run refuses it.
	for _, op := range []policytest.Op{policytest.OpHead, policytest.OpSingleGraph} {
		faulty := policytest.NewFaulty(policytest.NewFake(fakeManifest()), policytest.Fault{Op: op, NaN: true})
		_, err := newEngine(t, faulty, skipping.DefaultConfig()).CompareWithSingleGraph(policy.Observation{Image: grayImage(4, 4, 100), Instruction: "pick"})
		var notFinite *policy.NonFiniteActionError
		require.ErrorAs(t, err, &notFinite, "NaN from %v", op)
	}
}
