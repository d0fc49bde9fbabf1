package mavbridge

import "fmt"

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

// gripperTracker turns the gripper dimension of successive chunks into open/close transitions. The value
// is placed on the line from openValue (0) to closedValue (1); the gripper counts as closing above
// 0.5 + hysteresis/2 and opening at or below 0.5 - hysteresis/2, and in between it keeps its last state,
// so a value wavering around the middle does not chatter. Without hysteresis, and open -1 and closed
// +1, that is the node core's rule: above 0 closes, 0 and below opens. The first decisive value sets
// the state and is a transition too: the controller's gripper state is unknown when the bridge starts.
type gripperTracker struct {
	openValue, closedValue, hysteresis float32
	state                              GripperAction
}

// observe takes the gripper value the controller executes next and returns the new state when it changed.
func (g *gripperTracker) observe(value float32) (GripperAction, bool) {
	// In float64: in float32, values within 6e-8 of the middle would round onto it.
	x := (float64(value) - float64(g.openValue)) / (float64(g.closedValue) - float64(g.openValue))
	h := float64(g.hysteresis)
	next := g.state
	switch {
	case x > 0.5+h/2:
		next = GripperClose
	case x <= 0.5-h/2:
		next = GripperOpen
	}
	changed := next != g.state
	g.state = next
	return next, changed
}
