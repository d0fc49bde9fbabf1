// Package ros2test holds the integration tests of the package on a real ROS 2 Humble: the node under
// `ros2 launch`, the ros2 CLI against it (topics, parameters, lifecycle services), rosbag2 both ways.
// The tests carry the build tag ros2 and expect the environment that scripts/test-ros2.sh sets up
// (Humble and this package's colcon install sourced); `make test` runs them whenever Humble is found.
//
// Every process a test starts is stopped by that test, every wait is bounded, and each test talks on
// its own ROS_DOMAIN_ID over the loopback interface only (ROS_LOCALHOST_ONLY=1).
package ros2test
