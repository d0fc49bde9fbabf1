package nodecore

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultNoticePeriod is NoticeThrottle's period when none is given.
const DefaultNoticePeriod = 5 * time.Second

// NoticeThrottle keeps a node's log readable when a notice comes with every frame: a 30 Hz camera
// before the first instruction, or in an encoding the model does not take, would otherwise log 30
// warnings a second. Each kind of per-frame notice is logged at most once per Period, as rclcpp's
// RCLCPP_WARN_THROTTLE does, and its next line says how many were left out; the diagnostics count
// them all. A kind that carries a reason (a refused frame, a message that does not decode, a failed
// inference) is throttled per reason: a camera switched from yuv422 to 16UC1 is a new problem, and its
// first line is not held back behind the old one's. A parameter change that could not be applied is
// rare and worth reading: it is never held back. A new instruction is logged unless another came
// within instructionPeriod: two publishers on the topic, or a script that numbers its messages, would
// otherwise log (and reset the episode at) every message. The caller supplies the clock.
type NoticeThrottle struct {
	Period time.Duration // DefaultNoticePeriod when 0

	mu      sync.Mutex
	kinds   map[noticeKey]*noticeKind
	reasons map[reflect.Type]int // distinct reasons throttled apart, per kind
}

// noticeKey is what a notice is throttled by: its kind, and its reason where it has one.
type noticeKey struct {
	kind   reflect.Type
	reason string
}

// maxReasonsPerKind bounds the reasons throttled apart: an error text that changed with every frame
// would otherwise log every frame. Reasons beyond it share one line per period.
const maxReasonsPerKind = 8

func (t *NoticeThrottle) keyOf(e Event) noticeKey {
	k := noticeKey{kind: reflect.TypeOf(e)}
	switch e := e.(type) {
	case EventBadFrame:
		k.reason = fmt.Sprint(e.Err)
	case EventDecodeError:
		k.reason = e.Topic + ": " + fmt.Sprint(e.Err)
	case EventInferenceFailed:
		k.reason = fmt.Sprint(e.Err)
	case EventNoInstruction:
		if e.Withdrawn { // not "none received yet": another state of the node, another line
			k.reason = "withdrawn"
		}
	}
	if _, known := t.kinds[k]; !known && k.reason != "" {
		if t.reasons[k.kind] >= maxReasonsPerKind {
			k.reason = ""
		} else {
			t.reasons[k.kind]++
		}
	}
	return k
}

type noticeKind struct {
	logged time.Time // when a line of this kind was last logged
	held   int       // notices of this kind left out since
	last   Event     // the latest of them
}

// Line is what to log for e at now, and false when e is held back.
func (t *NoticeThrottle) Line(e Event, now time.Time) (string, bool) {
	if _, ok := e.(EventParametersNotApplied); ok {
		return e.String(), true
	}
	period := t.periodOf(reflect.TypeOf(e))
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.kinds == nil {
		t.kinds, t.reasons = map[noticeKey]*noticeKind{}, map[reflect.Type]int{}
	}
	key := t.keyOf(e)
	k, seen := t.kinds[key]
	if seen && now.Sub(k.logged) < period {
		k.held++
		k.last = e
		return "", false
	}
	line := e.String()
	switch _, instruction := e.(EventInstruction); {
	case seen && k.held > 0 && instruction:
		line += fmt.Sprintf(" (after %d other new instructions in the last %v, not logged, each an episode reset: "+
			"is more than one node publishing on the topic?)", k.held, now.Sub(k.logged).Round(time.Millisecond))
	case seen && k.held > 0:
		line += fmt.Sprintf(" (and %d more like it in the last %v, not logged; the diagnostics count them)",
			k.held, now.Sub(k.logged).Round(time.Millisecond))
	}
	t.kinds[key] = &noticeKind{logged: now}
	return line, true
}

// instructionPeriod is the least time between two instruction lines: an operator or a task planner
// gives instructions seconds apart.
const instructionPeriod = time.Second

// periodOf is the period of a kind of notice.
func (t *NoticeThrottle) periodOf(kind reflect.Type) time.Duration {
	switch {
	case kind == reflect.TypeFor[EventInstruction]():
		return instructionPeriod
	case t.Period <= 0:
		return DefaultNoticePeriod
	}
	return t.Period
}

// HeldNotice is a notice kind whose latest notices were held back, as Held reports it.
type HeldNotice struct {
	Last Event  // the latest notice held back, for the level to log at
	Line string // what to log
}

// Held reports, once their period has passed, the notices held back of every kind that has not come
// again since: without it, the count of a problem that stopped (a camera switched from a wrong
// encoding to a right one) would wait for that problem's next notice, perhaps forever. Call it now and
// then (the ROS node does at each diagnostics period).
func (t *NoticeThrottle) Held(now time.Time) []HeldNotice {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []HeldNotice
	for key, k := range t.kinds {
		if k.held == 0 || now.Sub(k.logged) < t.periodOf(key.kind) {
			continue
		}
		line := fmt.Sprintf("%d more like this in the last %v, not logged (the diagnostics count them); the latest: %s",
			k.held, now.Sub(k.logged).Round(time.Millisecond), k.last)
		if in, ok := k.last.(EventInstruction); ok { // no diagnostics count these: say what is in force
			line = fmt.Sprintf("%d other new instructions in the last %v, not logged, each an episode reset (is more than one node publishing on the topic?); in force: %s",
				k.held, now.Sub(k.logged).Round(time.Millisecond), quoteShort(in.Text))
		}
		out = append(out, HeldNotice{Last: k.last, Line: line})
		k.held, k.logged = 0, now
	}
	slices.SortFunc(out, func(a, b HeldNotice) int { return strings.Compare(a.Line, b.Line) })
	return out
}
