//go:build ros2

package ros2test

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"dysl_vla/policy/bundle"
)

// A bundle that reads the robot's state makes the node subscribe to joint_states: frames without a
// state are not acted on and /diagnostics names what is missing; once a robot publishes its joints
// (with joints the model does not read among them), chunks come. The launch argument
// joint_states_topic remaps it, as a robot whose driver publishes elsewhere needs.
func TestStateBundleReadsJointStates(t *testing.T) {
	r := NewROS(t)
	model := filepath.Join(t.TempDir(), "small_state")
	r.MustRun(3*time.Minute, dyslTool(t), "model", "build", "--preset", "small_state", "--calibration", "8", "--out", model)
	m, err := bundle.ReadManifest(model)
	if err != nil {
		t.Fatal(err)
	}
	if m.State == nil {
		t.Fatalf("preset small_state built a bundle without a state block")
	}
	launch := r.Start("ros2 launch", nil, "ros2", "launch", "dysl_vla", "dysl_vla.launch.py", "model_dir:="+model,
		"joint_states_topic:=/arm/joint_states")
	// The log names the topics as resolved, remapping included.
	launch.WaitFor(t, `serving .* on /image, instruction on /instruction`, 60*time.Second)
	launch.WaitFor(t, `robot state \[ee_x ee_y ee_z ee_yaw gripper\] from /arm/joint_states`, 10*time.Second)
	publishInstruction(t, r, "grab the red block, put it on the blue pad")
	w, h := m.Image.Width, m.Image.Height
	publishImages(t, r, imageYAML("auto", w, h, 3*w, "rgb8", 3*w*h), 5, 0)

	diag := echo(t, r, "/diagnostics", 3500*time.Millisecond)
	joined := strings.Join(diag, "\n---\n")
	if !strings.Contains(joined, "no robot state received for ee_x, ee_y, ee_z, ee_yaw, gripper on /arm/joint_states") {
		t.Fatalf("/diagnostics does not name the missing robot state:\n%s", joined)
	}

	r.Start("joint state publisher", nil, "ros2", "topic", "pub", "-r", "20", "/arm/joint_states", "sensor_msgs/msg/JointState",
		"{header: auto, name: [shoulder, gripper, ee_yaw, ee_z, ee_y, ee_x], position: [3.0, -1.0, 0.1, 0.2, 0.0, 0.05]}")
	chunk := echoOnce(t, r, "/action_chunk", 30*time.Second)
	if got := field(t, chunk, "steps"); got != strconv.Itoa(m.Dims.Chunk) {
		t.Errorf("steps %s, want the manifest's chunk %d", got, m.Dims.Chunk)
	}
	if !launch.Alive() {
		t.Fatalf("the node exited:\n%s", launch.Output())
	}
}
