package msggen

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseFieldsAndConstants(t *testing.T) {
	text := "# A comment line.\n" +
		"uint8 PRIMARY_STATE_UNKNOWN = 0\n" +
		"uint8 SPACED  = 5 # trailing comment\n" +
		"byte OK=0\n" +
		"string GREETING=\"hi # there\"\n" +
		"\n" +
		"std_msgs/Header header # for timestamp\n" +
		"uint8 id\n" +
		"bool read_only false\n" +
		"int32[] counts [1, -2]\n" +
		"float64[9] covariance\n" +
		"FloatingPointRange[<=1] range\n" +
		"string<=8 short\n" +
		"string<=4[<=2] names\n" +
		"builtin_interfaces/msg/Time stamp\n"
	it, err := parseMessage("Test.msg", "pkg", "msg", "Test", text)
	require.NoError(t, err)
	require.Equal(t, []Constant{
		{Type: "uint8", Name: "PRIMARY_STATE_UNKNOWN", Value: "0"},
		{Type: "uint8", Name: "SPACED", Value: "5"},
		{Type: "byte", Name: "OK", Value: "0"},
		{Type: "string", Name: "GREETING", Value: "hi # there"},
	}, it.Constants)
	require.Equal(t, []Field{
		{Name: "header", Type: FieldType{Package: "std_msgs", Message: "Header", Written: "std_msgs/Header"}},
		{Name: "id", Type: FieldType{Primitive: "uint8", Written: "uint8"}},
		{Name: "read_only", Type: FieldType{Primitive: "bool", Written: "bool"}, Default: "false"},
		{Name: "counts", Type: FieldType{Primitive: "int32", Written: "int32", Collection: Sequence}, Default: "[1, -2]"},
		{Name: "covariance", Type: FieldType{Primitive: "float64", Written: "float64", Collection: Array, Size: 9}},
		{Name: "range", Type: FieldType{Package: "pkg", Message: "FloatingPointRange", Written: "FloatingPointRange", Collection: Bounded, Size: 1}},
		{Name: "short", Type: FieldType{Primitive: "string", Written: "string", StringBound: 8}},
		{Name: "names", Type: FieldType{Primitive: "string", Written: "string", StringBound: 4, Collection: Bounded, Size: 2}},
		{Name: "stamp", Type: FieldType{Package: "builtin_interfaces", Message: "Time", Written: "builtin_interfaces/msg/Time"}},
	}, it.Fields)
}

func TestParseRejectsMalformedLines(t *testing.T) {
	cases := []struct {
		line, wantErr string
	}{
		{"uint8", "has a type but no name"},
		{"uint8 Level", "must be lower_snake_case"},
		{"uint8 level_", "must be lower_snake_case"},
		{"uint8 lower=1", "must be UPPER_SNAKE_CASE"},
		{"uint8 TOO_BIG=256", "does not fit uint8"},
		{"int8 NEG=-129", "does not fit int8"},
		{"uint8[] LIST=1", "must be a primitive, not an array"},
		{"bool flag maybe", "is not a bool"},
		{"std_msgs/Header header 1", "cannot have a default value"},
		{"int32[] counts 1", "an array default is written [a, b, ...]"},
		{"uint8[<=] data", "needs its bound"},
		{"uint8[0] data", "at least 1"},
		{"uint8[2][3] data", "only one array suffix"},
		{"int32<=3 x", "only string and wstring take a <=N bound"},
		{"sensor_msgs/ x", "neither a primitive nor a message"},
		{"/msg/Image x", "neither a primitive nor a message"},
		{"a/b/c/d x", "neither a primitive nor a message"},
		{"sensor_msgs/srv/Image x", "neither a primitive nor a message"},
		{"image x", "neither a primitive nor a message"},
	}
	for _, tc := range cases {
		t.Run(tc.line, func(t *testing.T) {
			_, err := parseMessage("Bad.msg", "pkg", "msg", "Bad", "# ok\n"+tc.line+"\n")
			require.ErrorContains(t, err, "Bad.msg:2: ")
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
	t.Run("duplicate field", func(t *testing.T) {
		_, err := parseMessage("Dup.msg", "pkg", "msg", "Dup", "int32 x\nint64 x\n")
		require.ErrorContains(t, err, "Dup.msg:2: x is defined twice")
	})
}

func TestFieldDependencies(t *testing.T) {
	text := "# comment naming foo/Bar bar\n" +
		"byte OK=0\n" +
		"std_msgs/Header header # trailing comment\n" +
		"KeyValue[] values\n" +
		"FloatingPointRange[<=1] range\n" +
		"string<=8 short\n" +
		"float64[3] xyz\n" +
		"builtin_interfaces/Time stamp\n" +
		"builtin_interfaces/Time other\n"
	it, err := parseMessage("Deps.msg", "pkg", "msg", "Deps", text)
	require.NoError(t, err)
	require.Equal(t,
		[]string{"builtin_interfaces/Time", "pkg/FloatingPointRange", "pkg/KeyValue", "std_msgs/Header"},
		it.dependencies())
}

func TestSplitService(t *testing.T) {
	cases := []struct {
		name, text, request, response string
	}{
		{"both halves", "string[] names\n\n---\nbool ok\n", "string[] names\n\n", "bool ok\n"},
		{"empty request", "---\n# state\nState current_state\n", "", "# state\nState current_state\n"},
		{"empty response", "Transition transition\n---\n", "Transition transition\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			request, response, err := splitService("X.srv", tc.text)
			require.NoError(t, err)
			require.Equal(t, tc.request, request)
			require.Equal(t, tc.response, response)
		})
	}
	_, _, err := splitService("X.srv", "string a\n-- -\nstring b\n")
	require.ErrorContains(t, err, `X.srv: no "---" line`)
}
