package msgs

import "dysl_vla/msgs/cdr"

// Requests and responses of the six parameter services that `ros2 param`
// calls on ~/list_parameters, ~/describe_parameters, ~/get_parameters,
// ~/get_parameter_types, ~/set_parameters and ~/set_parameters_atomically.
// Their type names are those rosidl gives the two halves of a .srv, e.g.
// "rcl_interfaces/srv/GetParameters_Request".

// ListParametersDepthRecursive asks ListParameters for every level below
// the prefixes.
const ListParametersDepthRecursive = 0

// ListParametersRequest lists parameters under Prefixes (all when empty),
// Depth dotted levels deep.
type ListParametersRequest struct {
	Prefixes []string
	Depth    uint64
}

func (*ListParametersRequest) TypeName() string { return "rcl_interfaces/srv/ListParameters_Request" }

func (m *ListParametersRequest) MarshalCDR(e *cdr.Encoder) {
	e.Strings(m.Prefixes)
	e.Uint64(m.Depth)
}

func (m *ListParametersRequest) UnmarshalCDR(d *cdr.Decoder) {
	m.Prefixes = d.Strings("prefixes", m.Prefixes)
	m.Depth = d.Uint64("depth")
}

// ListParametersResponse answers ListParametersRequest.
type ListParametersResponse struct {
	Result ListParametersResult
}

func (*ListParametersResponse) TypeName() string { return "rcl_interfaces/srv/ListParameters_Response" }

func (m *ListParametersResponse) MarshalCDR(e *cdr.Encoder) { m.Result.MarshalCDR(e) }

func (m *ListParametersResponse) UnmarshalCDR(d *cdr.Decoder) {
	unmarshalNested(d, "result", &m.Result)
}

// DescribeParametersRequest asks for the descriptors of Names.
type DescribeParametersRequest struct {
	Names []string
}

func (*DescribeParametersRequest) TypeName() string {
	return "rcl_interfaces/srv/DescribeParameters_Request"
}

func (m *DescribeParametersRequest) MarshalCDR(e *cdr.Encoder) { e.Strings(m.Names) }

func (m *DescribeParametersRequest) UnmarshalCDR(d *cdr.Decoder) {
	m.Names = d.Strings("names", m.Names)
}

// DescribeParametersResponse holds one descriptor per requested name, in order.
type DescribeParametersResponse struct {
	Descriptors []ParameterDescriptor
}

func (*DescribeParametersResponse) TypeName() string {
	return "rcl_interfaces/srv/DescribeParameters_Response"
}

func (m *DescribeParametersResponse) MarshalCDR(e *cdr.Encoder) {
	marshalSequence(e, m.Descriptors)
}

func (m *DescribeParametersResponse) UnmarshalCDR(d *cdr.Decoder) {
	m.Descriptors = unmarshalSequence(d, "descriptors", parameterDescriptorMinWireSize, m.Descriptors)
}

// GetParametersRequest asks for the values of Names.
type GetParametersRequest struct {
	Names []string
}

func (*GetParametersRequest) TypeName() string { return "rcl_interfaces/srv/GetParameters_Request" }

func (m *GetParametersRequest) MarshalCDR(e *cdr.Encoder) { e.Strings(m.Names) }

func (m *GetParametersRequest) UnmarshalCDR(d *cdr.Decoder) {
	m.Names = d.Strings("names", m.Names)
}

// GetParametersResponse holds one value per requested name, in order; an
// unknown name gets Type ParameterNotSet.
type GetParametersResponse struct {
	Values []ParameterValue
}

func (*GetParametersResponse) TypeName() string { return "rcl_interfaces/srv/GetParameters_Response" }

func (m *GetParametersResponse) MarshalCDR(e *cdr.Encoder) { marshalSequence(e, m.Values) }

func (m *GetParametersResponse) UnmarshalCDR(d *cdr.Decoder) {
	m.Values = unmarshalSequence(d, "values", parameterValueMinWireSize, m.Values)
}

// GetParameterTypesRequest asks for the types of Names.
type GetParameterTypesRequest struct {
	Names []string
}

func (*GetParameterTypesRequest) TypeName() string {
	return "rcl_interfaces/srv/GetParameterTypes_Request"
}

func (m *GetParameterTypesRequest) MarshalCDR(e *cdr.Encoder) { e.Strings(m.Names) }

func (m *GetParameterTypesRequest) UnmarshalCDR(d *cdr.Decoder) {
	m.Names = d.Strings("names", m.Names)
}

// GetParameterTypesResponse holds one type per requested name, in order.
type GetParameterTypesResponse struct {
	Types []ParameterType
}

func (*GetParameterTypesResponse) TypeName() string {
	return "rcl_interfaces/srv/GetParameterTypes_Response"
}

func (m *GetParameterTypesResponse) MarshalCDR(e *cdr.Encoder) {
	e.SequenceLength(len(m.Types))
	for _, t := range m.Types {
		e.Uint8(uint8(t))
	}
}

func (m *GetParameterTypesResponse) UnmarshalCDR(d *cdr.Decoder) {
	n := d.SequenceLength("types", 1)
	m.Types = m.Types[:0]
	for i := 0; i < n; i++ {
		m.Types = append(m.Types, ParameterType(d.Uint8("types")))
	}
}

// SetParametersRequest sets each parameter on its own.
type SetParametersRequest struct {
	Parameters []Parameter
}

func (*SetParametersRequest) TypeName() string { return "rcl_interfaces/srv/SetParameters_Request" }

func (m *SetParametersRequest) MarshalCDR(e *cdr.Encoder) { marshalSequence(e, m.Parameters) }

func (m *SetParametersRequest) UnmarshalCDR(d *cdr.Decoder) {
	m.Parameters = unmarshalSequence(d, "parameters", parameterMinWireSize, m.Parameters)
}

// SetParametersResponse holds one result per parameter, in request order.
type SetParametersResponse struct {
	Results []SetParametersResult
}

func (*SetParametersResponse) TypeName() string { return "rcl_interfaces/srv/SetParameters_Response" }

func (m *SetParametersResponse) MarshalCDR(e *cdr.Encoder) { marshalSequence(e, m.Results) }

func (m *SetParametersResponse) UnmarshalCDR(d *cdr.Decoder) {
	m.Results = unmarshalSequence(d, "results", setParametersResultMinWireSize, m.Results)
}

// SetParametersAtomicallyRequest sets all parameters or none.
type SetParametersAtomicallyRequest struct {
	Parameters []Parameter
}

func (*SetParametersAtomicallyRequest) TypeName() string {
	return "rcl_interfaces/srv/SetParametersAtomically_Request"
}

func (m *SetParametersAtomicallyRequest) MarshalCDR(e *cdr.Encoder) {
	marshalSequence(e, m.Parameters)
}

func (m *SetParametersAtomicallyRequest) UnmarshalCDR(d *cdr.Decoder) {
	m.Parameters = unmarshalSequence(d, "parameters", parameterMinWireSize, m.Parameters)
}

// SetParametersAtomicallyResponse holds the single all-or-nothing result.
type SetParametersAtomicallyResponse struct {
	Result SetParametersResult
}

func (*SetParametersAtomicallyResponse) TypeName() string {
	return "rcl_interfaces/srv/SetParametersAtomically_Response"
}

func (m *SetParametersAtomicallyResponse) MarshalCDR(e *cdr.Encoder) { m.Result.MarshalCDR(e) }

func (m *SetParametersAtomicallyResponse) UnmarshalCDR(d *cdr.Decoder) {
	unmarshalNested(d, "result", &m.Result)
}
