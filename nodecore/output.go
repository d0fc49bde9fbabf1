package nodecore

import (
	"time"

	"dysl_vla/msgs"
)

// ActionChunk is what the node publishes on action_chunk, field for field msg/ActionChunk.msg.
type ActionChunk struct {
	// Header carries the stamp and frame_id of the image the chunk was predicted from.
	Header msgs.Header
	// Sequence counts published chunks from 0; skip_stats carries the same number.
	Sequence uint64
	// StepDt is the time between consecutive actions of the chunk.
	StepDt      time.Duration
	Steps       int
	ActionDim   int
	ActionNames []string
	// Actions holds Steps×ActionDim finite values, row-major.
	Actions []float32
	// Skip summary.
	LayersExecuted    int
	LayersTotal       int
	VerificationFired bool
	SkipRatio         float64
	Strategy          string
}

// SkipStats is what the node publishes on ~/skip_stats, field for field msg/SkipStats.msg.
type SkipStats struct {
	Header               msgs.Header
	Sequence             uint64
	LayersExecuted       int
	LayersSkipped        int
	LayersTotal          int
	AdaptersRun          int
	ControllersEvaluated int
	AllowPoints          []int
	// Continuity and ContinuityDelta are NaN while ContinuityDefined is false.
	Continuity        float64
	ContinuityDelta   float64
	ContinuityDefined bool
	VerificationFired bool
	// Latency by part of the inference (the message carries milliseconds).
	Latency, PrefixLatency, LayersLatency, AdaptersLatency, ControllersLatency, HeadLatency, VerificationLatency time.Duration
	Strategy                                                                                                     string
}

// Diagnostic levels (diagnostic_msgs/DiagnosticStatus).
const (
	LevelOK    byte = 0
	LevelWarn  byte = 1
	LevelError byte = 2
	LevelStale byte = 3
)

// KeyValue is diagnostic_msgs/KeyValue.
type KeyValue struct{ Key, Value string }

// DiagnosticStatus is diagnostic_msgs/DiagnosticStatus.
type DiagnosticStatus struct {
	Level      byte
	Name       string // "<node>: <task>", as diagnostic_updater names them
	Message    string
	HardwareID string
	Values     []KeyValue
}

// DiagnosticArray is diagnostic_msgs/DiagnosticArray, published on /diagnostics.
type DiagnosticArray struct {
	Header msgs.Header
	Status []DiagnosticStatus
}

// Sink receives everything the node core publishes. The ROS 2 glue serializes and publishes; replay
// writes a bag; tests record. Every method is called from the goroutine that called into the core and
// must return without blocking on the network for long (the worker waits for it).
type Sink interface {
	PublishActionChunk(ActionChunk)
	PublishSkipStats(SkipStats)
	PublishDiagnostics(DiagnosticArray)
	// Notice reports something worth a log line (a dropped frame, a failed inference); see Event.
	Notice(Event)
}

// ChunkForwarder is an optional second destination of every published chunk, such as the MAVLink
// bridge to an arm controller. The node core calls ForwardChunk right after publishing the chunk; it
// must not block (queue and return). LinkStatus feeds the diagnostics.
type ChunkForwarder interface {
	ForwardChunk(ActionChunk) error
	LinkStatus() DiagnosticStatus
}
