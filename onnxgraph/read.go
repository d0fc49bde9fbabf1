package onnxgraph

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
)

// ErrNotModel is wrapped by ReadInfo's errors for bytes that are not an ONNX ModelProto with a graph.
var ErrNotModel = errors.New("not an ONNX model")

// ModelInfo is what ReadInfo extracts from a ModelProto: enough to check that graphs chain, without
// ONNX Runtime.
type ModelInfo struct {
	IRVersion    int64
	Opsets       map[string]int64 // domain ("" is the standard domain) -> version
	GraphName    string
	Inputs       []TensorInfo // graph inputs that are not initializers
	Outputs      []TensorInfo
	Initializers []InitializerInfo
	Ops          map[Op]int // how many nodes run each operator
	Metadata     map[string]string
}

// Op is an operator: its domain ("" or "ai.onnx" for the standard one) and its type.
type Op struct {
	Domain string
	Type   string
}

func (o Op) String() string {
	if o.Standard() {
		return o.Type
	}
	return o.Domain + "." + o.Type
}

// Standard reports whether the operator belongs to the standard ONNX domain. Operators of other
// domains (ONNX Runtime's com.microsoft contrib ops, a vendor's custom ops) run only where a provider
// implements them: TensorRT's ONNX parser, for one, knows the standard domain alone.
func (o Op) Standard() bool { return o.Domain == "" || o.Domain == "ai.onnx" }

// TensorInfo is a graph input or output. A symbolic dimension is -1.
type TensorInfo struct {
	Name     string
	ElemType ElemType
	Shape    []int64
}

// InitializerInfo describes one initializer; External is set when its data is in a side file.
type InitializerInfo struct {
	Name     string
	ElemType ElemType
	Dims     []int64
	External *ExternalRef
	// RawBytes is the length of the tensor's raw_data in the model file, -1 when it has none (its
	// values external, or in typed fields).
	RawBytes int64
	// NonFinite counts the NaN and ±Inf among float and double values stored in the model file itself
	// (raw_data or packed float_data/double_data); data in an external file is counted by CountNonFinite.
	NonFinite int64
}

// CountNonFinite counts the NaN and ±Inf values in little-endian float or double bytes; other element
// types have none.
func CountNonFinite(t ElemType, data []byte) int64 {
	var n int64
	switch t {
	case Float:
		for i := 0; i+4 <= len(data); i += 4 {
			f := float64(math.Float32frombits(binary.LittleEndian.Uint32(data[i:])))
			if math.IsNaN(f) || math.IsInf(f, 0) {
				n++
			}
		}
	case Double:
		for i := 0; i+8 <= len(data); i += 8 {
			f := math.Float64frombits(binary.LittleEndian.Uint64(data[i:]))
			if math.IsNaN(f) || math.IsInf(f, 0) {
				n++
			}
		}
	}
	return n
}

// ReadInfoFile reads a model file with ReadInfo.
func ReadInfoFile(path string) (*ModelInfo, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ReadInfo(data)
}

// ReadInfo parses a serialized ModelProto. Errors wrap a "not an ONNX model" error when the bytes are
// not a protobuf ModelProto with a graph.
func ReadInfo(data []byte) (*ModelInfo, error) {
	m := &ModelInfo{Opsets: map[string]int64{}, Ops: map[Op]int{}, Metadata: map[string]string{}}
	var graph []byte
	err := eachField(data, func(num protowire.Number, v fieldValue) error {
		switch num {
		case modelIRVersion:
			m.IRVersion = int64(v.varint)
		case modelOpsetImport:
			var domain string
			var version int64
			err := eachField(v.bytes, func(num protowire.Number, v fieldValue) error {
				switch num {
				case opsetDomain:
					domain = string(v.bytes)
				case opsetVersion:
					version = int64(v.varint)
				}
				return nil
			})
			m.Opsets[domain] = version
			return err
		case modelGraph:
			graph = v.bytes
		case modelMetadataProps:
			key, value, err := readEntry(v.bytes)
			m.Metadata[key] = value
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotModel, err)
	}
	if graph == nil || m.IRVersion == 0 {
		return nil, fmt.Errorf("%w: no ir_version or no graph", ErrNotModel)
	}
	if err := m.readGraph(graph); err != nil {
		return nil, fmt.Errorf("%w: graph: %v", ErrNotModel, err)
	}
	return m, nil
}

func (m *ModelInfo) readGraph(data []byte) error {
	initNames := map[string]bool{}
	var inputs []TensorInfo
	err := eachField(data, func(num protowire.Number, v fieldValue) error {
		switch num {
		case graphNode:
			op, err := readOp(v.bytes)
			m.Ops[op]++
			return err
		case graphName:
			m.GraphName = string(v.bytes)
		case graphInitializer:
			init, err := readInitializer(v.bytes)
			m.Initializers = append(m.Initializers, init)
			initNames[init.Name] = true
			return err
		case graphInput, graphOutput:
			t, err := readValueInfo(v.bytes)
			if num == graphInput {
				inputs = append(inputs, t)
			} else {
				m.Outputs = append(m.Outputs, t)
			}
			return err
		}
		return nil
	})
	// IR < 4 listed initializers among the inputs; keep only the real inputs.
	for _, in := range inputs {
		if !initNames[in.Name] {
			m.Inputs = append(m.Inputs, in)
		}
	}
	return err
}

func readOp(data []byte) (Op, error) {
	var op Op
	err := eachField(data, func(num protowire.Number, v fieldValue) error {
		switch num {
		case nodeOpType:
			op.Type = string(v.bytes)
		case nodeDomain:
			op.Domain = string(v.bytes)
		}
		return nil
	})
	if err == nil && op.Type == "" {
		err = errors.New("a node has no op_type")
	}
	return op, err
}

func readInitializer(data []byte) (InitializerInfo, error) {
	var t InitializerInfo
	var external bool
	var ref ExternalRef
	var floatData, doubleData, raw []byte
	t.RawBytes = -1
	err := eachField(data, func(num protowire.Number, v fieldValue) error {
		switch num {
		case tensorRawData:
			raw = v.bytes
			t.RawBytes = int64(len(raw))
		case tensorFloatData:
			floatData = v.bytes // packed; unpacked values are not counted
		case tensorDoubleData:
			doubleData = v.bytes
		case tensorDims:
			dims, err := varints(v)
			t.Dims = append(t.Dims, dims...)
			return err
		case tensorDataType:
			t.ElemType = ElemType(v.varint)
		case tensorName:
			t.Name = string(v.bytes)
		case tensorDataLocation:
			external = v.varint == dataLocationExternal
		case tensorExternalData:
			key, value, err := readEntry(v.bytes)
			if err != nil {
				return err
			}
			switch key {
			case "location":
				ref.Location = value
			case "offset", "length":
				n, err := strconv.ParseInt(value, 10, 64)
				if err != nil {
					return fmt.Errorf("external data %s %q: %v", key, value, err)
				}
				if key == "offset" {
					ref.Offset = n
				} else {
					ref.Length = n
				}
			}
		}
		return nil
	})
	if external {
		t.External = &ref
	}
	t.NonFinite = CountNonFinite(t.ElemType, raw) + CountNonFinite(Float, floatData) + CountNonFinite(Double, doubleData)
	return t, err
}

func readValueInfo(data []byte) (TensorInfo, error) {
	var t TensorInfo
	err := eachField(data, func(num protowire.Number, v fieldValue) error {
		switch num {
		case valueInfoName:
			t.Name = string(v.bytes)
		case valueInfoType:
			return eachField(v.bytes, func(num protowire.Number, v fieldValue) error {
				if num != typeTensorType {
					return nil
				}
				return eachField(v.bytes, func(num protowire.Number, v fieldValue) error {
					switch num {
					case tensorElemType:
						t.ElemType = ElemType(v.varint)
					case tensorShape:
						t.Shape = []int64{} // a present shape with no dims is a scalar
						return eachField(v.bytes, func(num protowire.Number, v fieldValue) error {
							if num != shapeDim {
								return nil
							}
							d := int64(-1)
							err := eachField(v.bytes, func(num protowire.Number, v fieldValue) error {
								if num == dimValue {
									d = int64(v.varint)
								}
								return nil
							})
							t.Shape = append(t.Shape, d)
							return err
						})
					}
					return nil
				})
			})
		}
		return nil
	})
	return t, err
}

func readEntry(data []byte) (key, value string, err error) {
	err = eachField(data, func(num protowire.Number, v fieldValue) error {
		switch num {
		case entryKey:
			key = string(v.bytes)
		case entryValue:
			value = string(v.bytes)
		}
		return nil
	})
	return key, value, err
}

// fieldValue is one decoded field: varint for VarintType, bytes for BytesType.
type fieldValue struct {
	typ    protowire.Type
	varint uint64
	bytes  []byte
}

// eachField walks the fields of one message, failing on malformed wire data.
func eachField(data []byte, fn func(protowire.Number, fieldValue) error) error {
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return protowire.ParseError(n)
		}
		data = data[n:]
		v := fieldValue{typ: typ}
		switch typ {
		case protowire.VarintType:
			v.varint, n = protowire.ConsumeVarint(data)
		case protowire.BytesType:
			v.bytes, n = protowire.ConsumeBytes(data)
		default:
			n = protowire.ConsumeFieldValue(num, typ, data)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		data = data[n:]
		if err := fn(num, v); err != nil {
			return err
		}
	}
	return nil
}

// varints decodes a repeated int64 field written either unpacked (one varint) or packed (bytes).
func varints(v fieldValue) ([]int64, error) {
	if v.typ == protowire.VarintType {
		return []int64{int64(v.varint)}, nil
	}
	var out []int64
	data := v.bytes
	for len(data) > 0 {
		x, n := protowire.ConsumeVarint(data)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		out = append(out, int64(x))
		data = data[n:]
	}
	return out, nil
}
