package mavbridge

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGripperTracker(t *testing.T) {
	type step struct {
		value   float32
		want    GripperAction
		changed bool
	}
	cases := []struct {
		name                    string
		open, close, hysteresis float32
		steps                   []step
	}{
		// The default: the bundles' convention and the node core's rule, above 0 closes.
		{"-1 open, +1 closed, no hysteresis", -1, 1, 0, []step{
			{-0.7, GripperOpen, true},
			{0.01, GripperClose, true},
			{0.3, GripperClose, false}, // read as open on a 0..1 line: the skew this default removes
			{0, GripperOpen, true},     // 0 opens, as in the node core
			{-0.01, GripperOpen, false},
			{3e-8, GripperClose, true}, // above 0 however close: float32 arithmetic rounded it onto the middle
		}},
		{"0 open, 1 closed", 0, 1, 0.2, []step{
			{0.5, 0, false},            // undecided at start: nothing known, nothing sent
			{0.1, GripperOpen, true},   // first decisive value is a transition
			{0.55, GripperOpen, false}, // inside the hysteresis band
			{0.59, GripperOpen, false}, // still inside
			{0.61, GripperClose, true},
			{0.45, GripperClose, false},
			{0.41, GripperClose, false},
			{0.39, GripperOpen, true},
			{-1, GripperOpen, false},
		}},
		{"1 open, -1 closed (inverted)", 1, -1, 0.2, []step{
			{0.9, GripperOpen, true},
			{-0.21, GripperClose, true}, // x = 0.605
			{0.1, GripperClose, false},  // x = 0.45
			{0.2, GripperOpen, true},    // x = 0.4
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := gripperTracker{openValue: tc.open, closedValue: tc.close, hysteresis: tc.hysteresis}
			for i, s := range tc.steps {
				got, changed := g.observe(s.value)
				require.Equal(t, s.want, got, "step %d value %v", i, s.value)
				require.Equal(t, s.changed, changed, "step %d value %v", i, s.value)
			}
		})
	}
}
