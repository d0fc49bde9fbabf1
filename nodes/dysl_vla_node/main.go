//go:build !ros2

// Command dysl_vla_node is the DySL-VLA ROS 2 node. Built without the ros2 tag it only explains how to
// build it: rclgo compiles only against a ROS 2 installation.
package main

import (
	"fmt"
	"os"
)

// buildHelp is what this binary says. A go build -tags ros2 binary alone is no way out: it loads
// dysl_vla's message type support (ActionChunk, SkipStats), which only a colcon build installs, from a
// sourced install.
const buildHelp = "dysl_vla_node: this binary was built without ROS 2 support.\n" +
	"Build and run it in a ROS 2 Humble environment (source /opt/ros/humble/setup.bash) with\n" +
	"  colcon build --packages-select dysl_vla && source install/setup.bash\n" +
	"  ros2 launch dysl_vla dysl_vla.launch.py model_dir:=/path/to/bundle\n" +
	"Both are needed: the node loads this package's message type support from the sourced install.\n" +
	"To run the policy on recorded data without ROS, use `dysl replay`."

func main() {
	fmt.Fprintln(os.Stderr, buildHelp)
	os.Exit(2)
}
