package policytest

import (
	"fmt"

	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
)

// Fake is a pure-Go Backend whose results are simple enough to predict in a test:
//
//	prefix:       hidden[i] = mean(image) + sum(state) + i   (tokens are only checked for length)
//	layer j:      hidden[i] += LayerDelta(j)
//	adapter j:    hidden[i] += AdapterJump[j]            (0 when unset)
//	controller j: returns SkipProb[j]                    (0 when unset); hidden is unchanged
//	head:         out[k] = hidden[k mod Hidden]
//	single graph: the head after the prefix and every layer, without touching the hidden state
//
// So after a frame, out[0] - mean(image) - sum(state) is the sum of the deltas of the layers and jumps
// of the adapters that ran. The state a prefix or single graph received is kept (LastState), so a test
// can check what the engine made of an observation's robot state. Set the exported fields before use;
// Fake is not safe for concurrent use.
type Fake struct {
	Layers    int // number of layers L
	Hidden    int // length of the hidden vector
	ImageLen  int // values RunPrefix and RunSingleGraph expect in image
	TokensLen int // values they expect in tokens
	StateLen  int // values they expect in state: 0 for a bundle without a state block
	ChunkLen  int // values RunHead and RunSingleGraph write (chunk x action_dim)
	// SkipProb[j] is what controller j returns.
	SkipProb []float32
	// AdapterJump[j] is what adapter j adds to every hidden value. A test that wants adapters to be
	// exact sets AdapterJump[j] to the sum of LayerDelta over the layers the adapter stands in for.
	AdapterJump []float32

	hidden    []float32
	saved     []float32
	lastState []float32
	closed    bool
}

var _ policy.Backend = (*Fake)(nil)

// NewFake sizes a Fake from a manifest's dimensions. SkipProb and AdapterJump start at zero for every
// layer.
func NewFake(m *bundle.Manifest) *Fake {
	d := m.Dims
	return &Fake{
		Layers:      d.Layers,
		Hidden:      d.Hidden,
		ImageLen:    3 * m.Image.Width * m.Image.Height,
		TokensLen:   d.InstructionTokens,
		StateLen:    m.StateDim(),
		ChunkLen:    d.Chunk * d.ActionDim,
		SkipProb:    make([]float32, d.Layers),
		AdapterJump: make([]float32, d.Layers),
	}
}

// LayerDelta is what the Fake's layer j adds to every hidden value: j+1, so every layer counts.
func LayerDelta(j int) float32 { return float32(j + 1) }

// HiddenState returns a copy of the current hidden vector (nil before the first prefix).
func (f *Fake) HiddenState() []float32 { return append([]float32(nil), f.hidden...) }

// LastState returns a copy of the state the last successful RunPrefix or RunSingleGraph received (nil
// before the first, and for an empty state).
func (f *Fake) LastState() []float32 {
	if len(f.lastState) == 0 {
		return nil
	}
	return append([]float32(nil), f.lastState...)
}

func (f *Fake) checkOpen() error {
	if f.closed {
		return fmt.Errorf("policytest.Fake: used after Close")
	}
	return nil
}

func (f *Fake) checkObservation(image []float32, tokens []int64, state []float32) error {
	if len(image) != f.ImageLen {
		return fmt.Errorf("policytest.Fake: image has %d values, expected %d", len(image), f.ImageLen)
	}
	if len(tokens) != f.TokensLen {
		return fmt.Errorf("policytest.Fake: tokens has %d values, expected %d", len(tokens), f.TokensLen)
	}
	if len(state) != f.StateLen {
		return fmt.Errorf("policytest.Fake: state has %d values, expected %d", len(state), f.StateLen)
	}
	f.lastState = append(f.lastState[:0], state...)
	return nil
}

func (f *Fake) checkLayer(kind policy.GraphKind, j int) error {
	if err := f.checkOpen(); err != nil {
		return err
	}
	if j < 0 || j >= f.Layers {
		return fmt.Errorf("policytest.Fake: %s %d: layer index out of range 0..%d", kind, j, f.Layers-1)
	}
	if f.hidden == nil {
		return fmt.Errorf("policytest.Fake: %s %d before RunPrefix", kind, j)
	}
	return nil
}

func (f *Fake) prefix(image, state, hidden []float32) {
	var sum float32
	for _, v := range image {
		sum += v
	}
	base := sum / float32(max(len(image), 1))
	for _, v := range state {
		base += v
	}
	for i := range hidden {
		hidden[i] = base + float32(i)
	}
}

// RunPrefix implements policy.Backend.
func (f *Fake) RunPrefix(image []float32, tokens []int64, state []float32) error {
	if err := f.checkOpen(); err != nil {
		return err
	}
	if err := f.checkObservation(image, tokens, state); err != nil {
		return err
	}
	if len(f.hidden) != f.Hidden {
		f.hidden = make([]float32, f.Hidden)
	}
	f.prefix(image, state, f.hidden)
	return nil
}

func add(hidden []float32, delta float32) {
	for i := range hidden {
		hidden[i] += delta
	}
}

// RunLayer implements policy.Backend.
func (f *Fake) RunLayer(j int) error {
	if err := f.checkLayer(policy.GraphLayer, j); err != nil {
		return err
	}
	add(f.hidden, LayerDelta(j))
	return nil
}

// RunAdapter implements policy.Backend.
func (f *Fake) RunAdapter(j int) error {
	if err := f.checkLayer(policy.GraphAdapter, j); err != nil {
		return err
	}
	if j < len(f.AdapterJump) {
		add(f.hidden, f.AdapterJump[j])
	}
	return nil
}

// RunController implements policy.Backend.
func (f *Fake) RunController(j int) (float32, error) {
	if err := f.checkLayer(policy.GraphController, j); err != nil {
		return 0, err
	}
	if j < len(f.SkipProb) {
		return f.SkipProb[j], nil
	}
	return 0, nil
}

func (f *Fake) head(hidden, out []float32) error {
	if len(out) != f.ChunkLen {
		return fmt.Errorf("policytest.Fake: out has %d values, expected %d", len(out), f.ChunkLen)
	}
	if len(hidden) == 0 {
		return fmt.Errorf("policytest.Fake: head before RunPrefix")
	}
	for k := range out {
		out[k] = hidden[k%len(hidden)]
	}
	return nil
}

// RunHead implements policy.Backend.
func (f *Fake) RunHead(out []float32) error {
	if err := f.checkOpen(); err != nil {
		return err
	}
	return f.head(f.hidden, out)
}

// RunSingleGraph implements policy.Backend.
func (f *Fake) RunSingleGraph(image []float32, tokens []int64, state []float32, out []float32) error {
	if err := f.checkOpen(); err != nil {
		return err
	}
	if err := f.checkObservation(image, tokens, state); err != nil {
		return err
	}
	hidden := make([]float32, f.Hidden)
	f.prefix(image, state, hidden)
	for j := range f.Layers {
		add(hidden, LayerDelta(j))
	}
	return f.head(hidden, out)
}

// SaveHidden implements policy.Backend.
func (f *Fake) SaveHidden() { f.saved = append(f.saved[:0], f.hidden...) }

// RestoreHidden implements policy.Backend.
func (f *Fake) RestoreHidden() { f.hidden = append(f.hidden[:0], f.saved...) }

// Close implements policy.Backend; any later call fails.
func (f *Fake) Close() error {
	f.closed = true
	return nil
}
