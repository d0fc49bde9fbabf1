package closedloop

import (
	"context"
	"fmt"

	"dysl_vla/evaluation/earlyexit"
	"dysl_vla/evaluation/matching"
	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
	"dysl_vla/scene"
	"dysl_vla/skipping"
)

// bench is one bundle opened for closed-loop runs: its manifest, its layout and the backend every
// engine on it shares (the harness plays one episode at a time, so they never run at once). It makes
// the variants Evaluate and Sweep compare, each baseline in one place.
type bench struct {
	m       *bundle.Manifest
	layout  skipping.Layout
	backend policy.Backend
	// dysl is the configuration the other variants start from.
	dysl skipping.Config
}

func openBench(model string, opener policy.BackendOpener, dysl skipping.Config) (*bench, error) {
	if opener == nil {
		return nil, fmt.Errorf("closedloop: no backend opener: say which backend runs the graphs (ortbackend.Opener)")
	}
	b, err := bundle.Load(model)
	if err != nil {
		return nil, err
	}
	m := &b.Manifest
	layout, err := skipping.NewLayout(m.Dims.Layers, m.StaticLayers)
	if err != nil {
		return nil, err
	}
	backend, err := opener(model, m)
	if err != nil {
		return nil, err
	}
	return &bench{m: m, layout: layout, backend: backend, dysl: dysl}, nil
}

func (b *bench) Close() { b.backend.Close() }

func (b *bench) layers() int { return b.m.Dims.Layers }

// variant is an engine of its own on the shared backend under c.
func (b *bench) variant(name, desc string, c skipping.Config) (*Variant, error) {
	e := &policy.Engine{Manifest: b.m, Backend: b.backend, Skipping: &c}
	if err := e.Initialize(); err != nil {
		return nil, fmt.Errorf("closedloop: variant %s: %w", name, err)
	}
	return &Variant{Name: name, Description: desc, Engine: e, Skipping: c}, nil
}

// firstPhase runs full and DySL at the bench's configuration over the seeds, speedups set against
// full: the reference the other variants are compared with. It keeps the first matchFrames
// observations DySL was served, the frames the other variants' thresholds are first matched on.
// Stopped by ctx, it returns the rows of the rounds played with Suite.Run's error.
func (b *bench) firstPhase(ctx context.Context, suite Suite, seeds []int64, matchFrames int) (full *Variant, rows []Row, served *servedFrames, err error) {
	full, err = b.variant("full", "every layer (the reference)", b.with(func(c *skipping.Config) { c.Strategy = skipping.StrategyFull }))
	if err != nil {
		return nil, nil, nil, err
	}
	dysl, err := b.variant("dysl", "DySL: allow points, controllers, adapters, verification", b.dysl)
	if err != nil {
		return nil, nil, nil, err
	}
	served = &servedFrames{journal: suite.journal}
	keepServed(dysl, &served.frames, matchFrames)
	reused := suite.journal.Reused()
	rows, err = suite.play(ctx, "first phase", []*Variant{full, dysl}, seeds, nil)
	if rows != nil {
		Finish(rows, full.Name)
	}
	if suite.journal.Reused() > reused {
		// Rounds of this phase came from the journal, and their frames were not seen: the thresholds
		// not matched yet are matched on dysl's first frames, served to it again.
		served.frames = nil
		served.gather = func() ([]policy.Observation, error) { return b.gatherServed(ctx, suite, seeds, matchFrames) }
	}
	return full, rows, served, err
}

// keepServed has v keep the first n observations it is served in frames.
func keepServed(v *Variant, frames *[]policy.Observation, n int) {
	v.OnServe = func(o policy.Observation) {
		if len(*frames) < n {
			*frames = append(*frames, o)
		}
	}
}

// servedFrames are the observations served to dysl in the first phase that the baselines'
// thresholds are first matched on.
type servedFrames struct {
	frames  []policy.Observation
	journal *Journal
	// gather, when set, serves them again: the first phase was taken from the journal.
	gather func() ([]policy.Observation, error)
}

// matchedStart is a threshold matched on the frames served to dysl: where a closed-loop search of it
// starts (Evaluate), or a point of its own (Sweep).
type matchedStart struct {
	Knob   Metric `json:"knob"`
	Layers Metric `json:"layers"` // executed per inference on the frames, at Knob
	Frames int    `json:"frames"`
}

// match is the threshold fit finds on the served frames, recorded in the journal under name (and
// taken from it when it holds one), so that a resumed run plays the same thresholds.
func (s *servedFrames) match(name string, fit func(frames []policy.Observation) (knob, layers float64, err error)) (matchedStart, error) {
	var m matchedStart
	err := s.journal.decide(name, &m, func() error {
		if s.gather != nil {
			frames, err := s.gather()
			if err != nil {
				return err
			}
			s.frames, s.gather = frames, nil
		}
		knob, layers, err := fit(s.frames)
		m = matchedStart{Knob: Metric(knob), Layers: Metric(layers), Frames: len(s.frames)}
		return err
	})
	return m, err
}

// stoppedMatching is err of a threshold's match on frames served to dysl, a StoppedError when ctx
// stopped it.
func stoppedMatching(ctx context.Context, err error, frames int) error {
	if err == nil || ctx.Err() == nil || isStopped(err) {
		return err
	}
	return &StoppedError{Played: -1, Total: frames, Of: "frames served to dysl, matching a threshold on them", Cause: err}
}

// gatherServed plays dysl alone over the seeds until it was served matchFrames observations (or
// the seeds end), and returns them. Nothing of it is counted or journaled.
func (b *bench) gatherServed(ctx context.Context, suite Suite, seeds []int64, matchFrames int) ([]policy.Observation, error) {
	dysl, err := b.variant("dysl", "DySL, serving the frames thresholds are matched on", b.dysl)
	if err != nil {
		return nil, err
	}
	var frames []policy.Observation
	keepServed(dysl, &frames, matchFrames)
	h, err := suite.harness(dysl, nil)
	if err != nil {
		return nil, err
	}
	for i, seed := range seeds {
		if len(frames) >= matchFrames {
			break
		}
		if ctx.Err() != nil {
			return nil, &StoppedError{Played: i, Total: len(seeds), Of: "episodes of dysl, serving again the frames thresholds are matched on", Cause: context.Cause(ctx)}
		}
		if _, err := h.Run(seed); err != nil {
			return nil, fmt.Errorf("closedloop: dysl, serving the frames thresholds are matched on: %w", err)
		}
	}
	return frames, nil
}

// with is the DySL configuration changed by f.
func (b *bench) with(f func(*skipping.Config)) skipping.Config {
	c := b.dysl
	f(&c)
	return c
}

// dithered is random_skip or fixed_ratio skipping skipped layers per inference on average: every
// inference skips a whole number of layers the strategy can produce, dithered so that the running
// mean tracks skipped (exact by construction, to within a layer over the run).
func (b *bench) dithered(s skipping.Strategy, skipped float64) (*Variant, error) {
	desc := "random dynamic layers skipped, no adapter"
	if s == skipping.StrategyFixedRatio {
		desc = "static-dynamic jumps at fixed points, controllers ignored"
	}
	c := b.with(func(c *skipping.Config) { c.Strategy = s })
	v, err := b.variant(s.String(), desc, c)
	if err != nil {
		return nil, err
	}
	d := matching.NewDither(s, b.layout, skipped)
	// Each episode dithers from its own start, so that what it skips depends on its seed alone, not on
	// the episodes played before it in this run, or in the run a journal resumes. A frame of an earlier
	// tick than the last one served begins another episode; frames of one tick (a camera faster than
	// the control rate) belong to the same. (So would two episodes of one seed served one frame
	// each, at tick 0: no run plays those.)
	var last scene.State
	v.BeforeInference = func(served scene.State) *skipping.Config {
		if served.Seed != last.Seed || served.Tick < last.Tick {
			d.Restart()
		}
		last = served
		cc := c
		cc.SkipRatio = d.Next()
		return &cc
	}
	v.Param = fmt.Sprintf("skip_ratio=%.3f", skipped/float64(b.layers()))
	v.Note = fmt.Sprintf("each inference skips one of %v layers, dithered to a mean of %.2f", d.Counts(), skipped)
	return v, nil
}

// staticOnly runs the static layers only; its compute is fixed by the layout.
func (b *bench) staticOnly() (*Variant, error) {
	v, err := b.variant("static_only", "static layers only: first adapter of every segment", b.with(func(c *skipping.Config) { c.Strategy = skipping.StrategyStaticOnly }))
	if err != nil {
		return nil, err
	}
	v.Param = "not matchable"
	v.Note = fmt.Sprintf("runs %d of %d layers", b.layers()-b.layout.DynamicLayers(), b.layers())
	return v, nil
}

// flexiDepth is FlexiDepth at any controller threshold.
type flexiDepth struct {
	b *bench
	// Engine and Skipping serve the match on served frames (matchFlexiDepth).
	Engine   *policy.Engine
	Skipping skipping.Config
}

func (b *bench) flexiDepth() (*flexiDepth, error) {
	c := b.with(func(c *skipping.Config) { c.Strategy = skipping.StrategyFlexiDepth })
	v, err := b.variant("flexidepth", "", c)
	if err != nil {
		return nil, err
	}
	return &flexiDepth{b: b, Engine: v.Engine, Skipping: c}, nil
}

// at is FlexiDepth's variant at threshold tau, on an engine of its own.
func (f *flexiDepth) at(tau float64) (*Variant, error) {
	c := f.Skipping
	c.ControllerThreshold = tau
	v, err := f.b.variant("flexidepth", "the bundle's controllers before every dynamic layer, one layer skipped at a time, no adapter", c)
	if err != nil {
		return nil, err
	}
	v.Param = fmt.Sprintf("tau=%.4g", tau)
	return v, nil
}

// earlyExit is DeeR-style early exit, fitted once, at any threshold. Without the backbone's weights,
// its runner is nil and unavailable is the row that says why.
type earlyExit struct {
	*earlyexit.Baseline
	desc        string
	unavailable *Variant
}

// checkBaselines refuses early exit's counts (earlyexit.BaselineConfig.Check) and frames to match
// the thresholds on below zero (zero: 600). Evaluate and Sweep call it first, before a bundle is
// opened.
func checkBaselines(exit earlyexit.BaselineConfig, matchFrames int) error {
	if matchFrames < 0 {
		return fmt.Errorf("closedloop: the frames thresholds are matched on (%d) must be >= 0 (0: the default 600)", matchFrames)
	}
	return exit.Check()
}

// openEarlyExit fits the exits on training episodes of the evaluated tasks and opens their runner.
// A done ctx stops the fit with a StoppedError, so that the rows played before it are reported.
func openEarlyExit(ctx context.Context, cfg earlyexit.BaselineConfig) (*earlyExit, error) {
	b, err := earlyexit.OpenBaseline(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil, &StoppedError{Played: -1, Total: cfg.CalibrationEpisodes(), Of: "training episodes, fitting the early exits on them", Cause: context.Cause(ctx)}
		}
		return nil, err
	}
	x := &earlyExit{Baseline: b, desc: cfg.Description()}
	if b.Runner == nil {
		x.unavailable = earlyExitNotRun(cfg, b.Unavailable)
	}
	return x, nil
}

// earlyExitNotRun is early exit's row when it cannot run, saying why.
func earlyExitNotRun(cfg earlyexit.BaselineConfig, why string) *Variant {
	return &Variant{Name: "early_exit", Description: cfg.Description(), Note: "not run: " + why}
}

// at is early exit's variant at threshold eta. Variants at several thresholds share the runner, so
// each sets its own before every inference.
func (x *earlyExit) at(eta float64) *Variant {
	r := x.Runner
	v := &Variant{Name: "early_exit", Description: x.desc, Engine: r.Engine, Skipping: r.Engine.SkippingConfig()}
	v.Infer = func(o policy.Observation) (policy.Result, error) {
		r.Threshold = eta
		res, err := r.Infer(o)
		return res.Inference, err
	}
	v.Param = fmt.Sprintf("eta=%.4g", eta)
	return v
}

// earlyExit is the early-exit baseline an evaluation asks for, fitted on the training episodes of
// the tasks it plays.
func (cfg *EvaluateConfig) earlyExit() earlyexit.BaselineConfig {
	return earlyexit.BaselineConfig{Model: cfg.Model, Weights: cfg.Weights, Backend: cfg.Backend, Tasks: cfg.Suite.Scene.Tabletop,
		Every: cfg.ExitEvery, Episodes: cfg.ExitEpisodes, Stride: cfg.ExitStride, Log: cfg.Log}
}

// earlyExit is the early-exit baseline a sweep asks for, as EvaluateConfig's.
func (cfg *SweepConfig) earlyExit() earlyexit.BaselineConfig {
	return earlyexit.BaselineConfig{Model: cfg.Model, Weights: cfg.Weights, Backend: cfg.Backend, Tasks: cfg.Suite.Scene.Tabletop,
		Every: cfg.ExitEvery, Episodes: cfg.ExitEpisodes, Stride: cfg.ExitStride, Log: cfg.Log}
}
