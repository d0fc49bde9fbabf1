//go:build ros2

package main

/*
#include <stdint.h>
// rcl/logging.h's, declared here so that this file needs no ROS include path; rclgo links -lrcl.
int32_t rcl_logging_fini(void);
*/
import "C"

// finishROSLog flushes and closes the node's ROS log file (~/.ros/log/dysl_vla_node_<pid>_*.log), as
// rclcpp does when it shuts down. rclgo never does, and the file logger flushes only when its buffer
// fills: a node that stopped, on an error too, left that file empty or cut mid-line, and after an
// incident on a robot the last lines are the ones looked for. Call it after rclgo.Uninit.
func finishROSLog() { C.rcl_logging_fini() }
