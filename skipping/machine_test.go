package skipping

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func mustLayout(t *testing.T, layers int, static ...int) Layout {
	t.Helper()
	l, err := NewLayout(layers, static)
	require.NoError(t, err)
	return l
}

func TestNewLayoutRejects(t *testing.T) {
	cases := []struct {
		name   string
		layers int
		static []int
		want   string
	}{
		{"no layers", 0, []int{0}, "layers must be > 0"},
		// The message names the layer to list.
		{"empty static", 8, nil, "must not be empty (the last layer, 7, is always static)"},
		{"missing last", 8, []int{2, 5}, "must contain the last layer 7"},
		{"out of range", 8, []int{9, 7}, "static layer 9 out of range [0, 7]"},
		// Layers counted from 1: the last layer, L, is one past the stack, and the message says so.
		{"one-based", 8, []int{3, 8}, "static layer 8 out of range [0, 7]"},
		{"unsorted", 8, []int{5, 2, 7}, "strictly ascending: 2 after 5"},
		{"duplicate", 8, []int{2, 2, 7}, "strictly ascending: 2 after 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewLayout(c.layers, c.static)
			require.ErrorContains(t, err, c.want)
		})
	}
}

func TestLayoutSegments(t *testing.T) {
	l := mustLayout(t, 10, 0, 4, 5, 9)
	require.Equal(t, []Segment{{0, 0}, {1, 4}, {5, 5}, {6, 9}}, l.Segments)
	require.Equal(t, []int{1, 2, 3, 6, 7, 8}, l.DynamicLayerList())
	require.True(t, l.IsStatic(5))
	require.False(t, l.IsStatic(6))
	require.Equal(t, Segment{6, 9}, l.SegmentOf(7))
}

func TestConfigValidateListsEveryViolation(t *testing.T) {
	c := DefaultConfig()
	c.ControllerThreshold = math.NaN()
	c.ContinuityWindow = 1
	c.EtaMove = 0
	c.EtaVerify = math.Inf(1)
	c.Stride = 65
	c.SkipRatio = 2
	c.Strategy = 0
	err := c.Validate()
	for _, want := range []string{"strategy", "controller_threshold (NaN)", "continuity_window (1)", "eta_move (0)",
		"eta_verify (+Inf)", "stride (65)", "skip_ratio (2)"} {
		require.ErrorContains(t, err, want)
	}
	require.NoError(t, DefaultConfig().Validate())
	// The machine refuses it too, and a refused SetConfig leaves the configuration in force.
	_, err = NewMachine(mustLayout(t, 4, 3), c)
	require.ErrorContains(t, err, "stride (65)")
	m, err := NewMachine(mustLayout(t, 4, 3), DefaultConfig())
	require.NoError(t, err)
	require.ErrorContains(t, m.SetConfig(c), "stride (65)")
	require.Equal(t, DefaultConfig(), m.Config())
}

func TestParseStrategyRoundTrip(t *testing.T) {
	for _, name := range StrategyNames() {
		s, err := ParseStrategy(name)
		require.NoError(t, err)
		require.Equal(t, name, s.String())
	}
	_, err := ParseStrategy("fast")
	require.ErrorContains(t, err, `unknown strategy "fast" (expected one of dysl, full`)
}

// Reference: docs/ALGORITHM.md, Eq. 1 — computed by hand.
func TestContinuityByHand(t *testing.T) {
	h := [][]float64{{0, 0}, {3, 4}, {3, 4}, {3, 5}}
	// last 3: distances 0 and 1 → C = -(0+1)/2
	require.InDelta(t, -0.5, continuity(h, 3), 1e-12)
	// last 4: distances 5, 0, 1 → C = -2
	require.InDelta(t, -2.0, continuity(h, 4), 1e-12)
	require.True(t, math.IsNaN(continuity(h, 5)), "undefined until N actions exist")
}

func TestExecutedActionsLimitHistory(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ContinuityWindow = 2
	cfg.ExecutedActions = 1
	m, err := NewMachine(mustLayout(t, 4, 1, 3), cfg)
	require.NoError(t, err)
	// Only the first action of each chunk is executed: the big second action never enters the history.
	for _, x := range []float64{0, 0.1} {
		p := m.Plan()
		tr, err := p.Walk(memRunner{0})
		require.NoError(t, err)
		m.Report([][]float64{{x}, {100}}, tr)
	}
	require.InDelta(t, -0.1, m.Last().Continuity, 1e-12)
}

func TestProtocolMisusePanics(t *testing.T) {
	m, err := NewMachine(mustLayout(t, 4, 3), DefaultConfig())
	require.NoError(t, err)
	require.Panics(t, func() { m.Report(nil, Trace{}) }, "Report without Plan")
	m.Plan()
	require.Panics(t, func() { m.Plan() }, "Plan twice")
	require.Panics(t, func() { _ = m.SetConfig(DefaultConfig()) }, "SetConfig mid-inference")
	require.Panics(t, func() { m.Reset() }, "Reset mid-inference")
	// A chunk of no action breaks no width: it executes nothing, at an episode's start as later.
	require.NotPanics(t, func() { m.Report(nil, Trace{}) })
	require.True(t, math.IsNaN(m.Last().Continuity), "nothing entered the history")
	m.Plan()

	// Continuity compares actions value by value: a chunk of ragged or changed width is refused whole.
	require.PanicsWithValue(t, "skipping: Report: action 1 of the chunk has 1 values, the episode's actions 2",
		func() { m.Report([][]float64{{0, 0}, {0}}, Trace{}) })
	m.Abort()
	m.Plan()
	m.Report([][]float64{{0, 0}, {0, 1}}, Trace{})
	m.Plan()
	require.PanicsWithValue(t, "skipping: Report: action 0 of the chunk has 3 values, the episode's actions 2",
		func() { m.Report([][]float64{{0, 0, 0}}, Trace{}) })
}

func TestSetConfigStrategyChangeStartsNewEpisode(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ContinuityWindow = 2
	m, err := NewMachine(mustLayout(t, 8, 3, 7), cfg)
	require.NoError(t, err)
	for _, x := range []float64{0, 0, 1} { // a drop moves the allow points forward
		p := m.Plan()
		tr, _ := p.Walk(memRunner{0})
		m.Report([][]float64{{x}}, tr)
	}
	require.NotEqual(t, []int{0, 4}, m.AllowPoints())

	cfg.ControllerThreshold = 0.7 // a threshold change keeps the episode
	require.NoError(t, m.SetConfig(cfg))
	require.NotEqual(t, []int{0, 4}, m.AllowPoints())

	cfg.Strategy = StrategyFlexiDepth
	require.NoError(t, m.SetConfig(cfg))
	require.Equal(t, []int{0, 4}, m.AllowPoints())

	bad := cfg
	bad.ContinuityWindow = 0
	require.Error(t, m.SetConfig(bad))
	require.Equal(t, cfg, m.Config(), "a rejected config changes nothing")
}

// A new seed restarts the random draws and leaves the episode alone: a DySL node whose seed changed
// kept running every layer for N inferences, since the change reset its continuity history.
func TestSetConfigSeedChangeReseedsOnly(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ContinuityWindow = 2
	m, err := NewMachine(mustLayout(t, 8, 3, 7), cfg)
	require.NoError(t, err)
	// A drop moves the allow points to the static layers, a recovery one back.
	for _, x := range []float64{0, 0, 1, 1, 1} {
		tr, _ := m.Plan().Walk(memRunner{0})
		m.Report([][]float64{{x}}, tr)
	}
	allow := m.AllowPoints()
	require.Equal(t, []int{2, 6}, allow)
	require.False(t, math.IsNaN(m.Last().Continuity))

	cfg.Seed = 7
	require.NoError(t, m.SetConfig(cfg))
	require.Equal(t, allow, m.AllowPoints(), "the allow points stay")
	p := m.Plan()
	require.Equal(t, allow, p.AllowPoints)
	require.Contains(t, p.Steps, StepGate, "the continuity is still defined: DySL gates at once")
	tr, _ := p.Walk(memRunner{0})
	m.Report([][]float64{{1}}, tr)
	require.False(t, math.IsNaN(m.Last().Continuity), "the history was kept")

	t.Run("random_skip draws from the new seed", func(t *testing.T) {
		plans := func(m *Machine, n int) []string {
			var out []string
			for range n {
				p := m.Plan()
				out = append(out, DescribePlan(p))
				tr, _ := p.Walk(memRunner{0})
				m.Report([][]float64{{0}}, tr)
			}
			return out
		}
		cfg := DefaultConfig()
		cfg.Strategy, cfg.Seed = StrategyRandomSkip, 3
		m, err := NewMachine(mustLayout(t, 16, 7, 15), cfg)
		require.NoError(t, err)
		plans(m, 2)
		cfg.Seed = 4
		require.NoError(t, m.SetConfig(cfg))
		fresh, err := NewMachine(mustLayout(t, 16, 7, 15), cfg)
		require.NoError(t, err)
		require.Equal(t, plans(fresh, 3), plans(m, 3))
	})
}

func TestRandomSkipIsSeeded(t *testing.T) {
	run := func(seed int64) []string {
		cfg := DefaultConfig()
		cfg.Strategy, cfg.Seed, cfg.SkipRatio = StrategyRandomSkip, seed, 0.5
		m, err := NewMachine(mustLayout(t, 16, 7, 15), cfg)
		require.NoError(t, err)
		var plans []string
		for i := 0; i < 5; i++ {
			p := m.Plan()
			plans = append(plans, DescribePlan(p))
			tr, _ := p.Walk(memRunner{0})
			require.Len(t, tr.Skipped, 7, "exactly round(0.5*14) dynamic layers skipped")
			m.Report([][]float64{{0}}, tr)
		}
		return plans
	}
	require.Equal(t, run(3), run(3))
	require.NotEqual(t, run(3), run(4))
}

// Metamorphic: with controllers that never skip, DySL runs exactly what the full model runs.
func TestDySLWithClosedControllersIsFullDepth(t *testing.T) {
	m, err := NewMachine(mustLayout(t, 12, 2, 7, 11), DefaultConfig())
	require.NoError(t, err)
	for i := 0; i < 20; i++ {
		p := m.Plan()
		tr, err := p.Walk(memRunner{0})
		require.NoError(t, err)
		require.Equal(t, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, tr.Executed)
		require.Empty(t, tr.Skipped)
		require.False(t, m.Report([][]float64{{float64(i % 3)}}, tr).Rerun)
	}
}

// failingRunner answers like memRunner, but its graph (layer, adapter or controller) fails at failAt.
type failingRunner struct {
	memRunner
	graph  string
	failAt int
}

func (r failingRunner) fails(graph string, j int) error {
	if graph == r.graph && j == r.failAt {
		return errors.New("boom")
	}
	return nil
}

func (r failingRunner) RunLayer(j int) error   { return r.fails("layer", j) }
func (r failingRunner) RunAdapter(j int) error { return r.fails("adapter", j) }
func (r failingRunner) RunController(j int) (float32, error) {
	return r.prob, r.fails("controller", j)
}

// A graph that fails ends the walk there, whichever step ran it: a pass that went on would act on a
// hidden state that layer never produced. The trace holds what was done before it.
func TestWalkStopsAtFirstError(t *testing.T) {
	l := mustLayout(t, 8, 3, 7)
	planWith := func(j int, k StepKind) Plan {
		p := FullPlan(&l)
		p.Threshold = 0.5
		p.Steps[j] = k
		return p
	}
	for _, c := range []struct {
		name        string
		plan        Plan
		runner      failingRunner
		executed    []int
		controllers []int
	}{
		{"run", FullPlan(&l), failingRunner{graph: "layer", failAt: 5}, []int{0, 1, 2, 3, 4}, nil},
		{"jump's adapter", planWith(5, StepJump), failingRunner{graph: "adapter", failAt: 5}, []int{0, 1, 2, 3, 4}, nil},
		{"gate's controller", planWith(1, StepGate), failingRunner{graph: "controller", failAt: 1}, []int{0}, nil},
		{"gate's adapter", planWith(1, StepGate), failingRunner{memRunner{1}, "adapter", 1}, []int{0}, []int{1}},
		{"gate's layer", planWith(1, StepGate), failingRunner{memRunner{0}, "layer", 1}, []int{0}, []int{1}},
		{"gate-skip's controller", planWith(4, StepGateSkip), failingRunner{graph: "controller", failAt: 4}, []int{0, 1, 2, 3}, nil},
		{"gate-skip's layer", planWith(4, StepGateSkip), failingRunner{memRunner{0}, "layer", 4}, []int{0, 1, 2, 3}, []int{4}},
	} {
		tr, err := c.plan.Walk(c.runner)
		require.EqualError(t, err, "boom", c.name)
		require.Equal(t, c.executed, tr.Executed, c.name)
		require.Empty(t, tr.Skipped, c.name)
		require.Empty(t, tr.Adapters, c.name)
		require.Equal(t, c.controllers, tr.Controllers, c.name)
	}

	tr, err := planWith(2, StepKind(9)).Walk(memRunner{})
	require.EqualError(t, err, "skipping: plan step 2 has invalid kind StepKind(9)")
	require.Equal(t, []int{0, 1}, tr.Executed)
}

// warmUp serves still one-action chunks until the continuity is defined, so that DySL's next plan
// gates.
func warmUp(t *testing.T, m *Machine) {
	t.Helper()
	for range m.cfg.ContinuityWindow {
		tr, err := m.Plan().Walk(memRunner{0})
		require.NoError(t, err)
		m.Report([][]float64{{0}}, tr)
	}
	require.False(t, math.IsNaN(m.Last().Continuity))
}

// At an episode's start the continuity is undefined: nothing could verify a skip, and the first
// chunks set the arm off, so DySL runs every layer until N actions have been executed; then its
// controllers decide again. A new episode starts the warm-up over.
func TestDySLRunsEveryLayerUntilTheContinuityIsDefined(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ContinuityWindow = 3
	m, err := NewMachine(mustLayout(t, 8, 3, 7), cfg)
	require.NoError(t, err)
	for i := range 3 { // the third action defines C, after its own plan
		p := m.Plan()
		require.Equal(t, FullPlan(&m.layout).Steps, p.Steps, "inference %d: continuity undefined", i+1)
		tr, err := p.Walk(memRunner{0.9})
		require.NoError(t, err)
		require.Empty(t, tr.Skipped)
		m.Report([][]float64{{0}}, tr)
	}
	require.False(t, math.IsNaN(m.Last().Continuity))
	tr, err := m.Plan().Walk(memRunner{0.9})
	require.NoError(t, err)
	require.NotEmpty(t, tr.Skipped, "continuity defined: the controllers skip again")
	m.Report([][]float64{{0}}, tr)

	m.Reset()
	tr, err = m.Plan().Walk(memRunner{0.9})
	require.NoError(t, err)
	require.Empty(t, tr.Skipped, "a new episode warms up again")

	// A whole chunk of N actions or more defines C at once: one full inference.
	cfg.ContinuityWindow = 2
	m, err = NewMachine(mustLayout(t, 8, 3, 7), cfg)
	require.NoError(t, err)
	tr, _ = m.Plan().Walk(memRunner{0.9})
	m.Report([][]float64{{0}, {0}}, tr)
	tr, _ = m.Plan().Walk(memRunner{0.9})
	require.NotEmpty(t, tr.Skipped)
}

func TestNaNControllerMeansRun(t *testing.T) {
	m, err := NewMachine(mustLayout(t, 8, 3, 7), DefaultConfig())
	require.NoError(t, err)
	warmUp(t, m)
	tr, err := m.Plan().Walk(memRunner{float32(math.NaN())})
	require.NoError(t, err)
	require.Len(t, tr.Executed, 8)
	require.Len(t, tr.Controllers, 6)
	m.Report([][]float64{{0}}, tr)
	require.Equal(t, 6, m.Last().ControllersOutOfRange, "no probability: counted for the diagnostics")

	tr, err = m.Plan().Walk(memRunner{1.5})
	require.NoError(t, err)
	m.Report([][]float64{{0}}, tr)
	require.Equal(t, len(tr.Controllers), m.Last().ControllersOutOfRange, "above 1: counted too")
	// 0 and 1 are probabilities: a saturated sigmoid gives them, and they are no fault to report.
	for _, p := range []float32{0, 1} {
		tr, err = m.Plan().Walk(memRunner{p})
		require.NoError(t, err)
		require.NotEmpty(t, tr.Controllers)
		m.Report([][]float64{{0}}, tr)
		require.Zero(t, m.Last().ControllersOutOfRange, "p = %v", p)
	}
}

func TestFixedRatioPlanAlwaysJumpsAtItsGates(t *testing.T) {
	l := mustLayout(t, 16, 7, 15)
	for _, c := range []struct {
		ratio        float64
		exec, skip   int
		describePlan string
	}{
		{0, 16, 0, "RRRRRRRR RRRRRRRR"},
		{0.25, 12, 4, "RRRRRGRR RRRRRGRR"},
		{0.5, 8, 8, "RRRGRRRR RRRGRRRR"},
		{1, 2, 14, "GRRRRRRR GRRRRRRR"},
	} {
		p := FixedRatioPlan(&l, c.ratio)
		require.Equal(t, c.describePlan, DescribePlan(p))
		tr, err := p.Walk(memRunner{0}) // controllers say "run": the plan jumps anyway
		require.NoError(t, err)
		require.Len(t, tr.Executed, c.exec, "ratio %v", c.ratio)
		require.Len(t, tr.Skipped, c.skip, "ratio %v", c.ratio)
	}
}

func TestAbortLeavesTheEpisodeUntouched(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ContinuityWindow = 2
	m, err := NewMachine(mustLayout(t, 8, 3, 7), cfg)
	require.NoError(t, err)
	p := m.Plan()
	tr, _ := p.Walk(memRunner{0})
	m.Report([][]float64{{0}}, tr)
	before := m.AllowPoints()

	m.Plan()
	m.Abort() // e.g. the head produced NaN
	p = m.Plan()
	tr, _ = p.Walk(memRunner{0})
	m.Report([][]float64{{0.01}}, tr)
	require.InDelta(t, -0.01, m.Last().Continuity, 1e-12, "the aborted inference left no action behind")
	require.Equal(t, before, m.AllowPoints())
}

// The skip ratio is the first pass's skips over the backbone's layers: a full re-run by verification
// does not halve it.
func TestSkipRatioIsFirstPassOverLayers(t *testing.T) {
	cases := []struct {
		name  string
		stats Stats
		want  float64
	}{
		{"one pass", Stats{Passes: 1, LayersTotal: 8, LayersSkipped: 4, LayersExecuted: 4}, 0.5},
		{"verified", Stats{Passes: 2, LayersTotal: 16, LayersSkipped: 4, LayersExecuted: 12}, 0.5},
		{"nothing run", Stats{}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.stats.SkipRatio())
		})
	}
}

// SkippedLayers, which the baselines' compute matching reads, is what the random-skip and fixed-ratio
// plans skip, at every ratio, on a layout whose segments round differently from the whole.
func TestSkippedLayersIsWhatThePlansSkip(t *testing.T) {
	l := mustLayout(t, 12, 2, 6, 11)
	for step := 0; step <= 40; step++ {
		ratio := float64(step) / 40
		for _, s := range []Strategy{StrategyRandomSkip, StrategyFixedRatio} {
			cfg := DefaultConfig()
			cfg.Strategy, cfg.SkipRatio = s, ratio
			m, err := NewMachine(l, cfg)
			require.NoError(t, err)
			tr, err := m.Plan().Walk(memRunner{0})
			require.NoError(t, err)
			n, ok := SkippedLayers(s, l, ratio)
			require.True(t, ok)
			require.Equal(t, len(tr.Skipped), n, "%v at ratio %v", s, ratio)
		}
	}
	_, ok := SkippedLayers(StrategyDySL, l, 0.5)
	require.False(t, ok, "DySL decides per inference, not by a ratio")
}

// A verified inference reports both passes (docs/ALGORITHM.md, Statistics): LayersTotal is 2·L and
// LayersExecuted counts the re-run, while the skip ratio stays the first pass's share of L, and C_t is
// the verified chunk's.
func TestVerifiedInferenceReportsBothPasses(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ContinuityWindow = 2
	m, err := NewMachine(mustLayout(t, 8, 3, 7), cfg)
	require.NoError(t, err)
	warmUp(t, m)
	tr, err := m.Plan().Walk(memRunner{1})
	require.NoError(t, err)
	require.Len(t, tr.Skipped, 6)
	v := m.Report([][]float64{{1}}, tr) // C' − C = −1: the first drop of a skipping pass
	require.True(t, v.Rerun)
	full, err := v.Plan.Walk(memRunner{1})
	require.NoError(t, err)
	require.False(t, m.Report([][]float64{{0.01}}, full).Rerun)

	s := m.Last()
	require.True(t, s.VerificationFired)
	require.Equal(t, 2, s.Passes)
	require.Equal(t, 16, s.LayersTotal)
	require.Equal(t, 2+8, s.LayersExecuted)
	require.Equal(t, 6.0/8, s.SkipRatio())
	require.InDelta(t, -0.01, s.Continuity, 1e-12, "the verified chunk is committed, not the skipped one")
}

// A verification re-run that fails (its chunk is NaN, the engine refuses it) aborts the whole
// inference (docs/ALGORITHM.md, One inference): the skipped pass's chunk is not kept either, so the
// next observation is served, and may be verified, as if the failed one had never arrived.
func TestAbortDuringVerificationKeepsNothingOfTheFirstPass(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ContinuityWindow = 2
	m, err := NewMachine(mustLayout(t, 8, 3, 7), cfg)
	require.NoError(t, err)
	warmUp(t, m)
	before, allow := m.Last(), m.AllowPoints()

	tr, err := m.Plan().Walk(memRunner{1})
	require.NoError(t, err)
	require.True(t, m.Report([][]float64{{1}}, tr).Rerun)
	m.Abort()
	require.Equal(t, Describe(before), Describe(m.Last()), "the last completed inference is still the last")
	require.Equal(t, allow, m.AllowPoints())
	require.True(t, m.MayVerify(), "the failed drop is no previous drop")

	tr, err = m.Plan().Walk(memRunner{1})
	require.NoError(t, err)
	require.True(t, m.Report([][]float64{{1}}, tr).Rerun, "the same drop is verified again")
	tr, err = FullPlan(m.Layout()).Walk(memRunner{1})
	require.NoError(t, err)
	m.Report([][]float64{{1}}, tr)
	require.Equal(t, -1.0, m.Last().Continuity, "C from the history before the failure and this chunk alone")
}
