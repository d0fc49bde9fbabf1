package closedloop

import (
	"cmp"
	"fmt"
	"io"
	"slices"

	"dysl_vla/evaluation/earlyexit"
	"dysl_vla/evaluation/matching"
	"dysl_vla/modelbuild"
	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
	"dysl_vla/skipping"
	"dysl_vla/training"
)

// EvaluateConfig configures Evaluate: one bundle, every variant, the same seeded episodes.
type EvaluateConfig struct {
	Model string // bundle directory
	// OneStage, optional, is a copy of the bundle distilled in one stage (the ablation's row).
	OneStage string
	// Backend starts the backends the variants run on (ortbackend.Opener for ONNX Runtime).
	Backend policy.BackendOpener
	// DySL is the configuration of the dysl rows; the ablations change one switch of it.
	DySL  skipping.Config
	Seeds []int64
	Suite Suite
	// MatchFrames caps the observations, served to DySL, that FlexiDepth's and early exit's thresholds
	// are matched on.
	MatchFrames int
	// Weights is the backbone safetensors the bundle was built from, for the early-exit fit (a random
	// backbone is rebuilt from the manifest).
	Weights string
	// ExitEvery is the early-exit interval in layers (default 2); ExitEpisodes training episodes of
	// the evaluated tasks, every ExitStride-th frame, fit the exits (defaults 8 and 4).
	ExitEvery, ExitEpisodes, ExitStride int
	Log                                 io.Writer
}

// Report is a closed-loop evaluation.
type Report struct {
	Model    string   `json:"model"`
	Layers   int      `json:"layers"`
	Static   []int    `json:"static_layers"`
	Seeds    [2]int64 `json:"seeds"`
	Tasks    string   `json:"tasks"`
	Latency  string   `json:"latency"`
	DySL     string   `json:"dysl_config"`
	Variants []Row    `json:"variants"`
	Notes    []string `json:"notes"`
}

// timingReference names the second phase's run of the full model.
const timingReference = "full_timing"

// EpisodeRuns is how many episodes Evaluate plays in all (for a progress bar's total): full, dysl,
// the ablations, the baselines, the second phase's full, the one-stage bundle when given and early
// exit when its backbone can be had.
func EpisodeRuns(cfg EvaluateConfig) int {
	runs := 9
	if cfg.OneStage != "" {
		runs++
	}
	if _, _, _, err := training.OpenBundleBackbone(cfg.Model, cfg.Weights); err == nil {
		runs++
	}
	return runs * len(cfg.Seeds)
}

// Evaluate runs full and DySL first, matches the baselines to the layers DySL executed per
// inference (verification re-runs included), then runs the ablations and baselines on the same
// episodes. Every engine shares one ONNX Runtime backend of the bundle (the one-stage bundle has its
// own); the harness runs one episode at a time, so they never run at once.
func Evaluate(cfg EvaluateConfig) (*Report, error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.MatchFrames <= 0 {
		cfg.MatchFrames = 600
	}
	if len(cfg.Seeds) == 0 {
		return nil, fmt.Errorf("closedloop: no episodes to evaluate")
	}
	b, err := bundle.Load(cfg.Model)
	if err != nil {
		return nil, err
	}
	m := &b.Manifest
	L := m.Dims.Layers
	layout, err := skipping.NewLayout(L, m.StaticLayers)
	if err != nil {
		return nil, err
	}
	if cfg.Backend == nil {
		return nil, fmt.Errorf("closedloop: EvaluateConfig.Backend is nil: say which backend runs the graphs (ortbackend.Opener)")
	}
	backend, err := cfg.Backend(cfg.Model, m)
	if err != nil {
		return nil, err
	}
	defer backend.Close()
	engineOf := func(c skipping.Config) (*policy.Engine, error) {
		e := &policy.Engine{Manifest: m, Backend: backend, Skipping: &c}
		return e, e.Initialize()
	}
	variant := func(name, desc string, c skipping.Config) (*Variant, error) {
		e, err := engineOf(c)
		if err != nil {
			return nil, err
		}
		return &Variant{Name: name, Description: desc, Engine: e, Skipping: c}, nil
	}
	with := func(f func(*skipping.Config)) skipping.Config {
		c := cfg.DySL
		f(&c)
		return c
	}

	full, err := variant("full", "every layer (the reference)", with(func(c *skipping.Config) { c.Strategy = skipping.StrategyFull }))
	if err != nil {
		return nil, err
	}
	dysl, err := variant("dysl", "DySL: allow points, controllers, adapters, verification", cfg.DySL)
	if err != nil {
		return nil, err
	}
	var served []policy.Observation
	dysl.OnServe = func(o policy.Observation) {
		if len(served) < cfg.MatchFrames {
			served = append(served, o)
		}
	}
	fmt.Fprintf(cfg.Log, "closed loop: full and dysl on %d episodes\n", len(cfg.Seeds))
	rows, err := cfg.Suite.Run([]*Variant{full, dysl}, cfg.Seeds)
	if err != nil {
		return nil, err
	}
	executed := float64(rows[1].ExecutedLayers)
	target := float64(L) - executed // skipped layers per inference at DySL's compute
	fmt.Fprintf(cfg.Log, "dysl executes %.2f of %d layers per inference: the baselines are matched to it\n", executed, L)

	var rest []*Variant
	add := func(name, desc string, c skipping.Config) (*Variant, error) {
		v, err := variant(name, desc, c)
		if err == nil {
			rest = append(rest, v)
		}
		return v, err
	}
	if _, err := add("dysl_no_preskip", "DySL without pre-skip prediction (allow points fixed at the front)",
		with(func(c *skipping.Config) { c.PreSkipPrediction = false })); err != nil {
		return nil, err
	}
	if _, err := add("dysl_no_verify", "DySL without post-skip verification", with(func(c *skipping.Config) { c.Verification = false })); err != nil {
		return nil, err
	}
	oneStage := &Variant{Name: "one_stage", Description: "DySL with adapters and controllers distilled in one stage",
		Note: "not run: no --one-stage bundle"}
	if cfg.OneStage != "" {
		e, err := policy.Open(cfg.OneStage, cfg.Backend, cfg.DySL)
		if err != nil {
			return nil, fmt.Errorf("closedloop: --one-stage: %w", err)
		}
		defer e.Close()
		if e.Manifest.Dims != m.Dims || !slices.Equal(e.Manifest.StaticLayers, m.StaticLayers) {
			return nil, fmt.Errorf("closedloop: --one-stage bundle %s has another layout than %s", cfg.OneStage, cfg.Model)
		}
		oneStage.Engine, oneStage.Skipping, oneStage.Note = e, cfg.DySL, ""
	}
	rest = append(rest, oneStage)
	for _, s := range []skipping.Strategy{skipping.StrategyRandomSkip, skipping.StrategyFixedRatio} {
		c := with(func(c *skipping.Config) { c.Strategy = s })
		desc := "random dynamic layers skipped, no adapter"
		if s == skipping.StrategyFixedRatio {
			desc = "static-dynamic jumps at fixed points, controllers ignored"
		}
		v, err := add(s.String(), desc, c)
		if err != nil {
			return nil, err
		}
		v.BeforeInference, v.Param, v.Note = dither(c, layout, target)
	}
	static, err := add("static_only", "static layers only: first adapter of every segment", with(func(c *skipping.Config) { c.Strategy = skipping.StrategyStaticOnly }))
	if err != nil {
		return nil, err
	}
	static.Param = "not matchable"
	static.Note = fmt.Sprintf("runs %d of %d layers", L-layout.DynamicLayers(), L)
	flexi := with(func(c *skipping.Config) { c.Strategy = skipping.StrategyFlexiDepth })
	fe, err := engineOf(flexi)
	if err != nil {
		return nil, err
	}
	tau, got, err := matchFlexiDepth(fe, flexi, served, executed)
	if err != nil {
		return nil, err
	}
	flexi.ControllerThreshold = tau
	rest = append(rest, &Variant{Name: "flexidepth", Engine: fe, Skipping: flexi,
		Description: "the bundle's controllers before every dynamic layer, one layer skipped at a time, no adapter",
		Param:       fmt.Sprintf("tau=%.4g", tau),
		Note:        fmt.Sprintf("tau bisected on %d frames served to dysl: %.2f layers (target %.2f)", len(served), got, executed)})
	exit, closeExit, err := earlyExitVariant(cfg, served, executed)
	if err != nil {
		return nil, err
	}
	defer closeExit()
	rest = append(rest, exit)

	// full runs again beside them, untabulated: speedups compare times of the same phase, since the
	// machine's load may differ between phases.
	timing, err := variant(timingReference, "full, again: the second phase's timing reference", full.Skipping)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.Log, "closed loop: ablations and baselines on the same %d episodes\n", len(cfg.Seeds))
	more, err := cfg.Suite.Run(append(rest, timing), cfg.Seeds)
	if err != nil {
		return nil, err
	}
	Finish(rows, "full")
	Finish(more, timingReference)
	rows = append(rows, more[:len(more)-1]...)
	tasks := "single task"
	if t := cfg.Suite.Scene.Tabletop; t.Blocks > 0 {
		tasks = fmt.Sprintf("tabletop: %d blocks, %d pads, chains of %d", t.Blocks, t.Pads, t.Chain)
	}
	latency := cfg.Suite.Latency
	if latency == nil {
		latency = MeasuredLatency{}
	}
	rep := &Report{Model: cfg.Model, Layers: L, Static: m.StaticLayers, Seeds: [2]int64{cfg.Seeds[0], cfg.Seeds[len(cfg.Seeds)-1]},
		Tasks: tasks, Latency: latency.String(), DySL: cfg.DySL.String(), Variants: rows}
	rep.Notes = append(rep.Notes,
		fmt.Sprintf("full and dysl ran first; the baselines were then matched to dysl's %.2f executed layers per inference (verification re-runs included) and run on the same episodes", executed),
		"speedups: mean engine time per inference of full over the variant's, measured in this run (full runs in both phases, interleaved episode by episode with the variants, and each phase is compared with its own full); backbone = decoder layers, adapters, controllers and verification re-runs (the re-run's head included)")
	if m.Provenance.Weights == "" {
		rep.Notes = append(rep.Notes, "the backbone is random, not trained: success says nothing about DySL")
	}
	return rep, nil
}

// dither gives a random_skip or fixed_ratio variant a per-inference skip ratio such that every
// inference skips a whole number of layers and the running mean tracks target skipped layers.
func dither(c skipping.Config, layout skipping.Layout, target float64) (func() *skipping.Config, string, string) {
	d := matching.NewDither(c.Strategy, layout, target)
	next := func() *skipping.Config {
		cc := c
		cc.SkipRatio = d.Next()
		return &cc
	}
	return next, fmt.Sprintf("skip_ratio=%.3f", target/float64(layout.Layers)),
		fmt.Sprintf("each inference skips one of %v layers, dithered to a mean of %.2f", d.Counts(), target)
}

// matchFlexiDepth bisects the controller threshold so that FlexiDepth executes, on the observations
// DySL was served (episodes cut where the instruction changes), as many layers per inference as
// target. Executed layers rise with the threshold.
func matchFlexiDepth(e *policy.Engine, c skipping.Config, obs []policy.Observation, target float64) (tau, got float64, err error) {
	measure := func(t float64) (float64, error) {
		c.ControllerThreshold = t
		if err := e.SetSkipping(c); err != nil {
			return 0, err
		}
		var layers float64
		for i, o := range obs {
			if i == 0 || o.Instruction != obs[i-1].Instruction {
				e.Reset()
			}
			res, err := e.Infer(o)
			if err != nil {
				return 0, err
			}
			layers += float64(res.Stats.LayersExecuted)
		}
		e.Reset()
		return layers / float64(max(len(obs), 1)), nil
	}
	// τ = 1 never skips: every layer runs.
	bestTau, bestGot, err := matching.Bisect(measure, target, true, 12, [2]float64{1, float64(e.Manifest.Dims.Layers)})
	if err != nil {
		return 0, 0, err
	}
	c.ControllerThreshold = bestTau
	return bestTau, bestGot, e.SetSkipping(c)
}

// earlyExitVariant fits DeeR-style exits on training episodes of the evaluated tasks and matches
// their threshold so that they execute, on the observations served to DySL, layers layers per
// inference. Without the backbone's weights the row says why it was not run.
func earlyExitVariant(cfg EvaluateConfig, served []policy.Observation, layers float64) (*Variant, func(), error) {
	every, episodes, stride := cmp.Or(cfg.ExitEvery, 2), cmp.Or(cfg.ExitEpisodes, 8), cmp.Or(cfg.ExitStride, 4)
	v := &Variant{Name: "early_exit", Description: fmt.Sprintf("DeeR-style: exit every %d layers when consecutive exits agree (L2)", every)}
	_, arch, weights, err := training.OpenBundleBackbone(cfg.Model, cfg.Weights)
	if err != nil {
		v.Note = "not run: " + err.Error()
		return v, func() {}, nil
	}
	fmt.Fprintf(cfg.Log, "fitting early exits on %d training episodes (every %d-th frame)\n", episodes, stride)
	calib, err := training.GenerateSceneEpisodes(arch, training.Seeds(training.TrainSeedStart, episodes), cfg.Suite.Scene.Tabletop)
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
	depth, err := r.MatchLayers(served, layers)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	v.Engine, v.Skipping = r.Engine, r.Engine.SkippingConfig()
	v.Infer = func(o policy.Observation) (policy.Result, error) {
		res, err := r.Infer(o)
		return res.Inference, err
	}
	v.Param = fmt.Sprintf("eta=%.4g", r.Threshold)
	v.Note = fmt.Sprintf("eta chosen on %d frames served to dysl for %.2f layers (target %.2f); %s", len(served), depth, layers, fit.Describe())
	return v, closeAll, nil
}

// WriteReport prints the report for people: what was evaluated, the table of variants and the notes.
func WriteReport(w io.Writer, rep *Report) {
	fmt.Fprintf(w, "model %s (%d layers, static %v), closed loop, %s, held-out seeds %d..%d, latency %s\n", rep.Model, rep.Layers, rep.Static, rep.Tasks, rep.Seeds[0], rep.Seeds[1], rep.Latency)
	fmt.Fprintf(w, "dysl config: %s\n\n", rep.DySL)
	WriteTable(w, rep.Variants)
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}
