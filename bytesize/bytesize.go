// Package bytesize writes a number of bytes for people, as rosbag2's `ros2 bag info` does: whole bytes
// below a kibibyte, else one decimal in the largest binary unit reached ("1023 B", "1.5 KiB",
// "3.0 GiB"). `dysl bag info` must print sizes exactly as rosbag2 does, and every other report of the
// package (bundle summaries, memory checks) prints them the same way.
package bytesize

import "fmt"

// Format writes n bytes.
func Format(n uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	value, unit := float64(n), 0
	for value >= 1024 && unit < len(units)-1 {
		value /= 1024
		unit++
	}
	if unit == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", value, units[unit])
}
