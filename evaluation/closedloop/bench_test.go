package closedloop

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/policy/policytest"
	"dysl_vla/scene"
	"dysl_vla/skipping"
)

// A dithered baseline skips on an episode what it would skip on that episode played alone: its dither
// starts over with each episode, so a run's rows do not hang on which episodes came before (or on a
// journal resuming the run part way).
func TestDitheredBaselinesStartEachEpisodeAfresh(t *testing.T) {
	m := policytest.Manifest()
	layout, err := skipping.NewLayout(m.Dims.Layers, m.StaticLayers)
	require.NoError(t, err)
	b := &bench{m: m, layout: layout, backend: policytest.NewFake(m), dysl: skipping.DefaultConfig()}
	for _, s := range []skipping.Strategy{skipping.StrategyRandomSkip, skipping.StrategyFixedRatio} {
		ratios := func(seeds ...int64) []float64 {
			v, err := b.dithered(s, 1.3)
			require.NoError(t, err)
			var out []float64
			for _, seed := range seeds {
				for tick := 0; tick < 20; tick += 4 {
					out = append(out, v.BeforeInference(scene.State{Seed: seed, Tick: tick}).SkipRatio)
				}
			}
			return out
		}
		alone := ratios(7)
		require.Equal(t, alone, ratios(3, 7)[5:], "%v: seed 7 after seed 3", s)
		require.Equal(t, alone, ratios(7, 7)[5:], "%v: seed 7 played again", s)
	}

	// A camera twice the control rate serves two frames a tick: one episode, one dither, its mean on
	// the target.
	v, err := b.dithered(skipping.StrategyRandomSkip, 1.3)
	require.NoError(t, err)
	var skipped float64
	const frames = 200
	for i := range frames {
		ratio := v.BeforeInference(scene.State{Seed: 7, Tick: i / 2}).SkipRatio
		skipped += math.Round(ratio * float64(b.layout.DynamicLayers()))
	}
	require.InDelta(t, 1.3, skipped/frames, 0.01)
}
