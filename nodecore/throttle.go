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
// them all. A new instruction and a parameter change that could not be applied are rare and each
// worth reading: they are never held back. The caller supplies the clock.
type NoticeThrottle struct {
	Period time.Duration // DefaultNoticePeriod when 0

	mu    sync.Mutex
	kinds map[reflect.Type]*noticeKind
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
		t.kinds = map[reflect.Type]*noticeKind{}
	}
	kind := reflect.TypeOf(e)
	k, seen := t.kinds[kind]
	if seen && now.Sub(k.logged) < period {
		k.held++
		return "", false
	}
	line := e.String()
	if seen && k.held > 0 {
		line += fmt.Sprintf(" (and %d more like it in the last %v, not logged; the diagnostics count them)",
			k.held, now.Sub(k.logged).Round(time.Millisecond))
	}
	t.kinds[kind] = &noticeKind{logged: now}
	return line, true
}
