package bag

import (
	"fmt"
	"strings"
)

// History is a QoS history policy; values are rmw's (rmw_qos_history_policy_e), as metadata
// version 5 stores them.
type History int

// Reliability is a QoS reliability policy; values are rmw's.
type Reliability int

// Durability is a QoS durability policy; values are rmw's.
type Durability int

// QoS policy values. Zero (rmw's SYSTEM_DEFAULT) is deliberately absent: a recorded profile says
// what the publisher actually offered.
const (
	KeepLast History = 1
	KeepAll  History = 2

	Reliable   Reliability = 1
	BestEffort Reliability = 2

	TransientLocal Durability = 1
	Volatile       Durability = 2
)

// QoS is the part of a publisher's QoS profile that matters for playback. Deadline, lifespan and
// liveliness lease are written as infinite, liveliness as automatic.
type QoS struct {
	History     History
	Depth       int // queue depth for KeepLast; ignored for KeepAll
	Reliability Reliability
	Durability  Durability
}

// Common profiles.
var (
	// QoSSensorData is rclcpp's SensorDataQoS: cameras publish with it.
	QoSSensorData = QoS{History: KeepLast, Depth: 5, Reliability: BestEffort, Durability: Volatile}
	// QoSDefault is rclcpp's default profile (keep last 10, reliable, volatile).
	QoSDefault = QoS{History: KeepLast, Depth: 10, Reliability: Reliable, Durability: Volatile}
	// QoSLatched delivers the last message to late subscribers: for values published once, such
	// as an episode's instruction.
	QoSLatched = QoS{History: KeepLast, Depth: 1, Reliability: Reliable, Durability: TransientLocal}
)

// Validate reports a profile that rosbag2 could not play back.
func (q QoS) Validate() error {
	var problems []string
	if q.History != KeepLast && q.History != KeepAll {
		problems = append(problems, fmt.Sprintf("history %d must be KeepLast (1) or KeepAll (2)", q.History))
	}
	if q.History == KeepLast && q.Depth < 1 {
		problems = append(problems, fmt.Sprintf("depth %d must be >= 1 with KeepLast", q.Depth))
	}
	if q.Reliability != Reliable && q.Reliability != BestEffort {
		problems = append(problems, fmt.Sprintf("reliability %d must be Reliable (1) or BestEffort (2)", q.Reliability))
	}
	if q.Durability != TransientLocal && q.Durability != Volatile {
		problems = append(problems, fmt.Sprintf("durability %d must be TransientLocal (1) or Volatile (2)", q.Durability))
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid QoS: %s", strings.Join(problems, "; "))
	}
	return nil
}

// OfferedQoSProfiles renders profiles (one per publisher) as the YAML string rosbag2 stores in
// offered_qos_profiles, in the integer form of metadata version 5 (Humble), which later versions
// also read.
func OfferedQoSProfiles(profiles ...QoS) string {
	// rmw's "infinite" duration as rosbag2 Humble writes it (RMW_DURATION_INFINITE split in sec/nsec).
	const infinite = "\n    sec: 9223372036\n    nsec: 854775807"
	var b strings.Builder
	for i, q := range profiles {
		if i > 0 {
			b.WriteString("\n")
		}
		depth := q.Depth
		if q.History == KeepAll {
			depth = 0
		}
		fmt.Fprintf(&b, "- history: %d\n  depth: %d\n  reliability: %d\n  durability: %d\n", q.History, depth, q.Reliability, q.Durability)
		b.WriteString("  deadline:" + infinite + "\n")
		b.WriteString("  lifespan:" + infinite + "\n")
		b.WriteString("  liveliness: 1\n")
		b.WriteString("  liveliness_lease_duration:" + infinite + "\n")
		b.WriteString("  avoid_ros_namespace_conventions: false")
	}
	return b.String()
}
