package mavbridge

import (
	"fmt"

	"dysl_vla/gripper"
)

// GripperAction is what a MAV_CMD_DO_GRIPPER command asks of the gripper.
type GripperAction int

// Gripper actions; the zero value means "not known yet".
const (
	GripperOpen GripperAction = 1 + iota
	GripperClose
)

func (a GripperAction) String() string {
	switch a {
	case GripperOpen:
		return "open"
	case GripperClose:
		return "close"
	}
	return fmt.Sprintf("GripperAction(%d)", int(a))
}

// gripperTracker turns the gripper dimension of successive chunks into open/close transitions, by the
// node's rule for the column (gripper.Convention, openValue and closedValue): the gripper counts as
// closing beyond the middle of open and closed by more than hysteresis/2 of their span towards closed,
// and opening at or beyond hysteresis/2 of it towards open; in between it keeps its last state, so a
// value wavering around the middle does not chatter. Without hysteresis that is the node core's rule
// (gripper.Convention.Closes), the one its gripper_min_hold reads the column by. The first decisive
// value sets the state and is a transition too: the controller's gripper state is unknown when the
// bridge starts.
type gripperTracker struct {
	openValue, closedValue, hysteresis float32
	state                              GripperAction
}

// observe takes the gripper value the controller executes next and returns the new state when it changed.
func (g *gripperTracker) observe(value float32) (GripperAction, bool) {
	x := gripper.Convention{Open: g.openValue, Closed: g.closedValue}.Offset(value)
	h := float64(g.hysteresis)
	next := g.state
	switch {
	case x > h/2:
		next = GripperClose
	case x <= -h/2:
		next = GripperOpen
	}
	changed := next != g.state
	g.state = next
	return next, changed
}
