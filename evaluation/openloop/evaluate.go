// Package openloop compares DySL with the full model, its ablations and the baselines on held-out
// generated episodes, in one run, and reports compute and action error side by side (GitHub issue 6).
//
// Open loop. Every variant sees the recorded expert trajectory's frames in order (the scene's expert
// drives; the policy's actions are not executed), and its actions are compared with the full model's
// and with the expert's chunk on the same frame. Each variant keeps its own episode state: DySL's
// continuity history is built from that variant's own chunks, and every variant is reset at each new
// episode. Closed-loop success is not measured.
//
// Interleaving. Every frame is run through every variant before the next frame, in an order that
// rotates from frame to frame, so machine noise lands on all variants alike; speedups are medians of
// the same run. Every engine variant is its own policy.Engine (own skipping state) on one shared
// ONNX Runtime backend of the bundle (the engine serializes an inference from prefix to head, so
// sharing the sessions is safe and keeps timings comparable); the one-stage bundle and the early-exit
// baseline have backends of their own.
//
// Matching. Equal compute is equal executed layers per inference, verification re-runs included
// (GitHub issue 14: matching DySL's first-pass skip ratio instead flattered DySL, whose re-runs the
// baselines were not charged for). DySL runs once over the held-out frames first (untimed; it also
// warms up) to measure the layers E it executes per inference. Random skip and fixed-ratio jumps,
// which never re-run, then skip L − E layers per frame on average: each frame gets a whole number of
// layers, chosen by error diffusion so the running mean tracks L − E. FlexiDepth's threshold τ is
// bisected, and early exit's η chosen, so that their mean executed layers on the match frames are
// closest to E. Matching reads compute statistics only, never errors.
package openloop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"dysl_vla/evaluation/earlyexit"
	"dysl_vla/evaluation/matching"
	"dysl_vla/modelbuild"
	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
	"dysl_vla/scene"
	"dysl_vla/skipping"
	"dysl_vla/training"
)

// Config configures one evaluation.
type Config struct {
	Model    string // bundle directory
	OneStage string // bundle distilled in one stage (stage 1 skipped), same backbone; optional
	// Weights is the backbone safetensors file, needed for the early-exit fit when the bundle was built
	// from trained weights (a random backbone is rebuilt from the manifest).
	Weights string
	// Backend starts the backends the variants run on (ortbackend.Opener for ONNX Runtime).
	Backend policy.BackendOpener
	// Episodes from seed Seed on: held out from training.HeldOutSeedStart on (the report says so when
	// they are not; zero is a seed like any other). Episodes defaults to 4.
	Episodes int
	Seed     int64
	// DySL is the configuration of the dysl rows (the ablations change one switch of it); it defaults to
	// skipping.DefaultConfig().
	DySL *skipping.Config
	// ExitEvery is the early-exit interval in layers (default 2); ExitRank the exit adapters' rank
	// (default the bundle's adapter rank).
	ExitEvery, ExitRank int
	// ExitThreshold is η; nil (the default) picks the η that matches DySL's executed layers.
	ExitThreshold *float64
	// ExitEpisodes training episodes (seeds from training.TrainSeedStart), every ExitStride-th frame,
	// calibrate the exits. Defaults 8 and 4.
	ExitEpisodes, ExitStride int
	// MatchFrames caps the held-out frames used to match FlexiDepth's τ and early exit's η (evenly
	// spaced); 0 uses all.
	MatchFrames int
	Log         io.Writer
	Now         func() time.Time
}

// Validate names every count below zero and a threshold that is not a finite η >= 0; zero counts
// take their defaults (EnsureDefaults).
func (c *Config) Validate() error {
	var problems []string
	for _, n := range []struct {
		name  string
		value int
	}{{"episodes", c.Episodes}, {"match-frames", c.MatchFrames}} {
		if n.value < 0 {
			problems = append(problems, fmt.Sprintf("%s (%d) must be >= 0 (0: the default)", n.name, n.value))
		}
	}
	if err := scene.CheckEpisodeCount("episodes", c.Episodes); err != nil {
		problems = append(problems, err.Error())
	}
	if err := scene.CheckSeeds("seed", c.Seed, c.Episodes); err != nil {
		problems = append(problems, err.Error())
	}
	if err := c.earlyExit().Check(); err != nil {
		problems = append(problems, err.Error())
	}
	if t := c.ExitThreshold; t != nil && (!(*t >= 0) || math.IsInf(*t, 1)) {
		problems = append(problems, fmt.Sprintf("exit threshold (%v) must be a finite eta >= 0", *t))
	}
	if len(problems) > 0 {
		return fmt.Errorf("evaluate: %s", strings.Join(problems, "; "))
	}
	return nil
}

// earlyExit is the early-exit baseline as this configuration asks for it.
func (c *Config) earlyExit() earlyexit.BaselineConfig {
	return earlyexit.BaselineConfig{Model: c.Model, Weights: c.Weights, Backend: c.Backend,
		Every: c.ExitEvery, Rank: c.ExitRank, Episodes: c.ExitEpisodes, Stride: c.ExitStride, Log: c.Log}
}

// EnsureDefaults fills the zero fields with their defaults.
func (c *Config) EnsureDefaults() {
	if c.Episodes == 0 {
		c.Episodes = 4
	}
	if c.DySL == nil {
		d := skipping.DefaultConfig()
		c.DySL = &d
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Row is one variant's measurement. Errors are mean absolute errors over every value of the chunk (K
// actions × A dimensions) in normalized action units (the training loss's units); gripper agreement is
// the share of chunk actions whose gripper command (open/closed) is the same.
type Row struct {
	Variant     string `json:"variant"`
	Description string `json:"description"`
	// Param is the variant's matched or given knob, e.g. "skip_ratio=0.25" or "tau=0.41".
	Param     string `json:"param,omitempty"`
	Available bool   `json:"available"`
	Note      string `json:"note,omitempty"`

	Frames           int     `json:"frames"`
	MeanLayers       float64 `json:"mean_executed_layers"` // all passes of an inference
	SkipRatio        float64 `json:"skip_ratio"`           // mean skipped layers / L
	VerificationRate float64 `json:"verification_rate"`    // share of inferences that re-ran
	MedianMs         float64 `json:"median_ms"`
	P90Ms            float64 `json:"p90_ms"`
	Speedup          float64 `json:"speedup"` // median of full / median of this variant, same run

	MAEFull    Metric `json:"mae_vs_full"`
	MAEExpert  Metric `json:"mae_vs_expert"`
	GripFull   Metric `json:"gripper_agreement_vs_full"`
	GripExpert Metric `json:"gripper_agreement_vs_expert"`
	CritFull   Metric `json:"critical_mae_vs_full"`
	FreeFull   Metric `json:"free_mae_vs_full"`
	CritExpert Metric `json:"critical_mae_vs_expert"`
	FreeExpert Metric `json:"free_mae_vs_expert"`
	// StartHeading is, over the episodes' first frames, the mean cosine between the horizontal
	// heading of the variant's chunk and the expert's (the sum of the chunk's x and y steps). From the
	// start pose only the image says where the block is, so this is the policy's localization, free
	// of what the robot state already tells it later on.
	StartHeading Metric `json:"start_heading_cosine"`
	latencies    []time.Duration
	headingSum   float64
	headingCount float64
	skippedSum   float64
	layersSum    float64
	verifiedSum  float64
	sums         [8]float64 // |·| sums: full, expert, crit full, free full, crit expert, free expert; grip full, grip expert
	counts       [4]float64 // values: all, critical, free; gripper actions
}

// Metric is an error or agreement figure; NaN (nothing to measure, e.g. no critical frame) is
// written to JSON as null.
type Metric float64

// MarshalJSON implements json.Marshaler.
func (m Metric) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(m)) || math.IsInf(float64(m), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(m))
}

// Report is the whole evaluation.
type Report struct {
	Model          string   `json:"model"`
	Preset         string   `json:"preset"`
	Layers         int      `json:"layers"`
	StaticLayers   []int    `json:"static_layers"`
	Seeds          [2]int64 `json:"seeds"` // first and last: held out from training.HeldOutSeedStart on
	Episodes       int      `json:"episodes"`
	Frames         int      `json:"frames"`
	CriticalFrames int      `json:"critical_frames"`
	Mode           string   `json:"mode"`
	Provider       string   `json:"provider"` // the caller's, who chose the backend
	// Machine, the caller's too, says what computed the run: the processor, ONNX Runtime and its
	// provider. Timings depend on it, and the last bits of the actions do.
	Machine string   `json:"machine,omitempty"`
	DySL    string   `json:"dysl_config"`
	Rows    []Row    `json:"rows"`
	Notes   []string `json:"notes"`
	// Stopped, when the run was stopped before its end (Ctrl-C), says how far it came: the report
	// then stands on the first episodes alone, which Episodes, Frames and Seeds count.
	Stopped string `json:"stopped,omitempty"`
}

// stopped makes rep the report of the frames played, whole episodes, of a run stopped early.
func stopped(rep *Report, played []*frame) {
	episodes := len(episodesOf(played))
	rep.Stopped = fmt.Sprintf("every variant ran the first %d of %d episodes (the baselines were matched to DySL's layers on all %[2]d)", episodes, rep.Episodes)
	rep.Episodes, rep.Frames, rep.CriticalFrames = episodes, len(played), 0
	rep.Seeds[1] = rep.Seeds[0] + int64(episodes) - 1
	for _, f := range played {
		if f.critical {
			rep.CriticalFrames++
		}
	}
}

// frame is one held-out observation with the expert's chunk.
type frame struct {
	obs      policy.Observation
	expert   [][]float64 // normalized expert chunk, K×A
	critical bool
	episode  int
	start    bool // the episode's first frame: the gripper at its start pose
}

// variant is one row's runner.
type variant struct {
	row    *Row
	engine *policy.Engine // nil for the variants that are not an engine on the bundle
	reset  func()
	// before, when set, runs before each inference, untimed (per-frame knobs).
	before func() error
	infer  func(f *frame) (outcome, error)
}

// outcome is what one inference did.
type outcome struct {
	chunk            [][]float64 // normalized
	executed, skip   int
	verificationFire bool
}

// Run evaluates every variant and returns the report. A done ctx (Ctrl-C) stops it: during the timed
// run, at the next episode, with the report of the whole episodes every variant ran (Report.Stopped)
// and an error; before it, with the error alone.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.EnsureDefaults()
	if cfg.Backend == nil {
		return nil, errors.New("evaluate: Config.Backend is nil: say which backend runs the graphs (ortbackend.Opener)")
	}
	b, err := bundle.Load(cfg.Model)
	if err != nil {
		return nil, err
	}
	m := &b.Manifest
	arch, err := modelbuild.BundleArch(m)
	if err != nil {
		return nil, fmt.Errorf("evaluate: bundle %s: %w", cfg.Model, err)
	}
	if err := cfg.earlyExit().CheckBundle(m); err != nil {
		return nil, err
	}
	L := m.Dims.Layers
	layout, err := skipping.NewLayout(L, m.StaticLayers)
	if err != nil {
		return nil, err
	}
	seeds := training.Seeds(cfg.Seed, cfg.Episodes)
	fmt.Fprintf(cfg.Log, "generating %d episodes (%s)\n", cfg.Episodes, training.HeldOutSeeds(seeds[0], seeds[len(seeds)-1]))
	data, err := training.GenerateEpisodes(arch, seeds)
	if err != nil {
		return nil, err
	}
	frames := prepareFrames(data, arch)
	rep := &Report{Model: cfg.Model, Preset: m.Provenance.Preset, Layers: L, StaticLayers: m.StaticLayers,
		Seeds: [2]int64{seeds[0], seeds[len(seeds)-1]}, Episodes: cfg.Episodes, Frames: len(frames),
		Mode: "open loop: recorded expert frames in, actions compared, not executed", DySL: cfg.DySL.String()}
	for _, f := range frames {
		if f.critical {
			rep.CriticalFrames++
		}
	}

	backend, err := cfg.Backend(cfg.Model, m)
	if err != nil {
		return nil, err
	}
	defer backend.Close()
	engineOf := func(c skipping.Config) (*policy.Engine, error) {
		e := &policy.Engine{Manifest: m, Backend: backend, Skipping: &c, Now: cfg.Now}
		return e, e.Initialize()
	}

	// DySL first, untimed, to measure the compute the baselines are matched to: the layers it
	// executes per inference, verification re-runs included.
	dysl, err := engineOf(*cfg.DySL)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.Log, "measuring DySL's executed layers on %d frames\n", len(frames))
	executed, err := matching.EngineLayers(ctx, dysl, episodesOf(frames))
	if stop := (*matching.Interrupted)(nil); errors.As(err, &stop) {
		return nil, fmt.Errorf("evaluate: stopped while measuring DySL's executed layers: %w", stop.Cause)
	}
	if err != nil {
		return nil, err
	}
	skipped := float64(L) - executed // per inference, for the baselines that never re-run
	fmt.Fprintf(cfg.Log, "DySL executes %.2f of %d layers per inference: matching the baselines to it\n", executed, L)
	match := matchSubset(frames, cfg.MatchFrames)

	var variants []*variant
	addEngine := func(name, desc string, c skipping.Config, e *policy.Engine) (*variant, error) {
		if e == nil {
			var err error
			if e, err = engineOf(c); err != nil {
				return nil, err
			}
		}
		v := engineVariant(&Row{Variant: name, Description: desc, Available: true}, e)
		variants = append(variants, v)
		return v, nil
	}
	full := *cfg.DySL
	full.Strategy = skipping.StrategyFull
	if _, err := addEngine("full", "every layer (the reference)", full, nil); err != nil {
		return nil, err
	}
	if _, err := addEngine("dysl", "DySL: allow points, controllers, adapters, verification", *cfg.DySL, dysl); err != nil {
		return nil, err
	}
	noPre := *cfg.DySL
	noPre.PreSkipPrediction = false
	if _, err := addEngine("dysl_no_preskip", "DySL without pre-skip prediction (allow points fixed at the front)", noPre, nil); err != nil {
		return nil, err
	}
	noVer := *cfg.DySL
	noVer.Verification = false
	if _, err := addEngine("dysl_no_verify", "DySL without post-skip verification", noVer, nil); err != nil {
		return nil, err
	}
	oneStage, closeOneStage, err := oneStageVariant(cfg, m, frames[0], dysl.InferSingleGraph)
	if err != nil {
		return nil, err
	}
	defer closeOneStage()
	variants = append(variants, oneStage)

	random := *cfg.DySL
	random.Strategy = skipping.StrategyRandomSkip
	v, err := addEngine("random_skip", "random dynamic layers skipped, no adapter", random, nil)
	if err != nil {
		return nil, err
	}
	if err := ditherSkipRatio(v, random, layout, skipped); err != nil {
		return nil, err
	}
	static := *cfg.DySL
	static.Strategy = skipping.StrategyStaticOnly
	if v, err = addEngine("static_only", "static layers only: first adapter of every segment", static, nil); err != nil {
		return nil, err
	}
	v.row.Param = "not matchable"
	v.row.Note = fmt.Sprintf("skips every dynamic layer (%d of %d)", layout.DynamicLayers(), L)
	fixed := *cfg.DySL
	fixed.Strategy = skipping.StrategyFixedRatio
	if v, err = addEngine("fixed_ratio", "static-dynamic jumps at fixed points, controllers ignored", fixed, nil); err != nil {
		return nil, err
	}
	if err := ditherSkipRatio(v, fixed, layout, skipped); err != nil {
		return nil, err
	}
	flexi := *cfg.DySL
	flexi.Strategy = skipping.StrategyFlexiDepth
	fe, err := engineOf(flexi)
	if err != nil {
		return nil, err
	}
	tau, got, err := matching.FlexiDepthThreshold(ctx, fe, flexi, episodesOf(match), executed)
	if err != nil {
		return nil, fmt.Errorf("evaluate: flexidepth, matching tau: %w", err)
	}
	flexi.ControllerThreshold = tau
	if err := fe.SetSkipping(flexi); err != nil {
		return nil, err
	}
	if v, err = addEngine("flexidepth", "the bundle's DySL controllers before every dynamic layer, one layer skipped at a time, no adapter", flexi, fe); err != nil {
		return nil, err
	}
	v.row.Param = fmt.Sprintf("tau=%.4g", tau)
	v.row.Note = fmt.Sprintf("tau bisected on %d frames to %.2f layers per inference (target %.2f)", len(match), got, executed)

	exit, closeExit, err := earlyExitVariant(ctx, cfg, m, match, executed)
	if err != nil {
		return nil, err
	}
	defer closeExit()
	variants = append(variants, exit)

	played, err := runInterleaved(ctx, cfg, variants, frames, m)
	switch {
	case err != nil:
		return nil, err
	case played == 0:
		return nil, fmt.Errorf("evaluate: stopped before the first episode: %w", context.Cause(ctx))
	case played < len(frames):
		stopped(rep, frames[:played])
		err = fmt.Errorf("evaluate: stopped after %d of %d episodes: %w", rep.Episodes, cfg.Episodes, context.Cause(ctx))
	}
	for _, v := range variants {
		rep.Rows = append(rep.Rows, *v.row)
	}
	finish(rep, L)
	if m.Provenance.Weights == "" {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the backbone is random (preset %s, seed %d), not trained: errors against the expert say nothing about the policy; only errors against full are meaningful", m.Provenance.Preset, m.Provenance.Seed))
	}
	rep.Notes = append(rep.Notes,
		fmt.Sprintf("the baselines are matched to DySL's %.2f executed layers per inference (verification re-runs included), measured on the same frames before the timed run: random_skip and fixed_ratio skip a whole number of layers per frame, dithered so their mean is %.2f layers; flexidepth's tau and early_exit's eta are searched on the match frames", executed, skipped),
		"errors: mean |a - b| over every value of the K-action chunk in normalized action units; critical = grasp and release windows as training marks them",
		"speedup: median latency of full / median latency of the variant, whole inference (prefix, layers, adapters, controllers, head, verification; early exit: its exit adapters and one head per exit reached), same interleaved run")
	return rep, err
}

// prepareFrames turns the generated dataset into engine observations and normalized expert chunks.
func prepareFrames(d *training.Dataset, a modelbuild.Arch) []*frame {
	K, A := a.Chunk, a.ActionDim
	out := make([]*frame, len(d.Frames))
	for i, f := range d.Frames {
		expert := make([][]float64, K)
		for k := range expert {
			expert[k] = make([]float64, A)
			for c := range expert[k] {
				expert[k][c] = float64(f.Chunk[k*A+c])
			}
		}
		out[i] = &frame{
			obs: policy.Observation{
				Image:       policy.Image{Width: a.ImageSize, Height: a.ImageSize, Encoding: "rgb8", Step: 3 * a.ImageSize, Data: f.RGB},
				Instruction: instruction(f.Tokens),
				State:       f.State,
			},
			expert: expert, critical: f.Critical, episode: f.Episode, start: f.Step == 0,
		}
	}
	return out
}

// instruction inverts the "bytes" tokenizer (tokens are bytes + 1, 0 pads). The scene's instruction may
// be longer than the token input; the engine truncates it to the same tokens either way.
func instruction(tokens []int64) string {
	var s []byte
	for _, t := range tokens {
		if t == 0 {
			break
		}
		s = append(s, byte(t-1))
	}
	return string(s)
}

// matchSubset picks at most n evenly spaced frames (all when n <= 0).
func matchSubset(frames []*frame, n int) []*frame {
	if n <= 0 || n >= len(frames) {
		return frames
	}
	out := make([]*frame, n)
	for i := range out {
		out[i] = frames[i*len(frames)/n]
	}
	return out
}

// episodesOf cuts frames, in order, into their episodes.
func episodesOf(frames []*frame) [][]policy.Observation {
	var out [][]policy.Observation
	for i, f := range frames {
		if i == 0 || f.episode != frames[i-1].episode {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], f.obs)
	}
	return out
}

func engineVariant(row *Row, e *policy.Engine) *variant {
	return &variant{
		row:    row,
		engine: e,
		reset:  e.Reset,
		infer: func(f *frame) (outcome, error) {
			res, err := e.Infer(f.obs)
			if err != nil {
				return outcome{}, err
			}
			chunk := make([][]float64, len(res.Chunk))
			for k, a := range res.Chunk {
				chunk[k] = e.Normalize(a)
			}
			return outcome{chunk: chunk, executed: res.Stats.LayersExecuted, skip: res.Stats.LayersSkipped,
				verificationFire: res.Stats.VerificationFired}, nil
		},
	}
}

// ditherSkipRatio gives v a per-frame skip ratio (strategy random_skip or fixed_ratio) such that each
// frame skips a whole number of layers and the running mean tracks target skipped layers per frame
// (error diffusion over the whole run). Changing only SkipRatio keeps the engine's episode going.
func ditherSkipRatio(v *variant, c skipping.Config, layout skipping.Layout, target float64) error {
	if v.engine == nil {
		return errors.New("evaluate: dithering needs an engine variant")
	}
	d := matching.NewDither(c.Strategy, layout, target)
	v.row.Param = fmt.Sprintf("skip_ratio=%.3f", target/float64(layout.Layers))
	v.row.Note = fmt.Sprintf("each frame skips one of %v layers, dithered to a mean of %.2f", d.Counts(), target)
	v.before = func() error {
		cc := c
		cc.SkipRatio = d.Next()
		return v.engine.SetSkipping(cc)
	}
	return nil
}
