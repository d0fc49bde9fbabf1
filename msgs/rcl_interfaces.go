package msgs

import (
	"fmt"

	"dysl_vla/msgs/cdr"
)

// ParameterType is the type byte of a ParameterValue and of a
// ParameterDescriptor (rcl_interfaces/msg/ParameterType).
type ParameterType uint8

// Parameter types, with the wire values of rcl_interfaces/msg/ParameterType.
const (
	ParameterNotSet       ParameterType = 0
	ParameterBool         ParameterType = 1
	ParameterInteger      ParameterType = 2
	ParameterDouble       ParameterType = 3
	ParameterString       ParameterType = 4
	ParameterByteArray    ParameterType = 5
	ParameterBoolArray    ParameterType = 6
	ParameterIntegerArray ParameterType = 7
	ParameterDoubleArray  ParameterType = 8
	ParameterStringArray  ParameterType = 9
)

// String returns the name rclcpp uses in messages such as "Wrong parameter
// type, parameter x is of type {double}".
func (t ParameterType) String() string {
	switch t {
	case ParameterNotSet:
		return "not set"
	case ParameterBool:
		return "bool"
	case ParameterInteger:
		return "integer"
	case ParameterDouble:
		return "double"
	case ParameterString:
		return "string"
	case ParameterByteArray:
		return "byte_array"
	case ParameterBoolArray:
		return "bool_array"
	case ParameterIntegerArray:
		return "integer_array"
	case ParameterDoubleArray:
		return "double_array"
	case ParameterStringArray:
		return "string_array"
	}
	return fmt.Sprintf("ParameterType(%d)", uint8(t))
}

// ParameterValue is rcl_interfaces/msg/ParameterValue: a variant whose Type
// says which one of the other fields holds the value.
type ParameterValue struct {
	Type              ParameterType
	BoolValue         bool
	IntegerValue      int64
	DoubleValue       float64
	StringValue       string
	ByteArrayValue    []byte
	BoolArrayValue    []bool
	IntegerArrayValue []int64
	DoubleArrayValue  []float64
	StringArrayValue  []string
}

// parameterValueMinWireSize: type and bool bytes, int64, float64, a string
// length and five sequence counts.
const parameterValueMinWireSize = 1 + 1 + 8 + 8 + 4 + 5*4

func (*ParameterValue) TypeName() string { return "rcl_interfaces/msg/ParameterValue" }

func (m *ParameterValue) MarshalCDR(e *cdr.Encoder) {
	e.Uint8(uint8(m.Type))
	e.Bool(m.BoolValue)
	e.Int64(m.IntegerValue)
	e.Float64(m.DoubleValue)
	e.String(m.StringValue)
	e.Uint8s(m.ByteArrayValue)
	e.Bools(m.BoolArrayValue)
	e.Int64s(m.IntegerArrayValue)
	e.Float64s(m.DoubleArrayValue)
	e.Strings(m.StringArrayValue)
}

func (m *ParameterValue) UnmarshalCDR(d *cdr.Decoder) {
	m.Type = ParameterType(d.Uint8("type"))
	m.BoolValue = d.Bool("bool_value")
	m.IntegerValue = d.Int64("integer_value")
	m.DoubleValue = d.Float64("double_value")
	m.StringValue = d.String("string_value")
	m.ByteArrayValue = d.Uint8s("byte_array_value", m.ByteArrayValue)
	m.BoolArrayValue = d.Bools("bool_array_value", m.BoolArrayValue)
	m.IntegerArrayValue = d.Int64s("integer_array_value", m.IntegerArrayValue)
	m.DoubleArrayValue = d.Float64s("double_array_value", m.DoubleArrayValue)
	m.StringArrayValue = d.Strings("string_array_value", m.StringArrayValue)
}

// Parameter is rcl_interfaces/msg/Parameter: a name and its value.
type Parameter struct {
	Name  string
	Value ParameterValue
}

const parameterMinWireSize = 4 + parameterValueMinWireSize

func (*Parameter) TypeName() string { return "rcl_interfaces/msg/Parameter" }

func (m *Parameter) MarshalCDR(e *cdr.Encoder) {
	e.String(m.Name)
	m.Value.MarshalCDR(e)
}

func (m *Parameter) UnmarshalCDR(d *cdr.Decoder) {
	m.Name = d.String("name")
	unmarshalNested(d, "value", &m.Value)
}

// FloatingPointRange is rcl_interfaces/msg/FloatingPointRange: inclusive
// bounds and a step (0 means any value in between).
type FloatingPointRange struct {
	FromValue float64
	ToValue   float64
	Step      float64
}

const floatingPointRangeMinWireSize = 3 * 8

func (*FloatingPointRange) TypeName() string { return "rcl_interfaces/msg/FloatingPointRange" }

func (m *FloatingPointRange) MarshalCDR(e *cdr.Encoder) {
	e.Float64(m.FromValue)
	e.Float64(m.ToValue)
	e.Float64(m.Step)
}

func (m *FloatingPointRange) UnmarshalCDR(d *cdr.Decoder) {
	m.FromValue = d.Float64("from_value")
	m.ToValue = d.Float64("to_value")
	m.Step = d.Float64("step")
}

// IntegerRange is rcl_interfaces/msg/IntegerRange: inclusive bounds and a
// step (0 means any value in between).
type IntegerRange struct {
	FromValue int64
	ToValue   int64
	Step      uint64
}

const integerRangeMinWireSize = 3 * 8

func (*IntegerRange) TypeName() string { return "rcl_interfaces/msg/IntegerRange" }

func (m *IntegerRange) MarshalCDR(e *cdr.Encoder) {
	e.Int64(m.FromValue)
	e.Int64(m.ToValue)
	e.Uint64(m.Step)
}

func (m *IntegerRange) UnmarshalCDR(d *cdr.Decoder) {
	m.FromValue = d.Int64("from_value")
	m.ToValue = d.Int64("to_value")
	m.Step = d.Uint64("step")
}

// ParameterDescriptor is rcl_interfaces/msg/ParameterDescriptor. At most one
// of FloatingPointRange and IntegerRange holds an element (both are
// T[<=1] on the wire); encoding a longer one fails.
type ParameterDescriptor struct {
	Name                  string
	Type                  ParameterType
	Description           string
	AdditionalConstraints string
	ReadOnly              bool
	DynamicTyping         bool
	FloatingPointRange    []FloatingPointRange
	IntegerRange          []IntegerRange
}

const parameterDescriptorMinWireSize = 4 + 1 + 4 + 4 + 1 + 1 + 4 + 4

func (*ParameterDescriptor) TypeName() string { return "rcl_interfaces/msg/ParameterDescriptor" }

func (m *ParameterDescriptor) MarshalCDR(e *cdr.Encoder) {
	e.String(m.Name)
	e.Uint8(uint8(m.Type))
	e.String(m.Description)
	e.String(m.AdditionalConstraints)
	e.Bool(m.ReadOnly)
	e.Bool(m.DynamicTyping)
	marshalBoundedSequence(e, "floating_point_range", 1, m.FloatingPointRange)
	marshalBoundedSequence(e, "integer_range", 1, m.IntegerRange)
}

func (m *ParameterDescriptor) UnmarshalCDR(d *cdr.Decoder) {
	m.Name = d.String("name")
	m.Type = ParameterType(d.Uint8("type"))
	m.Description = d.String("description")
	m.AdditionalConstraints = d.String("additional_constraints")
	m.ReadOnly = d.Bool("read_only")
	m.DynamicTyping = d.Bool("dynamic_typing")
	m.FloatingPointRange = unmarshalBoundedSequence(d, "floating_point_range", 1, floatingPointRangeMinWireSize, m.FloatingPointRange)
	m.IntegerRange = unmarshalBoundedSequence(d, "integer_range", 1, integerRangeMinWireSize, m.IntegerRange)
}

// SetParametersResult is rcl_interfaces/msg/SetParametersResult. Reason is
// shown to the user by `ros2 param set` when Successful is false.
type SetParametersResult struct {
	Successful bool
	Reason     string
}

const setParametersResultMinWireSize = 1 + 4

func (*SetParametersResult) TypeName() string { return "rcl_interfaces/msg/SetParametersResult" }

func (m *SetParametersResult) MarshalCDR(e *cdr.Encoder) {
	e.Bool(m.Successful)
	e.String(m.Reason)
}

func (m *SetParametersResult) UnmarshalCDR(d *cdr.Decoder) {
	m.Successful = d.Bool("successful")
	m.Reason = d.String("reason")
}

// ListParametersResult is rcl_interfaces/msg/ListParametersResult.
type ListParametersResult struct {
	Names    []string
	Prefixes []string
}

func (*ListParametersResult) TypeName() string { return "rcl_interfaces/msg/ListParametersResult" }

func (m *ListParametersResult) MarshalCDR(e *cdr.Encoder) {
	e.Strings(m.Names)
	e.Strings(m.Prefixes)
}

func (m *ListParametersResult) UnmarshalCDR(d *cdr.Decoder) {
	m.Names = d.Strings("names", m.Names)
	m.Prefixes = d.Strings("prefixes", m.Prefixes)
}

// ParameterEvent is rcl_interfaces/msg/ParameterEvent, published on
// /parameter_events after every accepted change. Node is the fully
// qualified node name.
type ParameterEvent struct {
	Stamp             Time
	Node              string
	NewParameters     []Parameter
	ChangedParameters []Parameter
	DeletedParameters []Parameter
}

func (*ParameterEvent) TypeName() string { return "rcl_interfaces/msg/ParameterEvent" }

func (m *ParameterEvent) MarshalCDR(e *cdr.Encoder) {
	m.Stamp.MarshalCDR(e)
	e.String(m.Node)
	marshalSequence(e, m.NewParameters)
	marshalSequence(e, m.ChangedParameters)
	marshalSequence(e, m.DeletedParameters)
}

func (m *ParameterEvent) UnmarshalCDR(d *cdr.Decoder) {
	unmarshalNested(d, "stamp", &m.Stamp)
	m.Node = d.String("node")
	m.NewParameters = unmarshalSequence(d, "new_parameters", parameterMinWireSize, m.NewParameters)
	m.ChangedParameters = unmarshalSequence(d, "changed_parameters", parameterMinWireSize, m.ChangedParameters)
	m.DeletedParameters = unmarshalSequence(d, "deleted_parameters", parameterMinWireSize, m.DeletedParameters)
}

// LogLevel is the level byte of rcl_interfaces/msg/Log.
type LogLevel uint8

// Log levels, as defined in rcl_interfaces/msg/Log.
const (
	LogDebug LogLevel = 10
	LogInfo  LogLevel = 20
	LogWarn  LogLevel = 30
	LogError LogLevel = 40
	LogFatal LogLevel = 50
)

func (l LogLevel) String() string {
	switch l {
	case LogDebug:
		return "DEBUG"
	case LogInfo:
		return "INFO"
	case LogWarn:
		return "WARN"
	case LogError:
		return "ERROR"
	case LogFatal:
		return "FATAL"
	}
	return fmt.Sprintf("LogLevel(%d)", uint8(l))
}

// Log is rcl_interfaces/msg/Log, one /rosout line.
type Log struct {
	Stamp    Time
	Level    LogLevel
	Name     string // logger name
	Msg      string
	File     string
	Function string
	Line     uint32
}

func (*Log) TypeName() string { return "rcl_interfaces/msg/Log" }

func (m *Log) MarshalCDR(e *cdr.Encoder) {
	m.Stamp.MarshalCDR(e)
	e.Uint8(uint8(m.Level))
	e.String(m.Name)
	e.String(m.Msg)
	e.String(m.File)
	e.String(m.Function)
	e.Uint32(m.Line)
}

func (m *Log) UnmarshalCDR(d *cdr.Decoder) {
	unmarshalNested(d, "stamp", &m.Stamp)
	m.Level = LogLevel(d.Uint8("level"))
	m.Name = d.String("name")
	m.Msg = d.String("msg")
	m.File = d.String("file")
	m.Function = d.String("function")
	m.Line = d.Uint32("line")
}
