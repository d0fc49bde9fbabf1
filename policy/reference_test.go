package policy_test

import (
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
