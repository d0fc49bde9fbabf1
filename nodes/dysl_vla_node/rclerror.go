package main

import "strings"

// withoutTrace is an error's message as the operator should read it. rclgo's errors carry the Go
// stack trace of where they were made, padded with NUL bytes to 2 KiB, after their first line
// ("[*rclgo.InvalidRosArgs] rcl_parse_arguments Couldn't parse log level ..."): a bad command-line
// argument then reads like a crash. Only that first line is kept.
func withoutTrace(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "[*rclgo."); i >= 0 {
		if end := strings.IndexByte(msg[i:], '\n'); end >= 0 {
			msg = msg[:i+end]
		}
	}
	return strings.TrimSpace(strings.ReplaceAll(msg, "\x00", ""))
}
