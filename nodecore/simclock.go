package nodecore

import (
	"sync"
	"time"
)

// SimClock is the ROS clock of a node with use_sim_time: the time of the newest /clock message, as
// rclcpp's TimeSource keeps it. It reads no system clock. Until the first message its time is zero,
// and Core.Step acts on no frame at a zero time (nothing stale can go out before the clock is known).
//
// It also replaces the diagnostics ticker: a tick is sent on Ticks each time the sim time crosses a
// multiple of the period, so diagnostics follow the played bag's time as an rclcpp timer on the ROS
// clock does; before the first /clock message, and while sim time gives no tick for wall periods on
// end, WallTick stands in. A tick the worker has not taken yet is not queued twice (diagnostics are
// a summary).
type SimClock struct {
	// Period between diagnostics ticks; 0 sends none.
	Period time.Duration

	mu    sync.Mutex
	now   time.Time
	next  time.Time
	ticks chan time.Time
	once  sync.Once
	// wallTicksWithoutSimTick counts the wall ticks since sim time last ticked or started a period.
	wallTicksWithoutSimTick int
}

// simTickGrace is how many wall periods without a sim tick pass before wall ticks stand in again: a
// clock that stopped (a bag played to its end, a simulator that died or paused) would otherwise
// silence the diagnostics, and a monitor could not tell the node from one that is gone. Two, so that a
// clock running at the wall's pace, whose ticks come a little before or after the wall's, never
// doubles them.
const simTickGrace = 2

func (c *SimClock) init() { c.once.Do(func() { c.ticks = make(chan time.Time, 1) }) }

// Set takes the time of a /clock message. Time that jumps back (a bag played again with --loop)
// restarts the diagnostics period from there. ROS time 0 (a simulator that publishes its clock before
// it starts) is no time yet, as rclcpp takes it: frames are not acted on and wall ticks stand in again.
func (c *SimClock) Set(t time.Time) {
	c.init()
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.Equal(rosTimeZero) {
		c.now, c.next = time.Time{}, time.Time{}
		return
	}
	if t.Before(c.now) || c.next.IsZero() {
		// The period starts here, and so does the wait for its tick.
		c.next = t.Add(c.Period)
		c.wallTicksWithoutSimTick = 0
	}
	c.now = t
	if c.Period <= 0 || t.Before(c.next) {
		return
	}
	// One tick for the whole jump, however many periods it spans.
	c.next = t.Add(c.Period)
	c.wallTicksWithoutSimTick = 0
	select {
	case c.ticks <- t:
	default:
	}
}

// rosTimeZero is ROS time 0 as a Go time.
var rosTimeZero = time.Unix(0, 0)

// Now is the newest /clock time; zero before the first message.
func (c *SimClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// WallTick takes a tick of a wall-clock ticker of the same period. Until the first /clock message sim
// time stands still and would never tick, so the diagnostics, the one place that says nothing is
// published on /clock, would never be published: a wall tick is passed on then. Once /clock runs,
// wall ticks are ignored while sim time ticks; after simTickGrace wall ticks without a sim tick (the
// clock stopped, or runs far slower than the wall) each wall tick is passed on again.
func (c *SimClock) WallTick() {
	c.init()
	c.mu.Lock()
	c.wallTicksWithoutSimTick++
	waiting := c.Period > 0 && (c.now.IsZero() || c.wallTicksWithoutSimTick > simTickGrace)
	if waiting && !c.now.IsZero() {
		// The stand-in's tick ends the period: sim time running at a third of the wall's pace or
		// slower would otherwise tick a moment after it, over a window with nothing in it.
		c.next = c.now.Add(c.Period)
	}
	c.mu.Unlock()
	if !waiting {
		return
	}
	select {
	case c.ticks <- time.Time{}:
	default:
	}
}

// Ticks delivers the diagnostics ticks.
func (c *SimClock) Ticks() <-chan time.Time {
	c.init()
	return c.ticks
}
