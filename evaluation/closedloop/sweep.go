package closedloop

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
	"dysl_vla/plots"
	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
	"dysl_vla/scene"
	"dysl_vla/skipping"
	"dysl_vla/training"
)

// The speed-success sweep (GitHub issue 14, item 5): DySL at a grid of thresholds, on the bundle and
// on bundles distilled with other skip-loss weights, and every baseline at several compute levels,
// all over the same seeded episodes; each point is placed at the backbone speedup it measured.

// Knob is one DySL threshold a sweep setting changes, by its node parameter name.
type Knob struct {
	Name  string
	Value float64
}

// SweptKnobs are the parameters a Setting may change.
var SweptKnobs = []string{nodecore.ParamControllerThreshold, nodecore.ParamEtaMove, nodecore.ParamEtaVerify,
	nodecore.ParamContinuityWindow, nodecore.ParamStride}

// Setting is one DySL configuration of a sweep: changes of the default configuration.
type Setting []Knob

// ParseSetting reads "controller_threshold=0.7,eta_verify=0.2" (the names of SweptKnobs).
func ParseSetting(s string) (Setting, error) {
	var out Setting
	for _, part := range strings.Split(s, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || !slices.Contains(SweptKnobs, name) {
			return nil, fmt.Errorf("sweep setting %q: expected NAME=VALUE pairs separated by commas, NAME one of %s", s, strings.Join(SweptKnobs, ", "))
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return nil, fmt.Errorf("sweep setting %q: %s=%q is not a number", s, name, value)
		}
		if slices.ContainsFunc(out, func(k Knob) bool { return k.Name == name }) {
			return nil, fmt.Errorf("sweep setting %q: %s given twice: which value is meant?", s, name)
		}
		out = append(out, Knob{name, v})
	}
	return out, nil
}

// String is the setting as ParseSetting reads it; "defaults" when it changes nothing.
func (s Setting) String() string {
	if len(s) == 0 {
		return "defaults"
	}
	parts := make([]string, len(s))
	for i, k := range s {
		parts[i] = k.Name + "=" + strconv.FormatFloat(k.Value, 'g', -1, 64)
	}
	return strings.Join(parts, ",")
}

// Apply returns c with the setting's changes, as the node's parameters take them: a value out of a
// parameter's range, or a fraction for a whole-number one, is an error naming it.
func (s Setting) Apply(c skipping.Config) (skipping.Config, error) {
	overrides := map[string]paramserver.Value{}
	for _, p := range nodecore.SkippingParameters(c) {
		overrides[p.Name] = p.Value
	}
	for _, k := range s {
		switch k.Name {
		case nodecore.ParamContinuityWindow, nodecore.ParamStride:
			if k.Value != math.Trunc(k.Value) {
				return c, fmt.Errorf("sweep setting %s: %s must be a whole number", s, k.Name)
			}
			overrides[k.Name] = paramserver.Integer(int64(k.Value))
		default:
			if !slices.Contains(SweptKnobs, k.Name) {
				return c, fmt.Errorf("sweep setting %s: %s is not one of %s", s, k.Name, strings.Join(SweptKnobs, ", "))
			}
			overrides[k.Name] = paramserver.Double(k.Value)
		}
	}
	_, settings, err := nodecore.NewParamServer("/dysl_vla_node", overrides, func() time.Time { return time.Time{} })
	if err != nil {
		return c, fmt.Errorf("sweep setting %s: %w", s, err)
	}
	return settings.Live.Skipping, nil
}

// OneAtATime is the grid that changes one knob at a time from the defaults, each to every value
// listed for it, followed by the joint settings.
func OneAtATime(values map[string][]float64, joint []Setting) []Setting {
	var out []Setting
	for _, name := range SweptKnobs {
		for _, v := range values[name] {
			out = append(out, Setting{{name, v}})
		}
	}
	return append(out, joint...)
}

// DefaultSweepValues are the one-at-a-time values around docs/ALGORITHM.md's defaults (τ 0.5, η1
// 0.05, η2 0.1, N 5, adaptive stride), and DefaultJoint a few settings that move several knobs
// towards more skipping: 12 DySL points besides the defaults.
var (
	DefaultSweepValues = map[string][]float64{
		nodecore.ParamControllerThreshold: {0.3, 0.7, 0.9},
		nodecore.ParamEtaMove:             {0.025, 0.1},
		nodecore.ParamEtaVerify:           {0.05, 0.2},
		nodecore.ParamContinuityWindow:    {3, 8},
		nodecore.ParamStride:              {1},
	}
	DefaultJoint = []Setting{
		{{nodecore.ParamControllerThreshold, 0.3}, {nodecore.ParamEtaVerify, 0.2}},
		{{nodecore.ParamControllerThreshold, 0.3}, {nodecore.ParamEtaMove, 0.1}, {nodecore.ParamEtaVerify, 0.2}},
	}
	// DefaultSkipLevels are the baselines' compute levels: shares of the dynamic layers skipped.
	DefaultSkipLevels = []float64{0.25, 0.5, 0.75}
)

// LabelledBundle is a further bundle of the sweep, its label saying how it differs (the skip-loss
// weight it was distilled with: "lambda=0.1").
type LabelledBundle struct{ Label, Dir string }

// SweepConfig configures Sweep.
type SweepConfig struct {
	Model   string
	Backend policy.BackendOpener
	// DySL is the default configuration; Grid the settings around it.
	DySL skipping.Config
	Grid []Setting
	// Bundles run DySL at DySL's configuration; they must have the main bundle's layout.
	Bundles []LabelledBundle
	// SkipLevels are the baselines' compute levels as shares of the dynamic layers skipped:
	// random_skip and fixed_ratio run at them, and FlexiDepth's τ and early exit's η are matched to
	// them on frames served to dysl, unless FlexiTau and ExitEta list the thresholds.
	SkipLevels        []float64
	FlexiTau, ExitEta []float64
	Seeds             []int64
	Suite             Suite
	// MatchFrames caps the frames served to dysl the thresholds are matched on (default 600).
	MatchFrames int
	// Weights, ExitEvery, ExitEpisodes and ExitStride are early exit's, as in EvaluateConfig.
	Weights                             string
	ExitEvery, ExitEpisodes, ExitStride int
	// Journal, optional, is the file that keeps what the sweep plays (Journal): started again after
	// a stop with the same options, the sweep plays only what is left.
	Journal string
	Machine string // what plays the episodes, as EvaluateConfig.Machine
	Log     io.Writer
}

func (cfg SweepConfig) skipLevels() []float64 {
	if len(cfg.SkipLevels) == 0 {
		return DefaultSkipLevels
	}
	return cfg.SkipLevels
}

// SweepPoint is one configuration of the sweep and what it measured.
type SweepPoint struct {
	// Series groups the points drawn alike: full, dysl, dysl_bundle, static_only, random_skip,
	// fixed_ratio, flexidepth, early_exit.
	Series string `json:"series"`
	// Setting is the configuration within the series: a DySL setting, a bundle's label, a knob.
	Setting string `json:"setting"`
	// Pareto marks the points no other point beats on both success and backbone speedup.
	Pareto bool `json:"pareto"`
	Row
}

// Recommendation is the DySL setting the params file should ship with, or why there is none.
type Recommendation struct {
	Found bool `json:"found"`
	// Point indexes SweepReport.Points (-1 without one).
	Point  int    `json:"point"`
	Reason string `json:"reason"`
}

// SweepReport is a sweep.
type SweepReport struct {
	Model          string         `json:"model"`
	Layers         int            `json:"layers"`
	Seeds          [2]int64       `json:"seeds"`
	Tasks          string         `json:"tasks"`
	Latency        string         `json:"latency"`
	Chain          bool           `json:"chain"`
	Machine        string         `json:"machine,omitempty"` // SweepConfig.Machine
	Points         []SweepPoint   `json:"points"`
	Recommendation Recommendation `json:"recommendation"`
	Notes          []string       `json:"notes"`
	// Stopped, when the sweep was stopped before its end (Ctrl-C), says where, and which episodes
	// the points stand on; empty for a whole sweep.
	Stopped string `json:"stopped,omitempty"`
}

// Series names of the sweep.
const (
	SeriesFull       = "full"
	SeriesDySL       = "dysl"
	SeriesDySLBundle = "dysl_bundle"
)

// sweepPlan is every variant of the second phase, in order, with its series and setting.
type sweepPlan struct {
	variants []*Variant
	series   []string
	settings []string
}

func (p *sweepPlan) add(v *Variant, series, setting string) {
	p.variants = append(p.variants, v)
	p.series = append(p.series, series)
	p.settings = append(p.settings, setting)
}

// SweepRuns is how many episodes Sweep plays (a progress bar's total).
func SweepRuns(cfg SweepConfig) int {
	levels := len(cfg.skipLevels())
	runs := 2 + len(cfg.Grid) + len(cfg.Bundles) + 1 + 2*levels + cmp.Or(len(cfg.FlexiTau), levels) + 1
	if _, _, _, err := training.OpenBundleBackbone(cfg.Model, cfg.Weights); err == nil {
		runs += cmp.Or(len(cfg.ExitEta), levels)
	}
	return runs * len(cfg.Seeds)
}

// Sweep runs full and DySL at its defaults first (the frames DySL is served set the baselines'
// thresholds), then every other point and full again for timing, interleaved episode by episode.
//
// A done ctx (Ctrl-C) stops it before the next episode: it then returns, with the error, the report
// of the rounds played (Suite.Run), SweepReport.Stopped saying which points stand on which episodes,
// or no report when full and dysl had not finished one.
func Sweep(ctx context.Context, cfg SweepConfig) (*SweepReport, error) {
	if len(cfg.Seeds) == 0 {
		return nil, fmt.Errorf("closedloop: no episodes to sweep")
	}
	if err := checkBaselines(cfg.earlyExit(), cfg.MatchFrames); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	cfg.MatchFrames = cmp.Or(cfg.MatchFrames, 600)
	levels := cfg.skipLevels()
	for _, r := range levels {
		if !(r >= 0 && r <= 1) {
			return nil, fmt.Errorf("closedloop: skip level %v: expected a share of the dynamic layers in [0, 1]", r)
		}
	}
	for _, tau := range cfg.FlexiTau {
		if !(tau >= 0 && tau <= 1) {
			return nil, fmt.Errorf("closedloop: flexidepth threshold %v: expected a probability in [0, 1]", tau)
		}
	}
	for _, eta := range cfg.ExitEta {
		if !(eta >= 0) || math.IsInf(eta, 1) {
			return nil, fmt.Errorf("closedloop: early exit threshold %v: expected a finite eta >= 0", eta)
		}
	}
	b, err := openBench(cfg.Model, cfg.Backend, cfg.DySL)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	// Refused now, not after the first phase's episodes.
	if err := cfg.earlyExit().CheckBundle(b.m); err != nil {
		return nil, err
	}

	L, dynamic := b.layers(), b.layout.DynamicLayers()

	// The grid's settings and the further bundles are made ready first: a setting or a bundle that
	// cannot be had is refused before the first phase's episodes, not after them.
	var plan sweepPlan
	for _, s := range cfg.Grid {
		c, err := s.Apply(cfg.DySL)
		if err != nil {
			return nil, err
		}
		v, err := b.variant("dysl "+s.String(), "DySL, "+s.String(), c)
		if err != nil {
			return nil, err
		}
		plan.add(v, SeriesDySL, s.String())
	}
	for _, lb := range cfg.Bundles {
		other, err := openBench(lb.Dir, cfg.Backend, cfg.DySL)
		if err != nil {
			return nil, fmt.Errorf("closedloop: bundle %s (%s): %w", lb.Label, lb.Dir, err)
		}
		defer other.Close()
		if other.m.Dims != b.m.Dims || !slices.Equal(other.m.StaticLayers, b.m.StaticLayers) {
			return nil, fmt.Errorf("closedloop: bundle %s (%s) has another layout than %s: its speedup would not compare", lb.Label, lb.Dir, cfg.Model)
		}
		v, err := other.variant("dysl "+lb.Label, "DySL at its defaults on "+lb.Dir, cfg.DySL)
		if err != nil {
			return nil, err
		}
		plan.add(v, SeriesDySLBundle, lb.Label)
	}

	if cfg.Suite.journal, err = openJournal(cfg.Journal, "sweep", cfg.Machine, cfg.identity); err != nil {
		return nil, err
	}
	defer cfg.Suite.journal.Close()

	fmt.Fprintf(cfg.Log, "sweep: full and dysl at its defaults on %d episodes\n", len(cfg.Seeds))
	full, first, served, err := b.firstPhase(ctx, cfg.Suite, cfg.Seeds, cfg.MatchFrames)
	// stoppedEarly is the report of a sweep stopped before the other points played an episode: full
	// and dysl at its defaults, on the episodes they played (none: no report).
	stoppedEarly := func(err error, where string) (*SweepReport, error) {
		if !isStopped(err) || first[0].Episodes == 0 {
			return nil, err
		}
		rep := cfg.report(b.m, first, nil, nil)
		rep.stop(where)
		return rep, err
	}
	if err != nil {
		if !isStopped(err) {
			return nil, err // first may be nil
		}
		return stoppedEarly(err, fmt.Sprintf("full and dysl at its defaults played the first %d of %d episodes; the other points did not run", first[0].Episodes, len(cfg.Seeds)))
	}
	stoppedBeforeOthers := func(err error) (*SweepReport, error) {
		return stoppedEarly(err, fmt.Sprintf("full and dysl at its defaults played all %d episodes; the sweep stopped before the other points played theirs", len(cfg.Seeds)))
	}

	static, err := b.staticOnly()
	if err != nil {
		return nil, err
	}
	plan.add(static, static.Name, "")
	for _, s := range []skipping.Strategy{skipping.StrategyRandomSkip, skipping.StrategyFixedRatio} {
		for _, r := range levels {
			v, err := b.dithered(s, r*float64(dynamic))
			if err != nil {
				return nil, err
			}
			v.Name += fmt.Sprintf(" %.2f", r)
			plan.add(v, s.String(), fmt.Sprintf("skip %.2f of dynamic", r))
		}
	}
	// A threshold per level is matched on the frames served to dysl, unless given.
	thresholds := func(series string, given []float64, fit func(frames []policy.Observation, layers float64) (knob, got float64, err error)) ([]float64, error) {
		if len(given) > 0 {
			return given, nil
		}
		var out []float64
		for _, r := range levels {
			layers := float64(L) - r*float64(dynamic)
			m, err := served.match(fmt.Sprintf("%s threshold for %s layers", series, strconv.FormatFloat(layers, 'g', -1, 64)),
				func(frames []policy.Observation) (float64, float64, error) { return fit(frames, layers) })
			if err != nil {
				return nil, err
			}
			out = append(out, float64(m.Knob)) // one point per level, even where two levels share a threshold
		}
		return out, nil
	}
	flexi, err := b.flexiDepth()
	if err != nil {
		return nil, err
	}
	taus, err := thresholds("flexidepth", cfg.FlexiTau, func(frames []policy.Observation, layers float64) (float64, float64, error) {
		return matchFlexiDepth(ctx, flexi.Engine, flexi.Skipping, frames, layers)
	})
	if err != nil {
		return stoppedBeforeOthers(err)
	}
	for _, tau := range taus {
		v, err := flexi.at(tau)
		if err != nil {
			return nil, err
		}
		v.Name += fmt.Sprintf(" %.3g", tau)
		plan.add(v, "flexidepth", v.Param)
	}
	exit, err := openEarlyExit(ctx, cfg.earlyExit())
	if err != nil {
		return stoppedBeforeOthers(err)
	}
	defer exit.Close()
	var notes []string
	if exit.Runner == nil {
		notes = append(notes, "early_exit "+exit.unavailable.Note)
	} else {
		etas, err := thresholds("early_exit", cfg.ExitEta, func(frames []policy.Observation, layers float64) (float64, float64, error) {
			got, err := exit.Runner.MatchLayers(ctx, frames, layers)
			return exit.Runner.Threshold, got, stoppedMatching(ctx, err, len(frames))
		})
		if err != nil {
			return stoppedBeforeOthers(err)
		}
		for _, eta := range etas {
			v := exit.at(eta)
			v.Name += fmt.Sprintf(" %.3g", eta)
			plan.add(v, "early_exit", v.Param)
		}
	}
	timing, err := b.variant(timingReference, "full, again: the second phase's timing reference", full.Skipping)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.Log, "sweep: %d more points on the same %d episodes\n", len(plan.variants), len(cfg.Seeds))
	more, err := cfg.Suite.play(ctx, "second phase", append(plan.variants, timing), cfg.Seeds, nil)
	if err != nil && !isStopped(err) {
		return nil, err
	}
	Finish(more, timingReference)
	rep := cfg.report(b.m, first, &plan, more[:len(more)-1])
	rep.Notes = append(notes, rep.Notes...)
	if err != nil {
		rep.stop(fmt.Sprintf("full and dysl at its defaults played all %d episodes; the other points the first %d of them", len(cfg.Seeds), more[len(more)-1].Episodes))
	}
	return rep, err
}

// stop marks the report of a sweep stopped before its end. It recommends nothing: the setting the
// params file ships with is chosen from a whole sweep, every point on the same episodes.
func (rep *SweepReport) stop(where string) {
	rep.Stopped = where
	rep.Recommendation = Recommendation{Point: -1, Reason: "none: the sweep was stopped before its end, and the setting to ship is chosen from a whole sweep"}
}

// report is the sweep's report: full and dysl at its defaults from first, then the points of plan
// from more (none when the sweep stopped before them), the front marked and a setting recommended.
func (cfg SweepConfig) report(m *bundle.Manifest, first []Row, plan *sweepPlan, more []Row) *SweepReport {
	rep := &SweepReport{Model: cfg.Model, Layers: m.Dims.Layers, Seeds: [2]int64{cfg.Seeds[0], cfg.Seeds[len(cfg.Seeds)-1]},
		Tasks: describeTasks(cfg.Suite, m.Image), Latency: describeLatency(cfg.Suite), Chain: cfg.Suite.Scene.Tabletop.Chain > 1, Machine: cfg.Machine}
	rep.Points = append(rep.Points, SweepPoint{Series: SeriesFull, Setting: "every layer", Row: first[0]},
		SweepPoint{Series: SeriesDySL, Setting: Setting{}.String(), Row: first[1]})
	for i, r := range more {
		rep.Points = append(rep.Points, SweepPoint{Series: plan.series[i], Setting: plan.settings[i], Row: r})
	}
	for _, i := range ParetoFront(rep.Points) {
		rep.Points[i].Pareto = true
	}
	rep.Recommendation = Recommend(rep.Points, rep.Chain)
	rep.Notes = []string{
		"full and dysl at its defaults ran first; flexidepth's tau and early_exit's eta were matched to the skip levels on the frames served to dysl (unless given), then every other point ran on the same episodes beside full, again, for its timing",
		"backbone speedup: full's mean backbone time per inference (decoder layers, adapters, controllers, verification re-runs) over the point's, measured in this run"}
	if note := cfg.Suite.journal.resumedNote(); note != "" {
		rep.Notes = append(rep.Notes, note)
	}
	return rep
}

// identity is what a journal of this sweep must have been written with to be resumed: the contents
// of the bundles and weights, the episodes and every option of the points.
func (cfg SweepConfig) identity() (map[string]any, error) {
	id := suiteIdentity(cfg.Suite)
	var err error
	if id["bundle"], err = bundleDigest(cfg.Model); err != nil {
		return nil, err
	}
	id["weights"] = weightsDigest(cfg.Weights)
	var others []string
	for _, lb := range cfg.Bundles {
		digest, err := bundleDigest(lb.Dir)
		if err != nil {
			return nil, err
		}
		others = append(others, lb.Label+" "+digest)
	}
	var grid []string
	for _, s := range cfg.Grid {
		grid = append(grid, s.String())
	}
	id["seeds"], id["dysl"], id["grid"], id["other_bundles"] = cfg.Seeds, cfg.DySL, grid, others
	id["baselines"] = []any{cfg.skipLevels(), cfg.FlexiTau, cfg.ExitEta, cfg.MatchFrames}
	id["early_exit"] = []int{cfg.ExitEvery, cfg.ExitEpisodes, cfg.ExitStride}
	return id, nil
}

// usable says whether a point has the figures the front and the recommendation compare.
func usable(p SweepPoint) bool {
	return p.Available && !math.IsNaN(float64(p.SuccessRate)) && !math.IsNaN(float64(p.BackboneSpeedup))
}

// wrapWords breaks text into lines of at most width bytes at spaces (a longer word keeps a line
// of its own).
func wrapWords(text string, width int) string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		line = strings.TrimPrefix(line+" "+word, " ")
	}
	return strings.Join(append(lines, line), "\n")
}

// ParetoFront returns the indices of the points no other point beats, that is matches or exceeds on
// both success rate and backbone speedup and exceeds on one: the highest success for any speedup.
// They come in order of rising speedup.
func ParetoFront(points []SweepPoint) []int {
	var front []int
	for i, p := range points {
		if !usable(p) {
			continue
		}
		beaten := false
		for j, q := range points {
			if j == i || !usable(q) {
				continue
			}
			if q.SuccessRate >= p.SuccessRate && q.BackboneSpeedup >= p.BackboneSpeedup &&
				(q.SuccessRate > p.SuccessRate || q.BackboneSpeedup > p.BackboneSpeedup) {
				beaten = true
				break
			}
		}
		if !beaten {
			front = append(front, i)
		}
	}
	slices.SortStableFunc(front, func(a, b int) int { return cmp.Compare(points[a].BackboneSpeedup, points[b].BackboneSpeedup) })
	return front
}

// Recommendation criteria (issue 14): at least this share of full's success rate, and with chains
// an average chain length at most this far below full's.
const (
	RecommendSuccessShare = 0.99
	RecommendChainSlack   = 0.05
)

// Recommend picks the DySL point (a setting of the bundle, or another bundle) with the highest
// backbone speedup whose success rate is at least 99% of full's and, with chains, whose average chain
// length is within 0.05 of full's; or says plainly why none qualifies. A point must also execute fewer
// layers per inference than full and be measured faster: on a shared machine a setting that runs
// every layer is timed up to 15% either side of full, and such a speedup is noise, not a setting to
// ship.
func Recommend(points []SweepPoint, chain bool) Recommendation {
	fi := slices.IndexFunc(points, func(p SweepPoint) bool { return p.Series == SeriesFull })
	if fi < 0 || !usable(points[fi]) {
		return Recommendation{Point: -1, Reason: "no setting recommended: the full model was not evaluated"}
	}
	full := points[fi]
	if full.SuccessRate == 0 {
		return Recommendation{Point: -1, Reason: fmt.Sprintf("no setting recommended: the full model succeeds in none of its %d episodes, so no setting can be shown to keep its success", full.Episodes)}
	}
	need := RecommendSuccessShare * float64(full.SuccessRate)
	best := -1
	for i, p := range points {
		if (p.Series != SeriesDySL && p.Series != SeriesDySLBundle) || !usable(p) {
			continue
		}
		if float64(p.SuccessRate) < need || chain && float64(p.ChainLength) < float64(full.ChainLength)-RecommendChainSlack {
			continue
		}
		if p.ExecutedLayers >= full.ExecutedLayers || p.BackboneSpeedup <= 1 {
			continue
		}
		if best < 0 || p.BackboneSpeedup > points[best].BackboneSpeedup {
			best = i
		}
	}
	criteria := fmt.Sprintf("success >= %.0f%% of full's %.3f", 100*RecommendSuccessShare, full.SuccessRate)
	if chain {
		criteria += fmt.Sprintf(", chain length >= full's %.2f - %.2f", full.ChainLength, RecommendChainSlack)
	}
	criteria += fmt.Sprintf(", fewer executed layers than full's %.2f and a backbone speedup above 1", full.ExecutedLayers)
	if best < 0 {
		return Recommendation{Point: -1, Reason: "no DySL setting meets " + criteria}
	}
	p := points[best]
	where := "setting " + p.Setting
	if p.Series == SeriesDySLBundle {
		where = "the bundle " + p.Setting + " at the default setting"
	}
	return Recommendation{Found: true, Point: best, Reason: fmt.Sprintf("%s: the highest backbone speedup (%.2fx, success %.3f, chain %.2f) among the DySL points with %s",
		where, p.BackboneSpeedup, p.SuccessRate, p.ChainLength, criteria)}
}

// WriteSweep prints the sweep for people: one line per point, the Pareto front marked, and the
// recommendation.
func WriteSweep(w io.Writer, rep *SweepReport) {
	fmt.Fprintf(w, "model %s (%d layers), closed-loop sweep, %s, %s, latency %s\n", rep.Model, rep.Layers, rep.Tasks,
		training.HeldOutSeeds(rep.Seeds[0], rep.Seeds[1]), rep.Latency)
	writeMachine(w, rep.Machine)
	if rep.Stopped != "" {
		fmt.Fprintf(w, "STOPPED before the end: %s\n\n", rep.Stopped)
	}
	fmt.Fprintf(w, "%-12s %-54s %4s %7s %15s %6s %6s %5s %8s %7s %6s %s\n",
		"series", "setting", "eps", "success", "95% interval", "chain", "layers", "verif", "backbone", "speedup", "miss", "pareto")
	for _, p := range rep.Points {
		if !p.Available {
			fmt.Fprintf(w, "%-12s %-54s %s\n", p.Series, p.Setting, p.Note)
			continue
		}
		line := fmt.Sprintf("%-12s %-54s %4d %7.3f  [%5.3f, %5.3f] %6.2f %6.2f %5.3f %7.2fx %6.2fx %6.1f",
			p.Series, p.Setting, p.Episodes, p.SuccessRate, p.SuccessLow, p.SuccessHigh, p.ChainLength, p.ExecutedLayers,
			p.VerificationRate, p.BackboneSpeedup, p.Speedup, p.ApproachMissCm)
		if p.Pareto {
			line += " *"
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "miss: median closest approach of the gripper tip to the named block, cm (grasp reach %g cm; moving only up and down: %s cm)\n",
		100*scene.GraspReach, gapOfPoints(rep.Points))
	fmt.Fprintln(w, "recommendation:", rep.Recommendation.Reason)
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}

// gapOfPoints is gapOf over the points' rows.
func gapOfPoints(points []SweepPoint) string {
	rows := make([]Row, len(points))
	for i, p := range points {
		rows[i] = p.Row
	}
	return gapOf(rows)
}

// sweepSeries are the sweep's series in drawing order, with their legend names.
var sweepSeries = []struct{ name, legend string }{
	{SeriesFull, "full model"}, {SeriesDySL, "DySL (thresholds)"}, {SeriesDySLBundle, "DySL (skip-loss weights)"},
	{"static_only", "static only"}, {"random_skip", "random skip"}, {"fixed_ratio", "fixed jump points"},
	{"flexidepth", "FlexiDepth-style"}, {"early_exit", "DeeR-style early exit"},
}

// SaveSweepPlot draws success rate against backbone speedup, one colour and marker per series (the
// same in every sweep's plot), and the Pareto front as a line through its points.
func SaveSweepPlot(path string, rep *SweepReport) error {
	var series []plots.Series
	for _, s := range sweepSeries {
		one := plots.Series{Name: s.legend, Scatter: true}
		for _, p := range rep.Points {
			if p.Series == s.name && usable(p) {
				one.X = append(one.X, float64(p.BackboneSpeedup))
				one.Y = append(one.Y, float64(p.SuccessRate))
			}
		}
		series = append(series, one) // even empty: each series keeps its colour and marker
	}
	front := plots.Series{Name: "Pareto front", Ringed: true}
	for _, i := range ParetoFront(rep.Points) {
		front.X = append(front.X, float64(rep.Points[i].BackboneSpeedup))
		front.Y = append(front.Y, float64(rep.Points[i].SuccessRate))
	}
	series = append(series, front)
	return plots.SaveShare(path, sweepTitle(rep), "backbone speedup over the full model (x)", "success rate", series...)
}

// sweepTitle is the sweep plot's title: the sweep and its episodes, STOPPED first when it was (a
// stopped sweep's points stand on different numbers of episodes, and a reader of the PNG alone must
// see it, where a title too long for the page cannot cut it off), whether the seeds are held out when
// they are not, and the tasks.
func sweepTitle(rep *SweepReport) string {
	fewest, most := math.MaxInt, 0
	for _, p := range rep.Points {
		if p.Available {
			fewest, most = min(fewest, p.Episodes), max(most, p.Episodes)
		}
	}
	episodes := fmt.Sprintf("%d episodes per point", most)
	if fewest != most {
		episodes = fmt.Sprintf("%d to %d episodes per point", fewest, most)
	}
	title := "closed-loop sweep, " + episodes
	if rep.Stopped != "" {
		title = "STOPPED sweep, " + episodes
	}
	if !training.IsHeldOut(min(rep.Seeds[0], rep.Seeds[1])) {
		title += "\n" + training.HeldOutSeeds(rep.Seeds[0], rep.Seeds[1])
	}
	return title + "\n" + wrapWords(rep.Tasks, 80)
}
