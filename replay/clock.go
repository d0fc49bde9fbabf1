package replay

import (
	"time"

	"dysl_vla/bag"
	"dysl_vla/msgs"
	"dysl_vla/nodecore"
)

// TopicClock is where ROS publishes simulated time (rosgraph_msgs/msg/Clock).
const TopicClock = "/clock"

const clockType = "rosgraph_msgs/msg/Clock"

// ClockSource names where the replayed node's clock comes from.
type ClockSource string

// The clocks a dysl_vla_node reads when a bag is played into it with `ros2 bag play`.
const (
	// ClockLogTime: use_sim_time false. The node judges an image stamp against the system clock at
	// receipt; a bag played at its recorded pace delivers every message at its log time (the time
	// the recorder received it), so replay takes the log time. A bag whose stamps come from another
	// session than its log times (a re-recorded playback) then looks stale throughout, as it would to
	// a node that ran while it was recorded.
	ClockLogTime ClockSource = "log time"
	// ClockPlayback: use_sim_time true and the bag has no /clock. `ros2 bag play --clock` publishes the
	// playback time, which is the log time of the messages being played.
	ClockPlayback ClockSource = "log time, as ros2 bag play --clock publishes it"
	// ClockRecorded: use_sim_time true and the bag records /clock. Played without --clock, the
	// recorded clock messages are the node's time: the latest one received before each message.
	// Until the first of them the node's clock reads zero and no frame is acted on.
	ClockRecorded ClockSource = "the bag's recorded /clock"
)

// nodeClock is the replayed node's clock, and the schedule of its diagnostics. Both are a
// nodecore.SimClock, the node's own clock under use_sim_time: it moves with the bag's messages, and
// its diagnostics ticks follow it, one per period while messages come and one across a gap, however
// long (a bag whose metadata starts at time 0, or one message stamped far in the future, must not
// give a diagnostics message per period across the gap: billions).
type nodeClock struct {
	source ClockSource
	sim    nodecore.SimClock
}

func newNodeClock(useSimTime bool, info bag.Info, diagnosticsPeriod time.Duration) *nodeClock {
	c := &nodeClock{source: ClockPlayback, sim: nodecore.SimClock{Period: diagnosticsPeriod}}
	switch {
	case !useSimTime:
		c.source = ClockLogTime
	case len(info.TopicTypes(TopicClock)) > 0:
		c.source = ClockRecorded
	}
	return c
}

// observe moves the clock with a message of the bag: to its log time, or with a recorded clock to
// the time a /clock message carries (other messages leave it). It reports whether m was a clock
// message, which the node does not otherwise act on.
func (c *nodeClock) observe(m bag.Message) (clockMessage bool, err error) {
	if c.source != ClockRecorded {
		c.sim.Set(time.Unix(0, m.LogTime))
		return false, nil
	}
	if m.Topic != TopicClock {
		return false, nil
	}
	var clock msgs.Clock
	if err := msgs.Decode(m.Data, &clock); err != nil {
		return true, err
	}
	if !clock.Clock.IsZero() { // ROS time zero means "not set yet"
		c.sim.Set(clock.Clock.Go())
	}
	return true, nil
}

// now is the node's time: zero while it has none (use_sim_time before the first /clock), and the
// node core then acts on no frame.
func (c *nodeClock) now() time.Time { return c.sim.Now() }

// diagnosticsDue returns the time of a diagnostics publication the clock's last move made due.
func (c *nodeClock) diagnosticsDue() (time.Time, bool) {
	select {
	case at := <-c.sim.Ticks():
		return at, true
	default:
		return time.Time{}, false
	}
}
