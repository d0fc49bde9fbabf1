package nodecore

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLeadGripperAdvancesOnlyTheGripperColumn(t *testing.T) {
	// Four actions of (x, gripper): the gripper closes at action 2.
	chunk := func() []float32 { return []float32{0, -1, 1, -1, 2, 1, 3, 1} }
	cases := []struct {
		name        string
		gripper     int
		lead        int
		wantGripper []float32
	}{
		{"no lead", 1, 0, []float32{-1, -1, 1, 1}},
		{"one action early", 1, 1, []float32{-1, 1, 1, 1}},
		{"two actions early", 1, 2, []float32{1, 1, 1, 1}},
		{"past the chunk's end: its last command", 1, 9, []float32{1, 1, 1, 1}},
		{"no gripper in the bundle", -1, 2, []float32{-1, -1, 1, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			actions := chunk()
			leadGripper(actions, 2, c.gripper, c.lead)
			for i, want := range c.wantGripper {
				require.Equal(t, float32(i), actions[2*i], "action %d: the motion is left as predicted", i)
				require.Equal(t, want, actions[2*i+1], "action %d's gripper", i)
			}
		})
	}
}
