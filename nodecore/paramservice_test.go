package nodecore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/msgs"
	"dysl_vla/nodecore"
)

// What `ros2 param set/get/describe` sends, answered on the wire.
func TestParameterServicesOnTheWire(t *testing.T) {
	f := newFixture(t, nil, nil)
	call := func(t *testing.T, service string, req, resp msgs.Message) { serveParameters(t, f, service, req, resp) }
	t.Run("set out of range is refused with rclcpp's reason", func(t *testing.T) {
		var resp msgs.SetParametersResponse
		call(t, "set_parameters", &msgs.SetParametersRequest{Parameters: []msgs.Parameter{
			{Name: "controller_threshold", Value: msgs.ParameterValue{Type: msgs.ParameterType(3), DoubleValue: 2}}}}, &resp)
		require.Len(t, resp.Results, 1)
		require.False(t, resp.Results[0].Successful)
		require.Contains(t, resp.Results[0].Reason, "floating point range")
	})
	t.Run("set in range applies", func(t *testing.T) {
		var resp msgs.SetParametersAtomicallyResponse
		call(t, "set_parameters_atomically", &msgs.SetParametersAtomicallyRequest{Parameters: []msgs.Parameter{
			{Name: "controller_threshold", Value: msgs.ParameterValue{Type: msgs.ParameterType(3), DoubleValue: 0.7}}}}, &resp)
		require.True(t, resp.Result.Successful, resp.Result.Reason)
		require.InDelta(t, 0.7, f.core.Settings().Live.Skipping.ControllerThreshold, 1e-12)
	})
	t.Run("get and describe", func(t *testing.T) {
		var got msgs.GetParametersResponse
		call(t, "get_parameters", &msgs.GetParametersRequest{Names: []string{"strategy"}}, &got)
		require.Equal(t, "dysl", got.Values[0].StringValue)
		var desc msgs.DescribeParametersResponse
		call(t, "describe_parameters", &msgs.DescribeParametersRequest{Names: []string{"continuity_window"}}, &desc)
		require.Equal(t, int64(2), desc.Descriptors[0].IntegerRange[0].FromValue)
		require.Equal(t, int64(64), desc.Descriptors[0].IntegerRange[0].ToValue)
	})
	t.Run("types, and an empty answer for an undeclared name as from rclcpp", func(t *testing.T) {
		var types msgs.GetParameterTypesResponse
		call(t, "get_parameter_types", &msgs.GetParameterTypesRequest{Names: []string{"seed", "frame_id"}}, &types)
		require.Equal(t, []msgs.ParameterType{msgs.ParameterInteger, msgs.ParameterString}, types.Types)
		var got msgs.GetParametersResponse
		call(t, "get_parameters", &msgs.GetParametersRequest{Names: []string{"strategy", "no_such_parameter"}}, &got)
		require.Empty(t, got.Values)
	})
	t.Run("list everything", func(t *testing.T) {
		var list msgs.ListParametersResponse
		call(t, "list_parameters", &msgs.ListParametersRequest{}, &list)
		require.Len(t, list.Result.Names, len(nodecore.ParameterNames()))
	})
	t.Run("a set served on the wire is published as a parameter event", func(t *testing.T) {
		events := f.params.Subscribe(4)
		defer f.params.Unsubscribe(events)
		var resp msgs.SetParametersResponse
		call(t, "set_parameters", &msgs.SetParametersRequest{Parameters: []msgs.Parameter{
			{Name: "eta_move", Value: msgs.ParameterValue{Type: msgs.ParameterDouble, DoubleValue: 0.2}}}}, &resp)
		require.True(t, resp.Results[0].Successful, resp.Results[0].Reason)
		e := <-events.C
		raw, err := msgs.Encode(nil, &e) // as the node publishes it on /parameter_events
		require.NoError(t, err)
		var got msgs.ParameterEvent
		require.NoError(t, msgs.Decode(raw, &got))
		require.Equal(t, msgs.ParameterEvent{Stamp: msgs.TimeFromGo(t0), Node: "/dysl_vla_node",
			ChangedParameters: []msgs.Parameter{{Name: "eta_move", Value: msgs.ParameterValue{Type: msgs.ParameterDouble, DoubleValue: 0.2}}}}, got)
	})
	t.Run("unknown service", func(t *testing.T) {
		_, err := nodecore.ServeParameterRequest(f.params, "get_everything", nil)
		require.ErrorContains(t, err, `unknown parameter service "get_everything"`)
	})
}

// A call of more entries than MaxParameterRequestEntries is answered at once, nothing looked up or
// set: the services share the node's one callback thread with the camera, and 100000 sets in one
// call held it 1.2 s. At the bound, a call is served.
func TestParameterRequestsOverTheBoundAreRefused(t *testing.T) {
	f := newFixture(t, nil, nil)
	call := func(service string, req, resp msgs.Message) { serveParameters(t, f, service, req, resp) }
	names := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = "strategy"
		}
		return out
	}
	sets := func(n int, v msgs.ParameterValue) []msgs.Parameter {
		out := make([]msgs.Parameter, n)
		for i := range out {
			out[i] = msgs.Parameter{Name: "controller_threshold", Value: v}
		}
		return out
	}
	threshold := msgs.ParameterValue{Type: msgs.ParameterType(3), DoubleValue: 0.6}
	// A string, which the server refuses at once for its type: 4096 sets judged, quickly.
	wrongType := msgs.ParameterValue{Type: msgs.ParameterType(4), StringValue: "high"}
	over := nodecore.MaxParameterRequestEntries + 1

	var got msgs.GetParametersResponse
	call("get_parameters", &msgs.GetParametersRequest{Names: names(over)}, &got)
	require.Empty(t, got.Values)
	call("get_parameters", &msgs.GetParametersRequest{Names: names(over - 1)}, &got)
	require.Len(t, got.Values, over-1)
	var described msgs.DescribeParametersResponse
	call("describe_parameters", &msgs.DescribeParametersRequest{Names: names(over)}, &described)
	require.Empty(t, described.Descriptors)
	call("describe_parameters", &msgs.DescribeParametersRequest{Names: names(over - 1)}, &described)
	require.Len(t, described.Descriptors, over-1)
	var types msgs.GetParameterTypesResponse
	call("get_parameter_types", &msgs.GetParameterTypesRequest{Names: names(over)}, &types)
	require.Empty(t, types.Types)
	call("get_parameter_types", &msgs.GetParameterTypesRequest{Names: names(over - 1)}, &types)
	require.Len(t, types.Types, over-1)
	var listed msgs.ListParametersResponse
	call("list_parameters", &msgs.ListParametersRequest{Prefixes: names(over)}, &listed)
	require.Empty(t, listed.Result.Names)
	call("list_parameters", &msgs.ListParametersRequest{Prefixes: names(over - 1)}, &listed)
	require.Contains(t, listed.Result.Names, "strategy")

	var set msgs.SetParametersResponse
	call("set_parameters", &msgs.SetParametersRequest{Parameters: sets(over, threshold)}, &set)
	require.Len(t, set.Results, over)
	require.False(t, set.Results[0].Successful)
	require.Equal(t, "a request of 4097 parameters: at most 4096 are taken in one call", set.Results[0].Reason)
	var atomic msgs.SetParametersAtomicallyResponse
	call("set_parameters_atomically", &msgs.SetParametersAtomicallyRequest{Parameters: sets(over, threshold)}, &atomic)
	require.False(t, atomic.Result.Successful)
	require.Equal(t, 0.5, f.core.Settings().Live.Skipping.ControllerThreshold, "nothing was set")

	// At the bound, the server judges the request, as rclcpp's does: each parameter by its type, a name
	// given twice in an atomic set.
	typeReason := "Wrong parameter type, parameter {controller_threshold} is of type {double}, setting it to {string} is not allowed."
	call("set_parameters", &msgs.SetParametersRequest{Parameters: sets(over-1, wrongType)}, &set)
	require.Len(t, set.Results, over-1)
	require.Equal(t, typeReason, set.Results[over-2].Reason)
	call("set_parameters_atomically", &msgs.SetParametersAtomicallyRequest{Parameters: sets(over-1, wrongType)}, &atomic)
	require.Equal(t, "parameter 'controller_threshold' appears more than once in one request", atomic.Result.Reason)
}

// serveParameters calls service with req on the wire, as the ROS glue does, and decodes the answer
// into resp.
func serveParameters(t *testing.T, f *fixture, service string, req, resp msgs.Message) {
	t.Helper()
	raw, err := msgs.Encode(nil, req)
	require.NoError(t, err)
	out, err := nodecore.ServeParameterRequest(f.params, service, raw)
	require.NoError(t, err)
	require.NoError(t, msgs.Decode(out, resp))
}
