package nodecore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/gripper"
)

// gripperColumn is (x, gripper) actions with the given gripper commands.
func gripperColumn(gripper ...float32) []float32 { return gripperAt(1, gripper...) }

// gripperAt is two-value actions with the given gripper commands in column col (0 or 1; -1, no
// gripper, lays them out as 1 does) and x, numbering the actions, in the other.
func gripperAt(col int, gripper ...float32) []float32 {
	if col < 0 {
		col = 1
	}
	out := make([]float32, 2*len(gripper))
	for i, g := range gripper {
		out[2*i+col], out[2*i+1-col] = g, float32(i)
	}
	return out
}

// A gripper command of exactly 0 opens under the bundles' convention (> 0 closes, as the MAVLink bridge
// reads it too): 300 ms after a close, under gripper_min_hold 1 s, a chunk of zeros is a change and is
// held closed. Read as closed, it would pass and the bridge would open the gripper on the object.
func TestGripperZeroIsOpenAndHeld(t *testing.T) {
	const dt, hold = 100 * time.Millisecond, time.Second
	var g gripperHold
	first := gripperColumn(-1, 1, 1, 1) // closes at 100 ms
	g.apply(first, 2, 1, 0, dt, gripper.Default(), hold)
	require.Equal(t, gripperColumn(-1, 1, 1, 1), first)
	second := gripperColumn(0, 0, 0, 0)
	g.apply(second, 2, 1, (300 * time.Millisecond).Nanoseconds(), dt, gripper.Default(), hold)
	require.Equal(t, gripperColumn(1, 1, 1, 1), second, "the open at 300 ms is within the hold of the close at 100 ms")
}

// The previous chunk's action due exactly at the new chunk's stamp was not executed: the new chunk
// takes over at its stamp (its action 0 runs then). A close planned for that instant must not start
// a hold that keeps the new chunk's opens closed: the gripper would clamp on nothing for a second.
func TestGripperActionAtTheNewStampIsNotExecuted(t *testing.T) {
	const dt, hold = 100 * time.Millisecond, time.Second
	var g gripperHold
	first := gripperColumn(-1, -1, 1, 1) // would close at 200 ms
	g.apply(first, 2, 1, 0, dt, gripper.Default(), hold)
	second := gripperColumn(-1, -1, -1, -1)
	g.apply(second, 2, 1, (200 * time.Millisecond).Nanoseconds(), dt, gripper.Default(), hold)
	require.Equal(t, gripperColumn(-1, -1, -1, -1), second, "the close at 200 ms was superseded, never executed")
}
