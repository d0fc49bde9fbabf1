package policy

import (
	"errors"
	"fmt"
	"math"
	"time"

	"dysl_vla/skipping"
)

// NoAdapter asks Pass.Peek for the head on the hidden state as it is.
const NoAdapter = -1

// errPassEnded is returned by a Pass used after its inference returned.
var errPassEnded = errors.New("policy: pass used after its inference ended")

// Pass is one pass through the model that the caller steps itself instead of a skipping plan: for
// methods whose decisions a plan cannot express, such as early exit, which reads the head's chunk in
// the middle of the pass to decide whether to go on. It is valid only inside the function given to
// Engine.InferStepwise.
type Pass struct {
	e      *Engine
	timing *Timing
	stats  skipping.Stats
	// lastHead is the time of the last Peek's head run, the one whose chunk is the output.
	lastHead time.Duration
}

// RunLayer runs decoder layer j on the hidden state.
func (p *Pass) RunLayer(j int) error {
	if p.e == nil {
		return errPassEnded
	}
	t0 := p.e.Now()
	err := p.e.Backend.RunLayer(j)
	p.timing.Layers += p.e.Now().Sub(t0)
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	p.stats.LayersExecuted++
	return nil
}

// Peek returns the normalized chunk the head makes from the hidden state passed through the bundle's
// adapter j (NoAdapter: the hidden state as it is), and leaves the hidden state as it was, so the pass
// goes on from where it stood: a side exit. A non-finite value is an error.
func (p *Pass) Peek(adapter int) ([][]float64, error) {
	if p.e == nil {
		return nil, errPassEnded
	}
	e := p.e
	if adapter != NoAdapter {
		e.Backend.SaveHidden()
		t0 := e.Now()
		err := e.Backend.RunAdapter(adapter)
		p.timing.Adapters += e.Now().Sub(t0)
		if err != nil {
			e.Backend.RestoreHidden()
			return nil, fmt.Errorf("policy: %w", err)
		}
		p.stats.AdaptersRun++
	}
	t0 := e.Now()
	err := e.Backend.RunHead(e.head)
	p.lastHead = e.Now().Sub(t0)
	p.timing.Head += p.lastHead
	if adapter != NoAdapter {
		e.Backend.RestoreHidden()
	}
	if err != nil {
		return nil, fmt.Errorf("policy: head: %w", err)
	}
	return e.readChunk()
}

// InferStepwise runs the prefix on obs, then hands the pass to step, which runs layers and peeks at
// the head as it sees fit and returns the normalized chunk the inference gives (usually one that Peek
// returned). The skipping configuration and its episode state are neither read nor changed. The stats
// count the layers and adapters step ran (Strategy is zero: no plan decided), the timing is split as
// Infer splits it, with one difference: the head run of the last Peek makes the output (Head), and
// those of the Peeks before it decided whether to go on, the exit criterion's cost, booked as
// Controllers as a DySL controller's is, so that a backbone's time counts them. Like Infer, an error
// leaves the engine ready for the next observation.
func (e *Engine) InferStepwise(obs Observation, step func(p *Pass) ([][]float64, error)) (Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return Result{}, errors.New("policy: engine is closed")
	}
	start := e.Now()
	var timing Timing
	truncated, err := e.runPrefix(obs, &timing)
	if err != nil {
		return Result{}, err
	}

	p := &Pass{e: e, timing: &timing}
	chunk, err := step(p)
	p.e = nil
	timing.Controllers += timing.Head - p.lastHead
	timing.Head = p.lastHead
	if err != nil {
		return Result{}, err
	}
	if err := e.checkChunk(chunk); err != nil {
		return Result{}, fmt.Errorf("policy: the chunk of a stepwise pass: %w", err)
	}
	timing.Total = e.Now().Sub(start)
	e.sequence++
	L := e.Manifest.Dims.Layers
	stats := p.stats
	stats.Passes, stats.LayersTotal = 1, L
	stats.LayersSkipped = max(L-stats.LayersExecuted, 0)
	// A stepwise pass keeps no trajectory, so its continuity is undefined, as the machine's is before
	// it has seen N actions; a zero here would be published as a measured, perfectly smooth one.
	stats.Continuity, stats.ContinuityDelta = math.NaN(), math.NaN()
	return Result{
		Chunk: e.denormalize(chunk),
		Stats: Stats{Stats: stats, Sequence: e.sequence, Timing: timing, InstructionTruncated: truncated, ImageGain: e.frames.Gains()},
	}, nil
}
