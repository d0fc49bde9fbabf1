package benchmark

import (
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/policy/bundle"
)

// The same seed gives the same frames, another seed other frames; each frame has the model's input
// size in rgb8.
func TestSyntheticObservations(t *testing.T) {
	m := &bundle.Manifest{Image: bundle.ImageSpec{Width: 5, Height: 3}}
	a := SyntheticObservations(m, 4, 7)
	require.Len(t, a, 4)
	for _, o := range a {
		require.Equal(t, 5, o.Image.Width)
		require.Equal(t, 3, o.Image.Height)
		require.Equal(t, "rgb8", o.Image.Encoding)
		require.Equal(t, 15, o.Image.Step)
		require.Len(t, o.Image.Data, 45)
		require.NotEmpty(t, o.Instruction)
		require.Nil(t, o.State, "a stateless bundle gets no state")
	}
	require.NotEqual(t, a[0].Image.Data, a[1].Image.Data)
	require.NotEqual(t, a[0].Instruction, a[1].Instruction)
	require.Equal(t, a, SyntheticObservations(m, 4, 7))
	require.NotEqual(t, a[0].Image.Data, SyntheticObservations(m, 1, 8)[0].Image.Data)
}

// A bundle with a state block gets a state per frame, one value per name, drawn around its statistics.
func TestSyntheticObservationsCarryAState(t *testing.T) {
	m := &bundle.Manifest{Image: bundle.ImageSpec{Width: 2, Height: 2},
		State: &bundle.StateSpec{Names: []string{"a", "b"}, Mean: []float64{100, -5}, Std: []float64{0.001, 0.001}}}
	obs := SyntheticObservations(m, 3, 1)
	for _, o := range obs {
		require.Len(t, o.State, 2)
		require.InDelta(t, 100, o.State[0], 0.01)
		require.InDelta(t, -5, o.State[1], 0.01)
	}
	require.NotEqual(t, obs[0].State, obs[1].State)
	stateless := SyntheticObservations(&bundle.Manifest{Image: m.Image}, 3, 1)
	require.Equal(t, stateless[0].Image, obs[0].Image, "the frames are those of a stateless bundle")
}
