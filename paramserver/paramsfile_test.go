package paramserver

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLoadParamsFileMatching(t *testing.T) {
	cases := []struct {
		name string
		file string
		node string
		want map[string]Value
	}{
		{name: "key without slash is the root namespace", file: "testdata/vla_node.yaml", node: "/vla_node", want: map[string]Value{
			"use_sim_time":     Bool(true),
			"rate_hz":          Double(5),
			"engine_path":      String("/models/policy.onnx"),
			"fp16":             Bool(true),
			"action_horizon":   Integer(16),
			"camera.topic":     String("/camera/color/image_raw"),
			"camera.qos.depth": Integer(1),
			"joint_names":      StringArray("j1", "j2"),
			"gains":            DoubleArray(0.5, 1),
			"masks":            BoolArray(true, false),
			"ids":              IntegerArray(1, 2, 3),
			"quoted_number":    String("3"),
			"legacy_flag":      Bool(true),
		}},
		{name: "nested node keys and exact key beats /**", file: "testdata/vla_node.yaml", node: "/robot/vla_node", want: map[string]Value{
			"use_sim_time": Bool(true),
			"rate_hz":      Double(10),
			"engine_path":  String("/models/robot.onnx"),
		}},
		{name: "only /** for another node", file: "testdata/vla_node.yaml", node: "/robot/gripper", want: map[string]Value{
			"use_sim_time": Bool(true),
			"rate_hz":      Double(5),
		}},
		{name: "one-token and any-depth wildcards", file: "testdata/wildcards.yaml", node: "/robot/vla_node", want: map[string]Value{
			"one_token": Bool(true), "any_depth": Bool(true), "any_namespace_one_level": Bool(true),
		}},
		{name: "/* matches exactly one token", file: "testdata/wildcards.yaml", node: "/robot/arm/vla_node", want: map[string]Value{
			"any_depth": Bool(true),
		}},
		{name: "/** matches zero tokens", file: "testdata/wildcards.yaml", node: "/robot", want: map[string]Value{
			"any_depth": Bool(true),
		}},
		{name: "wildcard namespace and exact key", file: "testdata/wildcards.yaml", node: "/other/vla_node", want: map[string]Value{
			"any_namespace_one_level": Bool(true), "other": Bool(true),
		}},
		{name: "nothing matches", file: "testdata/wildcards.yaml", node: "/vla_node", want: map[string]Value{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LoadParamsFile(tc.file, tc.node)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestLoadParamsFileErrors(t *testing.T) {
	cases := []struct {
		file    string
		wantErr string
	}{
		{"testdata/bad_mixed_list.yaml", `params file testdata/bad_mixed_list.yaml: line 3: node "vla_node", parameter "gains": list mixes double and string elements, expected one type`},
		{"testdata/bad_null.yaml", `params file testdata/bad_null.yaml: line 3: node "vla_node", parameter "engine_path": no value given, expected a bool, number, string or list`},
		{"testdata/bad_top_level.yaml", `params file testdata/bad_top_level.yaml: line 1: ros__parameters must sit under a node name such as /** or /ns/node`},
		{"testdata/bad_node_scalar.yaml", `params file testdata/bad_node_scalar.yaml: line 1: node "vla_node": expected a mapping holding ros__parameters or nested node names`},
		{"testdata/bad_empty_list.yaml", `params file testdata/bad_empty_list.yaml: line 3: node "vla_node", parameter "joint_names": empty list: its element type cannot be inferred`},
		{"testdata/bad_syntax.yaml", `params file testdata/bad_syntax.yaml: yaml:`},
		{"testdata/missing.yaml", `params file: open testdata/missing.yaml: no such file or directory`},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			_, err := LoadParamsFile(tc.file, "/vla_node")
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestParseYAMLValue(t *testing.T) {
	cases := []struct {
		text    string
		want    Value
		wantErr string
	}{
		{text: "true", want: Bool(true)},
		{text: "off", want: Bool(false)},
		{text: "3", want: Integer(3)},
		{text: "-0x10", want: Integer(-16)},
		{text: "0.5", want: Double(0.5)},
		{text: "1e3", want: Double(1000)},
		{text: "3.0", want: Double(3)},
		{text: ".inf", want: Double(posInf)},
		{text: "hello", want: String("hello")},
		{text: "'true'", want: String("true")},
		{text: `"3"`, want: String("3")},
		{text: "/camera/image", want: String("/camera/image")},
		{text: "[1,2]", want: IntegerArray(1, 2)},
		{text: "[0.1, 2.5]", want: DoubleArray(0.1, 2.5)},
		{text: "[a, b]", want: StringArray("a", "b")},
		{text: "[true, false]", want: BoolArray(true, false)},
		{text: "", wantErr: "expected a value after ':='"},
		{text: "[1, 2.5]", wantErr: "list mixes integer and double elements, expected one type"},
		{text: "[[1]]", wantErr: "list element 0 is not a scalar, expected a flat list"},
		{text: "{a: 1}", wantErr: "expected a scalar or a list, got a mapping"},
		{text: "99999999999999999999", want: Double(1e20)}, // too big for int64: YAML reads a float
		{text: "!!str yes", want: String("yes")},
		{text: "~", wantErr: "no value given"},
		{text: "#c", wantErr: `expected a value after ':=', got only a YAML comment "#c"`}, // once a panic
		{text: "'#c'", want: String("#c")},
	}
	for _, tc := range cases {
		t.Run(tc.text, func(t *testing.T) {
			got, err := parseYAMLValue(tc.text)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// Files ROS 2 refuses (rcl_yaml_param_parser, checked on Humble with rclpy) are refused here too, by
// line, and none of them panics or runs away: a '*' inside a name once panicked
// compiling the node key's regular expression, and aliases once expanded without end (46 bytes of
// self-reference reached 9 GB).
func TestLoadParamsFileRefusesWhatRclRefuses(t *testing.T) {
	laughs := "/**:\n  ros__parameters:\n    l0: &l0 {a: 1, b: 2}\n"
	for i := 1; i <= 24; i++ {
		laughs += fmt.Sprintf("    l%d: &l%d {a: *l%d, b: *l%d}\n", i, i, i-1, i-1)
	}
	cases := []struct{ name, file, wantErr string }{
		{"self alias", "/**:\n  ros__parameters:\n    a: &x\n      b: *x\n", "line 4: YAML aliases (*x) are not supported"},
		{"billion laughs", laughs, "line 4: YAML aliases (*l0) are not supported"},
		{"scalar alias", "/**:\n  ros__parameters:\n    a: &x 5\n    b: *x\n", "line 4: YAML aliases (*x) are not supported"},
		{"alias in a list", "/**:\n  ros__parameters:\n    a: &x 5\n    b: [1, *x]\n", `parameter "b": list element 1: line 4: YAML aliases`},
		{"aliased node", "a: &n\n  ros__parameters:\n    p: 1\nb: *n\n", "line 4: YAML aliases (*n)"},
		{"star in a name", "/a**:\n  ros__parameters:\n    x: 1\n", `node key "/a**": "a**" must be * or **`},
		{"three stars", "/***:\n  ros__parameters:\n    x: 1\n", `node key "/***"`},
		{"hyphen", "/ns-1/x:\n  ros__parameters:\n    x: 1\n", `"ns-1" must be`},
		{"leading digit", "/ns/1abc:\n  ros__parameters:\n    x: 1\n", `"1abc" must be`},
		{"trailing slash", "/a/:\n  ros__parameters:\n    x: 1\n", `node key "/a/": empty name`},
		{"double slash", "//x:\n  ros__parameters:\n    x: 1\n", `node key "//x": empty name`},
		{"nested bad name", "/**:\n  my-node:\n    ros__parameters:\n      x: 1\n", `line 2: node key "/**/my-node"`},
		{"slash joined to slash", "/a:\n  /b:\n    ros__parameters:\n      x: 1\n", `node key "/a//b": empty name`},
		{"alias as a parameter name", "/**:\n  ros__parameters:\n    &k x: 1\n    *k : 2\n", "line 4: YAML aliases (*k) are not supported"},
		{"list as a parameter name", "/**:\n  ros__parameters:\n    ? [a, b]\n    : 1\n", "line 3: a list as a key"},
		// Read as an empty name, the list would drop out of the node name and give /vla_node an x.
		{"list as a node name", "? [a, b]\n:\n  vla_node:\n    ros__parameters:\n      x: 1\n", "line 1: a list as a key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "params.yaml")
			require.NoError(t, os.WriteFile(path, []byte(tc.file), 0o644))
			_, err := LoadParamsFile(path, "/vla_node")
			require.ErrorContains(t, err, tc.wantErr)
			require.True(t, strings.HasPrefix(err.Error(), "params file "+path+": "), err.Error())
		})
	}
	// What rcl accepts (checked with rclpy on Humble): keys joined without a second '/', bare
	// wildcards, which get their leading '/' as every key does.
	for _, tc := range []struct{ file, node string }{
		{"/:\n  vla_node:\n    ros__parameters:\n      x: 1\n", "/vla_node"},
		{"/robot/:\n  vla_node:\n    ros__parameters:\n      x: 1\n", "/robot/vla_node"},
		{"\"*\":\n  ros__parameters:\n    x: 1\n", "/vla_node"},
		{"\"**\":\n  vla_node:\n    ros__parameters:\n      x: 1\n", "/robot/vla_node"},
		// Each end of the characters a name may hold: A-Z, a-z, 0-9 (not first) and '_'.
		{"/Az09_Za/vla_node:\n  ros__parameters:\n    x: 1\n", "/Az09_Za/vla_node"},
	} {
		path := filepath.Join(t.TempDir(), "params.yaml")
		require.NoError(t, os.WriteFile(path, []byte(tc.file), 0o644))
		got, err := LoadParamsFile(path, tc.node)
		require.NoError(t, err, tc.file)
		require.Equal(t, map[string]Value{"x": Integer(1)}, got, tc.file)
	}

	// An anchor without an alias, which rcl accepts, is only a value.
	path := filepath.Join(t.TempDir(), "params.yaml")
	require.NoError(t, os.WriteFile(path, []byte("/**:\n  ros__parameters:\n    a: &x 5\n"), 0o644))
	got, err := LoadParamsFile(path, "/vla_node")
	require.NoError(t, err)
	require.Equal(t, map[string]Value{"a": Integer(5)}, got)
}
