package gripper

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// A command closes past the middle of open and closed towards closed, and opens at the middle and on
// open's side: for the bundles' -1/+1, a 0..1 column and an inverted one whose high value opens,
// including the float32 values next to the middle.
func TestClosesPastTheMiddleTowardsClosed(t *testing.T) {
	for _, tc := range []struct {
		name         string
		c            Convention
		middle       float32
		opens, close []float32
	}{
		{"the bundles' -1 open, +1 closed", Default(), 0,
			[]float32{-1, -0.01, -1e-30, 0, float32(math.Inf(-1))},
			[]float32{1, 0.01, 1e-30, math.SmallestNonzeroFloat32, 3e-8, float32(math.Inf(1))}},
		{"0 open, 1 closed", Convention{Open: 0, Closed: 1}, 0.5,
			[]float32{0, 0.2, 0.49, 0.5, -3},
			[]float32{1, 0.9, 0.51, 2}},
		{"1 open, -1 closed (inverted)", Convention{Open: 1, Closed: -1}, 0,
			[]float32{1, 0.2, 0, 5},
			[]float32{-1, -0.2, -1e-30, -5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Zero(t, tc.c.Offset(tc.middle), "the middle")
			require.Equal(t, -0.5, tc.c.Offset(tc.c.Open))
			require.Equal(t, 0.5, tc.c.Offset(tc.c.Closed))
			for _, v := range tc.opens {
				require.False(t, tc.c.Closes(v), "%v opens", v)
			}
			for _, v := range tc.close {
				require.True(t, tc.c.Closes(v), "%v closes", v)
			}
			// The float32 neighbours of the middle: the rule does not round them onto it.
			towardsClosed := float32(math.Copysign(math.Inf(1), float64(tc.c.Closed-tc.c.Open)))
			require.True(t, tc.c.Closes(math.Nextafter32(tc.middle, towardsClosed)), "next to the middle, towards closed")
			require.False(t, tc.c.Closes(math.Nextafter32(tc.middle, -towardsClosed)), "next to the middle, towards open")
			require.False(t, tc.c.Closes(float32(math.NaN())), "NaN asks for no grasp")
		})
	}
}

// Default's rule is the one every chunk was read by before conventions could be set: above 0 closes.
func TestDefaultClosesExactlyAboveZero(t *testing.T) {
	for _, v := range []float32{-2, -1, -0.5, -1e-38, 0, 1e-45, 1e-38, 1e-8, 0.5, 1, 2, float32(math.NaN())} {
		require.Equal(t, v > 0, Default().Closes(v), "%v", v)
	}
}

// The zero value, both values unset, takes the bundles' convention; any other is kept as given.
func TestOrDefault(t *testing.T) {
	require.Equal(t, Default(), Convention{}.OrDefault())
	require.Equal(t, Convention{Open: 0, Closed: 1}, Convention{Open: 0, Closed: 1}.OrDefault())
	require.Equal(t, Convention{Open: 1, Closed: 0}, Convention{Open: 1, Closed: 0}.OrDefault())
}
