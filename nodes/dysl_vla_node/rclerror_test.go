package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// An rclgo error as rclgo v0.0.0-20260225085354 builds it: its message, the stack trace and the NUL
// bytes left in its 2 KiB buffer. Only the message reaches the operator, with what wrapped it.
func TestRclgoErrorsLoseTheirStackTrace(t *testing.T) {
	trace := "goroutine 1 [running]:\nmain.run()\n\t/src/nodes/dysl_vla_node/main_ros2.go:61 +0x1d\n" + strings.Repeat("\x00", 1500)
	rcl := errors.New("[*rclgo.InvalidRosArgs] rcl_parse_arguments Couldn't parse log level 'bogus'\n" + trace + "\n")
	require.Equal(t, "parsing the ROS arguments: [*rclgo.InvalidRosArgs] rcl_parse_arguments Couldn't parse log level 'bogus'",
		withoutTrace(fmt.Errorf("parsing the ROS arguments: %w", rcl)))
	require.Equal(t, "bundle /m: 2 problem(s)\nmanifest.yaml: dims.layers: is 0", withoutTrace(errors.New("bundle /m: 2 problem(s)\nmanifest.yaml: dims.layers: is 0\n")),
		"other errors keep every line")
}
