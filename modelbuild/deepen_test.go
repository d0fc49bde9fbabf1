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

// A backbone trained without the robot state, the keypoints, their selector or the relative points gains them at zero: it computes what it
// did, whatever state and picture come in, until training moves the new weights. A grown input cannot
// change its size.
func TestDeepenAddsInputsAtZero(t *testing.T) {
	from := tinyArchForTest(3)
	cases := []struct {
		name    string
		grow    func(a *Arch)
		check   func(t *testing.T, w *Weights)
		resize  func(a *Arch)
		wantErr string
	}{
		{"state", func(a *Arch) { a.StateDim, a.StateFrequencies = 5, 2 },
			func(t *testing.T, w *Weights) { require.Len(t, w.StateWeight, 5*5*from.Hidden) },
			func(a *Arch) { a.StateDim = 3 }, "a state input of 25 features cannot become one of 15"},
		{"keypoints", func(a *Arch) { a.Keypoints, a.KeypointHidden = 4, 8 },
			func(t *testing.T, w *Weights) {
				require.Equal(t, make([]float32, 2*4*from.Hidden), w.KeypointOut)
				require.NotEqual(t, make([]float32, 3*8), w.KeypointPixel, "the new pixel network is random")
			},
			func(a *Arch) { a.Keypoints = 6 }, "4 keypoints of width 8 cannot become 6 of width 8"},
		{"keypoint selector", func(a *Arch) { a.Keypoints, a.KeypointHidden, a.SelectorWindow, a.SelectorHidden = 4, 8, 3, 8 },
			func(t *testing.T, w *Weights) {
				require.Equal(t, make([]float32, 2*SelectorChoices*from.Hidden), w.SelectorOut)
				require.NotEqual(t, make([]float32, 3*SelectorEmbedding*8), w.SelectorWindow, "the new window network is random")
			},
			func(a *Arch) { a.SelectorHidden = 6 }, "a keypoint selector of window 3 and width 8 cannot become one of 3 and 6"},
		{"relative points", func(a *Arch) {
			a.StateDim, a.StateFrequencies = 5, 2
			a.Keypoints, a.KeypointHidden, a.SelectorWindow, a.SelectorHidden, a.RelativePoints = 4, 8, 3, 8, true
		},
			func(t *testing.T, w *Weights) {
				require.Equal(t, make([]float32, 2*SelectorChoices*from.Hidden), w.RelativeOut)
				grip, gripBias := GripperImagePoint()
				require.Equal(t, grip, w.GripperWeight, "the gripper's image point starts as the camera's")
				require.Equal(t, gripBias, w.GripperBias)
			},
			func(a *Arch) { a.RelativePoints = false }, "the relative points cannot be dropped"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			to := from
			c.grow(&to)
			w := RandomWeights(from, 7)
			grown, err := Deepen(w, from, to)
			require.NoError(t, err)
			c.check(t, grown)

			obs := CalibrationObservations(from, 1, 3)[0]
			_, want, err := (&Model{Arch: from, Weights: w}).Forward(obs)
			require.NoError(t, err)
			if to.StateDim > 0 {
				obs.State = []float32{1, -2, 0.5, 3, -1}
			}
			_, got, err := (&Model{Arch: to, Weights: grown}).Forward(obs)
			require.NoError(t, err)
			require.InDeltaSlice(t, want, got, 1e-9)

			other := to
			c.resize(&other)
			_, err = Deepen(grown, to, other)
			require.ErrorContains(t, err, c.wantErr)
		})
	}
}

func tinyArchForTest(layers int) Arch {
	p, err := LookupPreset("tiny")
	if err != nil {
		panic(err)
	}
	p.Arch.Layers = layers
	return p.Arch
}

// Another keypoint gain is taken as it is, not made exact: the score weights are copied, so the same
// scores make other keypoints.
func TestDeepenKeepsTheScoresUnderAnotherKeypointGain(t *testing.T) {
	from := tinyArchForTest(3)
	from.Keypoints, from.KeypointHidden = 4, 8
	to := from
	to.KeypointGain = 16
	w := RandomWeights(from, 7)
	grown, err := Deepen(w, from, to)
	require.NoError(t, err)
	require.Equal(t, w.KeypointScore, grown.KeypointScore)
	image := CalibrationObservations(from, 1, 3)[0].Image
	require.NotEqual(t, (&Model{Arch: from, Weights: w}).Keypoints(image), (&Model{Arch: to, Weights: grown}).Keypoints(image))
}
