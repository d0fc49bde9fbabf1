// Package paramserver gives a Go ROS 2 node rclcpp's parameter semantics without rclcpp.
//
// rclgo has no parameters, so this package holds them: declaration with start-up overrides,
// the six rcl_interfaces parameter services as plain methods (Get, GetTypes, Describe, List,
// Set, SetAtomically), on-set validation and post-set callbacks, and one Event per successful
// change for the node's /parameter_events publisher. It also reads the ROS command line
// (--ros-args, -p, --params-file, -r) and params files the way rcl does.
//
// The types are rcl_interfaces' messages from package msgs (Value is msgs.ParameterValue,
// Descriptor is msgs.ParameterDescriptor, Event is msgs.ParameterEvent, and so on), so the ROS
// glue passes decoded requests in and encodes what comes out, with no conversion. Reason
// strings and error texts are rclcpp's (Humble, rclcpp/node_interfaces/node_parameters.cpp),
// because operators and ros2cli users recognise them.
//
// The package is pure Go and does no ROS I/O: the glue calls the methods from its service
// handlers and publishes what Subscribe delivers.
package paramserver
