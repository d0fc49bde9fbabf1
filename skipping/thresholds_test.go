package skipping

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// chunkWindowMachine is a DySL machine on a 16-layer stack (static 7 and 15, seven dynamic layers a
// segment) under the default thresholds (η1 = 0.05, η2 = 0.1) but with a continuity window of one
// whole chunk of two actions (N = 2): an inference whose chunk is (0, c) sets C_t = −c exactly,
// whatever came before, so ΔC_t can be put exactly on a threshold, or one float either side of it.
// Its first inference, a still chunk, defines C = 0, so the next one gates.
func chunkWindowMachine(t *testing.T, cfg Config) *Machine {
	t.Helper()
	cfg.ContinuityWindow, cfg.ExecutedActions = 2, 0
	m, err := NewMachine(mustLayout(t, 16, 7, 15), cfg)
	require.NoError(t, err)
	inferContinuity(t, m, 0, 0)
	require.Equal(t, 0.0, m.Last().Continuity)
	return m
}

// inferContinuity runs one inference whose chunk (0, c) sets C_t = −c, with controllers that answer
// prob, and says whether its first pass asked for verification (the re-run reports the same chunk).
func inferContinuity(t *testing.T, m *Machine, c float64, prob float32) (rerun bool) {
	t.Helper()
	chunk := [][]float64{{0}, {c}}
	tr, err := m.Plan().Walk(memRunner{prob})
	require.NoError(t, err)
	v := m.Report(chunk, tr)
	if v.Rerun {
		require.Equal(t, FullPlan(m.Layout()).Steps, v.Plan.Steps, "verification runs every layer")
		tr, err = v.Plan.Walk(memRunner{prob})
		require.NoError(t, err)
		require.False(t, m.Report(chunk, tr).Rerun)
	}
	require.Equal(t, -c, m.Last().Continuity, "the chunk alone sets C")
	return v.Rerun
}

// below and above are the floats either side of a threshold.
func below(x float64) float64 { return math.Nextafter(x, math.Inf(-1)) }
func above(x float64) float64 { return math.Nextafter(x, math.Inf(1)) }

// A drop between η1 and η2 moves the allow points but is no "drop" for verification's "first drop"
// rule (docs/ALGORITHM.md, ¬(ΔC_{t−1} < −η2)): the next inference may still verify. Reading it as a
// drop at η1 would leave a skipping pass that shows the real drop right after it unverified, and the
// robot would act on the skipped chunk at the critical moment. A drop of exactly η2 is not beyond it.
func TestOnlyADropBeyondEta2SuppressesTheNextVerification(t *testing.T) {
	eta2 := DefaultConfig().EtaVerify
	for _, c := range []struct {
		drop      float64
		mayVerify bool
	}{{0.07, true}, {0.12, false}, {below(eta2), true}, {eta2, true}, {above(eta2), false}} {
		m := chunkWindowMachine(t, DefaultConfig())
		require.True(t, m.MayVerify())
		// Nothing skipped: no verification, the chunk commits.
		require.False(t, inferContinuity(t, m, c.drop, 0))
		require.Equal(t, -c.drop, m.Last().ContinuityDelta)
		require.Equal(t, c.mayVerify, m.MayVerify(), "after ΔC = %v", -c.drop)
	}
}

// Verification fires on a skipping pass whose C' drops by more than η2, not η1, nor exactly η2: a drop
// up to η2 only moves the allow points. Firing at η1 would pay a second full pass on every moderate
// change, eating the compute the skipping saves and the node's control period.
func TestVerificationFiresBeyondEta2Only(t *testing.T) {
	eta2 := DefaultConfig().EtaVerify
	for _, c := range []struct {
		drop  float64
		rerun bool
	}{{0.07, false}, {0.12, true}, {below(eta2), false}, {eta2, false}, {above(eta2), true}} {
		m := chunkWindowMachine(t, DefaultConfig())
		// The first gate of each segment jumps.
		require.Equal(t, c.rerun, inferContinuity(t, m, c.drop, 1), "C' - C = %v", -c.drop)
		require.Positive(t, m.Last().LayersSkipped, "the first pass skipped")
	}
}

// A drop moves the allow points forward only beyond η1, by the adaptive stride ⌈|ΔC|/η1⌉
// (docs/ALGORITHM.md, Eqs. 2-3): a drop of exactly η1 leaves them, one of exactly k·η1 moves them k.
// The smallest move is therefore 2, just beyond η1.
func TestADropBeyondEta1MovesTheAllowPointsByTheCeilingStride(t *testing.T) {
	eta1 := DefaultConfig().EtaMove
	for _, c := range []struct {
		drop   float64
		stride int
	}{
		{below(eta1), 0}, {eta1, 0}, {above(eta1), 2},
		{below(2 * eta1), 2}, {2 * eta1, 2}, {above(2 * eta1), 3},
	} {
		m := chunkWindowMachine(t, DefaultConfig())
		inferContinuity(t, m, c.drop, 0)
		require.Equal(t, -c.drop, m.Last().ContinuityDelta)
		require.Equal(t, c.stride, m.Last().Stride, "ΔC = %v", -c.drop)
		require.Equal(t, []int{c.stride, 8 + c.stride}, m.AllowPoints(), "ΔC = %v", -c.drop)
	}
}

// A recovery moves the allow points back by one only beyond η1: a rise of exactly η1 leaves them. The
// stats report that move as the stride -1 (0 for none), as they report a drop's forward stride.
func TestARecoveryBeyondEta1MovesTheAllowPointsBackByOne(t *testing.T) {
	eta1 := DefaultConfig().EtaMove
	for _, c := range []struct {
		rise   float64
		allow  []int
		stride int
	}{{below(eta1), []int{7, 15}, 0}, {eta1, []int{7, 15}, 0}, {above(eta1), []int{6, 14}, -1}} {
		cfg := DefaultConfig()
		cfg.Stride = 64 // any drop moves the allow points to the static layers
		m := chunkWindowMachine(t, cfg)
		inferContinuity(t, m, 2*c.rise, 0)
		require.Equal(t, []int{7, 15}, m.AllowPoints())
		inferContinuity(t, m, c.rise, 0) // C from −2x to −x: ΔC = +x, exactly
		require.Equal(t, c.rise, m.Last().ContinuityDelta)
		require.Equal(t, c.allow, m.AllowPoints(), "ΔC = %v", c.rise)
		require.Equal(t, c.stride, m.Last().Stride, "ΔC = %v", c.rise)
	}
}

// adapterBudget is a memRunner whose adapters fail after budget calls: a plan that loops instead of
// reaching the end of the stack fails the walk rather than hanging the test.
type adapterBudget struct {
	memRunner
	budget int
}

func (r *adapterBudget) RunAdapter(int) error {
	if r.budget--; r.budget < 0 {
		return errors.New("more adapters than the stack has layers: the walk loops")
	}
	return nil
}

// static_only jumps at the first layer of each segment that has a dynamic layer, and runs a segment
// that has none (a static layer 0, a static layer right after another) as it is. A jump at a static
// layer would continue at that same layer: the walk would loop forever and the node stop serving.
func TestStaticOnlyRunsASegmentWithoutDynamicLayers(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Strategy = StrategyStaticOnly
	m, err := NewMachine(mustLayout(t, 7, 0, 3, 4, 6), cfg)
	require.NoError(t, err)
	p := m.Plan()
	require.Equal(t, []StepKind{StepRun, StepJump, StepRun, StepRun, StepRun, StepJump, StepRun}, p.Steps)
	tr, err := p.Walk(&adapterBudget{budget: 7})
	require.NoError(t, err)
	require.Equal(t, []int{0, 3, 4, 6}, tr.Executed)
	require.Equal(t, []int{1, 5}, tr.Adapters)
}

// A controller skips when its output exceeds τ (docs/ALGORITHM.md: g_j(h_j) > τ): one float below τ
// or exactly τ runs the layer, one float above skips it, at both ends of τ's range. At τ = 0 ("never
// skip" as an operator sets it), reading ≥ would skip on every controller that outputs 0, the one value
// that says "run this layer"; at τ = 1, an output above 1 (no probability, counted as such) still
// skips. A negative threshold, however close to 0, is a plan's "jump whatever the controller says".
func TestControllerThresholdBoundary(t *testing.T) {
	l := mustLayout(t, 4, 3)
	type want struct{ executed, skipped []int }
	run := want{[]int{0, 1, 2, 3}, []int{}}
	outcome := map[StepKind]want{StepGate: {[]int{3}, []int{0, 1, 2}}, StepGateSkip: {[]int{1, 2, 3}, []int{0}}}
	for _, c := range []struct {
		tau   float64
		prob  float32
		skips bool
	}{
		{0, math.Nextafter32(0, -1), false}, {0, 0, false}, {0, math.Nextafter32(0, 1), true},
		{0.5, math.Nextafter32(0.5, 0), false}, {0.5, 0.5, false}, {0.5, math.Nextafter32(0.5, 1), true},
		{1, math.Nextafter32(1, 0), false}, {1, 1, false}, {1, math.Nextafter32(1, 2), true},
		{math.Nextafter(0, -1), float32(math.NaN()), true}, {-1, 0, true},
	} {
		for _, kind := range []StepKind{StepGate, StepGateSkip} {
			p := FullPlan(&l)
			p.Threshold = c.tau
			p.Steps[0] = kind
			tr, err := p.Walk(memRunner{c.prob})
			require.NoError(t, err)
			w := run
			if c.skips {
				w = outcome[kind]
			}
			require.Equal(t, w.executed, tr.Executed, "τ = %v, output %v, %v", c.tau, c.prob, kind)
			require.Equal(t, w.skipped, tr.Skipped, "τ = %v, output %v, %v", c.tau, c.prob, kind)
		}
	}
}

// Each range Validate checks holds its ends and refuses the values just outside them, naming the
// parameter.
func TestConfigValidateBoundaries(t *testing.T) {
	for _, c := range []struct {
		name  string
		set   func(*Config)
		valid bool
	}{
		{"controller_threshold", func(c *Config) { c.ControllerThreshold = math.Nextafter(0, -1) }, false},
		{"controller_threshold", func(c *Config) { c.ControllerThreshold = 0 }, true},
		{"controller_threshold", func(c *Config) { c.ControllerThreshold = 1 }, true},
		{"controller_threshold", func(c *Config) { c.ControllerThreshold = above(1) }, false},
		{"continuity_window", func(c *Config) { c.ContinuityWindow = 1 }, false},
		{"continuity_window", func(c *Config) { c.ContinuityWindow = 2 }, true},
		{"continuity_window", func(c *Config) { c.ContinuityWindow = 64 }, true},
		{"continuity_window", func(c *Config) { c.ContinuityWindow = 65 }, false},
		{"eta_move", func(c *Config) { c.EtaMove = 0 }, false},
		{"eta_move", func(c *Config) { c.EtaMove = math.SmallestNonzeroFloat64 }, true},
		{"eta_move", func(c *Config) { c.EtaMove = math.MaxFloat64 }, true},
		{"eta_move", func(c *Config) { c.EtaMove = math.Inf(1) }, false},
		{"eta_verify", func(c *Config) { c.EtaVerify = 0 }, false},
		{"eta_verify", func(c *Config) { c.EtaVerify = math.SmallestNonzeroFloat64 }, true},
		{"eta_verify", func(c *Config) { c.EtaVerify = math.MaxFloat64 }, true},
		{"eta_verify", func(c *Config) { c.EtaVerify = math.Inf(1) }, false},
		{"stride", func(c *Config) { c.Stride = -1 }, false},
		{"stride", func(c *Config) { c.Stride = 0 }, true},
		{"stride", func(c *Config) { c.Stride = 64 }, true},
		{"stride", func(c *Config) { c.Stride = 65 }, false},
		{"executed_actions", func(c *Config) { c.ExecutedActions = -1 }, false},
		{"executed_actions", func(c *Config) { c.ExecutedActions = 0 }, true},
		{"skip_ratio", func(c *Config) { c.SkipRatio = math.Nextafter(0, -1) }, false},
		{"skip_ratio", func(c *Config) { c.SkipRatio = 0 }, true},
		{"skip_ratio", func(c *Config) { c.SkipRatio = 1 }, true},
		{"skip_ratio", func(c *Config) { c.SkipRatio = above(1) }, false},
	} {
		cfg := DefaultConfig()
		c.set(&cfg)
		err := cfg.Validate()
		if c.valid {
			require.NoError(t, err, cfg.String())
		} else {
			require.ErrorContains(t, err, c.name+" (", cfg.String())
			require.Equal(t, 1, strings.Count(err.Error(), " must "), "only %s is out of range: %v", c.name, err)
		}
	}
}

// A fixed-ratio plan skips the whole number of layers nearest to the ratio's share, a half rounded up:
// one float under a half is under it. int(x + 0.5) rounded 0.49999999999999994 + 0.5 up to 1.
func TestFixedRatioSkipRoundsToTheNearestLayer(t *testing.T) {
	for _, c := range []struct {
		dynamic int
		ratio   float64
		skip    int
	}{
		{1, below(0.5), 0}, {1, 0.5, 1}, {1, above(0.5), 1},
		{7, below(0.5), 3}, {7, 0.5, 4},
		{2, below(0.25), 0}, {2, 0.25, 1},
		{3, 1, 3}, {3, 0, 0},
	} {
		require.Equal(t, c.skip, FixedRatioSkip(c.dynamic, c.ratio), "%d dynamic layers at ratio %v", c.dynamic, c.ratio)
	}
}
