package msgs

import "time"

// TimeFromNanos converts nanoseconds since the epoch into a Time.
func TimeFromNanos(ns int64) Time {
	sec, nsec := splitNanos(ns)
	return Time{Sec: sec, Nanosec: nsec}
}

// TimeFromGo converts a Go time into a Time (the ROS system clock uses the
// Unix epoch). The zero time.Time (a clock not yet known: sim time before the first /clock message) is the zero
// stamp; its UnixNano would overflow to an arbitrary date.
func TimeFromGo(t time.Time) Time {
	if t.IsZero() {
		return Time{}
	}
	return TimeFromNanos(t.UnixNano())
}

// Nanos returns the time as nanoseconds since the epoch.
func (t Time) Nanos() int64 { return int64(t.Sec)*1e9 + int64(t.Nanosec) }

// Go returns the time as a Go time.Time.
func (t Time) Go() time.Time { return time.Unix(int64(t.Sec), int64(t.Nanosec)) }

// IsZero reports an unset stamp, which diagnostics flag as "Zero timestamp seen."
func (t Time) IsZero() bool { return t.Sec == 0 && t.Nanosec == 0 }

// DurationFromGo converts a Go duration.
func DurationFromGo(d time.Duration) Duration {
	sec, nsec := splitNanos(int64(d))
	return Duration{Sec: sec, Nanosec: nsec}
}

// Go returns the span as a Go time.Duration.
func (d Duration) Go() time.Duration {
	return time.Duration(int64(d.Sec)*1e9 + int64(d.Nanosec))
}

// splitNanos floors ns into whole seconds and a non-negative remainder, the
// ROS convention for both Time and Duration. Seconds outside int32 wrap, as
// they do in rclcpp; that is 2038 for Time and 68 years for Duration.
func splitNanos(ns int64) (int32, uint32) {
	sec := ns / 1e9
	rem := ns % 1e9
	if rem < 0 {
		sec--
		rem += 1e9
	}
	return int32(sec), uint32(rem)
}
