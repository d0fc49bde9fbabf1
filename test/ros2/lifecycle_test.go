//go:build ros2

package ros2test

import (
	"strings"
	"testing"
	"time"
)

// managed:=true: the node starts unconfigured and serves nothing until a bring-up configures and
// activates it through the lifecycle services; every step is published on ~/transition_event.
func TestManagedNodeThroughLifecycleServices(t *testing.T) {
	r := NewROS(t)
	launch := launchNode(t, r, "managed:=true")
	call := func(service, typ, req string) string {
		t.Helper()
		out, err := r.ROS2(30*time.Second, "service", "call", node+"/"+service, "lifecycle_msgs/srv/"+typ, req)
		if err != nil {
			t.Fatalf("ros2 service call %s: %v\n%s", service, err, out)
		}
		return out
	}
	state := func() string {
		t.Helper()
		return call("get_state", "GetState", "{}")
	}
	change := func(req string) string { t.Helper(); return call("change_state", "ChangeState", req) }

	if s := state(); !strings.Contains(s, "id=1, label='unconfigured'") {
		t.Fatalf("initial state: %s", s)
	}
	// Not serving, and saying so: a monitor tells it from a node that is gone.
	if d := echoOnce(t, r, "/diagnostics", 10*time.Second); !strings.Contains(d, "not serving frames: the managed node is unconfigured") {
		t.Errorf("diagnostics of an unconfigured node: %s", d)
	}
	// rcl_lifecycle's default machine, as rclcpp_lifecycle answers: unknown (id 0) and the ten others.
	if s := call("get_available_states", "GetAvailableStates", "{}"); strings.Count(s, "lifecycle_msgs.msg.State(") != 11 ||
		!strings.Contains(s, "id=0, label='unknown'") {
		t.Errorf("get_available_states: %s", s)
	}
	av := call("get_available_transitions", "GetAvailableTransitions", "{}")
	for _, want := range []string{"id=1, label='configure'", "id=5, label='shutdown'"} {
		if !strings.Contains(av, want) {
			t.Errorf("available transitions from unconfigured lack %s: %s", want, av)
		}
	}

	events := startEcho(t, r, node+"/transition_event")
	publishInstruction(t, r, "grab the red block, put it on the blue pad")
	publishImages(t, r, goodImage(t), 5, 0)
	time.Sleep(3 * time.Second)
	if chunks := echo(t, r, "/action_chunk", 2*time.Second); len(chunks) != 0 {
		t.Fatalf("an unconfigured node published %d chunks", len(chunks))
	}

	if out := change("{transition: {id: 3}}"); !strings.Contains(out, "success=False") {
		t.Errorf("activate from unconfigured: %s", out)
	}
	launch.WaitFor(t, `\[ERROR\] .*transition not available: id 3 from state unconfigured \(available there: configure \(1\), shutdown \(5\)\)`, 10*time.Second)
	if out := change("{transition: {id: 1}}"); !strings.Contains(out, "success=True") {
		t.Fatalf("configure: %s\n%s", out, launch.Output())
	}
	if s := state(); !strings.Contains(s, "label='inactive'") {
		t.Fatalf("after configure: %s", s)
	}
	if chunks := echo(t, r, "/action_chunk", 2*time.Second); len(chunks) != 0 {
		t.Fatalf("an inactive node published %d chunks", len(chunks))
	}
	if out := change("{transition: {label: activate}}"); !strings.Contains(out, "success=True") {
		t.Fatalf("activate: %s", out)
	}
	chunk := echoOnce(t, r, "/action_chunk", 30*time.Second)
	if field(t, chunk, "layers_total") == "" {
		t.Fatalf("chunk: %s", chunk)
	}
	for _, req := range []string{"{transition: {id: 4}}", "{transition: {id: 2}}"} { // deactivate, cleanup
		if out := change(req); !strings.Contains(out, "success=True") {
			t.Fatalf("%s: %s", req, out)
		}
	}
	if s := state(); !strings.Contains(s, "label='unconfigured'") {
		t.Fatalf("after deactivate and cleanup: %s", s)
	}
	if chunks := echo(t, r, "/action_chunk", 2*time.Second); len(chunks) != 0 {
		t.Fatalf("a cleaned-up node published %d chunks", len(chunks))
	}
	if out := change("{transition: {label: shutdown}}"); !strings.Contains(out, "success=True") {
		t.Fatalf("shutdown: %s", out)
	}
	if s := state(); !strings.Contains(s, "label='finalized'") {
		t.Fatalf("after shutdown: %s", s)
	}
	// The echo prints what it took by the time it is stopped: wait for the ten events (a loaded machine
	// can print them late), then a second more for any the node should not have published.
	events.WaitFor(t, `(?s)(start_state:.*){10}`, 15*time.Second)
	time.Sleep(time.Second)
	events.Stop(2, 5*time.Second)
	got := events.Output()
	for _, want := range []string{"label: configure", "label: activate", "label: deactivate", "label: cleanup",
		"label: shutdown", "label: transition_success", "label: finalized"} {
		if !strings.Contains(got, want) {
			t.Errorf("~/transition_event lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "start_state:"); n != 10 {
		t.Errorf("%d transition events, want 10 (five requested transitions, two steps each):\n%s", n, got)
	}
}
