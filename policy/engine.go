package policy

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"dysl_vla/policy/bundle"
	"dysl_vla/policy/modelinput"
	"dysl_vla/skipping"
)

// Observation is one input of the policy: a camera frame, the instruction in force and, for a bundle
// with a state block, the robot's state when the frame was taken.
type Observation struct {
	Image       Image
	Instruction string
	// State is the robot's state in its own units, one value per name of the manifest's state.names and
	// in that order; the engine normalizes it. A bundle without a state block ignores it.
	State []float64
}

// Timing is where the time of one inference went. Verification is the whole re-run pass.
type Timing struct {
	Prefix, Layers, Adapters, Controllers, Head, Verification, Total time.Duration
}

// Stats describe one inference: the skipping decisions plus timing.
type Stats struct {
	skipping.Stats
	Sequence uint64 // inference counter since the engine started, from 1
	Timing   Timing
	// InstructionTruncated is set when the instruction was longer than the model's token input.
	InstructionTruncated bool
	// ImageGain is what the image balance (the manifest's image.balance) multiplied each channel (RGB)
	// of the frame by: 1 without a balance.
	ImageGain [3]float64
}

// Result is the output of one inference.
type Result struct {
	// Chunk holds K actions of A values in the robot's units (de-normalized), row by row.
	Chunk [][]float32
	Stats Stats
}

// Engine is the one API every front end uses (the ROS 2 node, bag replay, the MAVLink bridge through
// the node core, the benchmarks): observation in, action chunk and statistics out.
//
// Infer, Reset and Close are serialized by the engine. SetSkipping may be called from any goroutine at
// any time; the new configuration takes effect at the next inference.
type Engine struct {
	// in
	Manifest *bundle.Manifest
	Backend  Backend
	// Skipping is the initial decision configuration; it defaults to skipping.DefaultConfig().
	Skipping *skipping.Config
	// Now is the clock used for timing only (decisions never read it); it defaults to time.Now.
	Now func() time.Time

	mu       sync.Mutex
	machine  *skipping.Machine
	pending  atomic.Pointer[skipping.Config]
	sequence uint64
	frames   *modelinput.ImageConverter
	states   *modelinput.StateNormalizer // nil when the bundle reads no robot state
	image    []float32
	tokens   []int64
	state    []float32 // nil when the bundle reads no robot state
	head     []float32
	closed   bool
	// lastTrace is the trace of the last pass, kept so a failed walk still reports what ran.
	lastTrace skipping.Trace
}

// Initialize checks the configuration and allocates the per-frame buffers once.
func (e *Engine) Initialize() error {
	if e.Manifest == nil || e.Backend == nil {
		return errors.New("policy: Engine needs a Manifest and a Backend")
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	cfg := skipping.DefaultConfig()
	if e.Skipping != nil {
		cfg = *e.Skipping
	}
	m := e.Manifest
	layout, err := skipping.NewLayout(m.Dims.Layers, m.StaticLayers)
	if err != nil {
		return fmt.Errorf("policy: bundle %q: %w", m.Name, err)
	}
	if e.machine, err = skipping.NewMachine(layout, cfg); err != nil {
		return err
	}
	if e.frames, err = modelinput.NewImageConverter(m.Image); err != nil {
		return fmt.Errorf("policy: bundle %q: %w", m.Name, err)
	}
	if m.State != nil {
		if e.states, err = modelinput.NewStateNormalizer(*m.State); err != nil {
			return fmt.Errorf("policy: bundle %q: %w", m.Name, err)
		}
		e.state = make([]float32, m.StateDim())
	}
	e.image = make([]float32, 3*m.Image.Width*m.Image.Height)
	e.tokens = make([]int64, m.Dims.InstructionTokens)
	e.head = make([]float32, m.Dims.Chunk*m.Dims.ActionDim)
	// The tokenizer is a property of the bundle: refuse an unknown one here, not at every frame.
	if _, err := modelinput.Tokenize(m.Tokenizer.Kind, "", e.tokens); err != nil {
		return fmt.Errorf("policy: bundle %q: %w", m.Name, err)
	}
	return nil
}

// SetSkipping validates cfg and schedules it for the next inference. An invalid configuration is
// rejected and nothing changes.
func (e *Engine) SetSkipping(cfg skipping.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	e.pending.Store(&cfg)
	return nil
}

// SkippingConfig returns the configuration the next inference will use.
func (e *Engine) SkippingConfig() skipping.Config {
	if p := e.pending.Load(); p != nil {
		return *p
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.machine.Config()
}

// Layout returns the static/dynamic split of the bundle.
func (e *Engine) Layout() *skipping.Layout { return e.machine.Layout() }

// Reset starts a new episode (a new instruction): continuity history cleared, allow points at the front.
func (e *Engine) Reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.applyPending()
	e.machine.Reset()
}

func (e *Engine) applyPending() {
	if p := e.pending.Swap(nil); p != nil {
		// Validated in SetSkipping; SetConfig can only fail on validation.
		_ = e.machine.SetConfig(*p)
	}
}

// Infer runs one observation through the policy. An error leaves the engine ready for the next
// observation: an *InputError means the observation was unusable, anything else a model failure.
func (e *Engine) Infer(obs Observation) (Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return Result{}, errors.New("policy: engine is closed")
	}
	e.applyPending()
	// A panic below (a bug in a backend or a library) leaves the machine mid-pass: abort it, so the
	// next inference starts clean, and leave it to the caller what a panic means.
	defer func() {
		if p := recover(); p != nil {
			e.machine.Abort()
			panic(p)
		}
	}()
	start := e.Now()
	var timing Timing
	truncated, err := e.runPrefix(obs, &timing)
	if err != nil {
		return Result{}, err
	}
	if e.machine.MayVerify() { // else no re-run can need the prefix's output again
		e.Backend.SaveHidden()
	}

	plan := e.machine.Plan()
	chunk, err := e.pass(plan, &timing)
	if err != nil {
		e.machine.Abort()
		return Result{}, err
	}
	if v := e.machine.Report(chunk, e.lastTrace); v.Rerun {
		tv := e.Now()
		e.Backend.RestoreHidden()
		var rerun Timing
		chunk, err = e.pass(v.Plan, &rerun)
		if err != nil {
			e.machine.Abort()
			return Result{}, fmt.Errorf("policy: verification pass: %w", err)
		}
		e.machine.Report(chunk, e.lastTrace)
		timing.Verification = e.Now().Sub(tv)
	}
	timing.Total = e.Now().Sub(start)
	e.sequence++
	return Result{
		Chunk: e.denormalize(chunk),
		Stats: Stats{Stats: e.machine.Last(), Sequence: e.sequence, Timing: timing, InstructionTruncated: truncated, ImageGain: e.frames.Gains()},
	}, nil
}

// runPrefix preprocesses obs and runs the prefix on it, the start of every pass; it reports whether
// the instruction was truncated. e.mu is held.
func (e *Engine) runPrefix(obs Observation, timing *Timing) (truncated bool, err error) {
	if truncated, err = e.convert(obs); err != nil {
		return false, err
	}
	t0 := e.Now()
	if err := e.Backend.RunPrefix(e.image, e.tokens, e.state); err != nil {
		return false, fmt.Errorf("policy: prefix: %w", err)
	}
	timing.Prefix = e.Now().Sub(t0)
	return truncated, nil
}

// convert writes obs into the preallocated model inputs and reports whether the instruction was
// truncated. A bad image or robot state is an *InputError. e.mu is held.
func (e *Engine) convert(obs Observation) (truncated bool, err error) {
	if err := e.frames.Convert(obs.Image, e.image); err != nil {
		return false, err
	}
	if e.states != nil {
		if err := e.states.Normalize(obs.State, e.state); err != nil {
			return false, err
		}
	}
	truncated, _ = modelinput.Tokenize(e.Manifest.Tokenizer.Kind, obs.Instruction, e.tokens)
	return truncated, nil
}

// InferSingleGraph runs the whole model as one graph, with no skipping and no episode history: the
// reference the segmented run must match and the baseline the benchmarks compare against.
func (e *Engine) InferSingleGraph(obs Observation) ([][]float32, error) {
	chunk, err := e.inferSingleGraphNormalized(obs)
	if err != nil {
		return nil, err
	}
	return e.denormalize(chunk), nil
}

// inferSingleGraphNormalized is InferSingleGraph's chunk before it is put in robot units.
func (e *Engine) inferSingleGraphNormalized(obs Observation) ([][]float64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errors.New("policy: engine is closed")
	}
	if _, err := e.convert(obs); err != nil {
		return nil, err
	}
	if err := e.Backend.RunSingleGraph(e.image, e.tokens, e.state, e.head); err != nil {
		return nil, fmt.Errorf("policy: single graph: %w", err)
	}
	return e.readChunk()
}

// pass walks one plan and runs the head, returning the normalized chunk.
func (e *Engine) pass(plan skipping.Plan, timing *Timing) ([][]float64, error) {
	r := timedRunner{b: e.Backend, now: e.Now, t: timing}
	trace, err := plan.Walk(&r)
	e.lastTrace = trace
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	t0 := e.Now()
	if err := e.Backend.RunHead(e.head); err != nil {
		return nil, fmt.Errorf("policy: head: %w", err)
	}
	timing.Head += e.Now().Sub(t0)
	return e.readChunk()
}

// readChunk turns the head output into K rows, refusing non-finite values.
func (e *Engine) readChunk() ([][]float64, error) {
	k, a := e.Manifest.Dims.Chunk, e.Manifest.Dims.ActionDim
	values := make([]float64, k*a) // one array for the rows: the skipping machine keeps them
	chunk := make([][]float64, k)
	for i := range chunk {
		chunk[i] = values[i*a : (i+1)*a : (i+1)*a]
		for d := range chunk[i] {
			chunk[i][d] = float64(e.head[i*a+d])
		}
	}
	if err := e.checkChunk(chunk); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return chunk, nil
}

// checkChunk refuses a chunk that is not K rows of A finite values: a NaN must never reach an arm.
// A finite normalized value can still overflow float32 once scaled to robot units (a huge head output
// times the bundle's std); it is refused here, before the skipping machine takes the chunk into its
// history, not after.
func (e *Engine) checkChunk(chunk [][]float64) error {
	k, a := e.Manifest.Dims.Chunk, e.Manifest.Dims.ActionDim
	if len(chunk) != k {
		return fmt.Errorf("%d action rows, expected %d (dims.chunk)", len(chunk), k)
	}
	for i, row := range chunk {
		if len(row) != a {
			return fmt.Errorf("action row %d has %d values, expected %d (dims.action_dim)", i, len(row), a)
		}
		for d, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return &NonFiniteActionError{Step: i, Dim: d, Name: e.actionName(d), Value: v}
			}
			if r := e.robotUnits(v, d); math.IsInf(float64(r), 0) {
				return &NonFiniteActionError{Step: i, Dim: d, Name: e.actionName(d), Value: float64(r), Normalized: v}
			}
		}
	}
	return nil
}

// NonFiniteActionError is a model output holding NaN or Inf: the chunk is refused, never published.
type NonFiniteActionError struct {
	Step, Dim int
	Name      string // the dimension's name in the bundle's action.names
	Value     float64
	// Normalized is the model's finite output when Value is the infinity it became in robot units;
	// zero when the model's output itself was not finite.
	Normalized float64
}

func (e *NonFiniteActionError) Error() string {
	if e.Normalized != 0 {
		return fmt.Sprintf("action chunk step %d, dimension %q is %v in robot units (the model's %.4g times action.std plus action.mean): not published",
			e.Step, e.Name, e.Value, e.Normalized)
	}
	return fmt.Sprintf("action chunk step %d, dimension %q is %v: not published", e.Step, e.Name, e.Value)
}

func (e *Engine) actionName(d int) string {
	if d < len(e.Manifest.Action.Names) {
		return e.Manifest.Action.Names[d]
	}
	return fmt.Sprint(d)
}

// Normalize maps robot-unit actions to the normalized space the model and continuity work in.
func (e *Engine) Normalize(action []float32) []float64 {
	out := make([]float64, len(action))
	for d, v := range action {
		out[d] = (float64(v) - e.Manifest.Action.Mean[d]) / e.Manifest.Action.Std[d]
	}
	return out
}

func (e *Engine) denormalize(chunk [][]float64) [][]float32 {
	out := make([][]float32, len(chunk))
	values := make([]float32, len(chunk)*e.Manifest.Dims.ActionDim) // the caller's: a new array per chunk
	for i, row := range chunk {
		out[i] = values[:len(row):len(row)]
		values = values[len(row):]
		for d, v := range row {
			out[i][d] = e.robotUnits(v, d)
		}
	}
	return out
}

// robotUnits is normalized value v of action dimension d in the robot's units.
func (e *Engine) robotUnits(v float64, d int) float32 {
	return float32(v*e.Manifest.Action.Std[d] + e.Manifest.Action.Mean[d])
}

// Close releases the backend. Further inferences fail.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || e.Backend == nil {
		return nil
	}
	e.closed = true
	return e.Backend.Close()
}

// timedRunner adapts a Backend to skipping.LayerRunner and accounts the time of each kind of graph.
type timedRunner struct {
	b   Backend
	now func() time.Time
	t   *Timing
}

func (r *timedRunner) RunLayer(j int) error {
	t0 := r.now()
	err := r.b.RunLayer(j)
	r.t.Layers += r.now().Sub(t0)
	return err
}

func (r *timedRunner) RunAdapter(j int) error {
	t0 := r.now()
	err := r.b.RunAdapter(j)
	r.t.Adapters += r.now().Sub(t0)
	return err
}

func (r *timedRunner) RunController(j int) (float32, error) {
	t0 := r.now()
	p, err := r.b.RunController(j)
	r.t.Controllers += r.now().Sub(t0)
	return p, err
}
