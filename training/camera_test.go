package training

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/modelbuild"
	"dysl_vla/policy/modelinput"
	"dysl_vla/scene"
)

// A robot camera's frame, larger than the model's input, reaches the model close to what training
// rendered at the model's size: the scene drawn at 480x480 or 640x640 (each pixel its area's mean, as
// a sensor's) and reduced by the node's converter differs from the 64x64 drawing by a thousandth of
// a normalized unit on average and at most a third of one (at an edge a pixel straddles), where
// sampling one point per output pixel gave 0.005 and 1.75 (measured before area averaging).
func TestLargerCameraFramesConvertToWhatTrainingSaw(t *testing.T) {
	cfg := scene.DefaultConfig()
	steps, err := scene.Episode(1_000_000, cfg)
	require.NoError(t, err)
	spec := modelbuild.Arch{ImageSize: 64}.ImageSpec()
	input := func(im scene.Image) []float32 {
		out, err := modelinput.ImageInput(modelinput.Image{Width: im.Width, Height: im.Height, Encoding: "rgb8", Step: 3 * im.Width, Data: im.RGB}, spec)
		require.NoError(t, err)
		return out
	}
	for _, s := range []scene.State{steps[0].State, steps[len(steps)/3].State, steps[2*len(steps)/3].State} {
		want := input(scene.Render(s, 64, 64, 0))
		for _, size := range [][2]int{{480, 480}, {640, 640}, {640, 480}} {
			got := input(scene.Render(s, size[0], size[1], 0))
			var sum, worst float64
			for i := range want {
				d := math.Abs(float64(got[i] - want[i]))
				sum += d
				worst = math.Max(worst, d)
			}
			mean := sum / float64(len(want))
			require.Less(t, mean, 0.003, "tick %d, %dx%d: mean difference", s.Tick, size[0], size[1])
			require.Less(t, worst, 0.5, "tick %d, %dx%d: largest difference", s.Tick, size[0], size[1])
		}
	}
}
