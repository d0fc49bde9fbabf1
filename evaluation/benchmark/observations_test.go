package benchmark

import (
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/policy/bundle"
)

// The same seed gives the same frames, another seed other frames; each frame has the model's input
// size in rgb8.
func TestSyntheticObservations(t *testing.T) {
	img := bundle.ImageSpec{Width: 5, Height: 3}
	a := SyntheticObservations(img, 4, 7)
	require.Len(t, a, 4)
	for _, o := range a {
		require.Equal(t, 5, o.Image.Width)
		require.Equal(t, 3, o.Image.Height)
		require.Equal(t, "rgb8", o.Image.Encoding)
		require.Equal(t, 15, o.Image.Step)
		require.Len(t, o.Image.Data, 45)
		require.NotEmpty(t, o.Instruction)
	}
	require.NotEqual(t, a[0].Image.Data, a[1].Image.Data)
	require.NotEqual(t, a[0].Instruction, a[1].Instruction)
	require.Equal(t, a, SyntheticObservations(img, 4, 7))
	require.NotEqual(t, a[0].Image.Data, SyntheticObservations(img, 1, 8)[0].Image.Data)
}
