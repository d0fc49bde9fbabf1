package nodecore

import (
	"fmt"

	"dysl_vla/msgs"
	"dysl_vla/paramserver"
)

// ParameterServices returns the parameter service names, relative to the node ("~/get_parameters"),
// as rclcpp creates them.
func ParameterServices() []string {
	return []string{
		"describe_parameters", "get_parameter_types", "get_parameters",
		"list_parameters", "set_parameters", "set_parameters_atomically",
	}
}

// ServeParameterRequest answers one rcl_interfaces parameter service call on the wire: the serialized
// request (CDR with encapsulation header) in, the serialized response out. The ROS 2 glue only moves
// these bytes; the semantics are paramserver's (rclcpp's), whose types are the messages themselves. A
// request naming an undeclared parameter gets an empty response, as from rclcpp's parameter service.
func ServeParameterRequest(srv *paramserver.Server, service string, request []byte) ([]byte, error) {
	switch service {
	case "describe_parameters":
		return answer(request, func(req *msgs.DescribeParametersRequest) msgs.Message {
			ds, _ := srv.Describe(req.Names...) // nil for an undeclared name
			return &msgs.DescribeParametersResponse{Descriptors: ds}
		})
	case "get_parameter_types":
		return answer(request, func(req *msgs.GetParameterTypesRequest) msgs.Message {
			ts, _ := srv.GetTypes(req.Names...)
			return &msgs.GetParameterTypesResponse{Types: ts}
		})
	case "get_parameters":
		return answer(request, func(req *msgs.GetParametersRequest) msgs.Message {
			vs, _ := srv.Get(req.Names...)
			return &msgs.GetParametersResponse{Values: vs}
		})
	case "list_parameters":
		return answer(request, func(req *msgs.ListParametersRequest) msgs.Message {
			return &msgs.ListParametersResponse{Result: srv.List(req.Prefixes, req.Depth)}
		})
	case "set_parameters":
		return answer(request, func(req *msgs.SetParametersRequest) msgs.Message {
			return &msgs.SetParametersResponse{Results: srv.Set(req.Parameters...)}
		})
	case "set_parameters_atomically":
		return answer(request, func(req *msgs.SetParametersAtomicallyRequest) msgs.Message {
			return &msgs.SetParametersAtomicallyResponse{Result: srv.SetAtomically(req.Parameters...)}
		})
	default:
		return nil, fmt.Errorf("nodecore: unknown parameter service %q, expected one of %v", service, ParameterServices())
	}
}

// answer decodes a request of the service's type, and encodes the response respond gives.
func answer[Req any, PReq interface {
	*Req
	msgs.Message
}](request []byte, respond func(PReq) msgs.Message) ([]byte, error) {
	req := PReq(new(Req))
	if err := msgs.Decode(request, req); err != nil {
		return nil, err
	}
	return msgs.Encode(nil, respond(req))
}
