package paramserver

import (
	"slices"
	"sync/atomic"
	"time"
)

// Event is rcl_interfaces/msg/ParameterEvent: one successful change of a node's parameters.
// The ROS glue publishes it on /parameter_events.
type Event struct {
	// Stamp is Config.Now at the time of the change.
	Stamp time.Time
	// Node is the fully qualified node name (Config.Node).
	Node    string
	New     []Parameter
	Changed []Parameter
	Deleted []Parameter
}

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
	ev.Stamp = s.now()
	ev.Node = s.node
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	for _, sub := range s.listeners {
		// Each subscriber gets its own copy, so one cannot alter what another sees.
		copied := Event{Stamp: ev.Stamp, Node: ev.Node}
		if ev.New != nil {
			copied.New = cloneParameters(ev.New)
		}
		if ev.Changed != nil {
			copied.Changed = cloneParameters(ev.Changed)
		}
		if ev.Deleted != nil {
			copied.Deleted = cloneParameters(ev.Deleted)
		}
		select {
		case sub.c <- copied:
		default: // subscriber is behind: drop, never block a parameter change
			sub.dropped.Add(1)
		}
	}
}
