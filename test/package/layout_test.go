// Package package_test checks the ROS 2 package layout without ROS: the params file matches what the
// node declares, and the build and launch files name the same things.
package package_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"dysl_vla/mavbridge"
	"dysl_vla/nodecore"
)

func repoFile(t *testing.T, rel string) string {
	t.Helper()
	return filepath.Join("..", "..", rel)
}

// flatten turns a nested ros__parameters map into dotted names, as rcl does.
func flatten(prefix string, m map[string]any, out map[string]any) {
	for k, v := range m {
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok {
			flatten(name, sub, out)
			continue
		}
		out[name] = v
	}
}

// params/dysl_vla.yaml lists every parameter the node declares, no other, each with its default, and
// loads through the same path the node and `dysl replay` use.
func TestParamsFileDeclaresEveryParameterWithItsDefault(t *testing.T) {
	path := repoFile(t, "params/dysl_vla.yaml")
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var doc map[string]map[string]map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	params, ok := doc["/**"]["ros__parameters"]
	require.True(t, ok, "the file holds /**: ros__parameters:")
	inFile := map[string]any{}
	flatten("", params, inFile)

	declared := nodecore.ParameterNames()
	var fileNames []string
	for name := range inFile {
		fileNames = append(fileNames, name)
	}
	slices.Sort(fileNames)
	sortedDeclared := slices.Sorted(slices.Values(declared))
	require.Equal(t, sortedDeclared, fileNames, "the file and the node declare the same parameters")

	now := func() time.Time { return time.Unix(0, 0) }
	loaded, _, err := nodecore.LoadParams(path, "/dysl_vla_node", now)
	require.NoError(t, err)
	defaults, _, err := nodecore.NewParamServer("/dysl_vla_node", nil, now)
	require.NoError(t, err)
	got, want := loaded.Snapshot(), defaults.Snapshot()
	for _, name := range declared {
		t.Run(name, func(t *testing.T) {
			g, ok := got.Value(name)
			require.True(t, ok)
			w, _ := want.Value(name)
			require.Equal(t, w, g, "the file gives the default")
		})
	}
}

// The node name the launch file starts matches the file's wildcard, and the install rules ship what
// the launch file looks for.
func TestBuildAndLaunchFilesAgree(t *testing.T) {
	read := func(rel string) string {
		b, err := os.ReadFile(repoFile(t, rel))
		require.NoError(t, err)
		return string(b)
	}
	pkg, cmake, launch := read("package.xml"), read("CMakeLists.txt"), read("launch/dysl_vla.launch.py")
	cases := []struct{ name, text, want string }{
		{"package name", pkg, "<name>dysl_vla</name>"},
		{"package format", pkg, `<package format="3">`},
		{"ament build type", pkg, "<build_type>ament_cmake</build_type>"},
		{"interface package", pkg, "<member_of_group>rosidl_interface_packages</member_of_group>"},
		{"project", cmake, "project(dysl_vla)"},
		{"messages", cmake, `msgs:msg/ActionChunk.msg"`},
		{"skip stats", cmake, `msgs:msg/SkipStats.msg"`},
		{"ros2 tag", cmake, "-tags ros2"},
		{"executable install", cmake, "DESTINATION lib/${PROJECT_NAME}"},
		{"share install", cmake, "DIRECTORY launch params DESTINATION share/${PROJECT_NAME}"},
		{"launch package", launch, "package='dysl_vla'"},
		{"launch executable", launch, "executable='dysl_vla_node'"},
		{"launch params", launch, "'params', 'dysl_vla.yaml'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.True(t, strings.Contains(tc.text, tc.want), "missing %q", tc.want)
		})
	}
	for _, arg := range []string{"model_dir", "params_file", "image_topic", "namespace", "execution_provider"} {
		require.Contains(t, launch, "DeclareLaunchArgument('"+arg+"'")
	}
}

// The MAVLink endpoint the params file ships is one the bridge accepts, in the syntax the node
// executable checks at start-up.
func TestParamsFileMavlinkEndpointParses(t *testing.T) {
	_, settings, err := nodecore.LoadParams(repoFile(t, "params/dysl_vla.yaml"), "/dysl_vla_node", nil)
	require.NoError(t, err)
	endpoint, err := mavbridge.ParseEndpoint(settings.Mavlink.Endpoint)
	require.NoError(t, err)
	require.Equal(t, mavbridge.UDPClient, endpoint.Kind)
}
