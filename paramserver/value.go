package paramserver

import (
	"fmt"
	"strconv"
	"strings"
)

// Type is a parameter's type tag, with rcl_interfaces/msg/ParameterType's numbering.
// TypeNotSet (0) is meaningful on the wire: an unset value, or "undeclare" in a set request.
type Type uint8

// Type tags, equal to rcl_interfaces/msg/ParameterType's constants.
const (
	TypeNotSet       Type = 0
	TypeBool         Type = 1
	TypeInteger      Type = 2
	TypeDouble       Type = 3
	TypeString       Type = 4
	TypeByteArray    Type = 5
	TypeBoolArray    Type = 6
	TypeIntegerArray Type = 7
	TypeDoubleArray  Type = 8
	TypeStringArray  Type = 9
)

// String returns rclcpp's name for the type (rclcpp::to_string), as used in reason strings.
func (t Type) String() string {
	switch t {
	case TypeNotSet:
		return "not set"
	case TypeBool:
		return "bool"
	case TypeInteger:
		return "integer"
	case TypeDouble:
		return "double"
	case TypeString:
		return "string"
	case TypeByteArray:
		return "byte_array"
	case TypeBoolArray:
		return "bool_array"
	case TypeIntegerArray:
		return "integer_array"
	case TypeDoubleArray:
		return "double_array"
	case TypeStringArray:
		return "string_array"
	default:
		return "unknown type"
	}
}

// Value is rcl_interfaces/msg/ParameterValue: Type says which one field holds the value.
// The zero Value is NOT_SET. Build values with Bool, Integer, Double and the other constructors.
type Value struct {
	Type              Type
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

// Bool returns a BOOL value.
func Bool(v bool) Value { return Value{Type: TypeBool, BoolValue: v} }

// Integer returns an INTEGER value.
func Integer(v int64) Value { return Value{Type: TypeInteger, IntegerValue: v} }

// Double returns a DOUBLE value.
func Double(v float64) Value { return Value{Type: TypeDouble, DoubleValue: v} }

// String returns a STRING value.
func String(v string) Value { return Value{Type: TypeString, StringValue: v} }

// ByteArray returns a BYTE_ARRAY value holding a copy of v.
func ByteArray(v ...byte) Value {
	return Value{Type: TypeByteArray, ByteArrayValue: append([]byte{}, v...)}
}

// BoolArray returns a BOOL_ARRAY value holding a copy of v.
func BoolArray(v ...bool) Value {
	return Value{Type: TypeBoolArray, BoolArrayValue: append([]bool{}, v...)}
}

// IntegerArray returns an INTEGER_ARRAY value holding a copy of v.
func IntegerArray(v ...int64) Value {
	return Value{Type: TypeIntegerArray, IntegerArrayValue: append([]int64{}, v...)}
}

// DoubleArray returns a DOUBLE_ARRAY value holding a copy of v.
func DoubleArray(v ...float64) Value {
	return Value{Type: TypeDoubleArray, DoubleArrayValue: append([]float64{}, v...)}
}

// StringArray returns a STRING_ARRAY value holding a copy of v.
func StringArray(v ...string) Value {
	return Value{Type: TypeStringArray, StringArrayValue: append([]string{}, v...)}
}

// clone returns a copy that shares no slice with v, so stored values cannot be changed
// through a value handed to or received from a caller. Fields other than the one Type
// selects are dropped, as the wire format would.
func (v Value) clone() Value {
	switch v.Type {
	case TypeBool:
		return Bool(v.BoolValue)
	case TypeInteger:
		return Integer(v.IntegerValue)
	case TypeDouble:
		return Double(v.DoubleValue)
	case TypeString:
		return String(v.StringValue)
	case TypeByteArray:
		return ByteArray(v.ByteArrayValue...)
	case TypeBoolArray:
		return BoolArray(v.BoolArrayValue...)
	case TypeIntegerArray:
		return IntegerArray(v.IntegerArrayValue...)
	case TypeDoubleArray:
		return DoubleArray(v.DoubleArrayValue...)
	case TypeStringArray:
		return StringArray(v.StringArrayValue...)
	default:
		return Value{Type: v.Type}
	}
}

// String formats the value for logs and errors: 3, 0.5, true, "text", [1, 2].
func (v Value) String() string {
	switch v.Type {
	case TypeNotSet:
		return "<not set>"
	case TypeBool:
		return strconv.FormatBool(v.BoolValue)
	case TypeInteger:
		return strconv.FormatInt(v.IntegerValue, 10)
	case TypeDouble:
		return strconv.FormatFloat(v.DoubleValue, 'g', -1, 64)
	case TypeString:
		return strconv.Quote(v.StringValue)
	case TypeByteArray:
		return formatList(v.ByteArrayValue, func(b byte) string { return strconv.Itoa(int(b)) })
	case TypeBoolArray:
		return formatList(v.BoolArrayValue, strconv.FormatBool)
	case TypeIntegerArray:
		return formatList(v.IntegerArrayValue, func(i int64) string { return strconv.FormatInt(i, 10) })
	case TypeDoubleArray:
		return formatList(v.DoubleArrayValue, func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) })
	case TypeStringArray:
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

// Parameter is rcl_interfaces/msg/Parameter: a name and its value.
type Parameter struct {
	Name  string
	Value Value
}
