package replay

import (
	"time"

	"dysl_vla/bag"
	"dysl_vla/msgs"
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

// nodeClock is the replayed node's clock.
type nodeClock struct {
	source ClockSource
	latest time.Time // ClockRecorded: the last /clock message; zero before the first
}

func newNodeClock(useSimTime bool, info bag.Info) *nodeClock {
	switch {
	case !useSimTime:
		return &nodeClock{source: ClockLogTime}
	case len(info.TopicTypes(TopicClock)) > 0:
		return &nodeClock{source: ClockRecorded}
	default:
		return &nodeClock{source: ClockPlayback}
	}
}

// observe takes a /clock message. rosgraph_msgs/msg/Clock is a single builtin_interfaces/msg/Time,
// so its CDR is a Time's.
func (c *nodeClock) observe(data []byte) error {
	var t msgs.Time
	if err := msgs.Decode(data, &t); err != nil {
		return err
	}
	c.latest = time.Time{}
	if !t.IsZero() { // ROS time zero means "not set yet"
		c.latest = t.Go()
	}
	return nil
}

// at is the node's time when a message logged at logTime arrives; false while the node has no time
// yet (use_sim_time before the first /clock).
func (c *nodeClock) at(logTime int64) (time.Time, bool) {
	if c.source == ClockRecorded {
		return c.latest, !c.latest.IsZero()
	}
	return time.Unix(0, logTime), true
}
