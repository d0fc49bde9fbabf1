package nodecore

import (
	"fmt"
	"strings"
	"time"

	"dysl_vla/msgs"
	"dysl_vla/policy/bundle"
)

// StateTopic is where the node reads the robot's state (sensor_msgs/msg/JointState) for a bundle with a
// state block: the ROS convention, relative so a launch file can remap it.
const StateTopic = "joint_states"

// stateSlot keeps, per value the bundle reads, its last stateHistory positions with their stamps, so
// that a frame is inferred with the state of its own instant, as training pairs them: the reading
// stamped nearest the frame, not the newest (joint_states at hundreds of Hz move on while the frame
// waits for inference; a helper measured chunks off by up to 2 action-std with the newest reading
// 60 ms after the frame's). Per value rather than per message: a robot may publish its arm and its
// gripper as separate JointState messages on the same topic, and each message then refreshes only its
// own names. Guarded by Core.mu.
type stateSlot struct {
	names   []string // the manifest's state.names, in the model's order
	index   map[string]int
	history [][stateHistory]stateReading // per value, a ring
	count   []int                        // readings received per value (the ring's next slot is count % stateHistory)
}

// stateHistory is how many readings of each value are kept: 200 ms at 300 Hz, longer than a frame
// waits for inference.
const stateHistory = 64

type stateReading struct {
	value float64
	stamp msgs.Time
}

func newStateSlot(spec *bundle.StateSpec) *stateSlot {
	if spec == nil {
		return nil
	}
	n := len(spec.Names)
	s := &stateSlot{names: spec.Names, index: make(map[string]int, n),
		history: make([][stateHistory]stateReading, n), count: make([]int, n)}
	for i, name := range spec.Names {
		s.index[name] = i
	}
	return s
}

// nearest is value i's reading stamped nearest frame; the newest when frame, or every kept reading, has
// no stamp to compare. ok is false when none was received.
func (s *stateSlot) nearest(i int, frame msgs.Time) (r stateReading, ok bool) {
	n := min(s.count[i], stateHistory)
	if n == 0 {
		return stateReading{}, false
	}
	newest := (s.count[i] - 1) % stateHistory
	r = s.history[i][newest]
	if frame.IsZero() {
		return r, true
	}
	at, best := frame.Go(), time.Duration(-1)
	for k := range n {
		c := s.history[i][(newest-k+stateHistory)%stateHistory] // newest first: ties go to the newer
		if c.stamp.IsZero() {
			continue
		}
		if gap := at.Sub(c.stamp.Go()).Abs(); best < 0 || gap < best {
			r, best = c, gap
		}
	}
	return r, true
}

// OfferState records a robot-state message: names[i] is at positions[i], as in a sensor_msgs/JointState
// stamped stamp. The values the bundle reads are picked by name; other names, and names without a
// position (an empty position array), are ignored. Neither slice is kept. Without a state block in
// the bundle it does nothing. Messages off the wire are checked first (OfferSerializedState).
func (c *Core) OfferState(stamp msgs.Time, names []string, positions []float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.state
	if s == nil {
		return
	}
	c.totals.states++
	for i, name := range names[:min(len(names), len(positions))] {
		if j, ok := s.index[name]; ok {
			s.history[j][s.count[j]%stateHistory] = stateReading{value: positions[i], stamp: stamp}
			s.count[j]++
		}
	}
}

// OfferSerializedState decodes a serialized sensor_msgs/msg/JointState (what a subscription takes) and
// offers it as OfferState does; raw is not kept. A message that does not decode is counted as a decode
// error on topic. It reports whether the state was offered.
func (c *Core) OfferSerializedState(topic string, raw []byte) bool {
	if c.state == nil {
		return false
	}
	// One decode buffer, reused: joint_states may come at the arm's control rate, hundreds a second.
	c.stateDecode.Lock()
	defer c.stateDecode.Unlock()
	js := &c.jointState
	defer func() {
		// Arrays grown past MaxJoints by a refused message are not kept as the next one's buffers: a
		// message of a million names would otherwise hold 32 MB for the life of the node.
		if max(cap(js.Name), cap(js.Position), cap(js.Velocity), cap(js.Effort)) > MaxJoints {
			*js = msgs.JointState{}
		}
	}()
	if err := msgs.Decode(raw, js); err != nil {
		c.ReportDecodeError(topic, err)
		return false
	}
	if err := checkJointState(js); err != nil {
		c.ReportDecodeError(topic, err)
		return false
	}
	c.OfferState(js.Header.Stamp, js.Name, js.Position)
	return true
}

// MaxJoints is the most entries an array of a JointState the node takes may hold (its names,
// positions, velocities or efforts). A real robot's has tens of joints, a humanoid with hands about a
// hundred. Past it, a message is refused before its names are looked at: a million names cost 56 MB
// for the check of names given twice, and held the frame slot's lock while each was looked up.
const MaxJoints = 4096

// checkJointState refuses what sensor_msgs/JointState does not allow: a position array neither empty
// nor as long as the names, which cannot say which value is whose, and a name given twice, whose two
// values would leave the robot's state to the order of the array; and an array of more than MaxJoints
// entries, which no robot has.
func checkJointState(js *msgs.JointState) error {
	for _, a := range []struct {
		field string
		n     int
	}{{"name", len(js.Name)}, {"position", len(js.Position)}, {"velocity", len(js.Velocity)}, {"effort", len(js.Effort)}} {
		if a.n > MaxJoints {
			return fmt.Errorf("field %s holds %d entries, at most %d allowed: a robot has tens of joints", a.field, a.n, MaxJoints)
		}
	}
	names, positions := js.Name, js.Position
	if len(positions) != 0 && len(positions) != len(names) {
		return fmt.Errorf("%d names and %d positions: a JointState has as many positions as names, or none", len(names), len(positions))
	}
	seen := make(map[string]bool, len(names))
	for _, name := range names {
		if seen[name] {
			return fmt.Errorf("joint name %.64q given twice", name)
		}
		seen[name] = true
	}
	return nil
}

// topicNames are the names of the topics the node reads, as its messages say them.
type topicNames struct{ image, instruction, state string }

// named is what these names call the topic configured calls topic; a topic it does not know is
// named as given.
func (t topicNames) named(configured topicNames, topic string) string {
	switch topic {
	case configured.image:
		return t.image
	case configured.instruction:
		return t.instruction
	case configured.state:
		return t.state
	}
	return topic
}

// NameTopics gives the names the diagnostics say for the camera, instruction and robot state topics:
// the ROS edge passes them as the graph resolved them (namespace, remapping), so that a remapped
// camera is named as /camera/color/image_raw, where a user must look, not as the configured "image".
// An empty name keeps the one in use.
func (c *Core) NameTopics(image, instruction, state string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range []struct {
		to   *string
		name string
	}{{&c.topics.image, image}, {&c.topics.instruction, instruction}, {&c.topics.state, state}} {
		if n.name != "" {
			*n.to = n.name
		}
	}
}

// NeedsState reports whether the bundle reads the robot's state, so the edge subscribes to StateTopic.
func (c *Core) NeedsState() bool { return c.state != nil }

// stateFor copies into dst the state to infer a frame with, or says why there is none: a value never
// received on topic, or one further than maxAge from the frame's time at (0: no check). The reading
// of each value is the one stamped nearest the frame's stamp, the newest for a frame not stamped,
// whose time at is then the node's clock (Step). c.mu is held.
func (s *stateSlot) stateFor(stamp, at msgs.Time, maxAge time.Duration, topic string, dst []float64) (problem string) {
	var missing, stale, unstamped []string
	var worst time.Duration
	for i, name := range s.names {
		r, ok := s.nearest(i, stamp)
		if !ok {
			missing = append(missing, name)
			continue
		}
		dst[i] = r.value
		switch {
		case maxAge <= 0:
		case r.stamp.IsZero():
			// A zero stamp gives an age the check cannot trust, so it fails.
			unstamped = append(unstamped, name)
		default:
			// Either side of the frame: the state must describe the robot the camera saw.
			if age := at.Go().Sub(r.stamp.Go()).Abs(); age > maxAge {
				stale = append(stale, name)
				worst = max(worst, age)
			}
		}
	}
	switch {
	case len(missing) > 0:
		return fmt.Sprintf("no robot state received for %s on %s", strings.Join(missing, ", "), topic)
	case len(unstamped) > 0:
		return fmt.Sprintf("robot state for %s on %s has header.stamp 0, so how far it is from the frame's time is unknown (state_max_age is %v; 0 turns the check off)",
			strings.Join(unstamped, ", "), topic, maxAge)
	case len(stale) > 0:
		return fmt.Sprintf("robot state for %s is %v away from the frame's time (its stamp; the node's clock for a frame not stamped), state_max_age is %v",
			strings.Join(stale, ", "), worst.Round(time.Millisecond), maxAge)
	}
	return ""
}
