package paramserver

import (
	"fmt"

	"dysl_vla/msgs"
)

// Snapshot is a consistent copy of every parameter value at one instant. The node takes one
// per configuration rebuild, so values set together atomically are always seen together.
type Snapshot struct {
	values map[string]Value
}

// Snapshot copies all current values.
func (s *Server) Snapshot() Snapshot {
	s.stateMu.RLock()
	defer s.stateMu.RUnlock()
	values := make(map[string]Value, len(s.params))
	for name, e := range s.params {
		values[name] = cloneValue(e.value)
	}
	return Snapshot{values: values}
}

// Value returns the named value, and whether the parameter was declared.
func (sn Snapshot) Value(name string) (Value, bool) {
	v, ok := sn.values[name]
	return v, ok
}

// typed returns the named value if it has the wanted type, else an error naming both types.
func (sn Snapshot) typed(name string, want msgs.ParameterType) (Value, error) {
	v, ok := sn.values[name]
	if !ok {
		return Value{}, &NotDeclaredError{Name: name}
	}
	if v.Type != want {
		return Value{}, fmt.Errorf("parameter '%s' is of type %s, expected %s", name, v.Type, want)
	}
	return v, nil
}

// Bool returns a BOOL parameter's value.
func (sn Snapshot) Bool(name string) (bool, error) {
	v, err := sn.typed(name, msgs.ParameterBool)
	return v.BoolValue, err
}

// Integer returns an INTEGER parameter's value.
func (sn Snapshot) Integer(name string) (int64, error) {
	v, err := sn.typed(name, msgs.ParameterInteger)
	return v.IntegerValue, err
}

// Double returns a DOUBLE parameter's value.
func (sn Snapshot) Double(name string) (float64, error) {
	v, err := sn.typed(name, msgs.ParameterDouble)
	return v.DoubleValue, err
}

// String returns a STRING parameter's value.
func (sn Snapshot) String(name string) (string, error) {
	v, err := sn.typed(name, msgs.ParameterString)
	return v.StringValue, err
}

// ByteArray returns a BYTE_ARRAY parameter's value; the slice belongs to the snapshot.
func (sn Snapshot) ByteArray(name string) ([]byte, error) {
	v, err := sn.typed(name, msgs.ParameterByteArray)
	return v.ByteArrayValue, err
}

// BoolArray returns a BOOL_ARRAY parameter's value; the slice belongs to the snapshot.
func (sn Snapshot) BoolArray(name string) ([]bool, error) {
	v, err := sn.typed(name, msgs.ParameterBoolArray)
	return v.BoolArrayValue, err
}

// IntegerArray returns an INTEGER_ARRAY parameter's value; the slice belongs to the snapshot.
func (sn Snapshot) IntegerArray(name string) ([]int64, error) {
	v, err := sn.typed(name, msgs.ParameterIntegerArray)
	return v.IntegerArrayValue, err
}

// DoubleArray returns a DOUBLE_ARRAY parameter's value; the slice belongs to the snapshot.
func (sn Snapshot) DoubleArray(name string) ([]float64, error) {
	v, err := sn.typed(name, msgs.ParameterDoubleArray)
	return v.DoubleArrayValue, err
}

// StringArray returns a STRING_ARRAY parameter's value; the slice belongs to the snapshot.
func (sn Snapshot) StringArray(name string) ([]string, error) {
	v, err := sn.typed(name, msgs.ParameterStringArray)
	return v.StringArrayValue, err
}
