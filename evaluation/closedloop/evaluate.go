package closedloop

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"dysl_vla/evaluation/matching"
	"dysl_vla/gripper"
	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
	"dysl_vla/scene"
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
	// are first matched on: the start of their closed-loop search.
	MatchFrames int
	// MatchEpisodes is how many of Seeds (the first) a threshold is searched on in closed loop (default
	// 10, at most all); MatchTolerance the executed layers per inference it must come within of
	// DySL's (default 0.1); MatchRuns caps the closed-loop runs per baseline (default 6).
	MatchEpisodes, MatchRuns int
	MatchTolerance           float64
	// Skipped, optional, is told of episodes EpisodeRuns counted that will not be played (a search that
	// met its tolerance early), so that a progress bar can shrink its total.
	Skipped func(episodes int)
	// Weights is the backbone safetensors the bundle was built from, for the early-exit fit (a random
	// backbone is rebuilt from the manifest).
	Weights string
	// ExitEvery is the early-exit interval in layers (default 2); ExitEpisodes training episodes of
	// the evaluated tasks, every ExitStride-th frame, fit the exits (defaults 8 and 4).
	ExitEvery, ExitEpisodes, ExitStride int
	// Variants, optional, names the ablations and baselines to run (of LaterVariants); nil runs every
	// one. full and dysl always run: every row's speedup is full's time over its own, and the baselines
	// are matched to dysl's compute. {"full", "dysl"} plays those two alone, which is how the full
	// model is judged on many episodes.
	Variants []string
	// Journal, optional, is the file that keeps what the run plays (Journal): started again after a
	// stop with the same options, the run plays only what is left.
	Journal string
	// Machine, optional, says what plays the episodes (the processor, ONNX Runtime and its provider).
	// The report prints it, and a journal records it: the figures depend on it beyond their timings,
	// as processors sum floats in different orders and a closed loop carries the last bits into other
	// states.
	Machine string
	Log     io.Writer
}

// LaterVariants are the rows Evaluate runs after full and dysl, in the table's order.
var LaterVariants = []string{"dysl_no_preskip", "dysl_no_verify", "one_stage", "random_skip", "fixed_ratio", "static_only", "flexidepth", "early_exit"}

// runs says whether the variant named is to run.
func (cfg *EvaluateConfig) runs(name string) bool {
	return cfg.Variants == nil || slices.Contains(cfg.Variants, name)
}

// checkVariants refuses names that are not variants.
func (cfg *EvaluateConfig) checkVariants() error {
	for i, name := range cfg.Variants {
		if name != "full" && name != "dysl" && !slices.Contains(LaterVariants, name) {
			return fmt.Errorf("closedloop: variant %q: expected full, dysl or one of %v", name, LaterVariants)
		}
		if slices.Contains(cfg.Variants[:i], name) {
			return fmt.Errorf("closedloop: variant %q named twice", name)
		}
	}
	return nil
}

func (cfg *EvaluateConfig) ensureDefaults() {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.MatchFrames <= 0 {
		cfg.MatchFrames = 600
	}
	cfg.MatchEpisodes = min(cmp.Or(cfg.MatchEpisodes, 10), len(cfg.Seeds))
	cfg.MatchRuns = cmp.Or(cfg.MatchRuns, 6)
	cfg.MatchTolerance = cmp.Or(cfg.MatchTolerance, 0.1)
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
	Machine  string   `json:"machine,omitempty"` // EvaluateConfig.Machine
	Variants []Row    `json:"variants"`
	Notes    []string `json:"notes"`
	// Stopped, when the run was stopped before its end (Ctrl-C), says where, and which episodes the
	// rows stand on; empty for a whole run.
	Stopped string `json:"stopped,omitempty"`
}

// timingReference names the second phase's run of the full model.
const timingReference = "full_timing"

// laterPlan is what Evaluate plays after full and dysl, decided before anything is played:
// Evaluate follows it, and EpisodeRuns counts it for the progress bar.
type laterPlan struct {
	// plays has the LaterVariants asked for, each of which gets a row, and says which of them play
	// episodes: not the one-stage ablation without its bundle, nor early exit when its backbone
	// cannot be rebuilt (exitUnavailable then says why).
	plays           map[string]bool
	exitUnavailable string
}

func (cfg *EvaluateConfig) planLater() laterPlan {
	p := laterPlan{plays: map[string]bool{}}
	for _, name := range LaterVariants {
		if !cfg.runs(name) {
			continue
		}
		switch name {
		case "one_stage":
			p.plays[name] = cfg.OneStage != ""
		case "early_exit":
			p.exitUnavailable = cfg.earlyExit().Unavailable()
			p.plays[name] = p.exitUnavailable == ""
		default:
			p.plays[name] = true
		}
	}
	return p
}

// refuseAskedNotPlayed refuses a variant named in asked (the --variants list) that could not play: a
// row named on purpose that comes back "not run" would pass in a script for one that ran. With all
// variants (asked empty), such rows are kept, saying why.
func (p laterPlan) refuseAskedNotPlayed(asked []string) error {
	for _, name := range asked {
		switch plays, listed := p.plays[name]; {
		case !listed || plays:
		case name == "one_stage":
			return fmt.Errorf("closedloop: variant one_stage was asked for, and there is no one-stage bundle to play it (--one-stage DIR)")
		case name == "early_exit":
			return fmt.Errorf("closedloop: variant early_exit was asked for, and cannot run: %s", p.exitUnavailable)
		}
	}
	return nil
}

// playing reports whether any later variant plays: only then is there a second phase, with full
// again as its timing reference.
func (p laterPlan) playing() bool {
	for _, plays := range p.plays {
		if plays {
			return true
		}
	}
	return false
}

// EpisodeRuns is how many episodes Evaluate plays at most (for a progress bar's total): full and
// dysl; the later variants that play, and full again beside them; and the closed-loop searches of
// FlexiDepth's and early exit's thresholds at their run caps.
func EpisodeRuns(cfg EvaluateConfig) int {
	cfg.ensureDefaults()
	p := cfg.planLater()
	runs, searched := 2, 0 // full and dysl
	for name, plays := range p.plays {
		if !plays {
			continue
		}
		runs++
		if name == "flexidepth" || name == "early_exit" {
			searched++
		}
	}
	if p.playing() {
		runs++ // the second phase's full
	}
	return runs*len(cfg.Seeds) + searched*cfg.MatchRuns*cfg.MatchEpisodes
}

// Evaluate runs full and DySL first, matches the baselines to the layers DySL executed per
// inference (verification re-runs included), then runs the ablations and baselines on the same
// episodes. Every engine shares one ONNX Runtime backend of the bundle (the one-stage bundle has its
// own); the harness runs one episode at a time, so they never run at once.
//
// A done ctx (Ctrl-C) stops it before the next episode: it then returns, with the error, the report
// of the rounds played (Suite.Run), Report.Stopped saying which rows stand on which episodes, or no
// report when full and dysl had not finished one.
func Evaluate(ctx context.Context, cfg EvaluateConfig) (*Report, error) {
	if len(cfg.Seeds) == 0 {
		return nil, fmt.Errorf("closedloop: no episodes to evaluate")
	}
	if err := checkBaselines(cfg.earlyExit(), cfg.MatchFrames); err != nil {
		return nil, err
	}
	if err := cfg.checkVariants(); err != nil {
		return nil, err
	}
	cfg.ensureDefaults()
	plan := cfg.planLater()
	if err := plan.refuseAskedNotPlayed(cfg.Variants); err != nil {
		return nil, err
	}
	b, err := openBench(cfg.Model, cfg.Backend, cfg.DySL)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	// What can be refused is refused now, not after the first phase's episodes: early exit's interval
	// and a one-stage bundle that cannot be opened or does not match.
	if cfg.runs("early_exit") {
		if err := cfg.earlyExit().CheckBundle(b.m); err != nil {
			return nil, err
		}
	}
	var oneStageEngine *policy.Engine
	if plan.plays["one_stage"] {
		e, err := policy.Open(cfg.OneStage, cfg.Backend, cfg.DySL)
		if err != nil {
			return nil, fmt.Errorf("closedloop: --one-stage: %w", err)
		}
		defer e.Close()
		if e.Manifest.Dims != b.m.Dims || !slices.Equal(e.Manifest.StaticLayers, b.m.StaticLayers) {
			return nil, fmt.Errorf("closedloop: --one-stage bundle %s has another layout than %s", cfg.OneStage, cfg.Model)
		}
		oneStageEngine = e
	}
	L := b.layers()
	if cfg.Suite.journal, err = openJournal(cfg.Journal, "evaluation", cfg.Machine, cfg.identity); err != nil {
		return nil, err
	}
	defer cfg.Suite.journal.Close()

	fmt.Fprintf(cfg.Log, "closed loop: full and dysl on %d episodes\n", len(cfg.Seeds))
	full, rows, served, err := b.firstPhase(ctx, cfg.Suite, cfg.Seeds, cfg.MatchFrames)
	// stoppedEarly is the report of a run stopped before the ablations and baselines played an
	// episode: full's and dysl's rows, on the episodes they played (none: no report).
	stoppedEarly := func(err error, where string) (*Report, error) {
		if !isStopped(err) || rows[0].Episodes == 0 {
			return nil, err
		}
		rep := cfg.report(b, rows, false)
		rep.Stopped = where
		return rep, err
	}
	if err != nil {
		if !isStopped(err) {
			return nil, err // rows may be nil
		}
		where := fmt.Sprintf("full and dysl played the first %d of %d episodes", rows[0].Episodes, len(cfg.Seeds))
		if plan.playing() {
			where += "; the ablations and baselines did not run"
		}
		return stoppedEarly(err, where)
	}
	stoppedBeforeLater := func(err error) (*Report, error) {
		return stoppedEarly(err, fmt.Sprintf("full and dysl played all %d episodes; the run stopped before the ablations and baselines played theirs", len(cfg.Seeds)))
	}
	executed := float64(rows[1].ExecutedLayers)
	target := float64(L) - executed // skipped layers per inference at DySL's compute
	// later: any ablation or baseline plays, and so the matching, the second phase and its timing run.
	later := plan.playing()
	if later {
		fmt.Fprintf(cfg.Log, "dysl executes %.2f of %d layers per inference: the baselines are matched to it\n", executed, L)
	}

	var rest []*Variant
	add := func(v *Variant, err error) (*Variant, error) {
		if err == nil {
			rest = append(rest, v)
		}
		return v, err
	}
	if cfg.runs("dysl_no_preskip") {
		if _, err := add(b.variant("dysl_no_preskip", "DySL without pre-skip prediction (allow points fixed at the front)",
			b.with(func(c *skipping.Config) { c.PreSkipPrediction = false }))); err != nil {
			return nil, err
		}
	}
	if cfg.runs("dysl_no_verify") {
		if _, err := add(b.variant("dysl_no_verify", "DySL without post-skip verification", b.with(func(c *skipping.Config) { c.Verification = false }))); err != nil {
			return nil, err
		}
	}
	if cfg.runs("one_stage") {
		oneStage := &Variant{Name: "one_stage", Description: "DySL with adapters and controllers distilled in one stage",
			Note: "not run: no --one-stage bundle"}
		if oneStageEngine != nil {
			oneStage.Engine, oneStage.Skipping, oneStage.Note = oneStageEngine, cfg.DySL, ""
		}
		rest = append(rest, oneStage)
	}
	exact := &Match{TargetLayers: Metric(executed), Tolerance: cfg.MatchTolerance}
	for _, s := range []skipping.Strategy{skipping.StrategyRandomSkip, skipping.StrategyFixedRatio} {
		if !cfg.runs(s.String()) {
			continue
		}
		v, err := add(b.dithered(s, target))
		if err != nil {
			return nil, err
		}
		v.Match = exact
	}
	if cfg.runs("static_only") {
		if _, err := add(b.staticOnly()); err != nil {
			return nil, err
		}
	}
	matchSeeds := cfg.Seeds[:cfg.MatchEpisodes]
	search := func(at func(knob float64) (*Variant, error), s matching.Search) (matching.SearchResult, *Match, error) {
		s.Target, s.Tolerance, s.MaxRuns = executed, cfg.MatchTolerance, cfg.MatchRuns
		s.Measure = func(knob float64) (float64, error) {
			v, err := at(knob)
			if err != nil {
				return 0, err
			}
			// The knob, exactly, names the run in the journal: a search repeats its steps on the same figures.
			rows, err := cfg.Suite.play(ctx, fmt.Sprintf("search %s at %s", v.Name, strconv.FormatFloat(knob, 'g', -1, 64)), []*Variant{v}, matchSeeds, nil)
			if err != nil {
				return 0, err
			}
			fmt.Fprintf(cfg.Log, "%s at %s: %.2f layers per inference on %d episodes (target %.2f)\n", v.Name, v.Param, rows[0].ExecutedLayers, len(matchSeeds), executed)
			return float64(rows[0].ExecutedLayers), nil
		}
		res, err := s.Run()
		if err == nil && cfg.Skipped != nil && res.Runs < cfg.MatchRuns {
			cfg.Skipped((cfg.MatchRuns - res.Runs) * len(matchSeeds))
		}
		return res, &Match{TargetLayers: Metric(executed), Tolerance: cfg.MatchTolerance, Runs: res.Runs, Episodes: len(matchSeeds)}, err
	}
	if cfg.runs("flexidepth") {
		v, err := matchedFlexiDepth(ctx, b, served, executed, L, search)
		if err != nil {
			return stoppedBeforeLater(err)
		}
		rest = append(rest, v)
	}
	switch {
	case plan.plays["early_exit"]:
		exit, err := openEarlyExit(ctx, cfg.earlyExit())
		if err != nil {
			return stoppedBeforeLater(err)
		}
		defer exit.Close()
		v, err := matchedEarlyExit(ctx, exit, served, executed, L, search)
		if err != nil {
			return stoppedBeforeLater(err)
		}
		rest = append(rest, v)
	case cfg.runs("early_exit"):
		rest = append(rest, earlyExitNotRun(cfg.earlyExit(), plan.exitUnavailable))
	}

	if !later {
		// Rows that play nothing (no one-stage bundle, no backbone for early exit) still say why.
		more, err := cfg.Suite.play(ctx, "rows not run", rest, nil, nil)
		if err != nil {
			return nil, err
		}
		Finish(more, timingReference)
		return cfg.report(b, append(rows, more...), false), nil
	}
	// full runs again beside them, untabulated: speedups compare times of the same phase, since the
	// machine's load may differ between phases.
	timing, err := b.variant(timingReference, "full, again: the second phase's timing reference", full.Skipping)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.Log, "closed loop: ablations and baselines on the same %d episodes\n", len(cfg.Seeds))
	more, err := cfg.Suite.play(ctx, "second phase", append(rest, timing), cfg.Seeds, nil)
	if err != nil && !isStopped(err) {
		return nil, err
	}
	Finish(more, timingReference)
	rep := cfg.report(b, append(rows, more[:len(more)-1]...), true)
	if err != nil {
		rep.Stopped = fmt.Sprintf("full and dysl played all %d episodes; the ablations and baselines the first %d of them", len(cfg.Seeds), more[len(more)-1].Episodes)
	}
	return rep, err
}

// report is the evaluation's report of rows. later says whether the ablations and baselines were
// matched to dysl and played a second phase, which the notes then explain.
func (cfg *EvaluateConfig) report(b *bench, rows []Row, later bool) *Report {
	for i := range rows {
		rows[i].judgeMatch()
	}
	rep := &Report{Model: cfg.Model, Layers: b.layers(), Static: b.m.StaticLayers, Seeds: [2]int64{cfg.Seeds[0], cfg.Seeds[len(cfg.Seeds)-1]},
		Tasks: describeTasks(cfg.Suite, b.m.Image), Latency: describeLatency(cfg.Suite), DySL: cfg.DySL.String(), Machine: cfg.Machine, Variants: rows}
	if later {
		executed := float64(rows[1].ExecutedLayers)
		rep.Notes = append(rep.Notes,
			fmt.Sprintf("full and dysl ran first; the baselines were then matched to dysl's %.2f executed layers per inference (verification re-runs included), within %.2g: random_skip and fixed_ratio by construction, flexidepth's tau and early_exit's eta by searching in closed loop on the first %d episodes; all then ran on the same episodes", executed, cfg.MatchTolerance, cfg.MatchEpisodes),
			"speedups: mean engine time per inference of full over the variant's, measured in this run (full runs in both phases, interleaved episode by episode with the variants, and each phase is compared with its own full); backbone = decoder layers, adapters, controllers and verification re-runs (the re-run's head included)")
	} else {
		rep.Notes = append(rep.Notes, "speedups: mean engine time per inference of full over dysl's, measured in this run, the two interleaved episode by episode; backbone = decoder layers, adapters, controllers and verification re-runs (the re-run's head included)")
	}
	if cfg.Variants != nil {
		rep.Notes = append(rep.Notes, fmt.Sprintf("only the variants asked for ran: %s (full and dysl always run)", strings.Join(cfg.Variants, ", ")))
	}
	if b.m.Provenance.Weights == "" {
		rep.Notes = append(rep.Notes, "the backbone is random, not trained: success says nothing about DySL")
	}
	if note := cfg.Suite.journal.resumedNote(); note != "" {
		rep.Notes = append(rep.Notes, note)
	}
	return rep
}

// identity is what a journal of this evaluation must have been written with to be resumed: the
// contents of the bundles and weights, the episodes and every option of the rows.
func (cfg *EvaluateConfig) identity() (map[string]any, error) {
	id := suiteIdentity(cfg.Suite)
	var err error
	if id["bundle"], err = bundleDigest(cfg.Model); err != nil {
		return nil, err
	}
	if id["one_stage_bundle"], err = bundleDigest(cfg.OneStage); err != nil {
		return nil, err
	}
	id["weights"] = weightsDigest(cfg.Weights)
	id["seeds"], id["dysl"], id["variants"] = cfg.Seeds, cfg.DySL, cfg.Variants
	id["matching"] = []any{cfg.MatchFrames, cfg.MatchEpisodes, cfg.MatchRuns, cfg.MatchTolerance}
	id["early_exit"] = []int{cfg.ExitEvery, cfg.ExitEpisodes, cfg.ExitStride}
	return id, nil
}

// describeTasks says what the suite's episodes ask.
func describeTasks(s Suite, image bundle.ImageSpec) string {
	out := "single task"
	if t := s.Scene.Tabletop; t.Blocks > 0 {
		out = fmt.Sprintf("tabletop: %d blocks, %d pads, one instruction per episode", t.Blocks, t.Pads)
		if t.Chain > 1 {
			out = fmt.Sprintf("tabletop: %d blocks, %d pads, chains of %d instructions", t.Blocks, t.Pads, t.Chain)
		}
		if d := scene.DefaultTabletop(); t.Colours != d.Colours || t.Light != d.Light || t.Noise != d.Noise {
			colours := "all colours"
			if t.Colours > 0 {
				colours = fmt.Sprintf("the first %d colours", t.Colours)
			}
			out += fmt.Sprintf(" (%s, light ±%g, extra noise up to %g)", colours, t.Light, t.Noise)
		}
	}
	if w, h := s.Scene.Width, s.Scene.Height; w > 0 && (w != image.Width || h != image.Height) {
		out += fmt.Sprintf("; camera frames %dx%d, converted to the model's input (%dx%d)", w, h, image.Width, image.Height)
	}
	if s.GripperLead > 0 {
		out += fmt.Sprintf("; gripper commands %d actions early (node parameter gripper_lead)", s.GripperLead)
	}
	if s.GripperMinHold > 0 {
		out += fmt.Sprintf("; every gripper change held at least %v (node parameter gripper_min_hold)", s.GripperMinHold)
	}
	if c := s.Gripper.OrDefault(); c != gripper.Default() {
		out += fmt.Sprintf("; the policy's gripper column opens at %v and closes at %v (node parameters gripper_open and gripper_closed)", c.Open, c.Closed)
	}
	if len(s.ExpertDims) > 0 {
		out += fmt.Sprintf("; A DIAGNOSTIC: action columns %v (scene.Action indices) come from the scripted expert in every variant", s.ExpertDims)
	}
	return out
}

// describeLatency names the suite's latency model.
func describeLatency(s Suite) string {
	if s.Latency == nil {
		return MeasuredLatency{}.String()
	}
	return s.Latency.String()
}

// describeSearch says how a closed-loop search of a baseline's threshold ended.
func describeSearch(res matching.SearchResult, m *Match) string {
	out := fmt.Sprintf("closed-loop runs of %d episodes: %d, %.2f layers there (target %.2f within %.2g)", m.Episodes, res.Runs, res.Got, m.TargetLayers, m.Tolerance)
	if !res.Met {
		out += ": TOLERANCE NOT MET, the closest run kept"
	}
	return out
}

// matchFlexiDepth bisects the controller threshold so that FlexiDepth executes, on the observations
// DySL was served (episodes cut where the instruction changes), as many layers per inference as
// target (matching.FlexiDepthThreshold).
func matchFlexiDepth(ctx context.Context, e *policy.Engine, c skipping.Config, obs []policy.Observation, target float64) (tau, got float64, err error) {
	var episodes [][]policy.Observation
	for i, o := range obs {
		if i == 0 || o.Instruction != obs[i-1].Instruction {
			episodes = append(episodes, nil)
		}
		episodes[len(episodes)-1] = append(episodes[len(episodes)-1], o)
	}
	tau, got, err = matching.FlexiDepthThreshold(ctx, e, c, episodes, target)
	if stop := (*matching.Interrupted)(nil); errors.As(err, &stop) {
		err = &StoppedError{Played: stop.Frame, Total: stop.Frames, Of: "frames served to dysl, matching flexidepth's tau on them", Cause: stop.Cause}
	}
	return tau, got, err
}

// WriteReport prints the report for people: what was evaluated, the table of variants and the notes.
func WriteReport(w io.Writer, rep *Report) {
	fmt.Fprintf(w, "model %s (%d layers, static %v), closed loop, %s, %s, latency %s\n", rep.Model, rep.Layers, rep.Static, rep.Tasks,
		training.HeldOutSeeds(rep.Seeds[0], rep.Seeds[1]), rep.Latency)
	fmt.Fprintf(w, "dysl config: %s\n", rep.DySL)
	writeMachine(w, rep.Machine)
	if rep.Stopped != "" {
		fmt.Fprintf(w, "STOPPED before the end: %s\n\n", rep.Stopped)
	}
	WriteTable(w, rep.Variants)
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}

// writeMachine ends a report's heading with the machine that computed it, when the caller said, and
// the blank line before the table.
func writeMachine(w io.Writer, machine string) {
	if machine != "" {
		fmt.Fprintf(w, "machine: %s\n", machine)
	}
	fmt.Fprintln(w)
}

// thresholdSearch runs a baseline's closed-loop search of its knob towards dysl's executed layers.
type thresholdSearch func(at func(knob float64) (*Variant, error), s matching.Search) (matching.SearchResult, *Match, error)

// matchedFlexiDepth is FlexiDepth at the τ that gives dysl's executed layers in its own closed loop,
// searched from the τ fitted on the frames served to dysl.
func matchedFlexiDepth(ctx context.Context, b *bench, served *servedFrames, executed float64, L int, search thresholdSearch) (*Variant, error) {
	flexi, err := b.flexiDepth()
	if err != nil {
		return nil, err
	}
	start, err := served.match("flexidepth tau for dysl's layers", func(frames []policy.Observation) (float64, float64, error) {
		return matchFlexiDepth(ctx, flexi.Engine, flexi.Skipping, frames, executed)
	})
	if err != nil {
		return nil, err
	}
	tau0 := float64(start.Knob)
	// τ = 1 never skips: every layer runs.
	res, match, err := search(flexi.at, matching.Search{Rising: true, Bracket: [2]float64{0, 1}, Known: []matching.Probe{{Knob: 1, Got: float64(L)}}, Start: tau0})
	if err != nil {
		return nil, err
	}
	v, err := flexi.at(res.Knob)
	if err != nil {
		return nil, err
	}
	v.Match = match
	v.Note = fmt.Sprintf("tau searched in closed loop from %.4g (%.2f layers on %d frames served to dysl): %s", tau0, start.Layers, start.Frames, describeSearch(res, match))
	return v, nil
}

// matchedEarlyExit is early exit at the η that gives dysl's executed layers in its own closed loop,
// searched from the η fitted on the frames served to dysl; its unavailable row when it has no exits.
func matchedEarlyExit(ctx context.Context, exit *earlyExit, served *servedFrames, executed float64, L int, search thresholdSearch) (*Variant, error) {
	if exit.Runner == nil {
		return exit.unavailable, nil
	}
	fitted, err := served.match("early_exit eta for dysl's layers", func(frames []policy.Observation) (float64, float64, error) {
		got, err := exit.Runner.MatchLayers(ctx, frames, executed)
		return exit.Runner.Threshold, got, stoppedMatching(ctx, err, len(frames))
	})
	if err != nil {
		return nil, err
	}
	eta0 := float64(fitted.Knob)
	// The search runs on u in [0, 1), η = scale·u/(1−u): u = ½ is the η matched on served frames,
	// u → 1 exits at the first chance, and η = 0 (u = 0) never exits early, running every layer.
	scale, start := eta0, 0.5
	if eta0 == 0 {
		scale, start = 1, 0
	}
	eta := func(u float64) float64 { return scale * u / (1 - u) }
	res, match, err := search(func(u float64) (*Variant, error) { return exit.at(eta(u)), nil },
		matching.Search{Rising: false, Bracket: [2]float64{0, 1}, Known: []matching.Probe{{Knob: 0, Got: float64(L)}}, Start: start})
	if err != nil {
		return nil, err
	}
	v := exit.at(eta(res.Knob))
	v.Match = match
	v.Note = fmt.Sprintf("eta searched in closed loop from %.4g (%.2f layers on %d frames served to dysl): %s; %s",
		eta0, fitted.Layers, fitted.Frames, describeSearch(res, match), exit.Fit.Describe())
	return v, nil
}
