#!/usr/bin/env bash
# Records the rosbag2 fixtures of this folder with ROS 2 Humble's own `ros2 bag record`.
# Usage: bag/testdata/humble/record.sh [DYSL_BINARY]   (from the repository root; Humble in /opt/ros/humble)
# Every process it starts is stopped by it; DDS stays on loopback in its own domain.
set -euo pipefail
# Job control on: background jobs of a script otherwise ignore SIGINT, and the recorders need it.
set -m
here=$(cd "$(dirname "$0")" && pwd)
dysl=${1:-bin/dysl}
set +u
source /opt/ros/humble/setup.bash
set -u
export ROS_LOCALHOST_ONLY=1 ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-83}
work=$(mktemp -d)
pids=()
# stop_all sends SIGINT (the recorder then writes metadata.yaml and, in file mode, compresses)
# and waits up to 20 s for each process before it kills it.
stop_all() {
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do
		for _ in $(seq 200); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
	done
	pids=()
}
trap 'stop_all; rm -rf "$work"' EXIT

# --- 1. Live publishers: an instruction and 8x8 rgb8 images stamped "now", at 5 Hz for about 2 s,
#        recorded at once by five recorders: sqlite3 uncompressed and zstd by file and by message, MCAP
#        uncompressed and zstd by file (Humble's MCAP plugin refuses --compression-mode message).
rm -rf "$here"/pub_*
data=$(seq -s, 0 191)
for spec in "sqlite3 none" "sqlite3 file" "sqlite3 message" "mcap none" "mcap file"; do
	set -- $spec
	name=pub_$1; [ "$2" = none ] || name=${name}_$2_zstd
	args=(-s "$1" -o "$here/$name" -p 50)
	[ "$2" = none ] || args+=(--compression-mode "$2" --compression-format zstd --compression-queue-size 0)
	ros2 bag record "${args[@]}" /image /instruction >"$work/$name.log" 2>&1 &
	pids+=($!)
done
sleep 2
ros2 topic pub -r 5 /instruction std_msgs/msg/String "{data: pick up the red block}" >/dev/null &
pids+=($!)
ros2 topic pub -r 5 /image sensor_msgs/msg/Image \
	"{header: {stamp: now, frame_id: camera}, height: 8, width: 8, encoding: rgb8, step: 24, data: [$data]}" >/dev/null &
pids+=($!)
sleep 4
stop_all

# --- 2. A playback re-recorded: a `dysl bag gen` bag (stamps and log times from 2023) played by
#        `ros2 bag play --clock 20` at 4x and recorded with its /clock, so header stamps and /clock are
#        the original session's and log times are today's.
rm -rf "$here"/replayed_*
"$dysl" bag gen --out "$work/gen" --episodes 1 --width 8 --height 8 --noise 0 --seed 5 >/dev/null
ros2 bag record -s sqlite3 -o "$here/replayed_sqlite3" -p 50 --compression-mode file --compression-format zstd \
	--compression-queue-size 0 /clock /image /instruction >"$work/replayed.log" 2>&1 &
pids+=($!)
sleep 2
timeout -s INT 20 ros2 bag play --disable-keyboard-controls --clock 20 -r 4 -d 1 "$work/gen" --topics /image /instruction \
	>"$work/play.log" 2>&1 </dev/null || { cat "$work/play.log"; true; }
sleep 1
stop_all
rm -f "$here"/*/*.log

# --- 3. What Humble's own `ros2 bag info` says about each, for the byte-for-byte comparison.
mkdir -p "$here/ros2_bag_info"
for b in "$here"/pub_* "$here"/replayed_*; do
	TZ=UTC ros2 bag info "$b" >"$here/ros2_bag_info/$(basename "$b").txt"
done
ls -l "$here"/*/
cat "$work"/*.log | grep -iE "error|warn" || true
