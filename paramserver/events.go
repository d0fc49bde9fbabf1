package paramserver

import (
	"slices"
	"strings"
	"sync/atomic"

	"dysl_vla/msgs"
)

// Subscription delivers events on C, a buffered channel. The server never waits for a slow
// reader: an event that finds C full is dropped and counted in Dropped.
type Subscription struct {
	C       <-chan Event
	c       chan Event
	dropped atomic.Uint64
}

// Dropped returns how many events did not fit in C.
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

// publish stamps ev and offers it to every subscriber without blocking; the caller holds
// writeMu, so events leave in commit order.
func (s *Server) publish(ev Event) {
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
		select {
		case sub.c <- copied:
		default: // subscriber is behind: drop, never block a parameter change
			sub.dropped.Add(1)
		}
	}
}
