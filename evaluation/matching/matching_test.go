package matching

import (
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/skipping"
)

func TestDitherTracksTheTarget(t *testing.T) {
	layout, err := skipping.NewLayout(8, []int{2, 7})
	require.NoError(t, err)
	d := NewDither(skipping.StrategyRandomSkip, layout, 3.57)
	require.Equal(t, []int{0, 1, 2, 3, 4, 5, 6}, d.Counts())
	var sum float64
	for i := 1; i <= 100; i++ {
		ratio := d.Next()
		skipped := float64(int(ratio*float64(layout.DynamicLayers()) + 0.5)) // how random skip rounds
		sum += skipped
		require.InDelta(t, 3.57*float64(i), sum, 0.5, "the running total stays within half a layer")
	}
}

func TestBisect(t *testing.T) {
	rising := func(x float64) (float64, error) { return 8 * x, nil }
	knob, got, err := Bisect(rising, 3, true, 20, [2]float64{1, 8})
	require.NoError(t, err)
	require.InDelta(t, 3.0/8, knob, 1e-5)
	require.InDelta(t, 3, got, 1e-4)
	falling := func(x float64) (float64, error) { return 1 - x, nil }
	knob, _, err = Bisect(falling, 0.25, false, 20, [2]float64{1, 0})
	require.NoError(t, err)
	require.InDelta(t, 0.75, knob, 1e-5)
}
