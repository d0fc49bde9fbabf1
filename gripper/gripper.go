// Package gripper is the one rule by which the node reads a policy's gripper command as open or
// closed: a Convention names the gripper column's values for fully open and fully closed, and a
// command closes the gripper once it passes the middle of the two towards closed. The node core's
// gripper_min_hold and the MAVLink bridge's gripper commands both judge by it, so that they never
// disagree about what a chunk asks of the gripper.
package gripper

// Convention is what the values of a policy's gripper column mean: Open is the value for fully open,
// Closed the value for fully closed. The two must differ; Closed may lie below Open, for a column
// whose high value opens. float32, as the chunks carry the column.
type Convention struct {
	Open, Closed float32
}

// Default is the bundles' convention, -1 open and +1 closed: the scripted expert's labels (package
// scene) that the reference policies learn.
func Default() Convention { return Convention{Open: -1, Closed: 1} }

// OrDefault is c, or Default for the zero value: a configuration that leaves both values unset (0 and
// 0 is no convention, since open and closed must differ) takes the bundles'.
func (c Convention) OrDefault() Convention {
	if c == (Convention{}) {
		return Default()
	}
	return c
}

// Offset is how far command v lies from the middle of Open and Closed towards Closed, in spans from
// Open to Closed: 0 at the middle, +0.5 at Closed, -0.5 at Open, NaN for NaN.
//
// In float64, from the middle rather than from Open: float32 would round values within 6e-8 of the
// middle onto it, and Default's middle is then exactly 0, so that a command closes exactly when it
// is above 0, however close to it.
func (c Convention) Offset(v float32) float64 {
	middle := (float64(c.Open) + float64(c.Closed)) / 2
	return (float64(v) - middle) / (float64(c.Closed) - float64(c.Open))
}

// Closes reports whether command v closes the gripper: v lies past the middle of Open and Closed
// towards Closed. The middle itself and everything on Open's side of it open the gripper, and so does
// NaN, which asks for no grasp.
func (c Convention) Closes(v float32) bool { return c.Offset(v) > 0 }
