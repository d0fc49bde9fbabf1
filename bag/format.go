package bag

import (
	"fmt"
	"strings"
	"time"
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
	fmt.Fprintf(&b, "Bag size:          %s\n", formatFileSize(i.Size()))
	fmt.Fprintf(&b, "Storage id:        %s\n", i.StorageID)
	fmt.Fprintf(&b, "Duration:          %ss\n", secondsWithMillis(i.End-i.Start))
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

// formatFileSize prints bytes as rosbag2 does: whole bytes, else one decimal in binary units.
func formatFileSize(size int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	value := float64(size)
	unit := 0
	for value >= 1024 && unit < len(units)-1 {
		value /= 1024
		unit++
	}
	if unit == 0 {
		return fmt.Sprintf("%d B", size)
	}
	return fmt.Sprintf("%.1f %s", value, units[unit])
}

// secondsWithMillis prints nanoseconds as seconds truncated to milliseconds. rosbag2 prints the
// milliseconds without zero padding (5 ms shows as ".5"); this pads, so the number reads right.
func secondsWithMillis(ns int64) string {
	ms := ns / int64(time.Millisecond)
	return fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
}

func formatTimePoint(ns int64, loc *time.Location) string {
	t := time.Unix(0, ns).In(loc)
	ms := (ns / int64(time.Millisecond)) % 1000
	return fmt.Sprintf("%s.%03d (%s)", t.Format("Jan _2 2006 15:04:05"), ms, secondsWithMillis(ns))
}
