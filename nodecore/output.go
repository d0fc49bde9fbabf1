package nodecore

import "dysl_vla/msgs"

// The node core publishes the wire messages of package msgs directly (dysl_vla/msg/ActionChunk,
// dysl_vla/msg/SkipStats, diagnostic_msgs/msg/DiagnosticArray): the ROS 2 glue and `dysl replay` encode
// what they receive as is, and there is no second copy of the message layouts to keep in step.

// Sink receives everything the node core publishes. The ROS 2 glue serializes and publishes; replay
// writes a bag; tests record. Every method is called from the goroutine that called into the core and
// must return without blocking on the network for long (the worker waits for it).
//
// Each message is a fresh allocation the Sink may keep; the same chunk also goes to the
// ChunkForwarder, so neither may modify it.
type Sink interface {
	PublishActionChunk(*msgs.ActionChunk)
	PublishSkipStats(*msgs.SkipStats)
	PublishDiagnostics(*msgs.DiagnosticArray)
	// Notice reports something worth a log line (a dropped frame, a failed inference); see Event.
	Notice(Event)
}

// ChunkForwarder is an optional second destination of every published chunk, such as the MAVLink
// bridge to an arm controller. The node core calls ForwardChunk right after publishing the chunk; it
// must not block (queue and return) and must not modify the chunk. LinkStatus feeds the diagnostics:
// the core names the status ("<node>: mavlink"), fills an empty HardwareID with mavlink.endpoint and
// appends its own count of chunks not forwarded.
type ChunkForwarder interface {
	ForwardChunk(*msgs.ActionChunk) error
	LinkStatus() msgs.DiagnosticStatus
}

// leadGripper advances column g of the row-major chunk actions (dim values per action) by lead
// actions: action i gets the gripper command of action i+lead, the last ones that of the last action.
// The arm's motion is left as predicted. A gripper index of -1 (no gripper) or a lead of 0 leaves the
// chunk as it is.
//
// Why: a chunk's gripper change can come a few actions later than it should. A policy trained on
// demonstrations whose grasps follow the alignment after different delays predicts the change at
// their blend, while the arm is already rising; and a real gripper takes time to close. Advancing
// the command makes the gripper act on the state the chunk reaches first.
func leadGripper(actions []float32, dim, g, lead int) {
	if g < 0 || lead <= 0 || dim <= 0 {
		return
	}
	steps := len(actions) / dim
	for i := 0; i < steps; i++ {
		actions[i*dim+g] = actions[min(i+lead, steps-1)*dim+g]
	}
}
