package paramserver

import (
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"dysl_vla/msgs"
)

// DefaultEventWait is Config.EventWait's default.
const DefaultEventWait = time.Second

// Subscription delivers events on C, a buffered channel. A change whose event finds C full waits
// for the reader to make room, up to Config.EventWait for the whole request, so that a burst (one
// set_parameters of hundreds of changes, as ros2 param load sends) reaches a reader that keeps up,
// as rclcpp delivers every event; only a reader that stays behind longer loses events, counted in
// Dropped.
type Subscription struct {
	C       <-chan Event
	c       chan Event
	dropped atomic.Uint64
}

// Dropped returns how many events were dropped because C stayed full.
func (sub *Subscription) Dropped() uint64 { return sub.dropped.Load() }

// Subscribe returns a subscription whose channel holds up to capacity undelivered events
// (at least 1). Events are delivered in commit order.
func (s *Server) Subscribe(capacity int) *Subscription {
	c := make(chan Event, max(capacity, 1))
	sub := &Subscription{C: c, c: c}
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	s.listeners = append(s.listeners, sub)
	return sub
}

// SubscribeWithDeclared is Subscribe for a subscriber that joins after parameters were declared (the
// ROS edge, whose /parameter_events publisher exists only once the node does): C first holds one event
// listing every parameter declared so far with its value, sorted by name, in NewParameters, as rclcpp
// publishes each declaration, so that a recording of /parameter_events holds the node's initial
// configuration. Nothing can change in between: later events follow it.
func (s *Server) SubscribeWithDeclared(capacity int) *Subscription {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	sub := s.Subscribe(capacity)
	s.stateMu.RLock()
	declared := make([]Parameter, 0, len(s.params))
	for name, e := range s.params {
		if e.value.Type != msgs.ParameterNotSet {
			declared = append(declared, Parameter{Name: name, Value: cloneValue(e.value)})
		}
	}
	s.stateMu.RUnlock()
	slices.SortFunc(declared, func(a, b Parameter) int { return strings.Compare(a.Name, b.Name) })
	sub.c <- Event{Stamp: msgs.TimeFromGo(s.now()), Node: s.node, NewParameters: declared}
	return sub
}

// Unsubscribe stops deliveries to sub and closes its channel. Unsubscribing twice is harmless.
func (s *Server) Unsubscribe(sub *Subscription) {
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	if i := slices.Index(s.listeners, sub); i >= 0 {
		s.listeners = slices.Delete(s.listeners, i, i+1)
		close(sub.c)
	}
}

// delivery is one change request's allowance for waiting on subscribers that are behind: the
// request waits EventWait in all, however many events it makes, so a reader that has stopped costs
// each request one wait, not one per event.
type delivery struct {
	wait     time.Duration
	deadline time.Time // set at the request's first wait
}

func (s *Server) newDelivery() *delivery { return &delivery{wait: s.eventWait} }

// send puts ev on c, waiting for room until the request's deadline; it reports whether ev was sent.
func (d *delivery) send(c chan<- Event, ev Event) bool {
	select {
	case c <- ev:
		return true
	default:
	}
	if d.wait <= 0 {
		return false
	}
	if d.deadline.IsZero() {
		d.deadline = time.Now().Add(d.wait)
	}
	left := time.Until(d.deadline)
	if left <= 0 {
		return false
	}
	timer := time.NewTimer(left)
	defer timer.Stop()
	select {
	case c <- ev:
		return true
	case <-timer.C:
		return false
	}
}

// publish stamps ev and delivers it to every subscriber, waiting for one that is behind as d allows;
// the caller holds writeMu, so events leave in commit order. subsMu is held throughout, so a
// subscriber cannot be unsubscribed (its channel closed) while an event waits for it.
func (s *Server) publish(ev Event, d *delivery) {
	ev.Stamp = msgs.TimeFromGo(s.now())
	ev.Node = s.node
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	for _, sub := range s.listeners {
		// Each subscriber gets its own copy, so one cannot alter what another sees.
		copied := Event{Stamp: ev.Stamp, Node: ev.Node}
		if ev.NewParameters != nil {
			copied.NewParameters = cloneParameters(ev.NewParameters)
		}
		if ev.ChangedParameters != nil {
			copied.ChangedParameters = cloneParameters(ev.ChangedParameters)
		}
		if ev.DeletedParameters != nil {
			copied.DeletedParameters = cloneParameters(ev.DeletedParameters)
		}
		if !d.send(sub.c, copied) {
			sub.dropped.Add(1)
		}
	}
}
