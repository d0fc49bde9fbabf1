package onnxgraph

import (
	"encoding/binary"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/google/renameio/v2"
	"google.golang.org/protobuf/encoding/protowire"
)

// Value names a tensor of the graph being built: a graph input, an initializer, a constant or a node
// output. Values are only meaningful to the Builder that made them.
type Value string

// Attr is a node attribute; make one with AttrInt, AttrInts, AttrFloat or AttrString.
type Attr struct{ a attribute }

// AttrInt is an INT attribute.
func AttrInt(name string, v int64) Attr {
	return Attr{attribute{name: name, kind: attrTypeInt, i: v}}
}

// AttrInts is an INTS attribute.
func AttrInts(name string, v ...int64) Attr {
	return Attr{attribute{name: name, kind: attrTypeInts, ints: v}}
}

// AttrFloat is a FLOAT attribute.
func AttrFloat(name string, v float32) Attr {
	return Attr{attribute{name: name, kind: attrTypeFloat, f: v}}
}

// AttrString is a STRING attribute.
func AttrString(name string, v string) Attr {
	return Attr{attribute{name: name, kind: attrTypeString, s: v}}
}

// Builder accumulates one ONNX graph. Methods never fail on the spot: the first misuse (an undefined
// value, a duplicate name, data that does not match its shape) is remembered and returned by Marshal
// and WriteFile, so model code stays a straight sequence of operations.
type Builder struct {
	graphName string
	inputs    []valueInfo
	outputs   []valueInfo
	inits     []tensorProto
	nodes     []node
	metadata  [][2]string
	defined   map[Value]bool
	scope     []string
	counter   int
	err       error
}

// NewBuilder starts an empty graph named graphName.
func NewBuilder(graphName string) *Builder {
	return &Builder{graphName: graphName, defined: map[Value]bool{}}
}

func (b *Builder) fail(format string, args ...any) {
	if b.err == nil {
		b.err = fmt.Errorf("onnxgraph: graph %q: "+format, append([]any{b.graphName}, args...)...)
	}
}

func (b *Builder) define(name string) Value {
	v := Value(name)
	if b.defined[v] {
		b.fail("value %q defined twice", name)
	}
	b.defined[v] = true
	return v
}

// Scope prefixes the names of the nodes created until the returned function is called, so that node
// names read like the model ("layers.3/attn/MatMul_12"). Use as: defer b.Scope("attn")().
func (b *Builder) Scope(name string) (end func()) {
	b.scope = append(b.scope, name)
	return func() { b.scope = b.scope[:len(b.scope)-1] }
}

// SetMetadata adds a metadata_props entry to the model.
func (b *Builder) SetMetadata(key, value string) {
	b.metadata = append(b.metadata, [2]string{key, value})
}

// Input declares a graph input of the given element type and shape.
func (b *Builder) Input(name string, t ElemType, shape ...int64) Value {
	b.inputs = append(b.inputs, valueInfo{name: name, elemType: t, shape: shape})
	return b.define(name)
}

// Output declares a graph output named name with value v, through an Identity node so that the
// output name is independent of the node that computed it.
func (b *Builder) Output(name string, v Value, t ElemType, shape ...int64) {
	b.addNode("Identity", []Value{v}, []string{name}, nil)
	b.define(name)
	b.outputs = append(b.outputs, valueInfo{name: name, elemType: t, shape: shape})
}

// Weight adds a float32 initializer: a learned parameter, stored in the model (or its external data)
// and imported as a variable by onnx-gomlx. The name is used verbatim, so give parameters
// model-wide unique names ("layers.3.attn.q.weight") that stay the same in every graph holding them.
func (b *Builder) Weight(name string, shape []int64, data []float32) Value {
	if n := NumElements(shape); n != int64(len(data)) {
		b.fail("weight %q: shape %v needs %d values, got %d", name, shape, n, len(data))
	}
	b.inits = append(b.inits, tensorProto{name: name, elemType: Float, dims: shape, raw: float32Bytes(data)})
	return b.define(name)
}

// Const is a float32 constant (a Constant node, not an initializer: fixed tables such as rotary
// cos/sin and scalars are not parameters and must not become trainable variables on import).
func (b *Builder) Const(shape []int64, data []float32) Value {
	if n := NumElements(shape); n != int64(len(data)) {
		b.fail("constant: shape %v needs %d values, got %d", shape, n, len(data))
	}
	t := &tensorProto{elemType: Float, dims: shape, raw: float32Bytes(data)}
	return b.addNode("Constant", nil, nil, []Attr{{attribute{name: "value", kind: attrTypeTensor, t: t}}})
}

// Scalar is a float32 scalar constant.
func (b *Builder) Scalar(v float32) Value { return b.Const(nil, []float32{v}) }

// Ints is a 1-D int64 constant, for shapes, axes and slice bounds.
func (b *Builder) Ints(v ...int64) Value {
	raw := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(x))
	}
	t := &tensorProto{elemType: Int64, dims: []int64{int64(len(v))}, raw: raw}
	return b.addNode("Constant", nil, nil, []Attr{{attribute{name: "value", kind: attrTypeTensor, t: t}}})
}

// portableOps are the standard-domain operators a graph built here may use: each was checked against
// TensorRT 10's ONNX parser (opsets 9 to 20; the robot's provider) and onnx-gomlx v0.3.4 (which
// training imports graphs with), and ONNX Runtime's CPU and CUDA providers implement them all. An
// operator outside the list fails the build, so that a graph that runs here cannot meet a provider
// on the robot that refuses it. Check both before adding one.
var portableOps = map[string]bool{
	"Add": true, "Concat": true, "Constant": true, "Cos": true, "Div": true, "Gather": true,
	"Identity": true, "MatMul": true, "Mul": true, "Neg": true, "Pow": true, "ReduceMean": true,
	"Reshape": true, "Sin": true, "Slice": true, "Softmax": true, "Sqrt": true, "Sub": true,
	"Tanh": true, "Transpose": true,
}

// Op appends a node of a standard-domain operator of portableOps with one output and returns that
// output.
func (b *Builder) Op(opType string, inputs []Value, attrs ...Attr) Value {
	return b.addNode(opType, inputs, nil, attrs)
}

func (b *Builder) addNode(opType string, inputs []Value, outputs []string, attrs []Attr) Value {
	if !portableOps[opType] {
		b.fail("operator %q is not one of the portable operators (portableOps: checked against TensorRT 10 and onnx-gomlx)", opType)
	}
	for _, in := range inputs {
		if !b.defined[in] {
			b.fail("%s: input %q is not defined", opType, in)
		}
	}
	b.counter++
	name := fmt.Sprintf("%s_%d", opType, b.counter)
	if len(b.scope) > 0 {
		name = strings.Join(b.scope, "/") + "/" + name
	}
	if outputs == nil {
		outputs = []string{name}
		b.define(name)
	}
	n := node{name: name, opType: opType, outputs: outputs}
	for _, in := range inputs {
		n.inputs = append(n.inputs, string(in))
	}
	for _, a := range attrs {
		n.attrs = append(n.attrs, a.a)
	}
	b.nodes = append(b.nodes, n)
	return Value(outputs[0])
}

// The operators the model builder uses. All are in onnx-gomlx v0.3.4's supported set.

func (b *Builder) Add(x, y Value) Value    { return b.Op("Add", []Value{x, y}) }
func (b *Builder) Sub(x, y Value) Value    { return b.Op("Sub", []Value{x, y}) }
func (b *Builder) Mul(x, y Value) Value    { return b.Op("Mul", []Value{x, y}) }
func (b *Builder) Div(x, y Value) Value    { return b.Op("Div", []Value{x, y}) }
func (b *Builder) Pow(x, y Value) Value    { return b.Op("Pow", []Value{x, y}) }
func (b *Builder) MatMul(x, y Value) Value { return b.Op("MatMul", []Value{x, y}) }
func (b *Builder) Sqrt(x Value) Value      { return b.Op("Sqrt", []Value{x}) }
func (b *Builder) Neg(x Value) Value       { return b.Op("Neg", []Value{x}) }
func (b *Builder) Tanh(x Value) Value      { return b.Op("Tanh", []Value{x}) }

// Softmax over one axis (opset 13+ semantics).
func (b *Builder) Softmax(x Value, axis int64) Value {
	return b.Op("Softmax", []Value{x}, AttrInt("axis", axis))
}

// ReduceMean over axes; in opset 17 the axes are an attribute.
func (b *Builder) ReduceMean(x Value, keepDims bool, axes ...int64) Value {
	keep := int64(0)
	if keepDims {
		keep = 1
	}
	return b.Op("ReduceMean", []Value{x}, AttrInts("axes", axes...), AttrInt("keepdims", keep))
}

// Transpose permutes the axes of x.
func (b *Builder) Transpose(x Value, perm ...int64) Value {
	return b.Op("Transpose", []Value{x}, AttrInts("perm", perm...))
}

// Reshape to a constant shape (0 copies the input dimension, -1 is inferred).
func (b *Builder) Reshape(x Value, shape ...int64) Value {
	return b.Op("Reshape", []Value{x, b.Ints(shape...)})
}

// Concat joins values along axis.
func (b *Builder) Concat(axis int64, xs ...Value) Value {
	return b.Op("Concat", xs, AttrInt("axis", axis))
}

// Slice takes [start, end) along one axis.
func (b *Builder) Slice(x Value, axis, start, end int64) Value {
	return b.Op("Slice", []Value{x, b.Ints(start), b.Ints(end), b.Ints(axis)})
}

// Gather takes rows of data (axis 0) at integer indices.
func (b *Builder) Gather(data, indices Value) Value {
	return b.Op("Gather", []Value{data, indices}, AttrInt("axis", 0))
}

// WriteOptions choose where a model's initializers are stored.
type WriteOptions struct {
	// ExternalData stores every initializer of at least ExternalThreshold bytes in "<model file>.data"
	// next to the model (ONNX external data). Off by default: onnx-gomlx cannot read external data.
	ExternalData      bool
	ExternalThreshold int
	// Reuse lists initializers, by name, whose bytes already exist in another file of the same
	// directory; they are written as references to it instead of being stored again. The single-graph
	// model uses this to share the per-layer graphs' data files.
	Reuse map[string]ExternalRef
}

// Marshal encodes the graph as a self-contained ModelProto (all data inline).
func (b *Builder) Marshal() ([]byte, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	return b.marshal(b.inits), nil
}

// WriteFile writes the model to path and, when options ask for it, its external data file. It returns
// where each externally stored initializer went (locations relative to path's directory), so that
// another graph can reuse them. Each file is replaced whole (written beside it and renamed over it),
// so that a symbolic link at its name, which bundle.Replace's staging directory copies as a link, is
// replaced and never written through into what it points at; the staging directory is then synced
// and put in place whole.
func (b *Builder) WriteFile(path string, opts WriteOptions) (map[string]ExternalRef, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	inits := make([]tensorProto, len(b.inits))
	copy(inits, b.inits)
	written := map[string]ExternalRef{}
	dataName := filepath.Base(path) + ".data"
	var data []byte
	for i := range inits {
		t := &inits[i]
		if ref, ok := opts.Reuse[t.name]; ok {
			if ref.Length != int64(len(t.raw)) {
				return nil, fmt.Errorf("onnxgraph: %s: reused initializer %q has %d bytes in %s, want %d",
					path, t.name, ref.Length, ref.Location, len(t.raw))
			}
			r := ref
			t.external, t.raw = &r, nil
			continue
		}
		if opts.ExternalData && len(t.raw) >= opts.ExternalThreshold {
			// Align each tensor to 64 bytes so ONNX Runtime can map it without copying.
			for len(data)%64 != 0 {
				data = append(data, 0)
			}
			ref := ExternalRef{Location: dataName, Offset: int64(len(data)), Length: int64(len(t.raw))}
			data = append(data, t.raw...)
			written[t.name] = ref
			t.external, t.raw = &ref, nil
		}
	}
	if len(written) > 0 {
		if err := renameio.WriteFile(filepath.Join(filepath.Dir(path), dataName), data, 0o644); err != nil {
			return nil, fmt.Errorf("onnxgraph: writing external data: %w", err)
		}
	}
	if err := renameio.WriteFile(path, b.marshal(inits), 0o644); err != nil {
		return nil, fmt.Errorf("onnxgraph: writing model: %w", err)
	}
	return written, nil
}

func (b *Builder) check() error {
	if b.err != nil {
		return b.err
	}
	if len(b.outputs) == 0 {
		return fmt.Errorf("onnxgraph: graph %q has no outputs", b.graphName)
	}
	return nil
}

func (b *Builder) marshal(inits []tensorProto) []byte {
	var out []byte
	out = protowire.AppendTag(out, modelIRVersion, protowire.VarintType)
	out = protowire.AppendVarint(out, IRVersion)
	out = appendString(out, modelProducerName, "dysl_vla/onnxgraph")
	out = appendMessage(out, modelOpsetImport, func(m []byte) []byte {
		m = appendString(m, opsetDomain, "")
		m = protowire.AppendTag(m, opsetVersion, protowire.VarintType)
		return protowire.AppendVarint(m, OpsetVersion)
	})
	out = appendMessage(out, modelGraph, func(g []byte) []byte {
		for i := range b.nodes {
			g = appendMessage(g, graphNode, b.nodes[i].append)
		}
		g = appendString(g, graphName, b.graphName)
		for i := range inits {
			g = appendMessage(g, graphInitializer, inits[i].append)
		}
		for i := range b.inputs {
			g = appendMessage(g, graphInput, b.inputs[i].append)
		}
		for i := range b.outputs {
			g = appendMessage(g, graphOutput, b.outputs[i].append)
		}
		return g
	})
	for _, kv := range b.metadata {
		out = appendMessage(out, modelMetadataProps, func(m []byte) []byte {
			m = appendString(m, entryKey, kv[0])
			return appendString(m, entryValue, kv[1])
		})
	}
	return out
}

// NumElements is the number of elements of a tensor of this shape (1 for a scalar).
func NumElements(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

func float32Bytes(data []float32) []byte {
	raw := make([]byte, 4*len(data))
	for i, f := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(f))
	}
	return raw
}
