package nodecore

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"dysl_vla/msgs"
)

// Event is something the node core noticed and the operator may want logged. The set is closed; type
// switch on the concrete types below.
type Event interface {
	isEvent()
	fmt.Stringer
}

// EventFrameSuperseded: a frame waiting for the worker was replaced by a newer one before inference
// reached it (the latest-frame slot keeps only the newest).
type EventFrameSuperseded struct{ Stamp msgs.Time }

// EventFrameStale: a frame was older than max_image_age when inference could start, or stamped further
// ahead of the clock than that (Age < 0); it was not acted on.
type EventFrameStale struct {
	Stamp       msgs.Time
	Age, MaxAge time.Duration
}

// EventNoClock: with use_sim_time, a frame arrived before the first /clock message; without a clock
// its age is unknown, so it was not acted on.
type EventNoClock struct{ Stamp msgs.Time }

// EventParametersNotApplied: a parameter change that was accepted could not be applied; the previous
// settings stay in force.
type EventParametersNotApplied struct{ Err error }

// EventNoInstruction: a frame arrived with no instruction in force, before the first one or after an
// empty one withdrew it (Withdrawn); no action is computed without one.
type EventNoInstruction struct {
	Stamp     msgs.Time
	Withdrawn bool
}

// EventNoState: the bundle reads the robot's state and the state slot could not give one for the frame
// (a value never received, or too far from the frame's stamp); the frame was not acted on.
type EventNoState struct {
	Stamp   msgs.Time
	Problem string
}

// EventInstruction: a new instruction arrived; the next inference starts a new episode.
type EventInstruction struct{ Text string }

// EventTimeWentBack: a frame's instant (its stamp, or the node's clock for a frame not stamped) lay
// more than a second before the last one served (a bag played again from its start, a simulator
// reset, a clock set back): a new episode started with it.
type EventTimeWentBack struct{ At, Last msgs.Time }

// EventBadFrame: a frame the model cannot read (unsupported encoding, inconsistent size, compressed
// data that does not decode...): refused by the engine, or by the compressed frame's decoder.
type EventBadFrame struct {
	Stamp msgs.Time
	Err   error
}

// EventInferenceFailed: the model failed on a frame; the next frame is served.
type EventInferenceFailed struct {
	Stamp msgs.Time
	Err   error
}

// EventNonFiniteAction: a chunk held NaN or Inf, out of the model or after de-normalization, and was
// not published.
type EventNonFiniteAction struct {
	Stamp     msgs.Time
	Step, Dim int
	Name      string // the dimension's name, "" when the bundle names none
	Value     float32
}

// EventDecodeError: a message on an input topic could not be decoded (reported by the edge).
type EventDecodeError struct {
	Topic string
	Err   error
}

// EventForwardFailed: the chunk forwarder (MAVLink) refused a chunk that was published on ROS.
type EventForwardFailed struct {
	Sequence uint64
	Err      error
}

func (EventFrameSuperseded) isEvent()      {}
func (EventFrameStale) isEvent()           {}
func (EventNoInstruction) isEvent()        {}
func (EventNoClock) isEvent()              {}
func (EventParametersNotApplied) isEvent() {}
func (EventInstruction) isEvent()          {}
func (EventTimeWentBack) isEvent()         {}
func (EventNoState) isEvent()              {}
func (EventBadFrame) isEvent()             {}
func (EventInferenceFailed) isEvent()      {}
func (EventNonFiniteAction) isEvent()      {}
func (EventDecodeError) isEvent()          {}
func (EventForwardFailed) isEvent()        {}

func stamp(t msgs.Time) string { return fmt.Sprintf("%d.%09d", t.Sec, t.Nanosec) }

func (e EventFrameSuperseded) String() string {
	return "frame " + stamp(e.Stamp) + " dropped: a newer frame arrived before inference reached it"
}
func (e EventFrameStale) String() string {
	if e.Stamp.IsZero() {
		return fmt.Sprintf("frame dropped: its header.stamp is 0, so its age is unknown (max_image_age is %v): the camera driver does not stamp its images", e.MaxAge)
	}
	if e.Age < 0 {
		return fmt.Sprintf("frame %s dropped: stamped %v ahead of the node's clock, max_image_age is %v", stamp(e.Stamp), -e.Age, e.MaxAge)
	}
	return fmt.Sprintf("frame %s dropped: %v old, max_image_age is %v", stamp(e.Stamp), e.Age, e.MaxAge)
}
func (e EventNoInstruction) String() string {
	if e.Withdrawn {
		return "frame " + stamp(e.Stamp) + " not acted on: an empty instruction withdrew the last one"
	}
	return "frame " + stamp(e.Stamp) + " not acted on: no instruction received yet"
}
func (e EventNoClock) String() string {
	return "frame " + stamp(e.Stamp) + " not acted on: use_sim_time is true and no /clock message has arrived yet"
}
func (e EventParametersNotApplied) String() string {
	return fmt.Sprintf("parameters not applied, the previous settings stay in force: %v", e.Err)
}
func (e EventNoState) String() string {
	return "frame " + stamp(e.Stamp) + " not acted on: " + e.Problem
}
func (e EventInstruction) String() string {
	if e.Text == "" {
		return "instruction withdrawn (an empty one arrived): no action until the next; episode reset"
	}
	return fmt.Sprintf("new instruction %s: episode reset", quoteShort(e.Text))
}

// shownInstruction is the most of an instruction a log line or a diagnostic value shows.
const shownInstruction = 200

// quoteShort quotes text, cut to its first shownInstruction bytes (whole UTF-8 characters) with its
// length said: an instruction is not bounded, and a log line or a diagnostics message per period
// carrying 100 KB of it helps no one.
func quoteShort(text string) string {
	if len(text) <= shownInstruction {
		return strconv.Quote(text)
	}
	cut := shownInstruction
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes)", strconv.Quote(text[:cut]), len(text))
}
func (e EventTimeWentBack) String() string {
	return fmt.Sprintf("frame at %s is %v before the last one served (%s): time went back (a bag played again, a simulator reset, a clock set back); a new episode starts with it",
		stamp(e.At), e.Last.Go().Sub(e.At.Go()), stamp(e.Last))
}
func (e EventBadFrame) String() string {
	return fmt.Sprintf("frame %s refused: %v", stamp(e.Stamp), e.Err)
}
func (e EventInferenceFailed) String() string {
	return fmt.Sprintf("inference on frame %s failed: %v", stamp(e.Stamp), e.Err)
}
func (e EventNonFiniteAction) String() string {
	return fmt.Sprintf("chunk of frame %s not published: step %d dimension %d (%q) is %v", stamp(e.Stamp), e.Step, e.Dim, e.Name, e.Value)
}
func (e EventDecodeError) String() string {
	return fmt.Sprintf("message on %s dropped: %v", e.Topic, e.Err)
}
func (e EventForwardFailed) String() string {
	return fmt.Sprintf("chunk %d not forwarded: %v", e.Sequence, e.Err)
}
