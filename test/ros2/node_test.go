//go:build ros2

package ros2test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"dysl_vla/policy/bundle"
)

const node = "/dysl_vla_node"

// launchNode starts `ros2 launch dysl_vla dysl_vla.launch.py` with the reference bundle and extra
// launch arguments, and waits until the node serves (or, managed, waits for configure).
func launchNode(t *testing.T, r *ROS, args ...string) *Process {
	t.Helper()
	argv := append([]string{"ros2", "launch", "dysl_vla", "dysl_vla.launch.py",
		"model_dir:=" + referenceModel(t)}, args...)
	p := r.Start("ros2 launch", nil, argv...)
	p.WaitFor(t, `serving .* on |managed node: unconfigured`, 60*time.Second)
	return p
}

// manifest is the reference bundle's manifest.
func manifest(t *testing.T) *bundle.Manifest {
	t.Helper()
	m, err := bundle.ReadManifest(referenceModel(t))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// imageYAML is a sensor_msgs/msg/Image for `ros2 topic pub`: a gray frame stamped now by ros2 topic
// pub itself ("header: auto"), or with the given stamp; data holds n bytes.
func imageYAML(stamp string, width, height, step int, encoding string, n int) string {
	return imageOf(stamp, width, height, step, encoding, n, func(i int) int { return 60 + i%120 })
}

// imageOf is imageYAML with byte i of data value(i).
func imageOf(stamp string, width, height, step int, encoding string, n int, value func(i int) int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{header: %s, height: %d, width: %d, encoding: %s, is_bigendian: 0, step: %d, data: [", stamp, height, width, encoding, step)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(value(i)))
	}
	b.WriteString("]}")
	return b.String()
}

// goodImage is an rgb8 frame of the reference bundle's size, stamped now: the table its manifest's
// image.balance describes, with a few units of texture. A gray frame would be served too, but the
// diagnostics would rightly warn that its median is not the table's colour.
func goodImage(t *testing.T) string {
	m := manifest(t)
	table := []float64{0.5, 0.5, 0.5}
	if m.Image.Balance != nil {
		table = m.Image.Balance
	}
	return imageOf("auto", m.Image.Width, m.Image.Height, 3*m.Image.Width, "rgb8", 3*m.Image.Width*m.Image.Height,
		func(i int) int { return int(255*table[i%3]) + (i/3)%9 - 4 })
}

// publishInstruction latches an instruction as a user would.
func publishInstruction(t *testing.T, r *ROS, text string) {
	t.Helper()
	r.Start("instruction publisher", nil, "ros2", "topic", "pub", "--qos-durability", "transient_local",
		"--qos-reliability", "reliable", "--once", "--keep-alive", "3600", "/instruction", "std_msgs/msg/String", "{data: '"+text+"'}")
}

// publishImages publishes yaml on /image at rate Hz; times > 0 ends the publisher after so many.
func publishImages(t *testing.T, r *ROS, yaml string, rate, times int) *Process {
	t.Helper()
	argv := []string{"ros2", "topic", "pub", "--qos-reliability", "best_effort", "-r", strconv.Itoa(rate)}
	if times > 0 {
		argv = append(argv, "-t", strconv.Itoa(times))
	}
	return r.Start("image publisher", nil, append(argv, "/image", "sensor_msgs/msg/Image", yaml)...)
}

// echo collects messages of topic for d, counted from when its subscription is in the graph, and
// returns them split at "---". Counted from the start of the process instead, a check that nothing
// was published could pass only because the echo had not subscribed yet.
func echo(t *testing.T, r *ROS, topic string, d time.Duration, extra ...string) []string {
	t.Helper()
	p := startEcho(t, r, topic, extra...)
	time.Sleep(d)
	p.Stop(syscall.SIGINT, 5*time.Second)
	var msgs []string
	for _, m := range strings.Split(p.Output(), "\n---") {
		if messageLine.MatchString(m) { // not DDS's start-up chatter
			msgs = append(msgs, m)
		}
	}
	return msgs
}

// startEcho starts ros2 topic echo on topic and returns once the graph shows it subscribed: a
// Python process can take seconds to start on a loaded machine, and what is published before it
// subscribes never reaches it.
func startEcho(t *testing.T, r *ROS, topic string, extra ...string) *Process {
	t.Helper()
	p := r.Start("echo "+topic, nil, append([]string{"ros2", "topic", "echo", "--no-daemon", topic}, extra...)...)
	// ros2cli names its node _ros2cli_<pid>.
	subscriber := fmt.Sprintf("Node name: _ros2cli_%d\n", p.cmd.Process.Pid)
	for deadline := time.Now().Add(30 * time.Second); ; {
		if out, _ := r.ROS2(20*time.Second, "topic", "info", "--verbose", topic); strings.Contains(out, subscriber) {
			break
		}
		if time.Now().After(deadline) || !p.Alive() {
			t.Fatalf("ros2 topic echo %s never subscribed:\n%s", topic, p.Output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	return p
}

var messageLine = regexp.MustCompile(`(?m)^[a-z_]+:`)

// echoOnce waits at most timeout for one message on topic.
func echoOnce(t *testing.T, r *ROS, topic string, timeout time.Duration) string {
	t.Helper()
	out, err := r.Run(timeout, "ros2", "topic", "echo", "--once", "--no-daemon", topic)
	if err != nil {
		t.Fatalf("no message on %s within %v: %v\n%s", topic, timeout, err, out)
	}
	return out
}

func field(t *testing.T, msg, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(name) + `: (.*)$`).FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("no field %s in\n%s", name, msg)
	}
	return strings.Trim(m[1], `'"`)
}

// The node under ros2 launch serves chunks of the manifest's shape for camera frames and an
// instruction published as a user would, with skip stats per chunk and /diagnostics every second.
func TestLaunchServesChunksStatsAndDiagnostics(t *testing.T) {
	r := NewROS(t)
	launch := launchNode(t, r)
	m := manifest(t)
	publishInstruction(t, r, "grab the red block, put it on the blue pad")
	publishImages(t, r, goodImage(t), 5, 0)

	chunk := echoOnce(t, r, "/action_chunk", 30*time.Second)
	if got := field(t, chunk, "steps"); got != strconv.Itoa(m.Dims.Chunk) {
		t.Errorf("steps %s, want the manifest's chunk %d", got, m.Dims.Chunk)
	}
	if got := field(t, chunk, "action_dim"); got != strconv.Itoa(m.Dims.ActionDim) {
		t.Errorf("action_dim %s, want %d", got, m.Dims.ActionDim)
	}
	if got := field(t, chunk, "layers_total"); got != strconv.Itoa(m.Dims.Layers) {
		t.Errorf("layers_total %s, want %d", got, m.Dims.Layers)
	}

	stats := echo(t, r, node+"/skip_stats", 4*time.Second)
	if n := len(stats); n < 8 || n > 30 {
		t.Errorf("%d skip stats in 4 s at 5 frames/s, want one per served frame", n)
	}
	diags := echo(t, r, "/diagnostics", 4500*time.Millisecond)
	if n := len(diags); n < 3 || n > 6 {
		t.Errorf("%d /diagnostics messages in 4.5 s, want about one a second (diagnostic_updater.period 1.0)", n)
	}
	if len(diags) > 0 {
		last := diags[len(diags)-1]
		if !strings.Contains(last, "message: acting") {
			t.Errorf("diagnostics do not say the node is acting:\n%s", last)
		}
	}
	if strings.Contains(launch.Output(), "rcl_take") {
		t.Errorf("the node logged a take failure:\n%s", launch.Output())
	}
	if strings.Contains(launch.Output(), "none of its messages reach") {
		t.Errorf("the node warned about a publisher of the right type:\n%s", launch.Output())
	}
}

// launch ignores arguments a file does not declare, so a misspelt one used to change nothing in silence:
// the launch file names a near miss of its own arguments and a node parameter given as an argument,
// and leaves alone arguments of a parent launch file (robot_name, arm.side), which are no mistake.
func TestLaunchWarnsAboutArgumentsItIgnores(t *testing.T) {
	r := NewROS(t)
	launch := launchNode(t, r, "image_topci:=/camera/color/image_raw", "mavlink.enabled:=true",
		"controller_threshold:=0.7", "robot_name:=arm1", "arm.side:=left")
	out := launch.Output()
	for _, want := range []string{
		"image_topci is not a launch argument of dysl_vla.launch.py and is ignored; did you mean image_topic?",
		"mavlink.enabled is a parameter of dysl_vla_node, not a launch argument, and is ignored",
		"controller_threshold is a parameter of dysl_vla_node, not a launch argument, and is ignored",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("launch did not warn %q:\n%s", want, out)
		}
	}
	for _, quiet := range []string{"robot_name", "arm.side"} {
		if strings.Contains(out, quiet) {
			t.Errorf("launch warned about %s, an argument that is neither close to its own nor a parameter:\n%s", quiet, out)
		}
	}
}

// A launch argument left out leaves the params file's value in force: the file's use_sim_time,
// image_transport and image_topic were undone by the arguments' defaults, which nobody gave.
func TestLaunchArgumentsNotGivenLeaveTheParamsFile(t *testing.T) {
	r := NewROS(t)
	params := filepath.Join(t.TempDir(), "arm.yaml")
	if err := os.WriteFile(params, []byte("/**:\n  ros__parameters:\n    use_sim_time: true\n"+
		"    image_transport: compressed\n    image_topic: /cam/image_raw\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	launch := launchNode(t, r, "params_file:="+params)
	launch.WaitFor(t, `on /cam/image_raw/compressed`, 10*time.Second)
	for name, want := range map[string]string{
		"use_sim_time":    "Boolean value is: True",
		"image_transport": "String value is: compressed",
		"image_topic":     "String value is: /cam/image_raw",
	} {
		if out, err := r.ROS2(30*time.Second, "param", "get", node, name); err != nil || !strings.Contains(out, want) {
			t.Errorf("ros2 param get %s: %v\n%s", name, err, out)
		}
	}
}

// A launch argument that YAML would read as a number reaches the node as the string it names:
// model_dir:=2024 (a bundle directory named for its year) stopped the node with a parameter of the
// wrong type, as launch_ros passed the bare substitution through YAML.
func TestLaunchArgumentsThatLookLikeNumbersStayStrings(t *testing.T) {
	r := NewROS(t)
	dir := t.TempDir()
	if err := os.Symlink(referenceModel(t), filepath.Join(dir, "2024")); err != nil {
		t.Fatal(err)
	}
	p := r.Start("ros2 launch", nil, "bash", "-c",
		`cd "$1" && exec ros2 launch dysl_vla dysl_vla.launch.py model_dir:=2024`, "bash", dir)
	p.WaitFor(t, `serving 2024 on `, 60*time.Second)
	out, err := r.ROS2(30*time.Second, "param", "get", node, "model_dir")
	if err != nil || !strings.Contains(out, "String value is: 2024") {
		t.Errorf("ros2 param get model_dir: %v\n%s", err, out)
	}
}

// Bad camera input is a WARN on /diagnostics, never an exit, and the next good frame is served. A
// publisher that leaves is not an error.
func TestBadCameraInputWarnsAndTheNextFrameIsServed(t *testing.T) {
	r := NewROS(t)
	launch := launchNode(t, r)
	m := manifest(t)
	w, h := m.Image.Width, m.Image.Height
	publishInstruction(t, r, "grab the red block, put it on the blue pad")

	cases := []struct{ name, yaml, want string }{
		{"wrong encoding", imageYAML("auto", w, h, 2*w, "yuv422", 2*w*h), "yuv422"},
		{"wrong size", imageYAML("auto", 5, 3, 15, "rgb8", 45), ""},
		{"truncated data", imageYAML("auto", w, h, 3*w, "rgb8", 10), ""},
	}
	for _, c := range cases {
		pub := publishImages(t, r, c.yaml, 5, 5)
		if code, ok := pub.Wait(30 * time.Second); !ok || code != 0 {
			t.Fatalf("%s: publisher did not finish: %d %v\n%s", c.name, code, ok, pub.Output())
		}
		if !launch.Alive() {
			t.Fatalf("%s: the node exited:\n%s", c.name, launch.Output())
		}
	}
	launch.WaitFor(t, `refused: .*yuv422`, 10*time.Second)
	diag := echo(t, r, "/diagnostics", 4*time.Second)
	joined := strings.Join(diag, "\n---\n")
	if !regexp.MustCompile(`key: bad frames\s*\n\s*value: '[1-9]`).MatchString(joined) {
		t.Errorf("bad frames not counted in /diagnostics:\n%s", joined)
	}

	publishImages(t, r, goodImage(t), 5, 0)
	chunk := echoOnce(t, r, "/action_chunk", 30*time.Second)
	if field(t, chunk, "steps") != strconv.Itoa(m.Dims.Chunk) {
		t.Errorf("the good frame after bad ones gave\n%s", chunk)
	}
	// Three publishers left; none of that is a decode error.
	diag = echo(t, r, "/diagnostics", 4*time.Second)
	if len(diag) == 0 {
		t.Fatal("no diagnostics")
	}
	if !regexp.MustCompile(`key: decode errors\s*\n\s*value: '0'`).MatchString(diag[len(diag)-1]) {
		t.Errorf("a publisher leaving counted as a decode error:\n%s", diag[len(diag)-1])
	}
	if strings.Contains(launch.Output(), "SubscriptionTakeFailed") || strings.Contains(launch.Output(), "goroutine ") {
		t.Errorf("the node logged a take failure or a stack:\n%s", launch.Output())
	}
}

// SIGINT and SIGTERM to the node, and a Ctrl-C to the whole launch process group, end with exit 0.
func TestShutdownIsClean(t *testing.T) {
	nodeBin, _ := findTool("dysl_vla_node")
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run("node "+sig.String(), func(t *testing.T) {
			r := NewROS(t)
			logDir := t.TempDir()
			p := r.Start("dysl_vla_node", []string{"ROS_LOG_DIR=" + logDir}, nodeBin, "--ros-args", "-p", "model_dir:="+referenceModel(t))
			p.WaitFor(t, `serving `, 60*time.Second)
			p.Signal(sig)
			code, ok := p.Wait(15 * time.Second)
			if !ok || code != 0 {
				t.Fatalf("after %v: exited %v with %d\n%s", sig, ok, code, p.Output())
			}
			requireInROSLog(t, logDir, "[dysl_vla_node]: shutting down")
		})
	}
	// The ROS log file holds the error a node stopped on: rcl's file logger flushes only when its buffer
	// fills or logging is finished, and the file used to be left empty.
	// A -p value the node refuses is logged there too, as every other start-up failure is.
	t.Run("start-up error in the log file", func(t *testing.T) {
		for _, tc := range []struct{ param, want string }{
			{"model_dir:=NO-BUNDLE", "manifest.yaml: open NO-BUNDLE/manifest.yaml"},
			{"use_sim_time:=1", "[dysl_vla_node]: parameter use_sim_time is integer 1, expected a bool"},
		} {
			r := NewROS(t)
			logDir := t.TempDir()
			noBundle := filepath.Join(logDir, "no-bundle")
			argv := []string{nodeBin, "--ros-args", "-p", strings.ReplaceAll(tc.param, "NO-BUNDLE", noBundle)}
			if !strings.HasPrefix(tc.param, "model_dir") {
				argv = append(argv, "-p", "model_dir:="+referenceModel(t))
			}
			p := r.Start("dysl_vla_node", []string{"ROS_LOG_DIR=" + logDir}, argv...)
			if code, ok := p.Wait(30 * time.Second); !ok || code != 1 {
				t.Fatalf("-p %s: exited %v with %d\n%s", tc.param, ok, code, p.Output())
			}
			requireInROSLog(t, logDir, strings.ReplaceAll(tc.want, "NO-BUNDLE", noBundle))
		}
	})
	t.Run("launch Ctrl-C", func(t *testing.T) {
		r := NewROS(t)
		p := launchNode(t, r)
		p.SignalGroup(syscall.SIGINT)
		code, ok := p.Wait(20 * time.Second)
		if !ok || code != 0 {
			t.Fatalf("ros2 launch after Ctrl-C: exited %v with %d\n%s", ok, code, p.Output())
		}
		if !strings.Contains(p.Output(), "process has finished cleanly") {
			t.Fatalf("launch did not report a clean finish:\n%s", p.Output())
		}
	})
}

// requireInROSLog fails the test unless the node's ROS log file in logDir holds want.
func requireInROSLog(t *testing.T, logDir, want string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(logDir, "dysl_vla_node_*.log"))
	if len(files) != 1 {
		t.Fatalf("%d ROS log files of the node in %s, want 1: %v", len(files), logDir, files)
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), want) {
		t.Fatalf("the node's ROS log file %s (%d bytes) lacks %q:\n%s", files[0], len(raw), want, raw)
	}
}

// With use_sim_time:=true the node follows /clock: before the first clock message nothing is served,
// and frames stamped in the clock's past (2023) are served once /clock says 2023.
func TestSimTimeFollowsClock(t *testing.T) {
	r := NewROS(t)
	launch := launchNode(t, r, "use_sim_time:=true")
	m := manifest(t)
	publishInstruction(t, r, "grab the red block, put it on the blue pad")
	stamp := "{stamp: {sec: 1700000000, nanosec: 0}, frame_id: camera}"
	publishImages(t, r, imageYAML(stamp, m.Image.Width, m.Image.Height, 3*m.Image.Width, "rgb8", 3*m.Image.Width*m.Image.Height), 5, 0)
	launch.WaitFor(t, `no /clock message has arrived yet`, 20*time.Second)
	if chunks := echo(t, r, "/action_chunk", 2*time.Second); len(chunks) != 0 {
		t.Fatalf("%d chunks before any /clock message", len(chunks))
	}
	clock := r.Start("clock", nil, "ros2", "topic", "pub", "-r", "20", "/clock", "rosgraph_msgs/msg/Clock",
		"{clock: {sec: 1700000000, nanosec: 100000000}}")
	chunk := echoOnce(t, r, "/action_chunk", 30*time.Second)
	if got := field(t, chunk, "sec"); got != "1700000000" {
		t.Errorf("chunk stamp sec %s, want the image's 1700000000", got)
	}

	// The clock stops, as at the end of a played bag: the diagnostics go on at the wall clock's
	// period (after two periods without a sim tick), so that a monitor can tell the node from one
	// that is gone. Before, they stopped with the clock.
	clock.Stop(syscall.SIGINT, 5*time.Second)
	time.Sleep(3 * time.Second)
	if got := echo(t, r, "/diagnostics", 3*time.Second); len(got) == 0 {
		t.Errorf("no /diagnostics within 3 s, 3 s after /clock stopped:\n%s", launch.Output())
	}
}

// Alive reports whether the process still runs.
func (p *Process) Alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// A publisher of another type on the image topic (a String, a CompressedImage) never matches the
// node's subscription in DDS; the node names it instead of waiting for frames without a word.
func TestWrongTypeOnTheImageTopicIsNamed(t *testing.T) {
	r := NewROS(t)
	launch := launchNode(t, r)
	r.Start("string publisher", nil, "ros2", "topic", "pub", "-r", "2", "/image", "std_msgs/msg/String", "{data: frame}")
	launch.WaitFor(t, `offers std_msgs/msg/String on /image, expected sensor_msgs/msg/Image`, 30*time.Second)
	if !launch.Alive() {
		t.Fatalf("the node exited:\n%s", launch.Output())
	}
}

// An instruction publisher with rclpy's default QoS (volatile) never matches the node's transient-
// local subscription; rclgo has no QoS events, so the node names it from the graph, as rclcpp's
// "offering incompatible QoS" warning would.
func TestIncompatibleInstructionQoSIsNamed(t *testing.T) {
	r := NewROS(t)
	launch := launchNode(t, r)
	r.Start("volatile instruction publisher", nil, "ros2", "topic", "pub", "-r", "2", "--qos-durability", "volatile",
		"/instruction", "std_msgs/msg/String", "{data: pick}")
	launch.WaitFor(t, `on /instruction offers incompatible QoS, so none of its messages reach this node: it offers volatile durability`, 30*time.Second)
	if !launch.Alive() {
		t.Fatalf("the node exited:\n%s", launch.Output())
	}
}

// Two arms on one ROS graph run one node each, in its own namespace (launch argument namespace:=...):
// each node reads its own camera and instruction, publishes its own chunks and skip stats, and takes
// `ros2 param set` under its own name, while the shipped params file (keyed "/**") applies to both.
// A topic or service name that did not resolve into the namespace would cross the two robots' streams.
func TestTwoNamespacedNodesKeepTheirRobotsApart(t *testing.T) {
	r := NewROS(t)
	left := launchNode(t, r, "namespace:=left_arm")
	right := launchNode(t, r, "namespace:=right_arm", "image_topic:=/right_arm/camera/image_raw")
	left.WaitFor(t, `serving .* on /left_arm/image, instruction on /left_arm/instruction`, 5*time.Second)
	right.WaitFor(t, `serving .* on /right_arm/camera/image_raw, instruction on /right_arm/instruction`, 5*time.Second)

	// Only the left arm gets camera frames and an instruction: the right arm must act on nothing.
	r.Start("left instruction publisher", nil, "ros2", "topic", "pub", "--qos-durability", "transient_local",
		"--qos-reliability", "reliable", "--once", "--keep-alive", "3600", "/left_arm/instruction", "std_msgs/msg/String",
		"{data: 'grab the red block, put it on the blue pad'}")
	r.Start("left image publisher", nil, "ros2", "topic", "pub", "--qos-reliability", "best_effort", "-r", "5",
		"/left_arm/image", "sensor_msgs/msg/Image", goodImage(t))
	echoOnce(t, r, "/left_arm/action_chunk", 30*time.Second)
	if stats := echo(t, r, "/left_arm/dysl_vla_node/skip_stats", 3*time.Second); len(stats) == 0 {
		t.Errorf("no skip stats on /left_arm/dysl_vla_node/skip_stats")
	}
	if chunks := echo(t, r, "/right_arm/action_chunk", 3*time.Second); len(chunks) != 0 {
		t.Errorf("%d chunks on /right_arm/action_chunk, whose node got no frame", len(chunks))
	}
	for _, topic := range []string{"/action_chunk", "/image", "/instruction"} {
		// ros2 topic info fails on a topic nobody uses; one somebody uses counts them.
		out, err := r.ROS2(20*time.Second, "topic", "info", topic)
		if err == nil && !(strings.Contains(out, "Publisher count: 0") && strings.Contains(out, "Subscription count: 0")) {
			t.Errorf("ros2 topic info %s: a node uses the un-namespaced topic:\n%s", topic, out)
		}
	}

	// A parameter set on one node leaves the other's as it was.
	if out, err := r.ROS2(30*time.Second, "param", "set", "/right_arm/dysl_vla_node", "controller_threshold", "0.7"); err != nil || !strings.Contains(out, "Set parameter successful") {
		t.Fatalf("ros2 param set on /right_arm/dysl_vla_node: %v\n%s", err, out)
	}
	for ns, want := range map[string]string{"right_arm": "0.7", "left_arm": "0.5"} {
		out, err := r.ROS2(30*time.Second, "param", "get", "/"+ns+"/dysl_vla_node", "controller_threshold")
		if err != nil || !strings.Contains(out, "Double value is: "+want) {
			t.Errorf("ros2 param get /%s/dysl_vla_node controller_threshold: want %s: %v\n%s", ns, want, err, out)
		}
	}
	for name, p := range map[string]*Process{"left": left, "right": right} {
		if !p.Alive() {
			t.Errorf("the %s node exited:\n%s", name, p.Output())
		}
	}
}
