package policytest

import (
	"fmt"
	"strings"

	"dysl_vla/policy"
)

// Op is one kind of Backend call.
type Op int

// The Backend's methods, Close excepted.
const (
	OpPrefix Op = 1 + iota
	OpLayer
	OpAdapter
	OpController
	OpHead
	OpSingleGraph
	OpSaveHidden
	OpRestoreHidden
)

func (o Op) String() string {
	switch o {
	case OpPrefix:
		return "prefix"
	case OpLayer:
		return "layer"
	case OpAdapter:
		return "adapter"
	case OpController:
		return "controller"
	case OpHead:
		return "head"
	case OpSingleGraph:
		return "single"
	case OpSaveHidden:
		return "save"
	case OpRestoreHidden:
		return "restore"
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// perLayer reports whether calls of this kind take a layer index.
func (o Op) perLayer() bool { return o == OpLayer || o == OpAdapter || o == OpController }

// GraphKind is the graph an Op runs, 0 for SaveHidden and RestoreHidden.
func (o Op) GraphKind() policy.GraphKind {
	switch o {
	case OpPrefix:
		return policy.GraphPrefix
	case OpLayer:
		return policy.GraphLayer
	case OpAdapter:
		return policy.GraphAdapter
	case OpController:
		return policy.GraphController
	case OpHead:
		return policy.GraphHead
	case OpSingleGraph:
		return policy.GraphSingle
	}
	return 0
}

// NoLayer is Call.Layer for calls that take no layer index.
const NoLayer = -1

// Call is one recorded Backend call.
type Call struct {
	Op    Op
	Layer int // NoLayer unless Op is OpLayer, OpAdapter or OpController
}

// String is "layer 5", "controller 3", "prefix"...
func (c Call) String() string {
	if c.Op.perLayer() {
		return fmt.Sprintf("%s %d", c.Op, c.Layer)
	}
	return c.Op.String()
}

// Counting wraps a Backend and records every call, made or failed, in order. It is not safe for
// concurrent use (neither is any Backend).
type Counting struct {
	policy.Backend
	calls []Call
}

// NewCounting wraps b.
func NewCounting(b policy.Backend) *Counting { return &Counting{Backend: b} }

// Calls returns the recorded calls in order.
func (c *Counting) Calls() []Call { return append([]Call(nil), c.calls...) }

// Sequence is the recorded calls joined by ", ", e.g. "prefix, layer 0, controller 1, adapter 1, head";
// a readable thing to compare in a test.
func (c *Counting) Sequence() string {
	parts := make([]string, len(c.calls))
	for i, call := range c.calls {
		parts[i] = call.String()
	}
	return strings.Join(parts, ", ")
}

// Count is the number of calls of op, any layer.
func (c *Counting) Count(op Op) int {
	n := 0
	for _, call := range c.calls {
		if call.Op == op {
			n++
		}
	}
	return n
}

// CountLayer is the number of calls of op for layer j.
func (c *Counting) CountLayer(op Op, j int) int {
	n := 0
	for _, call := range c.calls {
		if call.Op == op && call.Layer == j {
			n++
		}
	}
	return n
}

// LayersRun lists the layer indices passed to op, in call order (repeats kept).
func (c *Counting) LayersRun(op Op) []int {
	var layers []int
	for _, call := range c.calls {
		if call.Op == op {
			layers = append(layers, call.Layer)
		}
	}
	return layers
}

// Reset forgets the recorded calls, e.g. between frames.
func (c *Counting) Reset() { c.calls = c.calls[:0] }

func (c *Counting) record(op Op, layer int) { c.calls = append(c.calls, Call{Op: op, Layer: layer}) }

// RunPrefix implements policy.Backend.
func (c *Counting) RunPrefix(image []float32, tokens []int64, state []float32) error {
	c.record(OpPrefix, NoLayer)
	return c.Backend.RunPrefix(image, tokens, state)
}

// RunLayer implements policy.Backend.
func (c *Counting) RunLayer(j int) error {
	c.record(OpLayer, j)
	return c.Backend.RunLayer(j)
}

// RunAdapter implements policy.Backend.
func (c *Counting) RunAdapter(j int) error {
	c.record(OpAdapter, j)
	return c.Backend.RunAdapter(j)
}

// RunController implements policy.Backend.
func (c *Counting) RunController(j int) (float32, error) {
	c.record(OpController, j)
	return c.Backend.RunController(j)
}

// RunHead implements policy.Backend.
func (c *Counting) RunHead(out []float32) error {
	c.record(OpHead, NoLayer)
	return c.Backend.RunHead(out)
}

// RunSingleGraph implements policy.Backend.
func (c *Counting) RunSingleGraph(image []float32, tokens []int64, state []float32, out []float32) error {
	c.record(OpSingleGraph, NoLayer)
	return c.Backend.RunSingleGraph(image, tokens, state, out)
}

// SaveHidden implements policy.Backend.
func (c *Counting) SaveHidden() {
	c.record(OpSaveHidden, NoLayer)
	c.Backend.SaveHidden()
}

// RestoreHidden implements policy.Backend.
func (c *Counting) RestoreHidden() {
	c.record(OpRestoreHidden, NoLayer)
	c.Backend.RestoreHidden()
}
