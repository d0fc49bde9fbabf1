//go:build !ros2

// Command dysl_vla_node is the DySL-VLA ROS 2 node. Built without the ros2 tag it only explains how to
// build it: rclgo compiles only against a ROS 2 installation.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "dysl_vla_node: this binary was built without ROS 2 support.\n"+
		"Build it in a ROS 2 Humble environment (source /opt/ros/humble/setup.bash) with\n"+
		"  colcon build --packages-select dysl_vla\n"+
		"or: go generate -tags ros2 ./nodes/dysl_vla_node && go build -tags ros2 ./nodes/dysl_vla_node\n"+
		"To run the policy on recorded data without ROS, use `dysl replay`.")
	os.Exit(2)
}
