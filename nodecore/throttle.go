package nodecore

import (
	"fmt"
	"reflect"
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
// first line is not held back behind the old one's. A new instruction and a parameter change that
// could not be applied are rare and each worth reading: they are never held back. The caller supplies
// the clock.
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
}

// Line is what to log for e at now, and false when e is held back.
func (t *NoticeThrottle) Line(e Event, now time.Time) (string, bool) {
	switch e.(type) {
	case EventInstruction, EventParametersNotApplied:
		return e.String(), true
	}
	period := t.Period
	if period <= 0 {
		period = DefaultNoticePeriod
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.kinds == nil {
		t.kinds, t.reasons = map[noticeKey]*noticeKind{}, map[reflect.Type]int{}
	}
	key := t.keyOf(e)
	k, seen := t.kinds[key]
	if seen && now.Sub(k.logged) < period {
		k.held++
		return "", false
	}
	line := e.String()
	if seen && k.held > 0 {
		line += fmt.Sprintf(" (and %d more like it in the last %v, not logged; the diagnostics count them)",
			k.held, now.Sub(k.logged).Round(time.Millisecond))
	}
	t.kinds[key] = &noticeKind{logged: now}
	return line, true
}
