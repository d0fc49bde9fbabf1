//go:build ros2

package ros2test

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// paramsFileNames flattens params/dysl_vla.yaml's ros__parameters into dotted names.
func paramsFileNames(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "params", "dysl_vla.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]map[string]map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var names []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				walk(prefix+k+".", sub)
				continue
			}
			names = append(names, prefix+k)
		}
	}
	walk("", doc["/**"]["ros__parameters"])
	sort.Strings(names)
	return names
}

// Every parameter of params/dysl_vla.yaml through the ros2 CLI against the running node, with
// rclcpp's rules: list, get, describe with ranges; valid sets apply at the next inference, refused
// sets change nothing and say why; dump then load round-trips; one /parameter_events message per
// successful change.
func TestParametersThroughTheROS2CLI(t *testing.T) {
	r := NewROS(t)
	launchNode(t, r)
	must := func(args ...string) string {
		t.Helper()
		out, err := r.ROS2(30*time.Second, args...)
		if err != nil {
			t.Fatalf("ros2 %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	names := paramsFileNames(t)
	listed := must("param", "list", node)
	for _, n := range names {
		if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(n) + `$`).MatchString(listed) {
			t.Errorf("ros2 param list does not list %s:\n%s", n, listed)
		}
	}
	if got := must("param", "get", node, "eta_move"); !strings.Contains(got, "Double value is: 0.05") {
		t.Errorf("ros2 param get eta_move: %s", got)
	}
	desc := must("param", "describe", node, "controller_threshold")
	for _, want := range []string{"Type: double", "Min value: 0.0", "Max value: 1.0"} {
		if !strings.Contains(desc, want) {
			t.Errorf("describe controller_threshold lacks %q:\n%s", want, desc)
		}
	}
	if desc := must("param", "describe", node, "model_dir"); !strings.Contains(desc, "Read only: true") &&
		!strings.Contains(desc, "read-only") {
		t.Errorf("model_dir not described as read-only:\n%s", desc)
	}

	events := r.Start("echo /parameter_events", nil, "ros2", "topic", "echo", "--no-daemon", "/parameter_events")
	time.Sleep(3 * time.Second) // discovery

	refusals := []struct {
		args   []string
		reason string
	}{
		{[]string{"controller_threshold", "2.0"}, "doesn't comply with floating point range. Range: 0 to 1."},
		{[]string{"controller_threshold", "abc"}, "Wrong parameter type, parameter {controller_threshold} is of type {double}"},
		{[]string{"model_dir", "/elsewhere"}, "parameter 'model_dir' cannot be set because it is read-only"},
		{[]string{"continuity_window", "1"}, "doesn't comply with integer range"},
	}
	for _, c := range refusals {
		out, _ := r.ROS2(30*time.Second, append([]string{"param", "set", node}, c.args...)...)
		if !strings.Contains(out, "Setting parameter failed") || !strings.Contains(out, c.reason) {
			t.Errorf("set %v: want a refusal saying %q, got\n%s", c.args, c.reason, out)
		}
	}
	if got := must("param", "get", node, "controller_threshold"); !strings.Contains(got, "Double value is: 0.5") {
		t.Errorf("a refused set changed controller_threshold: %s", got)
	}

	// A valid set applies at the next inference: strategy full skips nothing.
	if out := must("param", "set", node, "strategy", "full"); !strings.Contains(out, "Set parameter successful") {
		t.Fatalf("set strategy full: %s", out)
	}
	publishInstruction(t, r, "grab the red block, put it on the blue pad")
	publishImages(t, r, goodImage(t), 5, 0)
	stats := echoOnce(t, r, node+"/skip_stats", 30*time.Second)
	if field(t, stats, "strategy") != "full" || field(t, stats, "layers_skipped") != "0" {
		t.Errorf("skip stats after strategy:=full:\n%s", stats)
	}

	time.Sleep(time.Second)
	events.Stop(2, 5*time.Second) // SIGINT
	changes := regexp.MustCompile(`(?m)^changed_parameters:\n- name: (\S+)`).FindAllStringSubmatch(events.Output(), -1)
	if len(changes) != 1 || changes[0][1] != "strategy" {
		t.Errorf("parameter events for one successful change among refusals: %v\n%s", changes, events.Output())
	}

	// dump, change, load: the dumped value comes back.
	dump := must("param", "dump", node)
	if i := strings.Index(dump, node+":"); i >= 0 {
		dump = dump[i:] // after DDS's start-up chatter on the same output
	}
	// Humble's ros2 param load cannot load an empty string (it parses '' to None and asserts), for
	// rclcpp nodes as for this one: frame_id's default is left out of the round trip.
	dump = regexp.MustCompile(`(?m)^.*: ''\n`).ReplaceAllString(dump, "")
	file := filepath.Join(t.TempDir(), "dump.yaml")
	if err := os.WriteFile(file, []byte(dump), 0o644); err != nil {
		t.Fatal(err)
	}
	must("param", "set", node, "eta_move", "0.2")
	out, _ := r.ROS2(60*time.Second, "param", "load", node, file)
	if !strings.Contains(out, "Set parameter eta_move successful") && !strings.Contains(out, "Set parameter successful") {
		t.Errorf("ros2 param load did not set eta_move:\n%s", out)
	}
	if got := must("param", "get", node, "eta_move"); !strings.Contains(got, "Double value is: 0.05") {
		t.Errorf("eta_move after load of the dump: %s", got)
	}
	if got := must("param", "get", node, "strategy"); !strings.Contains(got, "String value is: full") {
		t.Errorf("strategy after load of the dump: %s", got)
	}
}

// A listener on /parameter_events from before the node starts sees the node's parameters as it
// declared them, as an rclcpp node publishes each declaration: a recording of the topic holds the
// initial configuration, not only what changed later.
func TestParameterEventsAnnounceTheDeclarations(t *testing.T) {
	r := NewROS(t)
	echo := r.Start("parameter events", nil, "ros2", "topic", "echo", "/parameter_events", "rcl_interfaces/msg/ParameterEvent")
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _ := r.ROS2(10*time.Second, "topic", "info", "/parameter_events")
		if strings.Contains(out, "Subscription count: 1") || strings.Contains(out, "Subscription count: 2") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ros2 topic echo never subscribed:\n%s\n%s", out, echo.Output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	launchNode(t, r)
	echo.WaitFor(t, `node: /dysl_vla_node\nnew_parameters:\n- name: `, 30*time.Second)
	// One event lists them all, sorted by name; the echo prints it whole.
	echo.WaitFor(t, `- name: strategy\n  value:\n    type: 4\n(.*\n)*?    string_value: dysl\n`, 10*time.Second)
	for _, name := range []string{"controller_threshold", "model_dir", "use_sim_time"} {
		if !strings.Contains(echo.Output(), "- name: "+name+"\n") {
			t.Errorf("%s is not among the announced parameters:\n%s", name, echo.Output())
		}
	}
}
