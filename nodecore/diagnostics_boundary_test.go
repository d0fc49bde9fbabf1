package nodecore

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/policy/bundle"
)

// The image balance clamps each gain to [MinBalanceGain, MaxBalanceGain], so a gain exactly at either
// limit is one that stopped there: the diagnostics warn at both limits, and not one float inside them.
func TestBalanceAtLimitIncludesBothLimits(t *testing.T) {
	lo, hi := bundle.MinBalanceGain, bundle.MaxBalanceGain
	for _, c := range []struct {
		gain    float64
		atLimit bool
	}{
		{lo, true}, {math.Nextafter(lo, hi), false},
		{hi, true}, {math.Nextafter(hi, lo), false},
		{1, false},
	} {
		for ch := range 3 {
			gain := [3]float64{1, 1, 1}
			gain[ch] = c.gain
			require.Equal(t, c.atLimit, balanceAtLimit(gain), "gains %v", gain)
		}
	}
}

// From ClockMismatch (1 min) on, a frame's age points at the clocks, and the stale message says how to
// play a bag or synchronize the camera; a nanosecond less is a slow pipeline, and the message names
// only the age. dysl replay's hint draws the same line (replay's TestStaleHintPointsAtTheClocksFromClockMismatch).
func TestStaleMessageHintsAtTheClocksFromClockMismatch(t *testing.T) {
	const hint = "image stamps are far from"
	for _, simTime := range []bool{false, true} {
		for _, c := range []struct {
			age  time.Duration
			hint bool
		}{{time.Minute - 1, false}, {time.Minute, true}, {time.Minute + 1, true}} {
			msg := staleMessage(3, c.age, 500*time.Millisecond, simTime, false)
			require.Contains(t, msg, "3 frames older than max_image_age (500ms) dropped")
			if c.hint {
				require.Contains(t, msg, hint, "age %v, use_sim_time %t", c.age, simTime)
			} else {
				require.NotContains(t, msg, hint, "age %v, use_sim_time %t", c.age, simTime)
			}
		}
	}
}
