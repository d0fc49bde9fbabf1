package nodecore

import (
	"math"
	"testing"
	"time"
)

// A seconds parameter never becomes a negative or wrapped duration, whatever reaches it.
func TestSecondsNeverWraps(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want time.Duration
	}{
		{0.5, 500 * time.Millisecond},
		{0, 0}, {-1, 0}, {math.NaN(), 0}, {math.Inf(-1), 0},
		{math.Inf(1), math.MaxInt64}, {1e300, math.MaxInt64}, {9.3e9, math.MaxInt64},
		// 2^63 ns exactly, one past the largest Duration: converted, it would wrap negative.
		{float64(math.MaxInt64) / float64(time.Second), math.MaxInt64},
	} {
		if got := seconds(c.in); got != c.want {
			t.Errorf("seconds(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
