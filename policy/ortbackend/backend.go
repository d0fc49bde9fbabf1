// Package ortbackend runs a bundle's graphs on ONNX Runtime: the policy.Backend the robot uses. It is the
// only package of the module that needs cgo and the ONNX Runtime library, besides the rclgo glue of the
// ROS 2 node; the engine (package policy) and everything above it build without either.
//
// Start an engine on it with policy.Open(dir, ortbackend.Opener(cfg), skippingConfig).
package ortbackend

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"slices"

	ort "github.com/yalue/onnxruntime_go"

	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
)

// Backend runs a bundle's graphs on ONNX Runtime. It implements policy.Backend.
//
// Every graph gets one session, created once. The hidden state lives in two preallocated tensors, and
// every graph that reads it has two IoBindings made at construction: one reading buffer 0, one reading
// buffer 1. A layer or adapter writes into the other buffer and flips which buffer is current, so
// running a layer neither allocates nor copies; a skipped layer simply does not flip. Controllers and
// the head read the current buffer and write their own preallocated outputs.
//
// On a GPU provider ORT copies a CPU input to the device when it is bound, not when the graph runs
// (onnxruntime#15438), so a binding made once would feed every run the values the tensor held at
// construction: on an H200 every variant returned one constant chunk. There the inputs are bound again
// before each run (rebindInputs), which is that copy; with it the CUDA provider's policy completed 13 of
// 20 closed-loop episodes where the CPU's completed 12 (docs/notes/gpu.md). On the CPU ORT reads the
// tensors in place.
//
// Outputs are always bound to preallocated tensors: onnxruntime_go v1.27.0 mis-sizes auto-allocated
// fp16 outputs, and IoBinding.GetBoundOutputNames panics with two or more outputs, so neither is used.
//
// A Backend is not safe for concurrent use.
type Backend struct {
	dims bundle.Dims

	// Inputs, outputs and the hidden state, all Go-backed tensors that ORT reads and writes in place.
	image         *ort.Tensor[float32] // [1, 3, H, W], shared by the prefix and the single graph
	tokens        *ort.Tensor[int64]   // [1, InstructionTokens], shared likewise
	state         *ort.Tensor[float32] // [1, StateDim], shared likewise; nil for a bundle without a state block
	hidden        [2]*ort.Tensor[float32]
	current       int       // index into hidden of the buffer that holds the hidden state
	saved         []float32 // SaveHidden's copy
	skipProb      *ort.Tensor[float32]
	headActions   *ort.Tensor[float32]
	singleActions *ort.Tensor[float32]

	prefix      *ortGraph
	layers      []*ortGraph
	adapters    []*ortGraph // indexed by layer; nil where the layer has no adapter
	controllers []*ortGraph // likewise
	head        *ortGraph
	single      *ortGraph // nil when the bundle has no single graph

	counts RunCounts

	rebindInputs bool // a GPU provider: bind the inputs again before every run (above)
}

var _ policy.Backend = (*Backend)(nil)

// ortGraph is one session and its prepared bindings.
type ortGraph struct {
	kind    policy.GraphKind
	layer   int    // -1 unless kind is per layer
	file    string // relative to the bundle directory
	session *ort.DynamicAdvancedSession
	// bindings[p] reads the hidden state from buffer p. Graphs that do not read the hidden state
	// (prefix, single graph) have only bindings[0].
	bindings [2]*ort.IoBinding
	inputs   [][]port // what bindings[p] reads, bound again before each run when rebind is set
	rebind   bool
}

// run executes the binding that reads buffer parity; errors name the graph.
func (g *ortGraph) run(parity int) error {
	if g.rebind {
		for _, in := range g.inputs[parity] {
			if err := g.bindings[parity].BindInput(in.name, in.value); err != nil {
				return g.fail(fmt.Errorf("binding input %s: %w", in.name, err))
			}
		}
	}
	if err := g.session.RunWithBinding(g.bindings[parity]); err != nil {
		return g.fail(err)
	}
	return nil
}

func (g *ortGraph) fail(err error) error {
	return &policy.GraphError{Kind: g.kind, Layer: g.layer, File: g.file, Err: err}
}

func (g *ortGraph) destroy() {
	for _, b := range g.bindings {
		if b != nil {
			b.Destroy()
		}
	}
	if g.session != nil {
		g.session.Destroy()
	}
}

// New loads every graph of the bundle in dir, described by m, into ONNX Runtime sessions,
// preallocates all tensors and bindings, and runs the warm-up. The first call in a process loads the
// ONNX Runtime library; later calls must name the same library.
func New(dir string, m *bundle.Manifest, cfg Config) (*Backend, error) {
	if m == nil {
		return nil, errors.New("ortbackend.New: manifest is nil")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ORT config: %w", err)
	}
	cfg = cfg.withDefaults(dir)
	if err := checkManifestForORT(m); err != nil {
		return nil, fmt.Errorf("bundle %s: %w", dir, err)
	}
	if err := initORTEnvironment(cfg.LibraryPath); err != nil {
		return nil, err
	}
	opts, err := newSessionOptions(cfg)
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()

	b := &Backend{dims: m.Dims, rebindInputs: cfg.Provider != ProviderCPU}
	if err := b.allocate(m); err != nil {
		b.Close()
		return nil, err
	}
	if err := b.openGraphs(dir, m, opts); err != nil {
		b.Close()
		return nil, err
	}
	if err := b.warmUp(cfg.WarmUpRuns); err != nil {
		b.Close()
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	return b, nil
}

// Opener returns the policy.BackendOpener that starts ONNX Runtime backends configured by cfg.
func Opener(cfg Config) policy.BackendOpener {
	return func(dir string, m *bundle.Manifest) (policy.Backend, error) {
		return New(dir, m, cfg)
	}
}

// checkManifestForORT checks what the backend relies on; bundle.Load validates the rest.
func checkManifestForORT(m *bundle.Manifest) error {
	d := m.Dims
	var errs []error
	for _, dim := range []struct {
		name  string
		value int
	}{
		{"dims.layers", d.Layers}, {"dims.hidden", d.Hidden}, {"dims.tokens", d.Tokens},
		{"dims.instruction_tokens", d.InstructionTokens}, {"dims.chunk", d.Chunk},
		{"dims.action_dim", d.ActionDim}, {"image.width", m.Image.Width}, {"image.height", m.Image.Height},
	} {
		if dim.value <= 0 {
			errs = append(errs, fmt.Errorf("%s (%d) must be > 0", dim.name, dim.value))
		}
	}
	if len(m.Files.Layers) != d.Layers {
		errs = append(errs, fmt.Errorf("files.layers has %d entries, expected dims.layers (%d)", len(m.Files.Layers), d.Layers))
	}
	if m.Files.Prefix == "" {
		errs = append(errs, errors.New("files.prefix is empty"))
	}
	if m.Files.Head == "" {
		errs = append(errs, errors.New("files.head is empty"))
	}
	for _, files := range []struct {
		name  string
		files map[int]string
	}{{"files.adapters", m.Files.Adapters}, {"files.controllers", m.Files.Controllers}} {
		for _, j := range slices.Sorted(maps.Keys(files.files)) {
			if j < 0 || j >= d.Layers {
				errs = append(errs, fmt.Errorf("%s has layer %d, expected 0..%d", files.name, j, d.Layers-1))
			}
		}
	}
	return errors.Join(errs...)
}

func (b *Backend) allocate(m *bundle.Manifest) error {
	d := m.Dims
	var err error
	if b.image, err = ort.NewEmptyTensor[float32](ort.NewShape(1, 3, int64(m.Image.Height), int64(m.Image.Width))); err != nil {
		return fmt.Errorf("allocating image tensor: %w", err)
	}
	if b.tokens, err = ort.NewEmptyTensor[int64](ort.NewShape(1, int64(d.InstructionTokens))); err != nil {
		return fmt.Errorf("allocating tokens tensor: %w", err)
	}
	if n := m.StateDim(); n > 0 {
		if b.state, err = ort.NewEmptyTensor[float32](ort.NewShape(1, int64(n))); err != nil {
			return fmt.Errorf("allocating state tensor: %w", err)
		}
	}
	hiddenShape := ort.NewShape(1, int64(d.Tokens), int64(d.Hidden))
	for i := range b.hidden {
		if b.hidden[i], err = ort.NewEmptyTensor[float32](hiddenShape); err != nil {
			return fmt.Errorf("allocating hidden state tensor: %w", err)
		}
	}
	b.saved = make([]float32, hiddenShape.FlattenedSize())
	if b.skipProb, err = ort.NewEmptyTensor[float32](ort.NewShape(1, 1)); err != nil {
		return fmt.Errorf("allocating skip probability tensor: %w", err)
	}
	actionsShape := ort.NewShape(1, int64(d.Chunk), int64(d.ActionDim))
	if b.headActions, err = ort.NewEmptyTensor[float32](actionsShape); err != nil {
		return fmt.Errorf("allocating actions tensor: %w", err)
	}
	if b.singleActions, err = ort.NewEmptyTensor[float32](actionsShape); err != nil {
		return fmt.Errorf("allocating actions tensor: %w", err)
	}
	return nil
}

// port is one bound input or output of a binding.
type port struct {
	name  string
	value ort.Value
}

// openGraph creates the session for file and one binding per entry of inputs/outputs (index = parity).
func (b *Backend) openGraph(dir, file string, kind policy.GraphKind, layer int, opts *ort.SessionOptions, inputs, outputs [][]port) (*ortGraph, error) {
	g := &ortGraph{kind: kind, layer: layer, file: file, inputs: inputs, rebind: b.rebindInputs}
	var err error
	if g.session, err = ort.NewDynamicAdvancedSession(filepath.Join(dir, file), nil, nil, opts); err != nil {
		return nil, g.fail(err)
	}
	for p := range inputs {
		if g.bindings[p], err = g.session.CreateIoBinding(); err != nil {
			g.destroy()
			return nil, g.fail(err)
		}
		for _, in := range inputs[p] {
			if err := g.bindings[p].BindInput(in.name, in.value); err != nil {
				g.destroy()
				return nil, g.fail(fmt.Errorf("binding input %s: %w", in.name, err))
			}
		}
		for _, out := range outputs[p] {
			if err := g.bindings[p].BindOutput(out.name, out.value); err != nil {
				g.destroy()
				return nil, g.fail(fmt.Errorf("binding output %s: %w", out.name, err))
			}
		}
	}
	return g, nil
}

func (b *Backend) openGraphs(dir string, m *bundle.Manifest, opts *ort.SessionOptions) error {
	observation := []port{{bundle.InputImage, b.image}, {bundle.InputTokens, b.tokens}}
	if b.state != nil {
		// Bound only when the manifest declares it: ORT refuses an input the graph does not have.
		observation = append(observation, port{bundle.InputState, b.state})
	}
	readHidden := [][]port{{{bundle.InputHidden, b.hidden[0]}}, {{bundle.InputHidden, b.hidden[1]}}}
	// Layers and adapters write the buffer they do not read.
	writeOtherHidden := [][]port{{{bundle.OutputHidden, b.hidden[1]}}, {{bundle.OutputHidden, b.hidden[0]}}}
	writeBoth := func(name string, v ort.Value) [][]port { return [][]port{{{name, v}}, {{name, v}}} }

	var err error
	if b.prefix, err = b.openGraph(dir, m.Files.Prefix, policy.GraphPrefix, -1, opts,
		[][]port{observation}, [][]port{{{bundle.OutputHidden, b.hidden[0]}}}); err != nil {
		return err
	}
	b.layers = make([]*ortGraph, m.Dims.Layers)
	b.adapters = make([]*ortGraph, m.Dims.Layers)
	b.controllers = make([]*ortGraph, m.Dims.Layers)
	for j, file := range m.Files.Layers {
		if b.layers[j], err = b.openGraph(dir, file, policy.GraphLayer, j, opts, readHidden, writeOtherHidden); err != nil {
			return err
		}
	}
	// In layer order, not map order, so the first broken file reported is always the same one.
	for j := range m.Dims.Layers {
		if file, ok := m.Files.Adapters[j]; ok {
			if b.adapters[j], err = b.openGraph(dir, file, policy.GraphAdapter, j, opts, readHidden, writeOtherHidden); err != nil {
				return err
			}
		}
		if file, ok := m.Files.Controllers[j]; ok {
			if b.controllers[j], err = b.openGraph(dir, file, policy.GraphController, j, opts,
				readHidden, writeBoth(bundle.OutputSkipProb, b.skipProb)); err != nil {
				return err
			}
		}
	}
	if b.head, err = b.openGraph(dir, m.Files.Head, policy.GraphHead, -1, opts,
		readHidden, writeBoth(bundle.OutputActions, b.headActions)); err != nil {
		return err
	}
	if m.Files.Full != "" {
		if b.single, err = b.openGraph(dir, m.Files.Full, policy.GraphSingle, -1, opts,
			[][]port{observation}, [][]port{{{bundle.OutputActions, b.singleActions}}}); err != nil {
			return err
		}
	}
	return nil
}

// warmUp runs every graph once per round on the fixed non-zero observation of setPattern, then
// forgets the runs. The first round also looks at what each graph wrote (checkWarmUpOutputs): a graph
// that gives NaN, or a controller that gives no probability, is refused here, at start, rather than
// started and then failing, or skipping at random, on every frame. Reading outputs the runs wrote
// anyway costs a pass over a few hidden states; no graph runs for it.
func (b *Backend) warmUp(rounds int) error {
	for round := range max(rounds, 0) {
		b.setPattern(1)
		// Every per-layer graph reads buffer 0, which holds the prefix output: each graph gets a
		// well-formed input, and the order does not matter.
		graphs := []*ortGraph{b.prefix}
		graphs = append(graphs, b.layers...)
		graphs = append(graphs, b.adapters...)
		graphs = append(graphs, b.controllers...)
		graphs = append(graphs, b.head, b.single)
		var bad []error
		for _, g := range graphs {
			if g == nil {
				continue
			}
			if err := g.run(0); err != nil {
				return err
			}
			if round == 0 {
				if err := b.checkWarmUpOutput(g); err != nil {
					bad = append(bad, err)
				}
			}
		}
		if len(bad) > 0 {
			return errors.Join(bad...)
		}
	}
	if err := b.checkInputsReachThePrefix(); err != nil {
		return err
	}
	b.counts = RunCounts{}
	b.current = 0
	for _, h := range b.hidden {
		h.ZeroContents()
	}
	return nil
}

// checkWarmUpOutput checks what g wrote in the warm-up, where every graph that reads the hidden state
// read buffer 0: hidden states and actions finite, a skip probability within [0, 1].
func (b *Backend) checkWarmUpOutput(g *ortGraph) error {
	var name string
	var values []float32
	switch g.kind {
	case policy.GraphPrefix:
		name, values = bundle.OutputHidden, b.hidden[0].GetData()
	case policy.GraphLayer, policy.GraphAdapter:
		name, values = bundle.OutputHidden, b.hidden[1].GetData()
	case policy.GraphHead:
		name, values = bundle.OutputActions, b.headActions.GetData()
	case policy.GraphSingle:
		name, values = bundle.OutputActions, b.singleActions.GetData()
	case policy.GraphController:
		if p := b.skipProb.GetData()[0]; !(p >= 0 && p <= 1) {
			return g.fail(fmt.Errorf("output %s is %g on the warm-up observation, expected a probability in [0, 1]: "+
				"a controller must end in a sigmoid (a logit is read against the skip threshold as it is)", bundle.OutputSkipProb, p))
		}
		return nil
	}
	if n, first := nonFinite(values); n > 0 {
		return g.fail(fmt.Errorf("output %s has %d of %d values not finite (value %d is %g) on the warm-up observation: "+
			"every frame would give a non-finite chunk", name, n, len(values), first, values[first]))
	}
	return nil
}

// nonFinite counts the NaN and ±Inf in values and gives the index of the first.
func nonFinite(values []float32) (n, first int) {
	first = -1
	for i, v := range values {
		if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
			if n == 0 {
				first = i
			}
			n++
		}
	}
	return n, first
}

// checkInputsReachThePrefix runs the prefix on two different observations and fails when they give
// the same hidden state: an execution provider that does not see what the backend writes into its
// input tensors (the constant chunks of docs/notes/gpu.md) is refused at start instead of serving one
// chunk for every frame.
func (b *Backend) checkInputsReachThePrefix() error {
	b.setPattern(0)
	if err := b.prefix.run(0); err != nil {
		return err
	}
	first := slices.Clone(b.hidden[0].GetData())
	b.setPattern(1)
	defer b.setPattern(0)
	if err := b.prefix.run(0); err != nil {
		return err
	}
	if slices.Equal(first, b.hidden[0].GetData()) {
		return b.prefix.fail(errors.New("two different observations gave the same hidden state: " +
			"the execution provider does not see the inputs the backend writes"))
	}
	return nil
}

// setPattern fills the observation tensors: zeros for 0, a fixed non-zero pattern otherwise (token
// ids 1 to 7, which every vocabulary here holds).
func (b *Backend) setPattern(p int) {
	image := b.image.GetData()
	for i := range image {
		image[i] = float32(p * (i%5 - 2))
	}
	tokens := b.tokens.GetData()
	for i := range tokens {
		tokens[i] = int64(p * (i%7 + 1))
	}
	if b.state != nil {
		for i, state := 0, b.state.GetData(); i < len(state); i++ {
			state[i] = float32(p)
		}
	}
}

// errClosed is returned by calls after Close.
var errClosed = errors.New("ORT backend used after Close")

// RunPrefix implements policy.Backend.
func (b *Backend) RunPrefix(image []float32, tokens []int64, state []float32) error {
	if b.prefix == nil {
		return errClosed
	}
	if err := b.setObservation(image, tokens, state); err != nil {
		return fmt.Errorf("RunPrefix: %w", err)
	}
	if err := b.prefix.run(0); err != nil {
		return err
	}
	b.current = 0
	b.counts.Prefix++
	return nil
}

func (b *Backend) setObservation(image []float32, tokens []int64, state []float32) error {
	if want := b.image.GetData(); len(image) != len(want) {
		return fmt.Errorf("image has %d values, expected %d (1x3x%v)", len(image), len(want), b.image.GetShape()[2:])
	}
	if want := b.tokens.GetData(); len(tokens) != len(want) {
		return fmt.Errorf("tokens has %d values, expected %d (dims.instruction_tokens)", len(tokens), len(want))
	}
	// A state given to a stateless bundle is refused too: the caller believes the model reads it.
	if want := b.stateLen(); len(state) != want {
		return fmt.Errorf("state has %d values, expected %d (the manifest's state.names)", len(state), want)
	}
	copy(b.image.GetData(), image)
	copy(b.tokens.GetData(), tokens)
	if b.state != nil {
		copy(b.state.GetData(), state)
	}
	return nil
}

func (b *Backend) stateLen() int {
	if b.state == nil {
		return 0
	}
	return len(b.state.GetData())
}

// perLayerGraph returns graphs[j] or an error naming what is missing.
func perLayerGraph(graphs []*ortGraph, kind policy.GraphKind, j int) (*ortGraph, error) {
	if graphs == nil {
		return nil, errClosed
	}
	if j < 0 || j >= len(graphs) {
		return nil, fmt.Errorf("%s %d: layer index out of range 0..%d", kind, j, len(graphs)-1)
	}
	if graphs[j] == nil {
		return nil, fmt.Errorf("%s %d: the bundle has no %s for this layer", kind, j, kind)
	}
	return graphs[j], nil
}

// RunLayer implements policy.Backend.
func (b *Backend) RunLayer(j int) error {
	g, err := perLayerGraph(b.layers, policy.GraphLayer, j)
	if err != nil {
		return err
	}
	if err := g.run(b.current); err != nil {
		return err
	}
	b.current ^= 1
	b.counts.Layer++
	return nil
}

// RunAdapter implements policy.Backend.
func (b *Backend) RunAdapter(j int) error {
	g, err := perLayerGraph(b.adapters, policy.GraphAdapter, j)
	if err != nil {
		return err
	}
	if err := g.run(b.current); err != nil {
		return err
	}
	b.current ^= 1
	b.counts.Adapter++
	return nil
}

// RunController implements policy.Backend.
func (b *Backend) RunController(j int) (float32, error) {
	g, err := perLayerGraph(b.controllers, policy.GraphController, j)
	if err != nil {
		return 0, err
	}
	if err := g.run(b.current); err != nil {
		return 0, err
	}
	b.counts.Controller++
	return b.skipProb.GetData()[0], nil
}

// RunHead implements policy.Backend.
func (b *Backend) RunHead(out []float32) error {
	if b.head == nil {
		return errClosed
	}
	if want := len(b.headActions.GetData()); len(out) != want {
		return fmt.Errorf("RunHead: out has %d values, expected %d (chunk %d x action_dim %d)",
			len(out), want, b.dims.Chunk, b.dims.ActionDim)
	}
	if err := b.head.run(b.current); err != nil {
		return err
	}
	copy(out, b.headActions.GetData())
	b.counts.Head++
	return nil
}

// RunSingleGraph implements policy.Backend.
func (b *Backend) RunSingleGraph(image []float32, tokens []int64, state []float32, out []float32) error {
	if b.head == nil {
		return errClosed
	}
	if b.single == nil {
		return errors.New("RunSingleGraph: the bundle has no single graph (files.full is empty)")
	}
	if want := len(b.singleActions.GetData()); len(out) != want {
		return fmt.Errorf("RunSingleGraph: out has %d values, expected %d (chunk %d x action_dim %d)",
			len(out), want, b.dims.Chunk, b.dims.ActionDim)
	}
	if err := b.setObservation(image, tokens, state); err != nil {
		return fmt.Errorf("RunSingleGraph: %w", err)
	}
	if err := b.single.run(0); err != nil {
		return err
	}
	copy(out, b.singleActions.GetData())
	b.counts.SingleGraph++
	return nil
}

// SaveHidden implements policy.Backend; after Close it does nothing.
func (b *Backend) SaveHidden() {
	if h := b.hidden[b.current]; h != nil {
		copy(b.saved, h.GetData())
	}
}

// RestoreHidden implements policy.Backend; after Close it does nothing.
func (b *Backend) RestoreHidden() {
	if h := b.hidden[b.current]; h != nil {
		copy(h.GetData(), b.saved)
	}
}

// RunCounts counts graph runs by kind since the backend was created (warm-up excluded).
type RunCounts struct {
	Prefix      int
	Layer       int
	Adapter     int
	Controller  int
	Head        int
	SingleGraph int
}

// RunCounts returns how many times each kind of graph ran since construction, warm-up excluded.
func (b *Backend) RunCounts() RunCounts { return b.counts }

// Close implements policy.Backend. It releases sessions, bindings and tensors; a second call does nothing.
// The process-wide ONNX Runtime environment stays loaded for other backends.
func (b *Backend) Close() error {
	for _, g := range b.graphs() {
		g.destroy()
	}
	b.prefix, b.head, b.single, b.layers, b.adapters, b.controllers = nil, nil, nil, nil, nil, nil
	var errs []error
	for _, t := range []*ort.Tensor[float32]{b.image, b.state, b.hidden[0], b.hidden[1], b.skipProb, b.headActions, b.singleActions} {
		if t != nil {
			errs = append(errs, t.Destroy())
		}
	}
	if b.tokens != nil {
		errs = append(errs, b.tokens.Destroy())
	}
	b.image, b.state, b.tokens, b.hidden, b.skipProb, b.headActions, b.singleActions = nil, nil, nil, [2]*ort.Tensor[float32]{}, nil, nil, nil
	return errors.Join(errs...)
}

// graphs are the backend's open graphs.
func (b *Backend) graphs() []*ortGraph {
	all := []*ortGraph{b.prefix, b.head, b.single}
	all = append(all, b.layers...)
	all = append(all, b.adapters...)
	all = append(all, b.controllers...)
	return slices.DeleteFunc(all, func(g *ortGraph) bool { return g == nil })
}
