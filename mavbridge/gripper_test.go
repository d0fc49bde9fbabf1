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
		name        string
		open, close float32
		steps       []step
	}{
		{"0 open, 1 closed", 0, 1, []step{
			{0.5, 0, false},            // undecided at start: nothing known, nothing sent
			{0.1, GripperOpen, true},   // first decisive value is a transition
			{0.55, GripperOpen, false}, // inside the hysteresis band
			{0.6, GripperClose, true},  // 0.5 + 0.2/2
			{0.45, GripperClose, false},
			{0.41, GripperClose, false},
			{0.4, GripperOpen, true},
			{-1, GripperOpen, false},
		}},
		{"1 open, -1 closed (inverted)", 1, -1, []step{
			{0.9, GripperOpen, true},
			{-0.2, GripperClose, true}, // x = 0.6
			{0.1, GripperClose, false}, // x = 0.45
			{0.2, GripperOpen, true},   // x = 0.4
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := gripperTracker{openValue: tc.open, closedValue: tc.close, hysteresis: 0.2}
			for i, s := range tc.steps {
				got, changed := g.observe(s.value)
				require.Equal(t, s.want, got, "step %d value %v", i, s.value)
				require.Equal(t, s.changed, changed, "step %d value %v", i, s.value)
			}
		})
	}
}
