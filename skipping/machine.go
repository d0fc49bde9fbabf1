package skipping

import (
	"fmt"
	"math"
	"math/rand"
)

// Stats describe the decisions of one inference (both passes when verification fired). Timing is not
// here: the package has no clock; the engine adds it.
type Stats struct {
	Strategy Strategy
	Passes   int // 1, or 2 when verification re-ran the observation
	// Layer counts summed over passes.
	LayersTotal          int
	LayersExecuted       int
	LayersSkipped        int
	AdaptersRun          int
	ControllersEvaluated int
	// AllowPoints used by this inference, one per segment; NextAllowPoints after its update.
	AllowPoints     []int
	NextAllowPoints []int
	// Continuity C_t and its change ΔC_t (Eq. 1-2), NaN while undefined (fewer than N actions seen).
	Continuity      float64
	ContinuityDelta float64
	// Stride is the move computed for the allow points: the forward stride (positive) or -1 back, 0
	// for none; each segment then clips it to its own bounds, so a point may move less, or not at all.
	Stride            int
	VerificationFired bool
	// ControllersOutOfRange counts the controller outputs that were no probability: NaN (read as
	// "run the layer") or outside [0, 1] (read against the threshold as they are). A sigmoid head
	// gives neither; a broken or foreign controller graph does, and nothing else would say so.
	ControllersOutOfRange int
}

// SkipRatio is the skip ratio wherever this package's users report one (ActionChunk.skip_ratio, the
// diagnostics, the replay report, the benchmarks): the share of the backbone's layers the first pass
// jumped over. Verification's full re-run skips nothing and leaves it as it was, so a verified frame
// shows both the skip it tried and, in LayersExecuted, the re-run it paid.
func (s Stats) SkipRatio() float64 {
	if s.LayersTotal == 0 {
		return 0
	}
	layersPerPass := float64(s.LayersTotal) / float64(max(s.Passes, 1))
	return float64(s.LayersSkipped) / layersPerPass
}

// Verdict is the Machine's answer to a reported pass.
type Verdict struct {
	// Rerun asks for post-skip verification: walk Plan (a full pass) over the same observation and
	// Report its chunk; that chunk is the one to act on.
	Rerun bool
	Plan  Plan
}

type machineState uint8

const (
	stateIdle machineState = 1 + iota
	statePlanned
	stateVerifying
)

// Machine is the DySL state machine for one policy. Not safe for concurrent use.
type Machine struct {
	layout Layout
	cfg    Config
	rng    *rand.Rand

	allow   []int       // allow point l_i per segment
	history [][]float64 // last ContinuityWindow executed actions, normalized
	// Continuity of the last committed inference and whether its change was a drop (> η2).
	continuity  float64
	lastDropped bool
	// drawn is random_skip's draw for the inference in progress, kept until a Report commits it: an
	// aborted inference leaves it to the next one, so that a failure does not shift the draws after it.
	drawn []int

	state   machineState
	current Stats
	last    Stats
}

// NewMachine makes a Machine for a layout. The configuration must be valid.
func NewMachine(layout Layout, cfg Config) (*Machine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Machine{layout: layout, cfg: cfg, state: stateIdle}
	m.Reset()
	return m, nil
}

// Layout returns the layout the machine decides over.
func (m *Machine) Layout() *Layout { return &m.layout }

// Config returns the configuration in force.
func (m *Machine) Config() Config { return m.cfg }

// SetConfig installs a new configuration; call it between inferences. Changing the strategy starts a
// new episode, since history gathered under another strategy means nothing to the new one; threshold
// changes keep the episode going. A new seed restarts the random draws from it and nothing else: the
// continuity history and the allow points are DySL's, which draws nothing, and restarting them would
// make a DySL node run every layer again for N inferences.
//
// Turning pre-skip prediction on or off puts the allow points back at the front of each segment:
// off, that is where they stay (and what the stats report); on, they start from there. A new window
// keeps the newest actions that fit it and recomputes C_t over them: a continuity measured over
// another window is not comparable, and with fewer than N actions it is undefined, so every layer
// runs until it is again.
func (m *Machine) SetConfig(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if m.state != stateIdle {
		panic("skipping: SetConfig during an inference")
	}
	old := m.cfg
	m.cfg = cfg
	if old.Strategy != cfg.Strategy {
		m.Reset()
		return nil
	}
	if old.Seed != cfg.Seed {
		m.reseed()
	}
	if old.PreSkipPrediction != cfg.PreSkipPrediction {
		m.frontAllowPoints()
	}
	if n := cfg.ContinuityWindow; n != old.ContinuityWindow {
		if len(m.history) > n {
			m.history = m.history[len(m.history)-n:]
		}
		m.continuity = continuity(m.history, n)
		m.lastDropped = false
	}
	return nil
}

// Reset starts a new episode: allow points back at the front of each segment, history cleared.
func (m *Machine) Reset() {
	if m.state != stateIdle {
		panic("skipping: Reset during an inference")
	}
	m.reseed()
	m.frontAllowPoints()
	m.history = m.history[:0]
	m.continuity = math.NaN()
	m.lastDropped = false
}

// reseed starts the random draws over from the configured seed, dropping a draw an aborted
// inference left: it came from the old sequence.
func (m *Machine) reseed() {
	m.rng = rand.New(rand.NewSource(m.cfg.Seed))
	m.drawn = nil
}

// frontAllowPoints puts the allow points at the front of each segment.
func (m *Machine) frontAllowPoints() {
	m.allow = m.allow[:0]
	for _, s := range m.layout.Segments {
		m.allow = append(m.allow, s.First)
	}
}

// AllowPoints returns a copy of the current allow points, one per segment.
func (m *Machine) AllowPoints() []int { return append([]int(nil), m.allow...) }

// Last returns the statistics of the last completed inference.
func (m *Machine) Last() Stats { return m.last }

// Plan decides the first pass of the next inference.
func (m *Machine) Plan() Plan {
	if m.state != stateIdle {
		panic("skipping: Plan called twice without Report")
	}
	m.state = statePlanned
	m.current = Stats{Strategy: m.cfg.Strategy, AllowPoints: m.AllowPoints()}
	l := &m.layout
	p := FullPlan(l)
	p.Threshold = m.cfg.ControllerThreshold
	p.AllowPoints = m.AllowPoints()
	strategies[strategyIndex(m.cfg.Strategy)].plan(m, &p)
	return p
}

func (m *Machine) planDySL(p *Plan) {
	// Until the continuity is defined (fewer than N executed actions since the episode began), no
	// drop can be seen and no skip verified, and these first chunks set the arm off. Left to the
	// controllers alone, the first inference skipped every dynamic layer on the 12-layer references
	// (docs/ALGORITHM.md), so every layer runs until then.
	if math.IsNaN(m.continuity) {
		return
	}
	// Without pre-skip prediction the allow points never leave the front of their segments.
	for i, s := range m.layout.Segments {
		for j := m.allow[i]; j < s.Static; j++ {
			p.Steps[j] = StepGate
		}
	}
}

func (m *Machine) planStaticOnly(p *Plan) {
	for _, s := range m.layout.Segments {
		if s.Dynamic() > 0 {
			p.Steps[s.First] = StepJump
		}
	}
}

func (m *Machine) planRandomSkip(p *Plan) {
	dyn := m.layout.DynamicLayerList()
	n, _ := SkippedLayers(StrategyRandomSkip, m.layout, m.cfg.SkipRatio)
	if m.drawn == nil {
		m.drawn = m.rng.Perm(len(dyn))
	}
	for _, k := range m.drawn[:n] {
		p.Steps[dyn[k]] = StepSkip
	}
}

func (m *Machine) planFlexiDepth(p *Plan) {
	for _, j := range m.layout.DynamicLayerList() {
		p.Steps[j] = StepGateSkip
	}
}

func (m *Machine) planFixedRatio(p *Plan) {
	*p = FixedRatioPlan(&m.layout, m.cfg.SkipRatio)
}

// Report takes the normalized action chunk (K actions of A values) a pass produced and the trace of
// that pass. After a first pass it may ask for verification; after the verification pass it always
// completes the inference. Every action of an episode has the same width A (continuity compares them
// value by value); a chunk that breaks that is a caller's bug and panics.
func (m *Machine) Report(chunk [][]float64, trace Trace) Verdict {
	switch m.state {
	case statePlanned, stateVerifying:
	default:
		panic("skipping: Report without Plan")
	}
	checkWidths(chunk, m.history)
	m.addTrace(trace)
	executed := chunk
	if n := m.cfg.ExecutedActions; n > 0 && n < len(chunk) {
		executed = chunk[:n]
	}
	if m.state == statePlanned && m.needsVerification(executed, trace) {
		m.state = stateVerifying
		m.current.VerificationFired = true
		return Verdict{Rerun: true, Plan: FullPlan(&m.layout)}
	}
	m.commit(executed)
	m.drawn = nil
	m.state = stateIdle
	m.last = m.current
	return Verdict{}
}

// Abort ends an inference that failed (a graph error, a NaN chunk) without touching the episode: no
// action enters the history and the allow points stay, so the next observation is served as if the
// failed one had never arrived.
func (m *Machine) Abort() {
	m.state = stateIdle
	m.current = Stats{}
}

func (m *Machine) addTrace(t Trace) {
	m.current.Passes++
	m.current.LayersTotal += m.layout.Layers
	m.current.LayersExecuted += len(t.Executed)
	m.current.LayersSkipped += len(t.Skipped)
	m.current.AdaptersRun += len(t.Adapters)
	m.current.ControllersEvaluated += len(t.Controllers)
	for _, p := range t.SkipProbs {
		if !(p >= 0 && p <= 1) {
			m.current.ControllersOutOfRange++
		}
	}
}

// MayVerify says, between inferences, whether the next one could ask for verification: DySL with
// verification on, the continuity defined and the last change no drop. When it cannot, the engine
// need not keep the hidden state for a re-run: a copy of [tokens, hidden] per frame, megabytes on
// a full-size backbone.
func (m *Machine) MayVerify() bool {
	return m.cfg.Strategy == StrategyDySL && m.cfg.Verification && !m.lastDropped && !math.IsNaN(m.continuity)
}

// needsVerification: the first drop of continuity (C'_t − C_{t−1} < −η2 while the previous step did not
// drop) after a DySL pass that skipped something. The baselines are measured as they are, unverified.
func (m *Machine) needsVerification(executed [][]float64, t Trace) bool {
	if !t.SkippedAny() || !m.MayVerify() {
		return false
	}
	c := continuity(appendHistory(m.history, executed, m.cfg.ContinuityWindow, true), m.cfg.ContinuityWindow)
	return c-m.continuity < -m.cfg.EtaVerify
}

// commit appends the executed actions, recomputes C_t and ΔC_t, and moves the allow points (Eqs. 1-3).
func (m *Machine) commit(executed [][]float64) {
	n := m.cfg.ContinuityWindow
	m.history = appendHistory(m.history, executed, n, false)
	c := continuity(m.history, n)
	delta := c - m.continuity // NaN while either is undefined
	m.current.Continuity, m.current.ContinuityDelta = c, delta
	m.continuity = c
	m.lastDropped = delta < -m.cfg.EtaVerify
	if m.cfg.Strategy == StrategyDySL && m.cfg.PreSkipPrediction {
		m.current.Stride = m.moveAllowPoints(delta)
	}
	m.current.NextAllowPoints = m.AllowPoints()
}

// moveAllowPoints implements Eqs. 2-3: forward by the stride on a drop (keep more layers, fast), back by
// one on a recovery (skip more, gradually), each clipped to its segment.
func (m *Machine) moveAllowPoints(delta float64) int {
	eta := m.cfg.EtaMove
	switch {
	case delta < -eta:
		stride := m.cfg.Stride
		if stride == 0 {
			// Saturate at the stack's depth: no segment can move further, and |ΔC|/η1 for a tiny η1 or a
			// huge ΔC would otherwise overflow int and send the allow points below their segments.
			stride = m.layout.Layers
			if r := math.Ceil(math.Abs(delta) / eta); r < float64(stride) {
				stride = int(r)
			}
		}
		for i, s := range m.layout.Segments {
			m.allow[i] = min(m.allow[i]+stride, s.Static)
		}
		return stride
	case delta > eta:
		for i, s := range m.layout.Segments {
			m.allow[i] = max(m.allow[i]-1, s.First)
		}
		return -1
	}
	return 0
}

func checkWidths(chunk, history [][]float64) {
	var want int
	switch {
	case len(history) > 0:
		want = len(history[0])
	case len(chunk) > 0:
		want = len(chunk[0])
	}
	for k, a := range chunk {
		if len(a) != want {
			panic(fmt.Sprintf("skipping: Report: action %d of the chunk has %d values, the episode's actions %d", k, len(a), want))
		}
	}
}

// appendHistory returns the last n actions of history followed by executed. Only the newest n
// actions can matter, so no more are copied. With tentative set (verification's C'_t, read once) it
// never writes into history's backing array and shares executed's rows; otherwise it copies them,
// since the caller's chunk is not the machine's to keep.
func appendHistory(history, executed [][]float64, n int, tentative bool) [][]float64 {
	if len(executed) > n {
		executed = executed[len(executed)-n:]
	}
	if tentative {
		kept := history[max(0, len(history)-(n-len(executed))):]
		return append(append(make([][]float64, 0, len(kept)+len(executed)), kept...), executed...)
	}
	out := history
	for _, a := range executed {
		out = append(out, append([]float64(nil), a...))
	}
	if len(out) > n {
		out = append(out[:0:0], out[len(out)-n:]...)
	}
	return out
}

// continuity is Eq. 1: minus the mean L2 distance between consecutive actions over the last n actions;
// NaN until n actions exist. Finite actions give a finite value: each distance is computed scaled (a raw
// square overflows above 1e154 and underflows to 0 below 1e-162, hiding a drop), and the result saturates
// at -MaxFloat64 so that the change ΔC of two continuities stays a number.
func continuity(history [][]float64, n int) float64 {
	if len(history) < n {
		return math.NaN()
	}
	h := history[len(history)-n:]
	var mean float64
	for k := 1; k < len(h); k++ {
		mean += distance(h[k], h[k-1]) / float64(n-1)
	}
	if math.IsInf(mean, 1) {
		return -math.MaxFloat64
	}
	return -mean
}

// distance is the L2 distance between a and b. Where the plain sum of squares leaves the safe range
// (it overflowed, or it may have underflowed) it is recomputed on values scaled by their largest magnitude.
func distance(a, b []float64) float64 {
	var sum float64
	for i := range a {
		d := a[i] - b[i]
		sum += d * d
	}
	if sum > 0x1p-900 && sum < 0x1p900 {
		return math.Sqrt(sum)
	}
	var scale float64
	for i := range a {
		scale = max(scale, math.Abs(a[i]), math.Abs(b[i]))
	}
	switch {
	case scale == 0:
		return 0
	case math.IsInf(scale, 0) || math.IsNaN(scale):
		return math.NaN() // no distance to speak of: ΔC is undefined and nothing moves
	}
	sum = 0
	for i := range a {
		d := a[i]/scale - b[i]/scale
		sum += d * d
	}
	return scale * math.Sqrt(sum)
}
