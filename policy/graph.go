package policy

import "fmt"

// GraphKind is the role of one graph of a bundle. Backends count runs and name failures by it.
type GraphKind int

// The graph kinds, in the order a frame meets them.
const (
	GraphPrefix     GraphKind = 1 + iota // image, tokens (, state) -> hidden
	GraphLayer                           // hidden -> hidden, one per decoder layer
	GraphAdapter                         // hidden -> estimate of the next static layer's input
	GraphController                      // hidden -> skip probability
	GraphHead                            // hidden -> normalized action chunk
	GraphSingle                          // image, tokens (, state) -> action chunk: the whole model in one graph
)

func (k GraphKind) String() string {
	switch k {
	case GraphPrefix:
		return "prefix"
	case GraphLayer:
		return "layer"
	case GraphAdapter:
		return "adapter"
	case GraphController:
		return "controller"
	case GraphHead:
		return "head"
	case GraphSingle:
		return "single graph"
	}
	return fmt.Sprintf("GraphKind(%d)", int(k))
}

// perLayer reports whether graphs of this kind exist once per layer index.
func (k GraphKind) perLayer() bool {
	return k == GraphLayer || k == GraphAdapter || k == GraphController
}

// GraphError is a failure to load or run one graph of a bundle. Its message names the graph, its layer
// and its file, e.g. "layer 5 (layer_05.onnx): ...". Use errors.As to learn which graph failed.
type GraphError struct {
	Kind  GraphKind
	Layer int    // layer index for layers, adapters and controllers; -1 otherwise
	File  string // path of the ONNX file, relative to the bundle directory
	Err   error
}

func (e *GraphError) Error() string {
	if e.Kind.perLayer() {
		return fmt.Sprintf("%s %d (%s): %v", e.Kind, e.Layer, e.File, e.Err)
	}
	return fmt.Sprintf("%s (%s): %v", e.Kind, e.File, e.Err)
}

func (e *GraphError) Unwrap() error { return e.Err }
