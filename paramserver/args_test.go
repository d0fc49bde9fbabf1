package paramserver

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/msgs"
)

var posInf = math.Inf(1)

func TestParseArgsLaunchCommandLine(t *testing.T) {
	// What launch_ros passes (docs/notes/ros2.md, "What launch passes"), with the program's own flags around it.
	args := []string{
		"--bundle", "/models/b", "--ros-args", "--log-level", "info", "--ros-args",
		"-r", "__node:=vla_node", "-r", "__ns:=/robot",
		"--params-file", "testdata/vla_node.yaml", "--params-file", "testdata/launch_dict.yaml",
		"-r", "image:=/camera/color/image_raw", "--remap", "gripper:cmd:=/ignored",
		"-p", "fp16:=false", "--", "--dry-run",
	}
	got, err := ParseArgs(args, "policy_node", "")
	require.NoError(t, err)

	require.Equal(t, "vla_node", got.NodeName)
	require.Equal(t, "/robot", got.Namespace)
	require.Equal(t, "/robot/vla_node", got.FullyQualifiedName())
	require.Equal(t, []string{"--bundle", "/models/b", "--dry-run"}, got.Rest)
	require.Equal(t, []string{"testdata/vla_node.yaml", "testdata/launch_dict.yaml"}, got.ParamsFiles)
	require.Equal(t, []Remap{{From: "image", To: "/camera/color/image_raw"}}, got.Remaps, "the rule for node 'gripper' is dropped")
	require.True(t, got.UseSimTime)
	require.Equal(t, map[string]Value{
		"use_sim_time": Bool(true),
		"rate_hz":      Double(20),                      // launch dict file, later than vla_node.yaml's /robot/vla_node
		"engine_path":  String("/launch/override.onnx"), // same
		"fp16":         Bool(false),                     // -p reaches every node
	}, got.Overrides)
}

func TestParseArgsPrecedence(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want Value
	}{
		{name: "later file wins", want: Double(20),
			args: []string{"--ros-args", "-r", "__ns:=/robot", "--params-file", "testdata/vla_node.yaml", "--params-file", "testdata/launch_dict.yaml"}},
		// rcl merges every source into one table of node keys, and rclcpp applies the keys in the order
		// each first appeared: vla_node.yaml opens with /**, so its exact key comes later and wins.
		{name: "exact node key after /** beats a later wildcard", want: Double(10),
			args: []string{"--ros-args", "-r", "__ns:=/robot", "--params-file", "testdata/vla_node.yaml", "--params-file", "testdata/late_wildcard.yaml"}},
		{name: "a later wildcard beats an exact key seen first (a ros2 param dump file)", want: Double(1),
			args: []string{"--ros-args", "-r", "__ns:=/robot", "--params-file", "testdata/dumped.yaml", "--params-file", "testdata/late_wildcard.yaml"}},
		{name: "a later -p beats an exact key seen first", want: Double(2),
			args: []string{"--ros-args", "-r", "__ns:=/robot", "--params-file", "testdata/dumped.yaml", "-p", "rate_hz:=2.0"}},
		{name: "an exact key seen after -p beats it", want: Double(10),
			args: []string{"--ros-args", "-r", "__ns:=/robot", "-p", "rate_hz:=2.0", "--params-file", "testdata/dumped.yaml"}},
		{name: "later -p beats an earlier wildcard", want: Double(2),
			args: []string{"--ros-args", "--params-file", "testdata/late_wildcard.yaml", "-p", "rate_hz:=2.0"}},
		{name: "later wildcard beats an earlier -p", want: Double(1),
			args: []string{"--ros-args", "-p", "rate_hz:=2.0", "--params-file", "testdata/late_wildcard.yaml"}},
		{name: "exact node key after -p's /** beats it, as in rclcpp", want: Double(10),
			args: []string{"--ros-args", "-r", "__ns:=/robot", "-p", "rate_hz:=2.0", "--params-file", "testdata/vla_node.yaml"}},
		{name: "remap after the file still selects the node", want: Double(10),
			args: []string{"--ros-args", "--params-file", "testdata/vla_node.yaml", "-r", "__ns:=/robot"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseArgs(tc.args, "vla_node", "/")
			require.NoError(t, err)
			require.Equal(t, tc.want, got.Overrides["rate_hz"])
		})
	}
}

func TestParseArgsNodeRemaps(t *testing.T) {
	cases := []struct {
		name      string
		args      []string
		wantNode  string
		wantNS    string
		wantRemap []Remap
	}{
		{name: "defaults", args: nil, wantNode: "vla_node", wantNS: "/"},
		{name: "__name alias and trailing slash", args: []string{"--ros-args", "-r", "__name:=arm_policy", "-r", "__ns:=/lab/"},
			wantNode: "arm_policy", wantNS: "/lab"},
		{name: "__ns:=/ is the root namespace, its slash kept", args: []string{"--ros-args", "-r", "__ns:=/"},
			wantNode: "vla_node", wantNS: "/"},
		{name: "first rule wins, as in rcl", args: []string{"--ros-args", "-r", "__node:=first", "-r", "__node:=second"},
			wantNode: "first", wantNS: "/"},
		{name: "node-specific rule for this node", args: []string{"--ros-args", "-r", "vla_node:__node:=renamed", "-r", "vla_node:a:=b"},
			wantNode: "renamed", wantNS: "/", wantRemap: []Remap{{Node: "vla_node", From: "a", To: "b"}}},
		{name: "node-specific rule for another node", args: []string{"--ros-args", "-r", "camera:__node:=renamed"},
			wantNode: "vla_node", wantNS: "/"},
		{name: "ROS args only inside --ros-args", args: []string{"-r", "__node:=x", "--ros-args", "--"},
			wantNode: "vla_node", wantNS: "/"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseArgs(tc.args, "vla_node", "/")
			require.NoError(t, err)
			require.Equal(t, tc.wantNode, got.NodeName)
			require.Equal(t, tc.wantNS, got.Namespace)
			require.Equal(t, tc.wantRemap, got.Remaps)
		})
	}
}

func TestParseArgsErrors(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "unknown ROS argument", args: []string{"--ros-args", "--bogus"},
			wantErr: `unknown ROS argument "--bogus", expected -r, -p, --params-file or a logging flag`},
		{name: "missing value", args: []string{"--ros-args", "-p"}, wantErr: "ROS argument -p needs a value after it"},
		{name: "-p without :=", args: []string{"--ros-args", "-p", "rate_hz=3"}, wantErr: `-p "rate_hz=3": expected name:=value`},
		{name: "-p bad value", args: []string{"--ros-args", "-p", "ids:=[1, a]"},
			wantErr: `-p "ids:=[1, a]": list mixes integer and string elements, expected one type`},
		{name: "-p empty value", args: []string{"--ros-args", "-p", "x:="}, wantErr: `-p "x:=": expected a value after ':='`},
		{name: "remap without :=", args: []string{"--ros-args", "-r", "image"}, wantErr: `-r "image": expected [node:]from:=to`},
		{name: "bad node name", args: []string{"--ros-args", "-r", "__node:=9lives"}, wantErr: `node name "9lives" is invalid`},
		{name: "relative namespace", args: []string{"--ros-args", "-r", "__ns:=robot"}, wantErr: `namespace "robot" is invalid, expected an absolute namespace`},
		{name: "bad params file", args: []string{"--ros-args", "--params-file", "testdata/bad_null.yaml"},
			wantErr: `params file testdata/bad_null.yaml: line 3: node "vla_node", parameter "engine_path"`},
		{name: "use_sim_time not a bool", args: []string{"--ros-args", "-p", "use_sim_time:=1"},
			wantErr: "parameter use_sim_time is integer 1, expected a bool"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseArgs(tc.args, "vla_node", "/")
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
	t.Run("invalid default node name", func(t *testing.T) {
		_, err := ParseArgs(nil, "vla-node", "/")
		require.ErrorContains(t, err, `node name "vla-node" is invalid`)
	})
}

func TestRemapName(t *testing.T) {
	a := Args{NodeName: "vla_node", Namespace: "/robot", Remaps: []Remap{
		{From: "image", To: "/camera/color/image_raw"},
		{From: "/robot/image", To: "/never"}, // same name as the first rule: the first wins
		{From: "~/debug", To: "debug_out"},
	}}
	cases := []struct{ in, want string }{
		{"image", "/camera/color/image_raw"},
		{"/robot/image", "/camera/color/image_raw"},
		{"~/debug", "/robot/debug_out"},
		{"action_chunk", "/robot/action_chunk"},
		{"/abs", "/abs"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			require.Equal(t, tc.want, a.RemapName(tc.in))
		})
	}
	// A node launched without a namespace, the default: names resolve under "/" without a second slash.
	t.Run("root namespace", func(t *testing.T) {
		root := Args{NodeName: "vla_node", Namespace: "/", Remaps: []Remap{{From: "image", To: "camera/image_raw"}}}
		for _, tc := range []struct{ in, want string }{
			{"image", "/camera/image_raw"},
			{"action_chunk", "/action_chunk"},
			{"~", "/vla_node"},
			{"~/debug", "/vla_node/debug"},
		} {
			require.Equal(t, tc.want, root.RemapName(tc.in), tc.in)
		}
		require.Equal(t, "/robot/vla_node", a.RemapName("~"), "~ alone is the node itself")
	})
}

// TestOverridesReachDeclare checks the whole path launch uses: command line to Declare.
func TestOverridesReachDeclare(t *testing.T) {
	parsed, err := ParseArgs([]string{"--ros-args", "-r", "__ns:=/robot", "--params-file", "testdata/vla_node.yaml"}, "vla_node", "/")
	require.NoError(t, err)
	s, err := New(Config{Node: parsed.FullyQualifiedName(), Overrides: parsed.Overrides})
	require.NoError(t, err)
	got, err := s.Declare("rate_hz", Double(1), Descriptor{FloatingPointRange: []msgs.FloatingPointRange{{FromValue: 1, ToValue: 30}}})
	require.NoError(t, err)
	require.Equal(t, Double(10), got)
}
