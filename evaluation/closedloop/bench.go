package closedloop

import (
	"cmp"
	"fmt"
	"io"

	"dysl_vla/evaluation/earlyexit"
	"dysl_vla/evaluation/matching"
	"dysl_vla/modelbuild"
	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
	"dysl_vla/scene"
	"dysl_vla/skipping"
	"dysl_vla/training"
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
// full, and keeps the first matchFrames observations DySL was served: the reference the other
// variants are compared with, and the frames their thresholds are first matched on.
func (b *bench) firstPhase(suite Suite, seeds []int64, matchFrames int) (full *Variant, rows []Row, served []policy.Observation, err error) {
	full, err = b.variant("full", "every layer (the reference)", b.with(func(c *skipping.Config) { c.Strategy = skipping.StrategyFull }))
	if err != nil {
		return nil, nil, nil, err
	}
	dysl, err := b.variant("dysl", "DySL: allow points, controllers, adapters, verification", b.dysl)
	if err != nil {
		return nil, nil, nil, err
	}
	dysl.OnServe = func(o policy.Observation) {
		if len(served) < matchFrames {
			served = append(served, o)
		}
	}
	if rows, err = suite.Run([]*Variant{full, dysl}, seeds); err != nil {
		return nil, nil, nil, err
	}
	Finish(rows, full.Name)
	return full, rows, served, nil
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
	v.BeforeInference = func(scene.State) *skipping.Config {
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
// runner is nil and unavailable is the row that says why.
type earlyExit struct {
	runner      *earlyexit.Runner
	fit         *earlyexit.Fit
	desc        string
	unavailable *Variant
}

// earlyExitConfig is what fitting the exits takes: the bundle, its backbone, and the training
// episodes of the evaluated tasks they are fitted on.
type earlyExitConfig struct {
	Model, Weights string
	Backend        policy.BackendOpener
	Scene          scene.Config
	// Every is the exit interval in layers (default 2); Episodes training episodes, every Stride-th
	// frame, fit the exits (defaults 8 and 4).
	Every, Episodes, Stride int
	Log                     io.Writer
}

// checkBaselineCounts refuses the baselines' counts below zero (zero takes the default): early exit's
// interval, fitting episodes and stride, and the frames served to dysl that the baselines' thresholds
// are matched on. Evaluate and Sweep call it first, before a bundle is opened.
func checkBaselineCounts(every, episodes, stride, matchFrames int) error {
	if every < 0 || episodes < 0 || stride < 0 || matchFrames < 0 {
		return fmt.Errorf("closedloop: early exit's interval (%d layers), episodes (%d) and stride (%d frames), and the frames thresholds are matched on (%d), must be >= 0 (0: the defaults 2, 8, 4 and 600)",
			every, episodes, stride, matchFrames)
	}
	return training.CheckEpisodeCount("closedloop: early exit's episodes", episodes)
}

// openEarlyExit fits the exits on training episodes of the evaluated tasks and opens their runner;
// close releases it.
func openEarlyExit(cfg earlyExitConfig) (*earlyExit, func(), error) {
	every, episodes, stride := cmp.Or(cfg.Every, 2), cmp.Or(cfg.Episodes, 8), cmp.Or(cfg.Stride, 4)
	x := &earlyExit{desc: fmt.Sprintf("DeeR-style: exit every %d layers when consecutive exits agree (L2)", every)}
	_, arch, weights, err := training.OpenBundleBackbone(cfg.Model, cfg.Weights)
	if err != nil {
		x.unavailable = &Variant{Name: "early_exit", Description: x.desc, Note: "not run: " + err.Error()}
		return x, func() {}, nil
	}
	fmt.Fprintf(cfg.Log, "fitting early exits on %d training episodes (every %d-th frame)\n", episodes, stride)
	calib, err := training.GenerateSceneEpisodes(arch, training.Seeds(training.TrainSeedStart, episodes), cfg.Scene.Tabletop)
	if err != nil {
		return nil, nil, err
	}
	var obs []modelbuild.Observation
	for i := 0; i < len(calib.Frames); i += stride {
		obs = append(obs, calib.Frames[i].Observation(arch))
	}
	r, fit, closeAll, err := earlyexit.OpenFitted(cfg.Model, earlyexit.FitConfig{Arch: arch, Weights: weights, Every: every, Frames: obs}, cfg.Backend)
	if err != nil {
		return nil, nil, err
	}
	x.runner, x.fit = r, fit
	return x, closeAll, nil
}

// at is early exit's variant at threshold eta. Variants at several thresholds share the runner, so
// each sets its own before every inference.
func (x *earlyExit) at(eta float64) *Variant {
	r := x.runner
	v := &Variant{Name: "early_exit", Description: x.desc, Engine: r.Engine, Skipping: r.Engine.SkippingConfig()}
	v.Infer = func(o policy.Observation) (policy.Result, error) {
		r.Threshold = eta
		res, err := r.Infer(o)
		return res.Inference, err
	}
	v.Param = fmt.Sprintf("eta=%.4g", eta)
	return v
}
