package modelbuild

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDeepenedPositionsSpreadTheLayers(t *testing.T) {
	require.Equal(t, []int{0, 2, 3, 5, 6, 8, 9, 11}, DeepenedPositions(8, 12))
	require.Equal(t, []int{0, 1, 2}, DeepenedPositions(3, 3))
	require.Equal(t, []int{0}, DeepenedPositions(1, 4))
}

// The deepened backbone computes the same actions as the shallow one: the new layers are identities.
func TestDeepenKeepsTheFunction(t *testing.T) {
	from := tinyArchForTest(3)
	to := tinyArchForTest(5)
	w := RandomWeights(from, 7)
	deep, err := Deepen(w, from, to)
	require.NoError(t, err)
	require.Len(t, deep.Layers, 5)

	obs := CalibrationObservations(from, 1, 3)[0]
	_, want, err := (&Model{Arch: from, Weights: w}).Forward(obs)
	require.NoError(t, err)
	_, got, err := (&Model{Arch: to, Weights: deep}).Forward(obs)
	require.NoError(t, err)
	require.InDeltaSlice(t, want, got, 1e-9)
	require.NotEqual(t, make([]float32, len(deep.Layers[1].Q)), deep.Layers[1].Q, "new layers are random apart from their outputs")

	_, err = Deepen(w, from, tinyArchForTest(2))
	require.ErrorContains(t, err, "cannot become 2")
	wider := to
	wider.Hidden = 128
	_, err = Deepen(w, from, wider)
	require.ErrorContains(t, err, "beyond the layer count")
}

// A backbone trained without the robot state gains the input at zero: it computes what it did,
// whatever state comes in, until training moves the new weights.
func TestDeepenAddsTheStateInputAtZero(t *testing.T) {
	from := tinyArchForTest(3)
	to := from
	to.StateDim, to.StateFrequencies = 5, 2
	w := RandomWeights(from, 7)
	grown, err := Deepen(w, from, to)
	require.NoError(t, err)
	require.Len(t, grown.StateWeight, 5*5*from.Hidden)

	obs := CalibrationObservations(from, 1, 3)[0]
	_, want, err := (&Model{Arch: from, Weights: w}).Forward(obs)
	require.NoError(t, err)
	obs.State = []float32{1, -2, 0.5, 3, -1}
	_, got, err := (&Model{Arch: to, Weights: grown}).Forward(obs)
	require.NoError(t, err)
	require.InDeltaSlice(t, want, got, 1e-9)

	other := to
	other.StateDim = 3
	_, err = Deepen(grown, to, other)
	require.ErrorContains(t, err, "a state input of 25 features cannot become one of 15")
}

// A backbone trained without keypoints gains them with a zero output map: it computes what it did,
// whatever the picture, until training moves the new weights; the new pixel network is random.
func TestDeepenAddsTheKeypointsAtZero(t *testing.T) {
	from := tinyArchForTest(3)
	to := from
	to.Keypoints, to.KeypointHidden = 4, 8
	w := RandomWeights(from, 7)
	grown, err := Deepen(w, from, to)
	require.NoError(t, err)
	require.Equal(t, make([]float32, 2*4*from.Hidden), grown.KeypointOut)
	require.NotEqual(t, make([]float32, 3*8), grown.KeypointPixel)

	obs := CalibrationObservations(from, 1, 3)[0]
	_, want, err := (&Model{Arch: from, Weights: w}).Forward(obs)
	require.NoError(t, err)
	_, got, err := (&Model{Arch: to, Weights: grown}).Forward(obs)
	require.NoError(t, err)
	require.InDeltaSlice(t, want, got, 1e-9)

	other := to
	other.Keypoints = 6
	_, err = Deepen(grown, to, other)
	require.ErrorContains(t, err, "4 keypoints of width 8 cannot become 6 of width 8")
}

func tinyArchForTest(layers int) Arch {
	p, err := LookupPreset("tiny")
	if err != nil {
		panic(err)
	}
	p.Arch.Layers = layers
	return p.Arch
}
