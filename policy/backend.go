package policy

import "dysl_vla/policy/bundle"

// Backend executes a bundle's graphs. It owns the hidden state of the inference in progress (on ONNX
// Runtime: two preallocated tensors used ping-pong, so running a layer never allocates), and it is the
// only thing in the engine that touches a runtime. Implementations: the ONNX Runtime backend
// (policy/ortbackend), and fakes and fault injectors in policy/policytest.
//
// A Backend is not safe for concurrent use; the Engine serializes calls.
type Backend interface {
	// RunPrefix sets hidden := prefix(image, tokens, state). image is [1,3,H,W] normalized, tokens
	// [1,T_instr], state the normalized robot state [1,StateDim] for a bundle with a state block and
	// empty otherwise.
	RunPrefix(image []float32, tokens []int64, state []float32) error
	// RunLayer sets hidden := layer_j(hidden).
	RunLayer(j int) error
	// RunAdapter sets hidden := adapter_j(hidden), the estimate of the next static layer's input.
	RunAdapter(j int) error
	// RunController returns controller_j(hidden), a skip probability; hidden is unchanged.
	RunController(j int) (float32, error)
	// RunHead writes head(hidden), the normalized chunk (K*A values, row-major), into out.
	RunHead(out []float32) error
	// RunSingleGraph runs the whole model as one graph: out := full(image, tokens, state), the inputs as
	// for RunPrefix (state nil for a stateless bundle). It does not touch the hidden state.
	RunSingleGraph(image []float32, tokens []int64, state []float32, out []float32) error
	// SaveHidden copies the hidden state aside; RestoreHidden puts it back. The engine uses them to
	// re-run an observation from the prefix output without running the prefix again.
	SaveHidden()
	RestoreHidden()
	// Close releases sessions and tensors.
	Close() error
}

// BackendOpener starts a Backend on the graphs of the bundle in dir, described by m. m may differ from
// the manifest on disk (a caller that swaps in graphs of its own edits a copy); the Backend reads the
// files m names, relative to dir. ortbackend.Opener makes the ONNX Runtime one.
type BackendOpener func(dir string, m *bundle.Manifest) (Backend, error)
