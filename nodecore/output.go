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
