package msgs

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const separatorLine = "================================================================================"

// schemaSections splits a ros2msg full definition into the names after
// "MSG: " in order, with "" for the top-level text.
func schemaSections(t *testing.T, schema string) []string {
	t.Helper()
	names := []string{""}
	for _, part := range strings.Split(schema, "\n"+separatorLine+"\n")[1:] {
		header, _, ok := strings.Cut(part, "\n")
		require.True(t, ok)
		require.True(t, strings.HasPrefix(header, "MSG: "), "section header %q", header)
		names = append(names, strings.TrimPrefix(header, "MSG: "))
	}
	return names
}

func TestSchemaSections(t *testing.T) {
	cases := []struct {
		typeName string
		sections []string
	}{
		{"std_msgs/msg/String", []string{""}},
		{"builtin_interfaces/msg/Time", []string{""}},
		{"std_msgs/msg/Header", []string{"", "builtin_interfaces/Time"}},
		{"sensor_msgs/msg/Image", []string{"", "std_msgs/Header", "builtin_interfaces/Time"}},
		{"sensor_msgs/msg/JointState", []string{"", "std_msgs/Header", "builtin_interfaces/Time"}},
		{"sensor_msgs/msg/CompressedImage", []string{"", "std_msgs/Header", "builtin_interfaces/Time"}},
		{"diagnostic_msgs/msg/DiagnosticArray", []string{"", "diagnostic_msgs/DiagnosticStatus", "diagnostic_msgs/KeyValue", "std_msgs/Header", "builtin_interfaces/Time"}},
		// The talker bag repeats Parameter and ParameterValue once per field
		// that uses them; rosbag2's current writer (followed here) writes each once.
		{"rcl_interfaces/msg/ParameterEvent", []string{"", "builtin_interfaces/Time", "rcl_interfaces/Parameter", "rcl_interfaces/ParameterValue"}},
		{"rcl_interfaces/msg/Log", []string{"", "builtin_interfaces/Time"}},
		{"rcl_interfaces/srv/DescribeParameters_Response", []string{"", "rcl_interfaces/ParameterDescriptor", "rcl_interfaces/FloatingPointRange", "rcl_interfaces/IntegerRange"}},
		{"rcl_interfaces/srv/ListParameters_Request", []string{""}},
		{"dysl_vla/msg/ActionChunk", []string{"", "builtin_interfaces/Duration", "std_msgs/Header", "builtin_interfaces/Time"}},
		{"dysl_vla/msg/SkipStats", []string{"", "std_msgs/Header", "builtin_interfaces/Time"}},
	}
	for _, tc := range cases {
		t.Run(tc.typeName, func(t *testing.T) {
			schema, ok := Schema(tc.typeName)
			require.True(t, ok)
			require.Equal(t, tc.sections, schemaSections(t, schema))
		})
	}
}

func TestSchemaTextOfString(t *testing.T) {
	// The text rosbag2 recorded in its talker test bag (MCAP).
	want := "# This was originally provided as an example message.\n" +
		"# It is deprecated as of Foxy\n" +
		"# It is recommended to create your own semantically meaningful message.\n" +
		"# However if you would like to continue using this please use the equivalent in example_msgs.\n" +
		"\n" +
		"string data\n"
	schema, ok := Schema("std_msgs/msg/String")
	require.True(t, ok)
	require.Equal(t, want, schema)
}

func TestSchemaOfImageHoldsEveryField(t *testing.T) {
	schema, ok := Schema("sensor_msgs/msg/Image")
	require.True(t, ok)
	for _, field := range []string{
		"\nstd_msgs/Header header", "\nuint32 height", "\nuint32 width", "\nstring encoding",
		"\nuint8 is_bigendian", "\nuint32 step", "\nuint8[] data",
		"\nbuiltin_interfaces/Time stamp", "\nstring frame_id", "\nint32 sec", "\nuint32 nanosec",
	} {
		require.Contains(t, schema, field)
	}
}

func TestEveryRegisteredTypeHasSchemaAndRoundTrips(t *testing.T) {
	for _, info := range Types() {
		t.Run(info.Name, func(t *testing.T) {
			require.NotEmpty(t, info.Schema)
			m := info.New()
			require.Equal(t, info.Name, m.TypeName())
			raw, err := Encode(nil, m)
			require.NoError(t, err)
			got, err := DecodeAny(info.Name, raw)
			require.NoError(t, err)
			require.Equal(t, m, got)
		})
	}
}

func TestServiceSchemaHalves(t *testing.T) {
	request, ok := Schema("rcl_interfaces/srv/ListParameters_Request")
	require.True(t, ok)
	require.Contains(t, request, "\nuint64 depth\n")
	require.NotContains(t, request, "---")
	require.NotContains(t, request, "ListParametersResult result")

	response, ok := Schema("rcl_interfaces/srv/ListParameters_Response")
	require.True(t, ok)
	require.True(t, strings.HasPrefix(response, "# The list of parameter names and their prefixes.\nListParametersResult result\n"))
	require.Contains(t, response, "MSG: rcl_interfaces/ListParametersResult\n")
}

func TestOwnSchemasAreTheMsgFiles(t *testing.T) {
	for _, name := range []string{"ActionChunk", "SkipStats"} {
		t.Run(name, func(t *testing.T) {
			file, err := os.ReadFile("msg/" + name + ".msg")
			require.NoError(t, err)
			schema, ok := Schema("dysl_vla/msg/" + name)
			require.True(t, ok)
			require.True(t, strings.HasPrefix(schema, string(file)))
		})
	}
}
