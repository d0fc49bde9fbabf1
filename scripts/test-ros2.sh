#!/usr/bin/env bash
# Builds the package with colcon against ROS 2 Humble and runs the ROS integration tests (test/ros2).
# Needs /opt/ros/humble (official Ubuntu 22.04 packages, or on these development machines
# `bash ../shared/ros2/build-humble.sh install`), colcon, gcc, Go and npm (ONNX Runtime).
# Every DDS participant it starts stays on the loopback interface (ROS_LOCALHOST_ONLY=1).
# Usage: scripts/test-ros2.sh [go test flags, e.g. -run TestLaunch]
set -eo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
humble=${ROS_HUMBLE_PREFIX:-/opt/ros/humble}
[ -f "$humble/setup.bash" ] || { echo "test-ros2: no ROS 2 Humble at $humble" >&2; exit 1; }

# CMake (rosidl) must find the system python with its empy/lark/catkin_pkg, not a pyenv or venv one
# anywhere on PATH, so the build runs with system directories plus Go only.
go_bin=$(dirname "$(command -v go)")
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$go_bin
export ROS_LOCALHOST_ONLY=1
lib=${DYSL_ORT_LIB:-$(scripts/fetch-ort.sh)}
export DYSL_ORT_LIB=$lib

# shellcheck disable=SC1091
source "$humble/setup.bash"
mkdir -p log
colcon build --packages-select dysl_vla >log/test-ros2-colcon.txt 2>&1 || {
  tail -n 60 log/test-ros2-colcon.txt; echo "test-ros2: colcon build --packages-select dysl_vla failed" >&2; exit 1; }
# shellcheck disable=SC1091
source install/setup.bash
# The rclgo glue compiles only here, against ROS: vet and staticcheck it here too.
go vet -tags ros2 ./nodes/dysl_vla_node
go tool staticcheck -tags ros2 ./nodes/dysl_vla_node
go build -o bin/ ./nodes/dysl

# The node's goroutines and locks live in its ros2-tagged glue, which `go test -race` never builds.
# So the tests run a race-detector build of the node in place of colcon's (DYSL_ROS2_RACE=0 keeps
# colcon's), each of its processes writing what it detects to log/ros2-race/; any report fails the run.
race_dir=$root/log/ros2-race
rm -rf "$race_dir"
if [ "${DYSL_ROS2_RACE:-1}" = 1 ]; then
  go build -race -tags ros2 -o install/dysl_vla/lib/dysl_vla/dysl_vla_node ./nodes/dysl_vla_node
  mkdir -p "$race_dir"
  export GORACE="log_path=$race_dir/node"
fi
status=0
go test -tags ros2 -count=1 -v -timeout 20m "$@" ./test/ros2/ || status=$?
if [ -d "$race_dir" ] && [ -n "$(ls -A "$race_dir")" ]; then
  cat "$race_dir"/*
  echo "test-ros2: the race detector reported data races in dysl_vla_node (above; files in $race_dir)" >&2
  exit 1
fi
exit $status
