package onnxgraph

import (
	"math"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
)

// IRVersion and OpsetVersion are what every model written by this package declares.
const (
	IRVersion    = 8
	OpsetVersion = 17
)

// ElemType is an ONNX TensorProto.DataType value.
type ElemType int32

// The element types this package writes and reads (values from onnx.proto).
const (
	Float  ElemType = 1
	Uint8  ElemType = 2
	Int8   ElemType = 3
	Int32  ElemType = 6
	Int64  ElemType = 7
	Bool   ElemType = 9
	Double ElemType = 11
)

// Half-precision types, named in messages but not encoded (Size is 0): a graph exported in half
// precision is told apart by its type's name, not as elem_type(10).
const (
	Float16  ElemType = 10
	BFloat16 ElemType = 16
)

// Size is the byte size of one element, 0 for types this package does not encode.
func (t ElemType) Size() int {
	switch t {
	case Uint8, Int8, Bool:
		return 1
	case Float, Int32:
		return 4
	case Int64, Double:
		return 8
	}
	return 0
}

func (t ElemType) String() string {
	switch t {
	case Float:
		return "float32"
	case Uint8:
		return "uint8"
	case Int8:
		return "int8"
	case Int32:
		return "int32"
	case Int64:
		return "int64"
	case Bool:
		return "bool"
	case Double:
		return "float64"
	case Float16:
		return "float16"
	case BFloat16:
		return "bfloat16"
	}
	return "elem_type(" + itoa(int64(t)) + ")"
}

// Field numbers of the ONNX messages (onnx/onnx.proto, stable since IR version 3).
const (
	modelIRVersion     = 1
	modelProducerName  = 2
	modelProducerVers  = 3
	modelDocString     = 6
	modelGraph         = 7
	modelOpsetImport   = 8
	modelMetadataProps = 14

	opsetDomain  = 1
	opsetVersion = 2

	entryKey   = 1
	entryValue = 2

	graphNode        = 1
	graphName        = 2
	graphInitializer = 5
	graphDocString   = 10
	graphInput       = 11
	graphOutput      = 12

	nodeInput     = 1
	nodeOutput    = 2
	nodeName      = 3
	nodeOpType    = 4
	nodeAttribute = 5
	nodeDomain    = 7

	attrName   = 1
	attrF      = 2
	attrI      = 3
	attrS      = 4
	attrT      = 5
	attrFloats = 7
	attrInts   = 8
	attrType   = 20

	tensorDims         = 1
	tensorDataType     = 2
	tensorFloatData    = 4
	tensorDoubleData   = 10
	tensorName         = 8
	tensorRawData      = 9
	tensorExternalData = 13
	tensorDataLocation = 14

	valueInfoName = 1
	valueInfoType = 2

	typeTensorType = 1
	tensorElemType = 1
	tensorShape    = 2
	shapeDim       = 1
	dimValue       = 1
	dimParam       = 2
)

// AttributeProto.AttributeType values.
const (
	attrTypeFloat  = 1
	attrTypeInt    = 2
	attrTypeString = 3
	attrTypeTensor = 4
	attrTypeFloats = 6
	attrTypeInts   = 7
)

// dataLocationExternal is TensorProto.DataLocation EXTERNAL.
const dataLocationExternal = 1

// ExternalRef says where a tensor's bytes live outside the model file: Location is relative to the
// model file's directory.
type ExternalRef struct {
	Location string
	Offset   int64
	Length   int64
}

// tensorProto is the subset of TensorProto this package writes: raw bytes or an external reference.
type tensorProto struct {
	name     string
	elemType ElemType
	dims     []int64
	raw      []byte       // used when external is nil
	external *ExternalRef // data lives in a side file
}

func (t *tensorProto) append(b []byte) []byte {
	for _, d := range t.dims {
		b = protowire.AppendTag(b, tensorDims, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(d))
	}
	b = protowire.AppendTag(b, tensorDataType, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(t.elemType))
	if t.name != "" {
		b = appendString(b, tensorName, t.name)
	}
	if t.external == nil {
		b = appendBytes(b, tensorRawData, t.raw)
		return b
	}
	for _, kv := range [][2]string{
		{"location", t.external.Location},
		{"offset", itoa(t.external.Offset)},
		{"length", itoa(t.external.Length)},
	} {
		b = appendMessage(b, tensorExternalData, func(b []byte) []byte {
			b = appendString(b, entryKey, kv[0])
			return appendString(b, entryValue, kv[1])
		})
	}
	b = protowire.AppendTag(b, tensorDataLocation, protowire.VarintType)
	return protowire.AppendVarint(b, dataLocationExternal)
}

// attribute is one AttributeProto of a node.
type attribute struct {
	name   string
	kind   int
	f      float32
	i      int64
	s      string
	t      *tensorProto
	floats []float32
	ints   []int64
}

func (a *attribute) append(b []byte) []byte {
	b = appendString(b, attrName, a.name)
	switch a.kind {
	case attrTypeFloat:
		b = protowire.AppendTag(b, attrF, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.f))
	case attrTypeInt:
		b = protowire.AppendTag(b, attrI, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(a.i))
	case attrTypeString:
		b = appendString(b, attrS, a.s)
	case attrTypeTensor:
		b = appendMessage(b, attrT, a.t.append)
	case attrTypeFloats:
		for _, f := range a.floats {
			b = protowire.AppendTag(b, attrFloats, protowire.Fixed32Type)
			b = protowire.AppendFixed32(b, math.Float32bits(f))
		}
	case attrTypeInts:
		for _, i := range a.ints {
			b = protowire.AppendTag(b, attrInts, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(i))
		}
	}
	b = protowire.AppendTag(b, attrType, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(a.kind))
}

// node is one NodeProto.
type node struct {
	name    string
	opType  string
	inputs  []string
	outputs []string
	attrs   []attribute
}

func (n *node) append(b []byte) []byte {
	for _, in := range n.inputs {
		b = appendString(b, nodeInput, in)
	}
	for _, out := range n.outputs {
		b = appendString(b, nodeOutput, out)
	}
	b = appendString(b, nodeName, n.name)
	b = appendString(b, nodeOpType, n.opType)
	for i := range n.attrs {
		b = appendMessage(b, nodeAttribute, n.attrs[i].append)
	}
	return b
}

// valueInfo is one ValueInfoProto of a tensor type. A negative dim is written as a symbolic dimension.
type valueInfo struct {
	name     string
	elemType ElemType
	shape    []int64
}

func (v *valueInfo) append(b []byte) []byte {
	b = appendString(b, valueInfoName, v.name)
	return appendMessage(b, valueInfoType, func(b []byte) []byte {
		return appendMessage(b, typeTensorType, func(b []byte) []byte {
			b = protowire.AppendTag(b, tensorElemType, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(v.elemType))
			return appendMessage(b, tensorShape, func(b []byte) []byte {
				for i, d := range v.shape {
					b = appendMessage(b, shapeDim, func(b []byte) []byte {
						if d < 0 {
							return appendString(b, dimParam, "d"+itoa(int64(i)))
						}
						b = protowire.AppendTag(b, dimValue, protowire.VarintType)
						return protowire.AppendVarint(b, uint64(d))
					})
				}
				return b
			})
		})
	})
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// appendMessage writes a length-delimited sub-message. It encodes the body into a scratch buffer first
// because protobuf needs the length before the bytes; models here are small enough for that copy.
func appendMessage(b []byte, num protowire.Number, body func([]byte) []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, body(nil))
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
