package paramserver

import (
	"fmt"
	"strconv"
	"strings"

	"dysl_vla/msgs"
)

// The package speaks rcl_interfaces' own types (package msgs), so what the ROS glue decodes from a
// parameter service request is what the server takes, and what the server returns is what the glue
// encodes. The aliases keep signatures short; the fields are the messages'.
type (
	// Value is rcl_interfaces/msg/ParameterValue: Type says which one field holds the value.
	// The zero Value is NOT_SET, which on the wire also means "undeclare" in a set request.
	// Build values with Bool, Integer, Double and the other constructors.
	Value = msgs.ParameterValue
	// Parameter is rcl_interfaces/msg/Parameter: a name and its value.
	Parameter = msgs.Parameter
	// Descriptor is rcl_interfaces/msg/ParameterDescriptor. Its ranges hold at most one
	// element, as in the message; an empty slice means "no range". Bounds are inclusive; a
	// Step of 0 means any value in range, otherwise a value must be FromValue + n*Step, or
	// equal ToValue (doubles compared with rclcpp's relative tolerance, see doublesEqual).
	// DynamicTyping lets a set change the parameter's type, and lets it be undeclared.
	Descriptor = msgs.ParameterDescriptor
	// SetResult is rcl_interfaces/msg/SetParametersResult. Reason is rclcpp's text.
	SetResult = msgs.SetParametersResult
	// ListResult is rcl_interfaces/msg/ListParametersResult.
	ListResult = msgs.ListParametersResult
	// Event is rcl_interfaces/msg/ParameterEvent: one successful change of a node's parameters,
	// for the node's /parameter_events publisher. Stamp is Config.Now at the time of the change;
	// Node is Config.Node.
	Event = msgs.ParameterEvent
)

// Bool returns a BOOL value.
func Bool(v bool) Value { return Value{Type: msgs.ParameterBool, BoolValue: v} }

// Integer returns an INTEGER value.
func Integer(v int64) Value { return Value{Type: msgs.ParameterInteger, IntegerValue: v} }

// Double returns a DOUBLE value.
func Double(v float64) Value { return Value{Type: msgs.ParameterDouble, DoubleValue: v} }

// String returns a STRING value.
func String(v string) Value { return Value{Type: msgs.ParameterString, StringValue: v} }

// ByteArray returns a BYTE_ARRAY value holding a copy of v.
func ByteArray(v ...byte) Value {
	return Value{Type: msgs.ParameterByteArray, ByteArrayValue: append([]byte{}, v...)}
}

// BoolArray returns a BOOL_ARRAY value holding a copy of v.
func BoolArray(v ...bool) Value {
	return Value{Type: msgs.ParameterBoolArray, BoolArrayValue: append([]bool{}, v...)}
}

// IntegerArray returns an INTEGER_ARRAY value holding a copy of v.
func IntegerArray(v ...int64) Value {
	return Value{Type: msgs.ParameterIntegerArray, IntegerArrayValue: append([]int64{}, v...)}
}

// DoubleArray returns a DOUBLE_ARRAY value holding a copy of v.
func DoubleArray(v ...float64) Value {
	return Value{Type: msgs.ParameterDoubleArray, DoubleArrayValue: append([]float64{}, v...)}
}

// StringArray returns a STRING_ARRAY value holding a copy of v.
func StringArray(v ...string) Value {
	return Value{Type: msgs.ParameterStringArray, StringArrayValue: append([]string{}, v...)}
}

// cloneValue returns a copy that shares no slice with v, so stored values cannot be changed
// through a value handed to or received from a caller. Fields other than the one Type
// selects are dropped, as the wire format would.
func cloneValue(v Value) Value {
	switch v.Type {
	case msgs.ParameterBool:
		return Bool(v.BoolValue)
	case msgs.ParameterInteger:
		return Integer(v.IntegerValue)
	case msgs.ParameterDouble:
		return Double(v.DoubleValue)
	case msgs.ParameterString:
		return String(v.StringValue)
	case msgs.ParameterByteArray:
		return ByteArray(v.ByteArrayValue...)
	case msgs.ParameterBoolArray:
		return BoolArray(v.BoolArrayValue...)
	case msgs.ParameterIntegerArray:
		return IntegerArray(v.IntegerArrayValue...)
	case msgs.ParameterDoubleArray:
		return DoubleArray(v.DoubleArrayValue...)
	case msgs.ParameterStringArray:
		return StringArray(v.StringArrayValue...)
	default:
		return Value{Type: v.Type}
	}
}

// FormatValue formats a value for logs and errors: 3, 0.5, true, "text", [1, 2].
func FormatValue(v Value) string {
	switch v.Type {
	case msgs.ParameterNotSet:
		return "<not set>"
	case msgs.ParameterBool:
		return strconv.FormatBool(v.BoolValue)
	case msgs.ParameterInteger:
		return strconv.FormatInt(v.IntegerValue, 10)
	case msgs.ParameterDouble:
		return strconv.FormatFloat(v.DoubleValue, 'g', -1, 64)
	case msgs.ParameterString:
		return strconv.Quote(v.StringValue)
	case msgs.ParameterByteArray:
		return formatList(v.ByteArrayValue, func(b byte) string { return strconv.Itoa(int(b)) })
	case msgs.ParameterBoolArray:
		return formatList(v.BoolArrayValue, strconv.FormatBool)
	case msgs.ParameterIntegerArray:
		return formatList(v.IntegerArrayValue, func(i int64) string { return strconv.FormatInt(i, 10) })
	case msgs.ParameterDoubleArray:
		return formatList(v.DoubleArrayValue, func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) })
	case msgs.ParameterStringArray:
		return formatList(v.StringArrayValue, strconv.Quote)
	default:
		return fmt.Sprintf("<type %d>", uint8(v.Type))
	}
}

func formatList[T any](items []T, format func(T) string) string {
	parts := make([]string, len(items))
	for i, item := range items {
		parts[i] = format(item)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func cloneParameters(params []Parameter) []Parameter {
	out := make([]Parameter, len(params))
	for i, p := range params {
		out[i] = Parameter{Name: p.Name, Value: cloneValue(p.Value)}
	}
	return out
}
