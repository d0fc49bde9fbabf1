package nodecore

import (
	"math"
	"time"

	"dysl_vla/gripper"
	"dysl_vla/msgs"
)

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
// bridge to an arm controller. The node core calls ForwardChunk right after publishing the chunk, with
// the executed_actions in force for it (how many of its actions the robot runs, 0 for all: the bridge
// commands no gripper change past them); it must not block (queue and return) and must not modify the
// chunk. LinkStatus feeds the diagnostics:
// the core names the status ("<node>: mavlink"), fills an empty HardwareID with mavlink.endpoint and
// appends its own count of chunks not forwarded.
type ChunkForwarder interface {
	ForwardChunk(chunk *msgs.ActionChunk, executedActions int) error
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

// gripperHold keeps every change of the gripper command for at least a minimum time across chunks
// (the node parameter gripper_min_hold): a command on the other side of the middle of open and closed
// (gripper.Convention.Closes, the node's gripper_open and gripper_closed, as the MAVLink bridge reads
// the column) that comes sooner after the last change is replaced by the command in force. Only the
// gripper column is touched.
//
// Why: right after a grasp the reference policy's chunks can dip to "open" for a few actions and then
// close again, and the arm drops the block it had (models/closedloop/README.md, attempt 17; likely
// because the frames of a grasp that held and of one that missed look alike to it). A real gripper takes a moment to
// close and settle anyway; releasing within that moment is never what the task wants.
//
// The arm executes a chunk's action i at the chunk's stamp plus i steps, until a newer chunk starts;
// the hold follows that timeline from the chunks it published, without feedback from the arm.
type gripperHold struct {
	known   bool    // a command has been executed in this episode
	closed  bool    // the command in force closes the gripper
	value   float32 // the last executed command
	sinceNs int64   // when the command in force took effect
	// last is the gripper column of the last published chunk and lastNs its stamp: its actions due
	// before the next chunk's stamp are the ones the arm executed.
	last   []float32
	lastNs int64
}

// step executes command v, read by convention, at time tNs and returns what the gripper is told: v, or
// the command in force when v would change it sooner than hold after the last change.
func (g *gripperHold) step(tNs int64, v float32, convention gripper.Convention, hold time.Duration) float32 {
	closes := convention.Closes(v)
	switch {
	case !g.known:
		// The first command of an episode is no change: the next one may come at once.
		g.known, g.closed, g.sinceNs = true, closes, math.MinInt64/2
	case closes == g.closed:
	case tNs-g.sinceNs < hold.Nanoseconds():
		return g.value
	default:
		g.closed, g.sinceNs = closes, tNs
	}
	g.value = v
	return v
}

// apply holds column col of the row-major chunk actions (dim values per action, dt apart, stamped
// atNs), whose values convention reads. First the previous chunk's actions due before atNs enter the
// history, as executed; then the new chunk is held against it. A column of -1 (no gripper) or dt <= 0
// leaves the chunk as it is.
func (g *gripperHold) apply(actions []float32, dim, col int, atNs int64, dt time.Duration, convention gripper.Convention, hold time.Duration) {
	if col < 0 || dim <= 0 || dt <= 0 {
		return
	}
	// A chunk stamped before the last (stamps a little out of order) executed none of the last's
	// actions; the history stands. Time gone back further starts a new episode (Core.Step).
	for i, v := range g.last {
		t := g.lastNs + int64(i)*dt.Nanoseconds()
		if t >= atNs {
			break
		}
		g.step(t, v, convention, hold)
	}
	planned := *g // the new chunk's actions are not executed yet: hold them on a copy
	g.last = g.last[:0]
	for i := 0; i < len(actions)/dim; i++ {
		v := planned.step(atNs+int64(i)*dt.Nanoseconds(), actions[i*dim+col], convention, hold)
		actions[i*dim+col] = v
		g.last = append(g.last, v)
	}
	g.lastNs = atNs
}
