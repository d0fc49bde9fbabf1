package modelinput

import (
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/policy/bundle"
)

// Each encoding's bytes are written by hand, not through layoutOf, so a wrong entry in the colour-order
// table cannot agree with itself: a bgr8 camera read as rgb8 gives the policy a red object where a blue
// one stands, and the arm reaches for the wrong thing.
func TestEncodingChannelOrderFromHandWrittenBytes(t *testing.T) {
	cases := []struct {
		enc     string
		pixel   []byte
		r, g, b byte
	}{
		{"rgb8", []byte{10, 20, 30}, 10, 20, 30},
		{"bgr8", []byte{10, 20, 30}, 30, 20, 10},
		{"rgba8", []byte{10, 20, 30, 40}, 10, 20, 30},
		{"bgra8", []byte{10, 20, 30, 40}, 30, 20, 10},
		{"mono8", []byte{10}, 10, 10, 10},
	}
	// Every encoding the table supports has a hand-written case here.
	var names []string
	for _, c := range cases {
		names = append(names, c.enc)
	}
	require.ElementsMatch(t, Encodings(), names, "an encoding without a hand-written case")
	for _, c := range cases {
		// Two pixels and a byte of padding: the second pixel's offset checks the pixel size too.
		data := append(append(append([]byte{}, c.pixel...), c.pixel...), 0xEE)
		img := Image{Width: 2, Height: 1, Encoding: c.enc, Step: len(data), Data: data}
		got := convert(t, img, identitySpec(2, 1, "stretch"))
		want := []float32{float32(c.r) / 255, float32(c.r) / 255, float32(c.g) / 255, float32(c.g) / 255, float32(c.b) / 255, float32(c.b) / 255}
		require.InDeltaSlice(t, want, got, 1e-6, c.enc)
	}
}

// The balance's gain is floored at MinBalanceGain: a frame far brighter than the training table (the
// sun on it, a lamp in view) is dimmed by half at most, not to a fifth, so the scene stays within what
// the model was trained on instead of turning it into a dark one.
func TestBalanceGainStopsAtMinBalanceGain(t *testing.T) {
	spec := identitySpec(2, 2, "stretch")
	spec.Balance = []float64{0.2, 0.2, 0.2}
	conv := newConverter(t, spec)
	img := pixelImage(2, 2, "rgb8", func(x, y int) [3]byte { return [3]byte{255, 255, 255} })
	dst := make([]float32, 12)
	require.NoError(t, conv.Convert(img, dst))
	g := bundle.MinBalanceGain
	require.Equal(t, [3]float64{g, g, g}, conv.Gains())
	for i, v := range dst {
		require.InDelta(t, g, v, 1e-6, "value %d", i)
	}
}
