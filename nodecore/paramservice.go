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
//
// A request of more than MaxParameterRequestEntries names, prefixes or parameters is answered as one
// naming no declared parameter (a set: every result refused, with the reason): the services run on
// the node's one callback thread, and 100000 sets in one call held it 1.2 s, no frame served.
func ServeParameterRequest(srv *paramserver.Server, service string, request []byte) ([]byte, error) {
	switch service {
	case "describe_parameters":
		return answer(request, func(req *msgs.DescribeParametersRequest) msgs.Message {
			if len(req.Names) > MaxParameterRequestEntries {
				return &msgs.DescribeParametersResponse{}
			}
			ds, _ := srv.Describe(req.Names...) // nil for an undeclared name
			return &msgs.DescribeParametersResponse{Descriptors: ds}
		})
	case "get_parameter_types":
		return answer(request, func(req *msgs.GetParameterTypesRequest) msgs.Message {
			if len(req.Names) > MaxParameterRequestEntries {
				return &msgs.GetParameterTypesResponse{}
			}
			ts, _ := srv.GetTypes(req.Names...)
			return &msgs.GetParameterTypesResponse{Types: ts}
		})
	case "get_parameters":
		return answer(request, func(req *msgs.GetParametersRequest) msgs.Message {
			if len(req.Names) > MaxParameterRequestEntries {
				return &msgs.GetParametersResponse{}
			}
			vs, _ := srv.Get(req.Names...)
			return &msgs.GetParametersResponse{Values: vs}
		})
	case "list_parameters":
		return answer(request, func(req *msgs.ListParametersRequest) msgs.Message {
			if len(req.Prefixes) > MaxParameterRequestEntries {
				return &msgs.ListParametersResponse{}
			}
			return &msgs.ListParametersResponse{Result: srv.List(req.Prefixes, req.Depth)}
		})
	case "set_parameters":
		return answer(request, func(req *msgs.SetParametersRequest) msgs.Message {
			if n := len(req.Parameters); n > MaxParameterRequestEntries {
				results := make([]msgs.SetParametersResult, n)
				for i := range results {
					results[i].Reason = tooMany(n)
				}
				return &msgs.SetParametersResponse{Results: results}
			}
			return &msgs.SetParametersResponse{Results: srv.Set(req.Parameters...)}
		})
	case "set_parameters_atomically":
		return answer(request, func(req *msgs.SetParametersAtomicallyRequest) msgs.Message {
			if n := len(req.Parameters); n > MaxParameterRequestEntries {
				return &msgs.SetParametersAtomicallyResponse{Result: msgs.SetParametersResult{Reason: tooMany(n)}}
			}
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

// MaxParameterRequestEntries bounds the names, prefixes or parameters of one parameter service call:
// far above the node's few dozen parameters (ros2 param dump and load send them all in one call).
const MaxParameterRequestEntries = 4096

func tooMany(n int) string {
	return fmt.Sprintf("a request of %d parameters: at most %d are taken in one call", n, MaxParameterRequestEntries)
}
