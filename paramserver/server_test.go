package paramserver

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/msgs"
)

var testStamp = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newTestServer(t *testing.T, overrides map[string]Value) *Server {
	t.Helper()
	return newTestServerWaiting(t, overrides, 0)
}

// newTestServerWaiting is newTestServer with Config.EventWait set to wait.
func newTestServerWaiting(t *testing.T, overrides map[string]Value, wait time.Duration) *Server {
	t.Helper()
	s, err := New(Config{Node: "/robot/vla_node", Overrides: overrides, Now: func() time.Time { return testStamp }, EventWait: wait})
	require.NoError(t, err)
	return s
}

func mustDeclare(t *testing.T, s *Server, name string, v Value, d Descriptor) {
	t.Helper()
	_, err := s.Declare(name, v, d)
	require.NoError(t, err)
}

// drain returns the events waiting on sub without blocking.
func drain(sub *Subscription) []Event {
	var events []Event
	for {
		select {
		case ev := <-sub.C:
			events = append(events, ev)
		default:
			return events
		}
	}
}

func TestNewRejectsRelativeNodeName(t *testing.T) {
	_, err := New(Config{Node: "vla_node"})
	require.ErrorContains(t, err, `Config.Node "vla_node" must be a fully qualified node name`)
}

func TestDeclare(t *testing.T) {
	cases := []struct {
		name       string
		overrides  map[string]Value
		param      string
		value      Value
		descriptor Descriptor
		want       Value
		wantErr    string
	}{
		{name: "default used", param: "rate_hz", value: Double(10), want: Double(10)},
		{name: "override replaces default", overrides: map[string]Value{"rate_hz": Double(30)},
			param: "rate_hz", value: Double(10), want: Double(30)},
		{name: "override of wrong type is refused", overrides: map[string]Value{"rate_hz": Integer(30)},
			param: "rate_hz", value: Double(10),
			wantErr: "parameter 'rate_hz' has invalid type: Wrong parameter type, parameter {rate_hz} is of type {double}, setting it to {integer} is not allowed. (write 30.0 for a double)"},
		{name: "override of another wrong type gives no double hint", overrides: map[string]Value{"rate_hz": String("30")},
			param: "rate_hz", value: Double(10),
			wantErr: "parameter 'rate_hz' has invalid type: Wrong parameter type, parameter {rate_hz} is of type {double}, setting it to {string} is not allowed."},
		{name: "override of other type with dynamic typing", overrides: map[string]Value{"x": Integer(3)},
			param: "x", value: Double(1), descriptor: Descriptor{DynamicTyping: true}, want: Integer(3)},
		{name: "override outside range", overrides: map[string]Value{"horizon": Integer(99)},
			param: "horizon", value: Integer(8), descriptor: Descriptor{IntegerRange: []msgs.IntegerRange{{FromValue: 1, ToValue: 16}}},
			wantErr: "parameter 'horizon' could not be set to 99 (range 1 to 16): Parameter {horizon} doesn't comply with integer range."},
		{name: "override outside a stepped range", overrides: map[string]Value{"period": Double(-3)},
			param: "period", value: Double(1), descriptor: Descriptor{FloatingPointRange: []msgs.FloatingPointRange{{FromValue: 0.5, ToValue: 60, Step: 0.5}}},
			wantErr: "parameter 'period' could not be set to -3 (range 0.5 to 60, step 0.5): Parameter {period} doesn't comply with floating point range."},
		// A range whose from equals its to pins the value, as a launch file pins a calibrated constant.
		{name: "integer range of one value", param: "camera_id", value: Integer(2),
			descriptor: Descriptor{IntegerRange: []msgs.IntegerRange{{FromValue: 2, ToValue: 2}}}, want: Integer(2)},
		{name: "floating point range of one value", param: "scale", value: Double(0.5),
			descriptor: Descriptor{FloatingPointRange: []msgs.FloatingPointRange{{FromValue: 0.5, ToValue: 0.5}}}, want: Double(0.5)},
		// The launch log echoes the start-up value in full (61.25, not 6e+01), so the user finds it in the file.
		{name: "double override outside range is echoed in full", overrides: map[string]Value{"link_timeout": Double(61.25)},
			param: "link_timeout", value: Double(2), descriptor: Descriptor{FloatingPointRange: []msgs.FloatingPointRange{{FromValue: 0.1, ToValue: 60}}},
			wantErr: "parameter 'link_timeout' could not be set to 61.25 (range 0.1 to 60): Parameter {link_timeout} doesn't comply with floating point range."},
		{name: "array override outside range is echoed in full", overrides: map[string]Value{"joint_limits": DoubleArray(0.5, 2.25)},
			param: "joint_limits", value: DoubleArray(1), descriptor: Descriptor{FloatingPointRange: []msgs.FloatingPointRange{{FromValue: 0, ToValue: 2}}},
			wantErr: "parameter 'joint_limits' could not be set to [0.5, 2.25] (range 0 to 2): Parameter {joint_limits} doesn't comply with floating point range."},
		{name: "empty name", param: "", value: Bool(true), wantErr: "parameter name must not be empty"},
		{name: "static without value", param: "x", value: Value{},
			wantErr: "parameter 'x' has invalid type: cannot declare a statically typed parameter with an uninitialized value"},
		{name: "typed without value", param: "x", value: Value{}, descriptor: Descriptor{Type: msgs.ParameterDouble}, want: Value{}},
		{name: "descriptor type disagrees with default", param: "x", value: Integer(1), descriptor: Descriptor{Type: msgs.ParameterDouble},
			wantErr: "parameter 'x' has invalid type: Wrong parameter type, parameter {x} is of type {double}, setting it to {integer} is not allowed. (write 1.0 for a double)"},
		{name: "two integer ranges", param: "x", value: Integer(1),
			descriptor: Descriptor{IntegerRange: []msgs.IntegerRange{{FromValue: 0, ToValue: 1}, {FromValue: 0, ToValue: 2}}},
			wantErr:    "parameter 'x': descriptor has 2 integer ranges, expected at most 1"},
		{name: "empty float range", param: "x", value: Double(1),
			descriptor: Descriptor{FloatingPointRange: []msgs.FloatingPointRange{{FromValue: 2, ToValue: 1}}},
			wantErr:    "parameter 'x': floating point range from 2 to 1 step 0 is invalid, expected from <= to and step >= 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, tc.overrides)
			sub := s.Subscribe(8)
			got, err := s.Declare(tc.param, tc.value, tc.descriptor)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				require.False(t, s.Has(tc.param))
				require.Empty(t, drain(sub), "a failed declaration emits no event")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			values, err := s.Get(tc.param)
			require.NoError(t, err)
			require.Equal(t, []Value{tc.want}, values)
			events := drain(sub)
			if tc.want.Type == msgs.ParameterNotSet {
				require.Empty(t, events)
				return
			}
			require.Equal(t, []Event{{Stamp: msgs.TimeFromGo(testStamp), Node: "/robot/vla_node",
				NewParameters: []Parameter{{Name: tc.param, Value: tc.want}}}}, events)
		})
	}
}

func TestDeclareTwice(t *testing.T) {
	s := newTestServer(t, nil)
	mustDeclare(t, s, "x", Integer(1), Descriptor{})
	_, err := s.Declare("x", Integer(2), Descriptor{})
	require.EqualError(t, err, "parameter 'x' has already been declared")
}

func TestDeclareRunsOnSetCallback(t *testing.T) {
	s := newTestServer(t, nil)
	s.AddOnSetCallback(func(params []Parameter) SetResult {
		return SetResult{Reason: "model path must exist"}
	})
	_, err := s.Declare("model_path", String("/nope"), Descriptor{})
	require.EqualError(t, err, `parameter 'model_path' could not be set to "/nope": model path must exist`)
	require.False(t, s.Has("model_path"))
}

func TestIntegerRange(t *testing.T) {
	r := msgs.IntegerRange{FromValue: 2, ToValue: 12, Step: 3}
	cases := []struct {
		value int64
		ok    bool
	}{
		{2, true}, {5, true}, {11, true}, // from and from+n*step
		{12, true}, // to passes although it is off the step grid
		{3, false}, {10, false}, {1, false}, {13, false},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.value), func(t *testing.T) {
			s := newTestServer(t, nil)
			mustDeclare(t, s, "n", Integer(2), Descriptor{IntegerRange: []msgs.IntegerRange{r}})
			result := s.SetAtomically(Parameter{Name: "n", Value: Integer(tc.value)})
			if tc.ok {
				require.Equal(t, SetResult{Successful: true}, result)
				return
			}
			// rclcpp's reason, and the range, which ros2 param set would otherwise not show.
			require.Equal(t, SetResult{Reason: "Parameter {n} doesn't comply with integer range. Range: 2 to 12, step 3."}, result)
		})
	}
	t.Run("step zero allows any value in range", func(t *testing.T) {
		require.True(t, integerRangeContains(msgs.IntegerRange{FromValue: -5, ToValue: 5}, 3))
	})
	t.Run("extreme bounds do not overflow", func(t *testing.T) {
		wide := msgs.IntegerRange{FromValue: -1 << 63, ToValue: 1<<63 - 1, Step: 1 << 62}
		require.True(t, integerRangeContains(wide, 1<<62))
		require.False(t, integerRangeContains(wide, 1<<62+1))
	})
}

func TestFloatingPointRange(t *testing.T) {
	type accepted struct {
		value float64
		ok    bool
	}
	ranges := []struct {
		r     msgs.FloatingPointRange
		text  string // the range as the refusal names it
		cases []accepted
	}{
		{r: msgs.FloatingPointRange{FromValue: 0, ToValue: 1, Step: 0.1}, text: "0 to 1, step 0.1", cases: []accepted{
			{0, true}, {1, true}, {0.3, true}, // 0.3 is not exactly 3*0.1 in binary: the tolerance accepts it
			{0.7000000000000001, true}, {0.35, false}, {-0.1, false}, {1.1, false},
		}},
		// The grid counts steps from FromValue, not from 0 (8.2 is 0.5 + 77*0.1), and the tolerance is
		// relative: 0.5 + 594*0.1 is 59.900000000000006 in binary, one ulp (7.1e-15) off the 59.9 a user
		// types: rclcpp's tolerance (epsilon*|x+y|*100) grows with the values and takes it.
		{r: msgs.FloatingPointRange{FromValue: 0.5, ToValue: 60, Step: 0.1}, text: "0.5 to 60, step 0.1", cases: []accepted{
			{0.6, true}, {8.2, true}, {59.9, true}, {8.25, false}, {0.4, false},
		}},
	}
	for _, rc := range ranges {
		for _, tc := range rc.cases {
			t.Run(fmt.Sprintf("%s/%v", rc.text, tc.value), func(t *testing.T) {
				s := newTestServer(t, nil)
				mustDeclare(t, s, "alpha", Double(rc.r.FromValue), Descriptor{FloatingPointRange: []msgs.FloatingPointRange{rc.r}})
				result := s.SetAtomically(Parameter{Name: "alpha", Value: Double(tc.value)})
				if tc.ok {
					require.Equal(t, SetResult{Successful: true}, result)
					return
				}
				require.Equal(t, SetResult{Reason: "Parameter {alpha} doesn't comply with floating point range. Range: " + rc.text + "."}, result)
			})
		}
	}
	t.Run("to within tolerance passes although above it", func(t *testing.T) {
		require.True(t, floatingPointRangeContains(msgs.FloatingPointRange{FromValue: 0, ToValue: 1}, 1+1e-15))
	})
}

func TestRangesApplyToArrayElements(t *testing.T) {
	s := newTestServer(t, nil)
	mustDeclare(t, s, "limits", DoubleArray(0.5, 1), Descriptor{FloatingPointRange: []msgs.FloatingPointRange{{FromValue: 0, ToValue: 2}}})
	mustDeclare(t, s, "ids", IntegerArray(1, 2), Descriptor{IntegerRange: []msgs.IntegerRange{{FromValue: 0, ToValue: 9}}})
	require.Equal(t, []SetResult{
		{Successful: true},
		{Reason: "Parameter {limits} doesn't comply with floating point range. Range: 0 to 2."},
		{Reason: "Parameter {ids} doesn't comply with integer range. Range: 0 to 9."},
	}, s.Set(
		Parameter{Name: "limits", Value: DoubleArray(2, 0)},
		Parameter{Name: "limits", Value: DoubleArray(1, 2.5)},
		Parameter{Name: "ids", Value: IntegerArray(3, 10)},
	))
}

func TestSetAtomicallyRules(t *testing.T) {
	declare := func(t *testing.T, s *Server) {
		mustDeclare(t, s, "rate_hz", Double(10), Descriptor{})
		mustDeclare(t, s, "model_path", String("/m"), Descriptor{ReadOnly: true})
		mustDeclare(t, s, "anything", Integer(1), Descriptor{DynamicTyping: true})
		mustDeclare(t, s, "joint_names", StringArray("j1", "j2"), Descriptor{})
	}
	cases := []struct {
		name    string
		params  []Parameter
		want    SetResult
		changed []Parameter
		deleted []Parameter
	}{
		{name: "same type", params: []Parameter{{Name: "rate_hz", Value: Double(20)}},
			want: SetResult{Successful: true}, changed: []Parameter{{Name: "rate_hz", Value: Double(20)}}},
		{name: "undeclared", params: []Parameter{{Name: "nope", Value: Double(20)}},
			want: SetResult{Reason: "parameter 'nope' cannot be set because it was not declared"}},
		{name: "read-only", params: []Parameter{{Name: "model_path", Value: String("/other")}},
			want: SetResult{Reason: "parameter 'model_path' cannot be set because it is read-only"}},
		{name: "type change refused", params: []Parameter{{Name: "rate_hz", Value: Integer(20)}},
			want: SetResult{Reason: "Wrong parameter type, parameter {rate_hz} is of type {double}, setting it to {integer} is not allowed."}},
		// string_array is the last type rcl_interfaces defines: it has a name, not "unknown type".
		{name: "type change refused for the last known type", params: []Parameter{{Name: "joint_names", Value: String("j1")}},
			want: SetResult{Reason: "Wrong parameter type, parameter {joint_names} is of type {string_array}, setting it to {string} is not allowed."}},
		{name: "unknown type from the wire is named as rclcpp names it", params: []Parameter{{Name: "rate_hz", Value: Value{Type: 42}}},
			want: SetResult{Reason: "Wrong parameter type, parameter {rate_hz} is of type {double}, setting it to {unknown type} is not allowed."}},
		{name: "type change with dynamic typing", params: []Parameter{{Name: "anything", Value: String("now a string")}},
			want: SetResult{Successful: true}, changed: []Parameter{{Name: "anything", Value: String("now a string")}}},
		{name: "NOT_SET undeclares a dynamic parameter", params: []Parameter{{Name: "anything"}},
			want: SetResult{Successful: true}, deleted: []Parameter{{Name: "anything"}}},
		{name: "NOT_SET refused for a static parameter", params: []Parameter{{Name: "rate_hz"}},
			want: SetResult{Reason: "cannot undeclare a statically typed parameter"}},
		{name: "empty name", params: []Parameter{{Name: "", Value: Bool(true)}},
			want: SetResult{Reason: "parameter name must not be empty"}},
		{name: "same name twice", params: []Parameter{{Name: "rate_hz", Value: Double(1)}, {Name: "rate_hz", Value: Double(2)}},
			want: SetResult{Reason: "parameter 'rate_hz' appears more than once in one request"}},
		{name: "one bad parameter fails all", params: []Parameter{{Name: "rate_hz", Value: Double(20)}, {Name: "model_path", Value: String("/x")}},
			want: SetResult{Reason: "parameter 'model_path' cannot be set because it is read-only"}},
		{name: "two at once", params: []Parameter{{Name: "rate_hz", Value: Double(20)}, {Name: "anything", Value: Bool(false)}},
			want:    SetResult{Successful: true},
			changed: []Parameter{{Name: "rate_hz", Value: Double(20)}, {Name: "anything", Value: Bool(false)}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, nil)
			declare(t, s)
			before := s.Snapshot()
			sub := s.Subscribe(8)

			require.Equal(t, tc.want, s.SetAtomically(tc.params...))

			events := drain(sub)
			if !tc.want.Successful {
				require.Equal(t, before, s.Snapshot(), "a failed set changes nothing")
				require.Empty(t, events, "a failed set emits no event")
				return
			}
			require.Equal(t, []Event{{Stamp: msgs.TimeFromGo(testStamp), Node: "/robot/vla_node", ChangedParameters: tc.changed, DeletedParameters: tc.deleted}}, events)
			for _, p := range tc.changed {
				v, ok := s.Snapshot().Value(p.Name)
				require.True(t, ok)
				require.Equal(t, p.Value, v)
				d, err := s.Describe(p.Name)
				require.NoError(t, err)
				require.Equal(t, p.Value.Type, d[0].Type, "the descriptor follows the value's type")
			}
			for _, p := range tc.deleted {
				require.False(t, s.Has(p.Name))
			}
		})
	}
}

func TestSetAppliesEachParameterOnItsOwn(t *testing.T) {
	s := newTestServer(t, nil)
	mustDeclare(t, s, "a", Integer(1), Descriptor{})
	mustDeclare(t, s, "b", Integer(1), Descriptor{ReadOnly: true})
	mustDeclare(t, s, "c", Integer(1), Descriptor{})
	sub := s.Subscribe(8)

	results := s.Set(
		Parameter{Name: "a", Value: Integer(2)},
		Parameter{Name: "b", Value: Integer(2)},
		Parameter{Name: "c", Value: Integer(3)},
		Parameter{Name: "d", Value: Integer(4)},
	)

	require.Equal(t, []SetResult{
		{Successful: true},
		{Reason: "parameter 'b' cannot be set because it is read-only"},
		{Successful: true},
		{Reason: "parameter 'd' cannot be set because it was not declared"},
	}, results)
	values, err := s.Get("a", "b", "c")
	require.NoError(t, err)
	require.Equal(t, []Value{Integer(2), Integer(1), Integer(3)}, values)
	events := drain(sub)
	require.Len(t, events, 2, "one event per successful parameter, none for failures")
	require.Equal(t, []Parameter{{Name: "a", Value: Integer(2)}}, events[0].ChangedParameters)
	require.Equal(t, []Parameter{{Name: "c", Value: Integer(3)}}, events[1].ChangedParameters)
}

// set_parameters checks, applies and announces each parameter on its own, but runs the post-set
// callbacks once, after the request, with every parameter it applied.
func TestSetRunsPostSetOnceAfterTheRequest(t *testing.T) {
	s := newTestServer(t, nil)
	mustDeclare(t, s, "a", Integer(1), Descriptor{})
	mustDeclare(t, s, "b", Integer(1), Descriptor{IntegerRange: []msgs.IntegerRange{{FromValue: 0, ToValue: 5}}})
	mustDeclare(t, s, "c", Integer(1), Descriptor{})
	var seenByOnSet [][]Value
	s.AddOnSetCallback(func([]Parameter) SetResult {
		values, err := s.Get("a", "c")
		require.NoError(t, err)
		seenByOnSet = append(seenByOnSet, values)
		return SetResult{Successful: true}
	})
	var post [][]Parameter
	s.AddPostSetCallback(func(params []Parameter) { post = append(post, params) })
	sub := s.Subscribe(8)

	results := s.Set(Parameter{Name: "a", Value: Integer(2)}, Parameter{Name: "b", Value: Integer(9)}, Parameter{Name: "c", Value: Integer(3)})

	require.Equal(t, []SetResult{{Successful: true}, {Reason: "Parameter {b} doesn't comply with integer range. Range: 0 to 5."}, {Successful: true}}, results)
	require.Equal(t, [][]Value{{Integer(1), Integer(1)}, {Integer(2), Integer(1)}}, seenByOnSet,
		"each parameter is checked against the ones before it applied")
	require.Equal(t, [][]Parameter{{{Name: "a", Value: Integer(2)}, {Name: "c", Value: Integer(3)}}}, post)
	events := drain(sub)
	require.Len(t, events, 2, "one event per applied parameter")

	require.Equal(t, []SetResult{{Reason: "parameter 'x' cannot be set because it was not declared"}}, s.Set(Parameter{Name: "x", Value: Integer(1)}))
	require.Len(t, post, 1, "a request that applied nothing runs no post-set callback")
}

func TestCallbacks(t *testing.T) {
	t.Run("on-set rejection keeps old values and emits nothing", func(t *testing.T) {
		s := newTestServer(t, nil)
		mustDeclare(t, s, "rate_hz", Double(10), Descriptor{})
		mustDeclare(t, s, "horizon", Integer(8), Descriptor{})
		var seen []Parameter
		s.AddOnSetCallback(func(params []Parameter) SetResult {
			seen = params
			for _, p := range params {
				if p.Name == "horizon" && p.Value.IntegerValue%2 != 0 {
					return SetResult{Reason: "horizon must be even"}
				}
			}
			return SetResult{Successful: true}
		})
		post := 0
		s.AddPostSetCallback(func([]Parameter) { post++ })
		sub := s.Subscribe(4)

		result := s.SetAtomically(Parameter{Name: "rate_hz", Value: Double(20)}, Parameter{Name: "horizon", Value: Integer(7)})

		require.Equal(t, SetResult{Reason: "horizon must be even"}, result)
		require.Len(t, seen, 2, "the callback sees the whole atomic request")
		values, err := s.Get("rate_hz", "horizon")
		require.NoError(t, err)
		require.Equal(t, []Value{Double(10), Integer(8)}, values)
		require.Zero(t, post)
		require.Empty(t, drain(sub))
	})
	t.Run("descriptor checks run before on-set callbacks", func(t *testing.T) {
		s := newTestServer(t, nil)
		mustDeclare(t, s, "x", Integer(1), Descriptor{IntegerRange: []msgs.IntegerRange{{FromValue: 0, ToValue: 5}}})
		called := false
		s.AddOnSetCallback(func([]Parameter) SetResult { called = true; return SetResult{Successful: true} })
		require.False(t, s.SetAtomically(Parameter{Name: "x", Value: Integer(9)}).Successful)
		require.False(t, called)
	})
	t.Run("newest callback first, first rejection stops the chain", func(t *testing.T) {
		s := newTestServer(t, nil)
		mustDeclare(t, s, "x", Integer(1), Descriptor{})
		var order []string
		s.AddOnSetCallback(func([]Parameter) SetResult { order = append(order, "first"); return SetResult{Successful: true} })
		s.AddOnSetCallback(func([]Parameter) SetResult { order = append(order, "second"); return SetResult{Reason: "no"} })
		require.Equal(t, SetResult{Reason: "no"}, s.SetAtomically(Parameter{Name: "x", Value: Integer(2)}))
		require.Equal(t, []string{"second"}, order)
	})
	t.Run("post-set sees committed values and may read the server", func(t *testing.T) {
		s := newTestServer(t, nil)
		mustDeclare(t, s, "x", Integer(1), Descriptor{})
		var readBack []Value
		s.AddPostSetCallback(func(params []Parameter) {
			values, err := s.Get("x")
			require.NoError(t, err)
			readBack = values
		})
		require.True(t, s.SetAtomically(Parameter{Name: "x", Value: Integer(5)}).Successful)
		require.Equal(t, []Value{Integer(5)}, readBack)
	})
	t.Run("removed callback no longer runs", func(t *testing.T) {
		s := newTestServer(t, nil)
		mustDeclare(t, s, "x", Integer(1), Descriptor{})
		remove := s.AddOnSetCallback(func([]Parameter) SetResult { return SetResult{Reason: "no"} })
		remove()
		require.True(t, s.SetAtomically(Parameter{Name: "x", Value: Integer(2)}).Successful)
	})
	t.Run("post-set callbacks run newest first, and a removed one no longer runs", func(t *testing.T) {
		s := newTestServer(t, nil)
		mustDeclare(t, s, "x", Integer(1), Descriptor{})
		var order []string
		s.AddPostSetCallback(func([]Parameter) { order = append(order, "first") })
		remove := s.AddPostSetCallback(func([]Parameter) { order = append(order, "second") })
		require.True(t, s.SetAtomically(Parameter{Name: "x", Value: Integer(2)}).Successful)
		remove()
		remove() // harmless twice
		require.True(t, s.SetAtomically(Parameter{Name: "x", Value: Integer(3)}).Successful)
		require.Equal(t, []string{"second", "first", "first"}, order)
	})
}

func TestUndeclare(t *testing.T) {
	cases := []struct {
		name       string
		descriptor Descriptor
		wantErr    string
	}{
		{name: "dynamic", descriptor: Descriptor{DynamicTyping: true}},
		{name: "read-only", descriptor: Descriptor{DynamicTyping: true, ReadOnly: true},
			wantErr: "cannot undeclare parameter 'x' because it is read-only"},
		{name: "static", descriptor: Descriptor{},
			wantErr: "parameter 'x' has invalid type: cannot undeclare a statically typed parameter"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, nil)
			mustDeclare(t, s, "x", Integer(1), tc.descriptor)
			sub := s.Subscribe(4)
			err := s.Undeclare("x")
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				require.True(t, s.Has("x"))
				require.Empty(t, drain(sub))
				return
			}
			require.NoError(t, err)
			require.False(t, s.Has("x"))
			require.Equal(t, []Event{{Stamp: msgs.TimeFromGo(testStamp), Node: "/robot/vla_node", DeletedParameters: []Parameter{{Name: "x"}}}}, drain(sub))
		})
	}
	t.Run("undeclared", func(t *testing.T) {
		s := newTestServer(t, nil)
		require.EqualError(t, s.Undeclare("x"), "cannot undeclare parameter 'x' which has not yet been declared")
	})
}

func TestReadersReportUndeclaredNames(t *testing.T) {
	s := newTestServer(t, nil)
	mustDeclare(t, s, "x", Integer(1), Descriptor{Description: "steps per chunk"})
	mustDeclare(t, s, "unset", Value{}, Descriptor{DynamicTyping: true})

	types, err := s.GetTypes("x", "unset")
	require.NoError(t, err)
	require.Equal(t, []msgs.ParameterType{msgs.ParameterInteger, msgs.ParameterNotSet}, types)
	descriptors, err := s.Describe("x")
	require.NoError(t, err)
	require.Equal(t, []Descriptor{{Name: "x", Type: msgs.ParameterInteger, Description: "steps per chunk"}}, descriptors)

	var notDeclared *NotDeclaredError
	_, err = s.Get("x", "missing")
	require.True(t, errors.As(err, &notDeclared))
	require.Equal(t, "missing", notDeclared.Name)
	_, err = s.GetTypes("missing")
	require.EqualError(t, err, "parameter 'missing' has not been declared")
	_, err = s.Describe("missing")
	require.EqualError(t, err, "parameter 'missing' has not been declared")
}

func TestList(t *testing.T) {
	s := newTestServer(t, nil)
	for _, name := range []string{"use_sim_time", "camera.topic", "camera.info.topic", "camera.info.qos.depth", "controller.alpha", "cameraman"} {
		mustDeclare(t, s, name, Bool(true), Descriptor{})
	}
	cases := []struct {
		name     string
		prefixes []string
		depth    uint64
		want     ListResult
	}{
		{name: "everything", depth: DepthRecursive, want: ListResult{
			Names:    []string{"camera.info.qos.depth", "camera.info.topic", "camera.topic", "cameraman", "controller.alpha", "use_sim_time"},
			Prefixes: []string{"camera.info.qos", "camera.info", "camera", "controller"}}},
		{name: "depth 1 without prefixes is top level only", depth: 1, want: ListResult{
			Names: []string{"cameraman", "use_sim_time"}, Prefixes: []string{}}},
		{name: "depth 2 without prefixes", depth: 2, want: ListResult{
			Names: []string{"camera.topic", "cameraman", "controller.alpha", "use_sim_time"}, Prefixes: []string{"camera", "controller"}}},
		{name: "prefix recursive, not a mere string prefix", prefixes: []string{"camera"}, depth: DepthRecursive, want: ListResult{
			Names:    []string{"camera.info.qos.depth", "camera.info.topic", "camera.topic"},
			Prefixes: []string{"camera.info.qos", "camera.info", "camera"}}},
		// rclcpp counts the dots of the name after the prefix with the separator, so depth 1 lists
		// only a name equal to a prefix ([diagnostic_updater] depth 1 gives [] on an rclcpp node).
		{name: "prefix with depth 1", prefixes: []string{"camera"}, depth: 1, want: ListResult{
			Names: []string{}, Prefixes: []string{}}},
		{name: "prefix with depth 2", prefixes: []string{"camera"}, depth: 2, want: ListResult{
			Names: []string{"camera.topic"}, Prefixes: []string{"camera"}}},
		{name: "prefix with depth 3", prefixes: []string{"camera"}, depth: 3, want: ListResult{
			Names: []string{"camera.info.topic", "camera.topic"}, Prefixes: []string{"camera.info", "camera"}}},
		{name: "prefix equal to a name", prefixes: []string{"use_sim_time"}, depth: 1, want: ListResult{
			Names: []string{"use_sim_time"}, Prefixes: []string{}}},
		{name: "several prefixes", prefixes: []string{"controller", "camera.info"}, depth: 2, want: ListResult{
			Names: []string{"camera.info.topic", "controller.alpha"}, Prefixes: []string{"camera.info", "controller"}}},
		{name: "no match", prefixes: []string{"lidar"}, depth: DepthRecursive, want: ListResult{
			Names: []string{}, Prefixes: []string{}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, s.List(tc.prefixes, tc.depth))
		})
	}
}

func TestSnapshotAccessors(t *testing.T) {
	s := newTestServer(t, nil)
	mustDeclare(t, s, "b", Bool(true), Descriptor{})
	mustDeclare(t, s, "i", Integer(3), Descriptor{})
	mustDeclare(t, s, "d", Double(0.5), Descriptor{})
	mustDeclare(t, s, "s", String("x"), Descriptor{})
	mustDeclare(t, s, "joints", StringArray("j1", "j2"), Descriptor{})
	mustDeclare(t, s, "gains", DoubleArray(1, 2), Descriptor{})
	sn := s.Snapshot()

	b, err := sn.Bool("b")
	require.NoError(t, err)
	require.True(t, b)
	i, err := sn.Integer("i")
	require.NoError(t, err)
	require.Equal(t, int64(3), i)
	d, err := sn.Double("d")
	require.NoError(t, err)
	require.Equal(t, 0.5, d)
	str, err := sn.String("s")
	require.NoError(t, err)
	require.Equal(t, "x", str)
	joints, err := sn.StringArray("joints")
	require.NoError(t, err)
	require.Equal(t, []string{"j1", "j2"}, joints)

	_, err = sn.Double("i")
	require.EqualError(t, err, "parameter 'i' is of type integer, expected double")
	_, err = sn.Bool("missing")
	require.EqualError(t, err, "parameter 'missing' has not been declared")

	t.Run("snapshot is isolated from later changes", func(t *testing.T) {
		gains, err := sn.DoubleArray("gains")
		require.NoError(t, err)
		gains[0] = 99
		require.True(t, s.SetAtomically(Parameter{Name: "i", Value: Integer(4)}).Successful)
		values, err := s.Get("gains", "i")
		require.NoError(t, err)
		require.Equal(t, []Value{DoubleArray(1, 2), Integer(4)}, values)
		old, _ := sn.Integer("i")
		require.Equal(t, int64(3), old)
	})
}

// A reader that has stopped costs each request one EventWait, and the events that did not fit are
// counted.
func TestSubscriptionDropsWhenFull(t *testing.T) {
	const wait = 20 * time.Millisecond
	s := newTestServerWaiting(t, nil, wait)
	mustDeclare(t, s, "x", Integer(0), Descriptor{})
	sub := s.Subscribe(2)
	start := time.Now()
	for i := 1; i <= 5; i++ {
		require.True(t, s.SetAtomically(Parameter{Name: "x", Value: Integer(int64(i))}).Successful)
	}
	require.GreaterOrEqual(t, time.Since(start), 3*wait, "each of the 3 requests that found C full waited")
	events := drain(sub)
	require.Len(t, events, 2)
	require.Equal(t, Integer(1), events[0].ChangedParameters[0].Value, "the oldest events are kept")
	require.Equal(t, uint64(3), sub.Dropped())

	t.Run("one request waits once in all", func(t *testing.T) {
		const wait = 200 * time.Millisecond
		s := newTestServerWaiting(t, nil, wait)
		var burst []Parameter
		for i := range 6 {
			name := fmt.Sprintf("p%d", i)
			mustDeclare(t, s, name, Integer(0), Descriptor{})
			burst = append(burst, Parameter{Name: name, Value: Integer(1)})
		}
		sub := s.Subscribe(2)
		start := time.Now()
		for _, r := range s.Set(burst...) {
			require.True(t, r.Successful)
		}
		elapsed := time.Since(start)
		require.GreaterOrEqual(t, elapsed, wait)
		// The bug this guards against waited EventWait for each event that found C full, each wait
		// starting once the previous one ran out: at least 4*wait. Below it is one wait with up to
		// 3*wait of a loaded machine's stalls (the race tests on 2 cores); 2*wait allowed 200 ms.
		require.Less(t, elapsed, 4*wait, "4 events found C full; the request waited once, not 4 times")
		require.Len(t, drain(sub), 2)
		require.Equal(t, uint64(4), sub.Dropped())
	})

	s.Unsubscribe(sub)
	_, open := <-sub.C
	require.False(t, open)
	s.Unsubscribe(sub)
	require.True(t, s.SetAtomically(Parameter{Name: "x", Value: Integer(9)}).Successful)
}

// TestConcurrentSetAndRead runs writers and readers together (go test -race). Writers always
// set a and b to the same value atomically, so every snapshot must show them equal.
func TestConcurrentSetAndRead(t *testing.T) {
	s := newTestServerWaiting(t, nil, -1) // nobody reads sub: drop at once
	mustDeclare(t, s, "a", Integer(0), Descriptor{})
	mustDeclare(t, s, "b", Integer(0), Descriptor{})
	sub := s.Subscribe(1)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				v := Integer(int64(w*1000 + i))
				require.True(t, s.SetAtomically(Parameter{Name: "a", Value: v}, Parameter{Name: "b", Value: v}).Successful)
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for range 200 {
				sn := s.Snapshot()
				a, err := sn.Integer("a")
				require.NoError(t, err)
				b, err := sn.Integer("b")
				require.NoError(t, err)
				require.Equal(t, a, b)
				s.List(nil, DepthRecursive)
			}
		})
	}
	wg.Wait()
	require.Equal(t, uint64(800), uint64(len(drain(sub)))+sub.Dropped(), "every change produced exactly one event")
}

// One set_parameters request of 400 changes (ros2 param load of a large file) reaches a subscriber
// that reads more slowly than the server commits, as the node's /parameter_events publisher does:
// every event, in order. Dropping at once when the 64-event channel was full delivered 273 of 400.
func TestABurstReachesASubscriberThatKeepsReading(t *testing.T) {
	const n = 400
	// EventWait a minute, not DefaultEventWait's 1 s: a reader woken 336 times (the events beyond the
	// channel's 64) took up to 1 s under -race on a loaded 2-core machine, and a reader that keeps up
	// is under test here, not how long the request waits for one that does not.
	s := newTestServerWaiting(t, nil, time.Minute)
	var burst []Parameter
	for i := range n {
		name := fmt.Sprintf("p%03d", i)
		mustDeclare(t, s, name, Integer(0), Descriptor{})
		burst = append(burst, Parameter{Name: name, Value: Integer(int64(i + 1))})
	}
	sub := s.Subscribe(64)
	got := make(chan []Event)
	go func() {
		var events []Event
		for ev := range sub.C {
			events = append(events, ev)
			time.Sleep(100 * time.Microsecond) // a publish through rcl
		}
		got <- events
	}()
	for i, r := range s.Set(burst...) {
		require.True(t, r.Successful, "parameter %d: %s", i, r.Reason)
	}
	s.Unsubscribe(sub)
	events := <-got
	require.Zero(t, sub.Dropped())
	require.Len(t, events, n)
	for i, ev := range events {
		require.Equal(t, burst[i:i+1], ev.ChangedParameters, "event %d", i)
	}
}

// A subscriber that joins after the declarations (the ROS edge) first gets them as one event, with
// the values in force, so a recording of /parameter_events holds the node's initial configuration;
// changes follow in order.
func TestSubscribeWithDeclaredStartsWithTheDeclarations(t *testing.T) {
	s := newTestServer(t, nil)
	mustDeclare(t, s, "rate", Double(5), Descriptor{})
	mustDeclare(t, s, "name", String("arm"), Descriptor{})
	mustDeclare(t, s, "any", Value{}, Descriptor{DynamicTyping: true}) // no value: nothing to announce
	require.True(t, s.Set(Parameter{Name: "rate", Value: Double(7)})[0].Successful)

	sub := s.SubscribeWithDeclared(4)
	require.True(t, s.Set(Parameter{Name: "rate", Value: Double(9)})[0].Successful)
	events := drain(sub)
	require.Len(t, events, 2)
	require.Equal(t, []Parameter{{Name: "name", Value: String("arm")}, {Name: "rate", Value: Double(7)}}, events[0].NewParameters)
	require.Equal(t, s.node, events[0].Node)
	require.Equal(t, []Parameter{{Name: "rate", Value: Double(9)}}, events[1].ChangedParameters)
}
