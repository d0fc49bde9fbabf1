//go:build ros2

package ros2test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// recordSpec is one `ros2 bag record` configuration.
type recordSpec struct {
	name string
	args []string
}

// compressedZstd are the flags of rosbag2's zstd compression in mode (file or message).
func compressedZstd(mode string) []string {
	return []string{"--compression-mode", mode, "--compression-format", "zstd", "--compression-queue-size", "0"}
}

// record starts one `ros2 bag record` per spec of topics into dir/<spec name>. A recorder subscribes
// to a topic once a publisher of it shows up; see subscribed.
func (r *ROS) record(dir string, specs []recordSpec, topics ...string) []*Process {
	r.t.Helper()
	var recorders []*Process
	for _, s := range specs {
		argv := append([]string{"ros2", "bag", "record", "-o", filepath.Join(dir, s.name), "-p", "50"}, s.args...)
		recorders = append(recorders, r.Start("record "+s.name, nil, append(argv, topics...)...))
	}
	return recorders
}

// subscribed waits until every recorder has subscribed to every topic.
func subscribed(t *testing.T, recorders []*Process, topics ...string) {
	t.Helper()
	for _, p := range recorders {
		for _, topic := range topics {
			p.WaitFor(t, "Subscribed to topic '"+regexp.QuoteMeta(topic)+"'", 60*time.Second)
		}
	}
}

// stopRecorders sends SIGINT to each recorder, as Ctrl-C would, and waits for it to write its bag.
func stopRecorders(t *testing.T, recorders []*Process) {
	t.Helper()
	for _, p := range recorders {
		p.SignalGroup(syscall.SIGINT)
	}
	for _, p := range recorders {
		if code, exited := p.Wait(30 * time.Second); !exited || code != 0 {
			t.Fatalf("%s did not finish cleanly after SIGINT (exit %d, exited %v):\n%s", p.Name, code, exited, p.Output())
		}
	}
}

var actedOn = regexp.MustCompile(`frames acted on (\d+), not acted on (\d+)`)

// replaySummary runs dysl replay and returns the frames it acted on and did not, and its output. A
// replay that acted on no frame must fail (exit status 1) after its summary; any other must succeed.
func (r *ROS) replaySummary(bagDir, out string, extra ...string) (acted, notActed int, output string) {
	r.t.Helper()
	argv := append([]string{dyslTool(r.t), "replay", "--model", referenceModel(r.t), "--bag", bagDir, "--out", out}, extra...)
	output, err := r.Run(3*time.Minute, argv...)
	m := actedOn.FindStringSubmatch(output)
	if m == nil {
		r.t.Fatalf("dysl replay printed no summary (%v):\n%s", err, output)
	}
	acted, _ = strconv.Atoi(m[1])
	notActed, _ = strconv.Atoi(m[2])
	var exit *exec.ExitError
	switch {
	case acted > 0 && err != nil:
		r.t.Fatalf("dysl replay acted on %d frames and failed: %v\n%s", acted, err, output)
	case acted == 0 && !(errors.As(err, &exit) && exit.ExitCode() == 1):
		r.t.Fatalf("dysl replay acted on no frame, and must then exit with status 1 (got %v):\n%s", err, output)
	}
	return acted, notActed, output
}

// sameBagInfo checks that dysl bag info prints, byte for byte, what ros2 bag info prints.
func (r *ROS) sameBagInfo(bagDir string) {
	r.t.Helper()
	want := r.MustRun(time.Minute, "ros2", "bag", "info", bagDir)
	got := r.MustRun(time.Minute, dyslTool(r.t), "bag", "info", bagDir)
	if got != want {
		r.t.Errorf("dysl bag info %s differs from ros2 bag info:\n--- ros2 bag info\n%s--- dysl bag info\n%s", bagDir, want, got)
	}
}

// Bags recorded by ros2 bag record, compressed (zstd, by file and by message) or not, in both storages,
// read by dysl bag info as ros2 bag info reads them and replayed by dysl replay.
func TestDyslReadsROS2Recordings(t *testing.T) {
	r := NewROS(t)
	dir := t.TempDir()
	specs := []recordSpec{
		{"sqlite3", []string{"-s", "sqlite3"}},
		{"sqlite3_file_zstd", append([]string{"-s", "sqlite3"}, compressedZstd("file")...)},
		{"sqlite3_message_zstd", append([]string{"-s", "sqlite3"}, compressedZstd("message")...)},
		{"mcap", []string{"-s", "mcap"}},
		{"mcap_file_zstd", append([]string{"-s", "mcap"}, compressedZstd("file")...)},
	}
	// Without /clock, replay judges each frame's header.stamp (auto: when the publisher sent it) by
	// when the recorder received it. Five recorders, two compressing, and the publishers share the
	// machine: a frame received over 0.5 s late would be stale by the default max_image_age. Two
	// seconds keep the test about reading every recording whole.
	params := filepath.Join(dir, "params.yaml")
	if err := os.WriteFile(params, []byte("/**:\n  ros__parameters:\n    max_image_age: 2.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	recorders := r.record(dir, specs, "/image", "/instruction")
	publishInstruction(t, r, "pick up the red block")
	subscribed(t, recorders, "/instruction") // the latched instruction comes before the first image
	publishImages(t, r, imageYAML("auto", 8, 8, 24, "rgb8", 8*8*3), 5, 0)
	subscribed(t, recorders, "/image")
	time.Sleep(4 * time.Second) // about 20 images
	stopRecorders(t, recorders)

	for _, s := range specs {
		t.Run(s.name, func(t *testing.T) {
			bagDir := filepath.Join(dir, s.name)
			r.sameBagInfo(bagDir)
			info := r.MustRun(time.Minute, dyslTool(t), "bag", "info", bagDir)
			images := regexp.MustCompile(`Topic: /image \| Type: sensor_msgs/msg/Image \| Count: (\d+)`).FindStringSubmatch(info)
			if images == nil {
				t.Fatalf("no /image topic in:\n%s", info)
			}
			n, _ := strconv.Atoi(images[1])
			if n < 5 {
				t.Fatalf("only %d images recorded", n)
			}
			acted, notActed, out := r.replaySummary(bagDir, filepath.Join(t.TempDir(), "out"), "--params", params)
			if acted != n || notActed != 0 {
				t.Errorf("replay acted on %d and skipped %d of %d images:\n%s", acted, notActed, n, out)
			}
		})
	}
}

// ros2 bag info reads what dysl bag gen and dysl replay write, and prints what dysl bag info prints.
func TestROS2ReadsDyslBags(t *testing.T) {
	r := NewROS(t)
	dir := t.TempDir()
	gen := filepath.Join(dir, "gen")
	r.MustRun(time.Minute, dyslTool(t), "bag", "gen", "--out", gen, "--episodes", "1", "--width", "16", "--height", "16")
	r.sameBagInfo(gen)
	out := filepath.Join(dir, "replay")
	acted, notActed, output := r.replaySummary(gen, out)
	if acted == 0 || notActed != 0 {
		t.Fatalf("replay of a dysl bag acted on %d and skipped %d frames:\n%s", acted, notActed, output)
	}
	r.sameBagInfo(filepath.Join(out, "bag"))
	info := r.MustRun(time.Minute, "ros2", "bag", "info", filepath.Join(out, "bag"))
	if !strings.Contains(info, fmt.Sprintf("Topic: /action_chunk | Type: dysl_vla/msg/ActionChunk | Count: %d |", acted)) {
		t.Errorf("ros2 bag info of the replay's output lacks %d action chunks:\n%s", acted, info)
	}
}

// A recording of a playback (stamps and /clock from the original session, log times from today):
// judged by log time every frame is stale and the summary says what to do; with use_sim_time the
// recorded /clock is the node's time and the frames are acted on.
func TestReplayOfARecordedPlayback(t *testing.T) {
	r := NewROS(t)
	dir := t.TempDir()
	gen := filepath.Join(dir, "gen")
	r.MustRun(time.Minute, dyslTool(t), "bag", "gen", "--out", gen, "--episodes", "1", "--width", "16", "--height", "16")
	recorders := r.record(dir, []recordSpec{{"recorded", append([]string{"-s", "sqlite3"}, compressedZstd("file")...)}},
		"/clock", "/image", "/instruction")
	// ros2 bag play waits for keyboard input on a terminal only; its stdin here is empty.
	play := r.Start("play", nil, "ros2", "bag", "play", "--disable-keyboard-controls", "--clock", "20", "-r", "4", "-d", "1",
		gen, "--topics", "/image", "/instruction")
	subscribed(t, recorders, "/clock", "/image", "/instruction")
	if code, exited := play.Wait(60 * time.Second); !exited || code != 0 {
		t.Fatalf("ros2 bag play did not finish (exit %d):\n%s", code, play.Output())
	}
	time.Sleep(time.Second)
	stopRecorders(t, recorders)
	recorded := filepath.Join(dir, "recorded")
	r.sameBagInfo(recorded)

	acted, notActed, out := r.replaySummary(recorded, filepath.Join(dir, "out_logtime"))
	if acted != 0 || notActed == 0 || !strings.Contains(out, "hint: ") || !strings.Contains(out, "use_sim_time: true") {
		t.Errorf("judged by log time, every frame must be stale and the summary must say what to do:\n%s", out)
	}
	// ros2 bag play publishes /clock at 20 Hz of wall time, 0.2 s of bag time each at -r 4: on a
	// loaded machine a late tick left a frame 0.5 s ahead of the recorded clock, stale by the default
	// max_image_age (1 run in 2 beside other heavy tests). Two seconds keep the test about which
	// clock judges the frames; the recording's stamps are years from its log times either way.
	params := filepath.Join(dir, "params.yaml")
	if err := os.WriteFile(params, []byte("/**:\n  ros__parameters:\n    use_sim_time: true\n    max_image_age: 2.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	acted, notActed, out = r.replaySummary(recorded, filepath.Join(dir, "out_simtime"), "--params", params)
	if acted == 0 || strings.Contains(out, "stale") {
		t.Errorf("with use_sim_time the recorded /clock must serve the frames:\n%s", out)
	}
	t.Logf("use_sim_time true: %d frames acted on, %d not (before the first /clock)", acted, notActed)
}
