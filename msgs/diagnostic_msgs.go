package msgs

import (
	"fmt"

	"dysl_vla/msgs/cdr"
)

// DiagnosticLevel is the level byte of a DiagnosticStatus.
type DiagnosticLevel uint8

// Diagnostic levels, as defined in diagnostic_msgs/msg/DiagnosticStatus.
const (
	DiagnosticOK    DiagnosticLevel = 0
	DiagnosticWarn  DiagnosticLevel = 1
	DiagnosticError DiagnosticLevel = 2
	DiagnosticStale DiagnosticLevel = 3
)

func (l DiagnosticLevel) String() string {
	switch l {
	case DiagnosticOK:
		return "OK"
	case DiagnosticWarn:
		return "WARN"
	case DiagnosticError:
		return "ERROR"
	case DiagnosticStale:
		return "STALE"
	}
	return fmt.Sprintf("DiagnosticLevel(%d)", uint8(l))
}

// DiagnosticArray is diagnostic_msgs/msg/DiagnosticArray, published on
// /diagnostics.
type DiagnosticArray struct {
	Header Header
	Status []DiagnosticStatus
}

func (*DiagnosticArray) TypeName() string { return "diagnostic_msgs/msg/DiagnosticArray" }

func (m *DiagnosticArray) MarshalCDR(e *cdr.Encoder) {
	m.Header.MarshalCDR(e)
	marshalSequence(e, m.Status)
}

func (m *DiagnosticArray) UnmarshalCDR(d *cdr.Decoder) {
	unmarshalNested(d, "header", &m.Header)
	m.Status = unmarshalSequence(d, "status", diagnosticStatusMinWireSize, m.Status)
}

// DiagnosticStatus is diagnostic_msgs/msg/DiagnosticStatus: the state of one
// component. Name is "<node name>: <task>"; HardwareID is "none" when there
// is no hardware to name.
type DiagnosticStatus struct {
	Level      DiagnosticLevel
	Name       string
	Message    string
	HardwareID string
	Values     []KeyValue
}

// Value returns the value stored under key, and whether there is one.
func (s *DiagnosticStatus) Value(key string) (string, bool) {
	for _, kv := range s.Values {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return "", false
}

// diagnosticStatusMinWireSize: level byte, three string lengths, a count.
const diagnosticStatusMinWireSize = 1 + 4*3 + 4

func (*DiagnosticStatus) TypeName() string { return "diagnostic_msgs/msg/DiagnosticStatus" }

func (m *DiagnosticStatus) MarshalCDR(e *cdr.Encoder) {
	e.Uint8(uint8(m.Level))
	e.String(m.Name)
	e.String(m.Message)
	e.String(m.HardwareID)
	marshalSequence(e, m.Values)
}

func (m *DiagnosticStatus) UnmarshalCDR(d *cdr.Decoder) {
	m.Level = DiagnosticLevel(d.Uint8("level"))
	m.Name = d.String("name")
	m.Message = d.String("message")
	m.HardwareID = d.String("hardware_id")
	m.Values = unmarshalSequence(d, "values", keyValueMinWireSize, m.Values)
}

// KeyValue is diagnostic_msgs/msg/KeyValue, one labelled value of a status.
type KeyValue struct {
	Key   string
	Value string
}

const keyValueMinWireSize = 4 * 2

func (*KeyValue) TypeName() string { return "diagnostic_msgs/msg/KeyValue" }

func (m *KeyValue) MarshalCDR(e *cdr.Encoder) {
	e.String(m.Key)
	e.String(m.Value)
}

func (m *KeyValue) UnmarshalCDR(d *cdr.Decoder) {
	m.Key = d.String("key")
	m.Value = d.String("value")
}
