package bag

import (
	"fmt"
	"strings"
	"time"

	"dysl_vla/bytesize"
)

// Format renders the description as `ros2 bag info` (Humble) prints it, with times shown in loc.
// Warnings are not part of it; print them separately.
func (i Info) Format(loc *time.Location) string {
	const indent = "                   " // 19 spaces: the width of "Topic information: "
	var b strings.Builder
	b.WriteString("\nFiles:             ")
	if len(i.Files) == 0 {
		b.WriteString("\n")
	}
	for n, f := range i.Files {
		if n > 0 {
			b.WriteString(indent)
		}
		b.WriteString(f.Path + "\n")
	}
	fmt.Fprintf(&b, "Bag size:          %s\n", bytesize.Format(uint64(max(i.Size, 0))))
	fmt.Fprintf(&b, "Storage id:        %s\n", i.StorageID)
	fmt.Fprintf(&b, "Duration:          %ss\n", seconds(i.End-i.Start))
	fmt.Fprintf(&b, "Start:             %s\n", formatTimePoint(i.Start, loc))
	fmt.Fprintf(&b, "End:               %s\n", formatTimePoint(i.End, loc))
	fmt.Fprintf(&b, "Messages:          %d\n", i.MessageCount)
	b.WriteString("Topic information: ")
	if len(i.Topics) == 0 {
		b.WriteString("\n")
	}
	for n, t := range i.Topics {
		if n > 0 {
			b.WriteString(indent)
		}
		fmt.Fprintf(&b, "Topic: %s | Type: %s | Count: %d | Serialization Format: %s\n",
			t.Name, t.Type, t.MessageCount, t.SerializationFormat)
	}
	return b.String()
}

// seconds prints nanoseconds as seconds with nine decimals, as Humble's rosbag2 does.
func seconds(ns int64) string {
	sign := ""
	if ns < 0 {
		sign, ns = "-", -ns
	}
	return fmt.Sprintf("%s%d.%09d", sign, ns/int64(time.Second), ns%int64(time.Second))
}

func formatTimePoint(ns int64, loc *time.Location) string {
	t := time.Unix(0, ns).In(loc)
	return fmt.Sprintf("%s.%09d (%s)", t.Format("Jan _2 2006 15:04:05"), t.Nanosecond(), seconds(ns))
}
