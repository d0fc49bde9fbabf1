package policytest

import (
	"errors"
	"math"
	"time"

	"dysl_vla/policy"
)

// ErrInjected is the cause of every error a Faulty returns; errors.Is finds it through the
// *policy.GraphError it is wrapped in.
var ErrInjected = errors.New("injected fault")

// AnyLayer makes a Fault match every layer index.
const AnyLayer = -2

// FaultyFile is the GraphError.File of injected errors.
const FaultyFile = "policytest.Faulty"

// Fault says which calls misbehave and how. A call matches when its Op is Op and, for per-layer ops,
// its layer is Layer or Layer is AnyLayer.
type Fault struct {
	Op    Op
	Layer int
	// Skip lets this many matching calls through before the fault applies; Times is how many matching
	// calls it then applies to, 0 meaning all of them.
	Skip, Times int
	// Delay is waited (through Faulty.Sleep) before the call is made or refused.
	Delay time.Duration
	// Err, when set, is returned instead of making the call, wrapped in a *policy.GraphError that names
	// the graph. SaveHidden and RestoreHidden cannot fail, so Err is ignored for them.
	Err error
	// NaN makes the call, then overwrites its result with NaN: the chunk of RunHead or RunSingleGraph, or
	// RunController's probability.
	NaN bool
}

// FailAtLayer makes every run of layer j fail.
func FailAtLayer(j int) Fault { return Fault{Op: OpLayer, Layer: j, Err: ErrInjected} }

// FailAtPrefix makes every prefix run fail.
func FailAtPrefix() Fault { return Fault{Op: OpPrefix, Err: ErrInjected} }

// NaNFromHead makes every head run return a chunk of NaN.
func NaNFromHead() Fault { return Fault{Op: OpHead, NaN: true} }

// Slow makes every call of op (any layer) take d longer.
func Slow(op Op, d time.Duration) Fault { return Fault{Op: op, Layer: AnyLayer, Delay: d} }

// Faulty wraps a Backend and injects Faults into its calls.
type Faulty struct {
	policy.Backend
	Faults []Fault
	// Sleep waits out delays. It defaults to time.Sleep; a test with a simulated clock replaces it.
	Sleep func(time.Duration)

	matched []int // per fault, matching calls seen so far
}

// NewFaulty wraps b with the given faults.
func NewFaulty(b policy.Backend, faults ...Fault) *Faulty {
	return &Faulty{Backend: b, Faults: faults, Sleep: time.Sleep}
}

// inject applies the faults matching a call: it waits their delays and returns whether to NaN the
// output and the error to return instead of calling.
func (f *Faulty) inject(op Op, layer int) (nan bool, err error) {
	if len(f.matched) != len(f.Faults) {
		f.matched = append(f.matched, make([]int, len(f.Faults)-len(f.matched))...)
	}
	for i, fault := range f.Faults {
		if fault.Op != op || (op.perLayer() && fault.Layer != AnyLayer && fault.Layer != layer) {
			continue
		}
		f.matched[i]++
		n := f.matched[i] - fault.Skip
		if n <= 0 || (fault.Times > 0 && n > fault.Times) {
			continue
		}
		if fault.Delay > 0 {
			f.Sleep(fault.Delay)
		}
		if fault.NaN {
			nan = true
		}
		if fault.Err != nil && err == nil {
			if !op.perLayer() {
				layer = -1
			}
			err = &policy.GraphError{Kind: op.GraphKind(), Layer: layer, File: FaultyFile, Err: fault.Err}
		}
	}
	return nan, err
}

func fillNaN(out []float32) {
	for i := range out {
		out[i] = float32(math.NaN())
	}
}

// RunPrefix implements policy.Backend.
func (f *Faulty) RunPrefix(image []float32, tokens []int64, state []float32) error {
	if _, err := f.inject(OpPrefix, NoLayer); err != nil {
		return err
	}
	return f.Backend.RunPrefix(image, tokens, state)
}

// RunLayer implements policy.Backend.
func (f *Faulty) RunLayer(j int) error {
	if _, err := f.inject(OpLayer, j); err != nil {
		return err
	}
	return f.Backend.RunLayer(j)
}

// RunAdapter implements policy.Backend.
func (f *Faulty) RunAdapter(j int) error {
	if _, err := f.inject(OpAdapter, j); err != nil {
		return err
	}
	return f.Backend.RunAdapter(j)
}

// RunController implements policy.Backend.
func (f *Faulty) RunController(j int) (float32, error) {
	nan, err := f.inject(OpController, j)
	if err != nil {
		return 0, err
	}
	p, err := f.Backend.RunController(j)
	if err == nil && nan {
		p = float32(math.NaN())
	}
	return p, err
}

// RunHead implements policy.Backend.
func (f *Faulty) RunHead(out []float32) error {
	nan, err := f.inject(OpHead, NoLayer)
	if err != nil {
		return err
	}
	if err := f.Backend.RunHead(out); err != nil {
		return err
	}
	if nan {
		fillNaN(out)
	}
	return nil
}

// RunSingleGraph implements policy.Backend.
func (f *Faulty) RunSingleGraph(image []float32, tokens []int64, state []float32, out []float32) error {
	nan, err := f.inject(OpSingleGraph, NoLayer)
	if err != nil {
		return err
	}
	if err := f.Backend.RunSingleGraph(image, tokens, state, out); err != nil {
		return err
	}
	if nan {
		fillNaN(out)
	}
	return nil
}

// SaveHidden implements policy.Backend; only delays apply.
func (f *Faulty) SaveHidden() {
	_, _ = f.inject(OpSaveHidden, NoLayer)
	f.Backend.SaveHidden()
}

// RestoreHidden implements policy.Backend; only delays apply.
func (f *Faulty) RestoreHidden() {
	_, _ = f.inject(OpRestoreHidden, NoLayer)
	f.Backend.RestoreHidden()
}
