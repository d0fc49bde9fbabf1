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
	fmt.Fprintf(&b, "Bag size:          %s\n", formatFileSize(i.Size))
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
