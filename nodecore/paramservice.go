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
// these bytes; the semantics are paramserver's (rclcpp's), whose types are the messages themselves. A
// request naming an undeclared parameter gets an empty response, as from rclcpp's parameter service.
func ServeParameterRequest(srv *paramserver.Server, service string, request []byte) ([]byte, error) {
	var resp msgs.Message
	switch service {
	case "describe_parameters":
		var req msgs.DescribeParametersRequest
		if err := msgs.Decode(request, &req); err != nil {
			return nil, err
		}
		ds, _ := srv.Describe(req.Names...) // nil for an undeclared name
		resp = &msgs.DescribeParametersResponse{Descriptors: ds}
	case "get_parameter_types":
		var req msgs.GetParameterTypesRequest
		if err := msgs.Decode(request, &req); err != nil {
			return nil, err
		}
		ts, _ := srv.GetTypes(req.Names...)
		resp = &msgs.GetParameterTypesResponse{Types: ts}
	case "get_parameters":
		var req msgs.GetParametersRequest
		if err := msgs.Decode(request, &req); err != nil {
			return nil, err
		}
		vs, _ := srv.Get(req.Names...)
		resp = &msgs.GetParametersResponse{Values: vs}
	case "list_parameters":
		var req msgs.ListParametersRequest
		if err := msgs.Decode(request, &req); err != nil {
			return nil, err
		}
		resp = &msgs.ListParametersResponse{Result: srv.List(req.Prefixes, req.Depth)}
	case "set_parameters":
		var req msgs.SetParametersRequest
		if err := msgs.Decode(request, &req); err != nil {
			return nil, err
		}
		resp = &msgs.SetParametersResponse{Results: srv.Set(req.Parameters...)}
	case "set_parameters_atomically":
		var req msgs.SetParametersAtomicallyRequest
		if err := msgs.Decode(request, &req); err != nil {
			return nil, err
		}
		resp = &msgs.SetParametersAtomicallyResponse{Result: srv.SetAtomically(req.Parameters...)}
	default:
		return nil, fmt.Errorf("nodecore: unknown parameter service %q, expected one of %v", service, ParameterServices)
	}
	return msgs.Encode(nil, resp)
}
