package percentile

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNearestRank(t *testing.T) {
	ds := []time.Duration{5, 1, 4, 2, 3}
	require.Equal(t, time.Duration(3), Of(ds, 0.5))
	require.Equal(t, time.Duration(5), Of(ds, 0.95))
	require.Equal(t, time.Duration(4), Of(ds, 0.8), "4 of 5 values at or below it")
	require.Equal(t, time.Duration(1), Of(ds, 0))
	require.Equal(t, time.Duration(5), Of(ds, 1))
	require.Equal(t, []time.Duration{5, 1, 4, 2, 3}, ds, "Of leaves its input as it was")
	require.Equal(t, time.Duration(0), Of([]time.Duration(nil), 0.5))

	even := []float64{1, 2, 3, 4}
	require.Equal(t, 2.0, Sorted(even, 0.5), "the lower of the two middle values, not their mean")
	require.Equal(t, 1.0, Sorted(even, -1))
	require.Equal(t, 4.0, Sorted(even, 2))
}
