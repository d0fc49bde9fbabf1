package modelbuild

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/policy/bundle"
	"dysl_vla/policy/modelinput"
	"dysl_vla/scene"
)

// The balance every bundle of this builder declares leaves the frames of the evenly lit scene, the
// ones training sees, bit for bit as they were, and undoes most of a lighting change: the frame lit
// 25% brighter or dimmer converts close to the frame under the normal light.
func TestImageSpecBalancesTheSceneLight(t *testing.T) {
	a := Arch{ImageSize: 64}
	plain := a.ImageSpec()
	plain.Balance = nil
	in := func(s scene.State, balanced bool) []float32 {
		spec := a.ImageSpec()
		if !balanced {
			spec = plain
		}
		img := scene.Render(s, 64, 64, scene.DefaultConfig().CameraNoise)
		out, err := modelinput.ImageInput(modelinput.Image{Width: 64, Height: 64, Encoding: "rgb8", Step: 3 * 64, Data: img.RGB}, spec)
		require.NoError(t, err)
		return out
	}
	meanAbs := func(x, y []float32) float64 {
		sum := 0.0
		for i := range x {
			sum += math.Abs(float64(x[i] - y[i]))
		}
		return sum / float64(len(x))
	}
	for seed := range int64(10) {
		steps, err := scene.Episode(seed, scene.DefaultConfig())
		require.NoError(t, err)
		for _, st := range []scene.EpisodeStep{steps[0], steps[len(steps)/2], steps[len(steps)-1]} {
			s := st.State
			require.Equal(t, in(s, false), in(s, true), "seed %d: a training frame is left as it is", seed)
			normal := in(s, true)
			for _, light := range []float64{-0.25, 0.25} {
				s.Light = light
				require.Less(t, meanAbs(in(s, true), normal), 0.1*meanAbs(in(s, false), normal),
					"seed %d light %+v: balanced, the frame is within a tenth of the unbalanced change", seed, light)
			}
		}
	}
}

// A light scales every channel alike, so on the tabletop (its light, noise and distractors, up to
// eight blocks and pads) the balance's three gains agree within a few percent: the diagnostics warn
// only beyond 25% (nodecore), which these frames must stay far from.
func TestImageSpecGainsAgreeOnTheTabletop(t *testing.T) {
	a := Arch{ImageSize: 64}
	c, err := modelinput.NewImageConverter(a.ImageSpec())
	require.NoError(t, err)
	dst := make([]float32, 3*64*64)
	crowded := scene.DefaultTabletop()
	crowded.Blocks, crowded.Pads = 4, 4
	for _, table := range []scene.Tabletop{scene.DefaultTabletop(), crowded} {
		corrected := 0
		for seed := range int64(30) {
			s := scene.ResetTabletop(seed, table)
			img := scene.Render(s, 64, 64, scene.DefaultConfig().CameraNoise)
			require.NoError(t, c.Convert(modelinput.Image{Width: 64, Height: 64, Encoding: "rgb8", Step: 3 * 64, Data: img.RGB}, dst))
			g := c.Gains()
			require.Less(t, bundle.BalanceSpread(g), 1.05, "seed %d, %d blocks, light %+.2f: gains %v", seed, table.Blocks, s.Light, g)
			if g != [3]float64{1, 1, 1} {
				corrected++
			}
		}
		require.Greater(t, corrected, 20, "the tabletop's light changes most frames: the spread is measured on corrected ones")
	}
}
