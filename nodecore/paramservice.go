package nodecore

import (
	"fmt"

	"dysl_vla/msgs"
	"dysl_vla/paramserver"
)

// Parameter service names, relative to the node ("~/get_parameters"), as rclcpp creates them.
var ParameterServices = []string{
	"describe_parameters", "get_parameter_types", "get_parameters",
	"list_parameters", "set_parameters", "set_parameters_atomically",
}

// ServeParameterRequest answers one rcl_interfaces parameter service call on the wire: the serialized
// request (CDR with encapsulation header) in, the serialized response out. The ROS 2 glue only moves
// these bytes; the semantics are paramserver's (rclcpp's). A request naming an undeclared parameter gets
// an empty response, as from rclcpp's parameter service.
func ServeParameterRequest(srv *paramserver.Server, service string, request []byte) ([]byte, error) {
	var resp msgs.Message
	switch service {
	case "describe_parameters":
		var req msgs.DescribeParametersRequest
		if err := msgs.Decode(request, &req); err != nil {
			return nil, err
		}
		out := &msgs.DescribeParametersResponse{}
		if ds, err := srv.Describe(req.Names...); err == nil {
			for _, d := range ds {
				out.Descriptors = append(out.Descriptors, descriptorMessage(d))
			}
		}
		resp = out
	case "get_parameter_types":
		var req msgs.GetParameterTypesRequest
		if err := msgs.Decode(request, &req); err != nil {
			return nil, err
		}
		out := &msgs.GetParameterTypesResponse{}
		if ts, err := srv.GetTypes(req.Names...); err == nil {
			for _, t := range ts {
				out.Types = append(out.Types, msgs.ParameterType(t))
			}
		}
		resp = out
	case "get_parameters":
		var req msgs.GetParametersRequest
		if err := msgs.Decode(request, &req); err != nil {
			return nil, err
		}
		out := &msgs.GetParametersResponse{}
		if vs, err := srv.Get(req.Names...); err == nil {
			for _, v := range vs {
				out.Values = append(out.Values, ValueMessage(v))
			}
		}
		resp = out
	case "list_parameters":
		var req msgs.ListParametersRequest
		if err := msgs.Decode(request, &req); err != nil {
			return nil, err
		}
		r := srv.List(req.Prefixes, req.Depth)
		resp = &msgs.ListParametersResponse{Result: msgs.ListParametersResult{Names: r.Names, Prefixes: r.Prefixes}}
	case "set_parameters":
		var req msgs.SetParametersRequest
		if err := msgs.Decode(request, &req); err != nil {
			return nil, err
		}
		out := &msgs.SetParametersResponse{}
		for _, r := range srv.Set(parametersFrom(req.Parameters)...) {
			out.Results = append(out.Results, msgs.SetParametersResult{Successful: r.Successful, Reason: r.Reason})
		}
		resp = out
	case "set_parameters_atomically":
		var req msgs.SetParametersAtomicallyRequest
		if err := msgs.Decode(request, &req); err != nil {
			return nil, err
		}
		r := srv.SetAtomically(parametersFrom(req.Parameters)...)
		resp = &msgs.SetParametersAtomicallyResponse{Result: msgs.SetParametersResult{Successful: r.Successful, Reason: r.Reason}}
	default:
		return nil, fmt.Errorf("nodecore: unknown parameter service %q, expected one of %v", service, ParameterServices)
	}
	return msgs.Encode(nil, resp)
}

// ParameterEventMessage converts a paramserver event for /parameter_events.
func ParameterEventMessage(e paramserver.Event) *msgs.ParameterEvent {
	conv := func(ps []paramserver.Parameter) []msgs.Parameter {
		out := make([]msgs.Parameter, len(ps))
		for i, p := range ps {
			out[i] = msgs.Parameter{Name: p.Name, Value: ValueMessage(p.Value)}
		}
		return out
	}
	return &msgs.ParameterEvent{Stamp: msgs.TimeFromGo(e.Stamp), Node: e.Node,
		NewParameters: conv(e.New), ChangedParameters: conv(e.Changed), DeletedParameters: conv(e.Deleted)}
}

// ValueMessage converts a parameter value to rcl_interfaces/msg/ParameterValue.
func ValueMessage(v paramserver.Value) msgs.ParameterValue {
	return msgs.ParameterValue{Type: msgs.ParameterType(v.Type), BoolValue: v.BoolValue,
		IntegerValue: v.IntegerValue, DoubleValue: v.DoubleValue, StringValue: v.StringValue,
		ByteArrayValue: v.ByteArrayValue, BoolArrayValue: v.BoolArrayValue,
		IntegerArrayValue: v.IntegerArrayValue, DoubleArrayValue: v.DoubleArrayValue,
		StringArrayValue: v.StringArrayValue}
}

func parametersFrom(ps []msgs.Parameter) []paramserver.Parameter {
	out := make([]paramserver.Parameter, len(ps))
	for i, p := range ps {
		v := p.Value
		out[i] = paramserver.Parameter{Name: p.Name, Value: paramserver.Value{Type: paramserver.Type(v.Type),
			BoolValue: v.BoolValue, IntegerValue: v.IntegerValue, DoubleValue: v.DoubleValue,
			StringValue: v.StringValue, ByteArrayValue: v.ByteArrayValue, BoolArrayValue: v.BoolArrayValue,
			IntegerArrayValue: v.IntegerArrayValue, DoubleArrayValue: v.DoubleArrayValue,
			StringArrayValue: v.StringArrayValue}}
	}
	return out
}

func descriptorMessage(d paramserver.Descriptor) msgs.ParameterDescriptor {
	out := msgs.ParameterDescriptor{Name: d.Name, Type: msgs.ParameterType(d.Type), Description: d.Description,
		AdditionalConstraints: d.AdditionalConstraints, ReadOnly: d.ReadOnly, DynamicTyping: d.DynamicTyping}
	for _, r := range d.FloatingPointRange {
		out.FloatingPointRange = append(out.FloatingPointRange, msgs.FloatingPointRange{FromValue: r.From, ToValue: r.To, Step: r.Step})
	}
	for _, r := range d.IntegerRange {
		out.IntegerRange = append(out.IntegerRange, msgs.IntegerRange{FromValue: r.From, ToValue: r.To, Step: r.Step})
	}
	return out
}
