//go:build ros2

package ros2test

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"dysl_vla/bag"
	"dysl_vla/msgs"
)

// chunksByStamp reads the action chunks of a bag, keyed by their header stamp.
func chunksByStamp(t *testing.T, path, topic string) map[msgs.Time]*msgs.ActionChunk {
	t.Helper()
	r, err := bag.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer r.Close()
	out := map[msgs.Time]*msgs.ActionChunk{}
	for m, err := range r.Messages(topic) {
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		var c msgs.ActionChunk
		if err := msgs.Decode(m.Data, &c); err != nil {
			t.Fatalf("decode a chunk of %s: %v", path, err)
		}
		out[c.Header.Stamp] = &c
	}
	return out
}

// bagInstruction is the first instruction a recording holds.
func bagInstruction(t *testing.T, path string) string {
	t.Helper()
	r, err := bag.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for m, err := range r.Messages("/instruction") {
		if err != nil {
			t.Fatal(err)
		}
		var s msgs.String
		if err := msgs.Decode(m.Data, &s); err != nil {
			t.Fatal(err)
		}
		return s.Data
	}
	t.Fatalf("%s holds no instruction", path)
	return ""
}

// A recording played into the launched node the way ROS users do it (ros2 bag play --clock, the node
// with use_sim_time:=true) is served frame by frame; its chunks, recorded by ros2 bag record in
// sqlite3 and in MCAP, are the chunks `dysl replay` computes from the same recording. Without
// use_sim_time every frame is stale, and the diagnostics say what to do.
func TestBagPlayedIntoTheNodeAgreesWithReplay(t *testing.T) {
	dir := t.TempDir()
	gen := filepath.Join(dir, "episodes")
	r := NewROS(t)
	r.MustRun(2*time.Minute, dyslTool(t), "bag", "gen", "--out", gen, "--episodes", "1", "--seed", "3")
	replayed := filepath.Join(dir, "replay")
	r.MustRun(3*time.Minute, dyslTool(t), "replay", "--model", referenceModel(t), "--bag", gen, "--out", replayed)
	want := chunksByStamp(t, filepath.Join(replayed, "bag"), "/action_chunk")
	if len(want) < 100 {
		t.Fatalf("replay served %d frames of one episode", len(want))
	}

	t.Run("without use_sim_time every frame is stale, and the node says why", func(t *testing.T) {
		r := NewROS(t)
		launchNode(t, r)
		diags := r.Start("echo /diagnostics", nil, "ros2", "topic", "echo", "--no-daemon", "--full-length", "/diagnostics")
		time.Sleep(2 * time.Second)
		r.MustRun(2*time.Minute, "ros2", "bag", "play", gen)
		time.Sleep(1500 * time.Millisecond)
		diags.Stop(syscall.SIGINT, 5*time.Second)
		if !strings.Contains(diags.Output(), "ros2 bag play --clock") || !strings.Contains(diags.Output(), "use_sim_time:=true") {
			t.Errorf("/diagnostics do not say how to play a bag:\n%s", diags.Output())
		}
	})

	playIntoTheNode(t, r, gen, "/image", want, []string{"sqlite3", "mcap"})
}

// The same with the camera recorded compressed (dysl bag gen --image-format png), as image_transport's
// compressed transport publishes it: played into the node launched with image_transport:=compressed,
// the chunks are those dysl replay computes from the same bag, which it reads from /image/compressed.
func TestCompressedBagPlayedIntoTheNodeAgreesWithReplay(t *testing.T) {
	dir := t.TempDir()
	gen := filepath.Join(dir, "episodes")
	r := NewROS(t)
	r.MustRun(2*time.Minute, dyslTool(t), "bag", "gen", "--out", gen, "--episodes", "1", "--seed", "3", "--image-format", "png")
	replayed := filepath.Join(dir, "replay")
	out := r.MustRun(3*time.Minute, dyslTool(t), "replay", "--model", referenceModel(t), "--bag", gen, "--out", replayed)
	if !strings.Contains(out, "camera: /image/compressed (sensor_msgs/msg/CompressedImage)") {
		t.Errorf("replay does not say it read the compressed camera:\n%s", out)
	}
	want := chunksByStamp(t, filepath.Join(replayed, "bag"), "/action_chunk")
	if len(want) < 100 {
		t.Fatalf("replay served %d frames of one episode", len(want))
	}
	playIntoTheNode(t, r, gen, "/image/compressed", want, []string{"mcap"}, "image_transport:=compressed")
}

// playIntoTheNode launches the node under use_sim_time with launchArgs, latches the bag's instruction,
// plays the bag's camera topic with its /clock at half speed while ros2 bag record records the chunks
// in each storage, and holds each recording to want, the chunks dysl replay computed from the bag.
func playIntoTheNode(t *testing.T, r *ROS, gen, camera string, want map[msgs.Time]*msgs.ActionChunk, storages []string, launchArgs ...string) {
	t.Helper()
	dir := t.TempDir()
	node := launchNode(t, r, append([]string{"use_sim_time:=true"}, launchArgs...)...)
	// The instruction is latched before the frames play, as on a robot; the player sends the frames
	// and /clock.
	publishInstruction(t, r, bagInstruction(t, gen))
	recordings := map[string]string{}
	for _, storage := range storages {
		recordings[storage] = filepath.Join(dir, "live_"+storage)
	}
	var recorders []*Process
	for storage, out := range recordings {
		recorders = append(recorders, r.Start("ros2 bag record "+storage, nil,
			"ros2", "bag", "record", "-s", storage, "-o", out, "/action_chunk"))
	}
	for _, p := range recorders {
		p.WaitFor(t, `Subscribed to topic '/action_chunk'|Listening for topics`, 30*time.Second)
	}
	time.Sleep(3 * time.Second) // discovery between the recorders and the node
	// Half speed: one frame every 200 ms leaves the worker idle between frames even on a loaded
	// machine, so no frame is superseded in the latest-frame slot and the two runs see the same frames.
	// The player's publishers are new to the graph: --delay gives discovery five seconds to match them
	// with the node's subscriptions, or the first frame can go out before anyone listens.
	r.MustRun(3*time.Minute, "ros2", "bag", "play", "--clock", "--rate", "0.5", "--delay", "5", "--topics", camera, "--", gen)
	time.Sleep(2 * time.Second)
	for _, p := range recorders {
		p.Stop(syscall.SIGINT, 20*time.Second)
	}

	for storage, out := range recordings {
		t.Run(storage, func(t *testing.T) {
			info := r.MustRun(time.Minute, "ros2", "bag", "info", out)
			if !strings.Contains(info, "dysl_vla/msg/ActionChunk") {
				t.Errorf("ros2 bag info of the live recording:\n%s", info)
			}
			live := chunksByStamp(t, out, "/action_chunk")
			if len(live) != len(want) {
				t.Errorf("live run: %d chunks, replay: %d", len(live), len(want))
			}
			for stamp, w := range want {
				g, ok := live[stamp]
				if !ok {
					t.Errorf("no live chunk for frame %d.%09d; the node's log of it: %q", stamp.Sec, stamp.Nanosec,
						linesWith(node.Output(), fmt.Sprintf("%d.%09d", stamp.Sec, stamp.Nanosec)))
					continue
				}
				if g.LayersExecuted != w.LayersExecuted || g.VerificationFired != w.VerificationFired {
					t.Errorf("frame %d.%09d: live executed %d layers (verified %v), replay %d (%v)", stamp.Sec,
						stamp.Nanosec, g.LayersExecuted, g.VerificationFired, w.LayersExecuted, w.VerificationFired)
				}
				for i := range w.Actions {
					if math.Abs(float64(g.Actions[i]-w.Actions[i])) > 1e-5 {
						t.Errorf("frame %d.%09d action %d: live %v, replay %v", stamp.Sec, stamp.Nanosec, i, g.Actions[i], w.Actions[i])
						break
					}
				}
			}
		})
	}
}

// linesWith returns the lines of out that contain s: what a process said of one frame, for a failure
// that must tell a frame the node dropped (and said so) from one lost on the way.
func linesWith(out, s string) []string {
	var lines []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, s) {
			lines = append(lines, line)
		}
	}
	return lines
}
