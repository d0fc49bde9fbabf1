package closedloop

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"dysl_vla/evaluation/matching"
	"dysl_vla/gripper"
	"dysl_vla/percentile"
	"dysl_vla/policy"
	"dysl_vla/scene"
	"dysl_vla/skipping"
)

// Variant is one row of a closed-loop comparison: a policy under a skipping configuration.
type Variant struct {
	Name, Description string
	// Param is the variant's matched or given knob; Note anything else worth a line.
	Param, Note string
	// Engine is nil when the variant could not be run; Note then says why.
	Engine   *policy.Engine
	Skipping skipping.Config
	// BeforeInference, optional, changes the configuration frame by frame (see Config).
	BeforeInference func(served scene.State) *skipping.Config
	// OnServe, optional, sees every observation the variant's policy is served.
	OnServe func(policy.Observation)
	// Infer, optional, replaces Engine.Infer (see Config).
	Infer func(policy.Observation) (policy.Result, error)
	// Match, for a baseline matched to DySL's compute, says to what and how.
	Match *Match
}

// Match is how a baseline's compute was set to DySL's executed layers per inference.
type Match struct {
	TargetLayers Metric  `json:"target_layers"`
	Tolerance    float64 `json:"tolerance"`
	// Runs counts the closed-loop runs of the threshold search, each on Episodes match episodes (0
	// for a baseline exact by construction).
	Runs     int `json:"search_runs"`
	Episodes int `json:"search_episodes"`
	// WithinTolerance says whether the row's own executed layers, over all its episodes, came within
	// Tolerance of TargetLayers.
	WithinTolerance bool `json:"within_tolerance"`
}

// Suite runs variants over the same seeded episodes.
type Suite struct {
	Scene    scene.Config
	CameraHz float64
	Latency  Latency
	// ExpertDims, a diagnostic, takes these action columns from the scripted expert in every
	// variant (Config.ExpertDims): with the motion from the expert, the rows compare the variants'
	// gripper decisions alone.
	ExpertDims []int
	// GripperLead is every variant's node gripper_lead (Config.GripperLead).
	GripperLead int
	// GripperMinHold is every variant's node gripper_min_hold (Config.GripperMinHold).
	GripperMinHold time.Duration
	// Gripper is every variant's node gripper_open and gripper_closed (Config.Gripper; the zero value
	// the node's default).
	Gripper gripper.Convention
	// Engine, optional, says how the backends compute (the execution provider and its precision),
	// for the journal: another provider's float sums differ in their last bits, and a closed loop
	// amplifies that into other episodes, so rounds of two providers must not mix in one report.
	Engine string
	// Progress, optional, is called after every episode of every variant, played or taken from the
	// journal.
	Progress func()
	// journal, set by Evaluate and Sweep, keeps the rounds played and gives back those a stopped run
	// played before.
	journal *Journal
}

// Row is one variant's result. Rates are NaN (JSON null) when there was nothing to count.
type Row struct {
	Variant     string `json:"variant"`
	Description string `json:"description"`
	Param       string `json:"param,omitempty"`
	Note        string `json:"note,omitempty"`
	Available   bool   `json:"available"`

	Episodes int `json:"episodes"`
	// SuccessRate is the share of episodes whose every instruction was completed; SuccessLow and
	// SuccessHigh its 95% Wilson interval.
	SuccessRate Metric `json:"success_rate"`
	SuccessLow  Metric `json:"success_ci95_low"`
	SuccessHigh Metric `json:"success_ci95_high"`
	// ChainLength is the mean number of instructions completed in sequence.
	ChainLength Metric `json:"chain_length"`
	// ExecutedLayers is the mean decoder layers run per inference, verification re-runs included.
	ExecutedLayers   Metric `json:"executed_layers"`
	VerificationRate Metric `json:"verification_rate"`
	// BackboneSpeedup compares the mean time per inference in decoder layers, adapters, controllers
	// and verification re-runs with the full model's; Speedup the whole inference's.
	BackboneSpeedup Metric `json:"backbone_speedup"`
	Speedup         Metric `json:"speedup"`
	MeanLatencyMs   Metric `json:"mean_latency_ms"`
	// FreeSuccess and CriticalSuccess are the success rates of the free-space legs (approach,
	// transport) and of the grasp and release legs.
	FreeSuccess     Metric `json:"free_space_success"`
	CriticalSuccess Metric `json:"grasp_release_success"`
	Legs            Legs   `json:"legs"`
	// ApproachMissCm is the median, over instructions played, of the closest the gripper tip came to
	// the named block, centimetres: 0 to 1 where the approach succeeded, how far it missed otherwise.
	ApproachMissCm Metric `json:"approach_miss_cm"`
	// ApproachGapCm is the median horizontal distance from the tip to the named block when each
	// instruction was given, centimetres: the miss of an arm that only moves up and down. A miss near
	// it means the policy did not find the block.
	ApproachGapCm Metric `json:"approach_gap_cm"`
	// Match is set for a baseline matched to DySL's compute.
	Match      *Match `json:"match,omitempty"`
	Steps      int    `json:"steps"`
	Inferences int    `json:"inferences"`

	succeeded, completed, layers, verified int
	engine, backbone                       time.Duration
	nearest, gap                           []float64
}

// Metric is a figure that may be undefined; NaN goes to JSON as null.
type Metric float64

// MarshalJSON implements json.Marshaler.
func (m Metric) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(m)) || math.IsInf(float64(m), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(m))
}

// UnmarshalJSON implements json.Unmarshaler: null is NaN again.
func (m *Metric) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*m = Metric(math.NaN())
		return nil
	}
	return json.Unmarshal(b, (*float64)(m))
}

// Run plays every seed with every available variant, interleaved episode by episode in an order that
// rotates, so the machine's noise lands on every variant alike. Speedups are left for Finish.
//
// A done ctx stops it before the next episode, and so does a journal that cannot be written. The
// rows it then returns, with a *StoppedError that says how far it came and why, count only the
// rounds (one seed, every variant) it finished: a round one variant played and another did not is
// left out, so that every row stands on the same episodes.
func (s Suite) Run(ctx context.Context, variants []*Variant, seeds []int64) ([]Row, error) {
	return s.play(ctx, "run", variants, seeds, nil)
}

// play is Run as one call of a longer run, named by call in the journal, with a hook on every
// captured frame (for scripted policies in tests). A round the journal holds for call is taken
// from it, not played.
func (s Suite) play(ctx context.Context, call string, variants []*Variant, seeds []int64, onFrame func(scene.State)) ([]Row, error) {
	// A stop names the call's episodes, so that one in a later phase is not read as the run's first
	// episodes unplayed; Suite.Run's are all there is.
	of := "episodes of the " + call
	if call == "run" {
		of = ""
	}
	harnesses := make([]*Harness, len(variants))
	rows := make([]Row, len(variants))
	for i, v := range variants {
		rows[i] = Row{Variant: v.Name, Description: v.Description, Param: v.Param, Note: v.Note, Available: v.Engine != nil}
		if v.Match != nil {
			m := *v.Match
			rows[i].Match = &m
		}
		if v.Engine == nil {
			continue
		}
		h, err := s.harness(v, onFrame)
		if err != nil {
			return nil, err
		}
		harnesses[i] = h
	}
	summarized := func() []Row {
		for i := range rows {
			rows[i].summarize()
		}
		return rows
	}
	for e, seed := range seeds {
		if recorded, ok := s.journal.round(call, seed); ok {
			if err := s.addRecorded(rows, variants, call, seed, recorded); err != nil {
				return nil, err
			}
			continue
		}
		// A round of its own each seed: the journal keeps it.
		round := make([]*episodeRecord, len(variants))
		for j := range variants {
			i := (e + j) % len(variants)
			if harnesses[i] == nil {
				continue
			}
			if ctx.Err() != nil {
				return summarized(), stopped(ctx, e, len(seeds), of)
			}
			ep, err := harnesses[i].Run(seed)
			if err != nil {
				return nil, fmt.Errorf("closedloop: variant %s: %w", variants[i].Name, err)
			}
			round[i] = recordOf(variants[i].Name, ep)
			if s.Progress != nil {
				s.Progress()
			}
		}
		for i, r := range round {
			if r != nil {
				rows[i].add(r.episode())
			}
		}
		if err := s.journal.record(call, seed, round); err != nil {
			// The round is played and counted; what it cannot do is survive this run.
			return summarized(), &StoppedError{Played: e + 1, Total: len(seeds), Cause: err}
		}
	}
	return summarized(), nil
}

// harness is the harness of variant v under the suite's options.
func (s Suite) harness(v *Variant, onFrame func(scene.State)) (*Harness, error) {
	h, err := New(Config{Engine: v.Engine, Skipping: v.Skipping, Scene: s.Scene, CameraHz: s.CameraHz, Latency: s.Latency, ExpertDims: s.ExpertDims, GripperLead: s.GripperLead, GripperMinHold: s.GripperMinHold, Gripper: s.Gripper,
		BeforeInference: v.BeforeInference, OnServe: v.OnServe, OnFrame: onFrame, Infer: v.Infer})
	if err != nil {
		return nil, fmt.Errorf("closedloop: variant %s: %w", v.Name, err)
	}
	return h, nil
}

// addRecorded counts a round the journal held, after checking that it is a round of these variants.
func (s Suite) addRecorded(rows []Row, variants []*Variant, call string, seed int64, recorded []*episodeRecord) error {
	same := len(recorded) == len(variants)
	for i := 0; same && i < len(variants); i++ {
		r := recorded[i]
		same = (r == nil) == (variants[i].Engine == nil) && (r == nil || r.Variant == variants[i].Name)
	}
	if !same {
		return fmt.Errorf("closedloop: journal %s: its round of seed %d in %s is not of this run's variants: remove it to start afresh", s.journal.path, seed, call)
	}
	for i, r := range recorded {
		if r != nil {
			rows[i].add(r.episode())
			if s.Progress != nil {
				s.Progress()
			}
		}
	}
	return nil
}

// StoppedError is the error of a run that stopped between its episodes (or the frames a threshold
// is matched on), on a done context (Ctrl-C) or a journal that could not be written: what it played
// before is reported with it.
type StoppedError struct {
	// Played of Total were played; Played is -1 where the count is not known.
	Played, Total int
	// Of names what was counted: "" for episodes.
	Of    string
	Cause error
}

func (e *StoppedError) Error() string {
	if e.Played < 0 {
		return fmt.Sprintf("closedloop: stopped during %d %s: %v", e.Total, e.Of, e.Cause)
	}
	return fmt.Sprintf("closedloop: stopped after %d of %d %s: %v", e.Played, e.Total, cmp.Or(e.Of, "episodes"), e.Cause)
}

func (e *StoppedError) Unwrap() error { return e.Cause }

// stopped is the error of a run that ctx stopped after played of total; of says what was counted, as
// StoppedError.Of does ("" for episodes).
func stopped(ctx context.Context, played, total int, of string) error {
	return &StoppedError{Played: played, Total: total, Of: of, Cause: context.Cause(ctx)}
}

// isStopped says whether err is a StoppedError: the run has something to report.
func isStopped(err error) bool {
	var s *StoppedError
	return errors.As(err, &s)
}

func (r *Row) add(ep Episode) {
	r.Episodes++
	if ep.Completed == ep.Tasks {
		r.succeeded++
	}
	r.completed += ep.Completed
	r.Steps += ep.Steps
	r.Inferences += ep.Inferences
	r.layers += ep.LayersExecuted
	r.verified += ep.VerificationRuns
	r.engine += ep.EngineTime
	r.backbone += ep.BackboneTime
	r.Legs.add(ep.Legs)
	r.nearest, r.gap = append(r.nearest, ep.Nearest...), append(r.gap, ep.Gap...)
}

func (r *Row) summarize() {
	if r.Episodes == 0 {
		nan := Metric(math.NaN())
		r.SuccessRate, r.SuccessLow, r.SuccessHigh, r.ChainLength = nan, nan, nan, nan
		r.ExecutedLayers, r.VerificationRate, r.MeanLatencyMs, r.FreeSuccess, r.CriticalSuccess = nan, nan, nan, nan, nan
		r.Speedup, r.BackboneSpeedup, r.ApproachMissCm, r.ApproachGapCm = nan, nan, nan, nan
		return
	}
	p, lo, hi := Wilson(r.succeeded, r.Episodes)
	r.SuccessRate, r.SuccessLow, r.SuccessHigh = Metric(p), Metric(lo), Metric(hi)
	r.ChainLength = Metric(float64(r.completed) / float64(r.Episodes))
	r.ExecutedLayers = Metric(ratio(float64(r.layers), r.Inferences))
	r.VerificationRate = Metric(ratio(float64(r.verified), r.Inferences))
	r.MeanLatencyMs = Metric(ratio(float64(r.engine)/float64(time.Millisecond), r.Inferences))
	r.FreeSuccess, r.CriticalSuccess = Metric(r.Legs.Free()), Metric(r.Legs.Critical())
	r.ApproachMissCm, r.ApproachGapCm = Metric(100*median(r.nearest)), Metric(100*median(r.gap))
}

// median is the lower median of v (a value of v, not a mean of two); NaN when v is empty.
func median(v []float64) float64 { return Percentile(v, 0.5) }

// Percentile is the nearest-rank p-quantile of v (a value of v), v left unsorted; NaN when v is empty.
func Percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	return percentile.Of(v, p)
}

func ratio(a float64, n int) float64 {
	if n == 0 {
		return math.NaN()
	}
	return a / float64(n)
}

// judgeMatch says whether a matched row's executed layers came within the tolerance of the target,
// and when not, says so in its note.
func (r *Row) judgeMatch() {
	m := r.Match
	if m == nil || !r.Available {
		return
	}
	off := float64(r.ExecutedLayers - m.TargetLayers)
	m.WithinTolerance = math.Abs(off) <= m.Tolerance
	if !m.WithinTolerance {
		r.Note += fmt.Sprintf("; OFF TARGET: %.2f layers over its %d episodes, %+.2f from the target %.2f (tolerance %.2g)",
			r.ExecutedLayers, r.Episodes, off, m.TargetLayers, m.Tolerance)
	}
}

// Finish sets every row's speedups against the row named full: mean time per inference of full over
// the row's, for the whole inference and for the backbone part.
func Finish(rows []Row, full string) {
	var ref *Row
	for i := range rows {
		if rows[i].Variant == full {
			ref = &rows[i]
		}
	}
	for i := range rows {
		r := &rows[i]
		if ref == nil || r.Inferences == 0 || ref.Inferences == 0 {
			r.Speedup, r.BackboneSpeedup = Metric(math.NaN()), Metric(math.NaN())
			continue
		}
		per := func(d time.Duration, n int) float64 { return float64(d) / float64(n) }
		r.Speedup = Metric(per(ref.engine, ref.Inferences) / per(r.engine, r.Inferences))
		r.BackboneSpeedup = Metric(per(ref.backbone, ref.Inferences) / per(r.backbone, r.Inferences))
	}
}

// Wilson returns the success share of k in n and its 95% Wilson score interval.
func Wilson(k, n int) (p, low, high float64) {
	if n == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	const z = 1.959963984540054
	p = float64(k) / float64(n)
	nf := float64(n)
	denom := 1 + z*z/nf
	centre := (p + z*z/(2*nf)) / denom
	half := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / denom
	return p, math.Max(0, centre-half), math.Min(1, centre+half)
}

// WriteTable prints rows for people.
func WriteTable(w io.Writer, rows []Row) {
	fmt.Fprintf(w, "%-16s %4s %7s %15s %6s %6s %5s %8s %7s %6s %6s %6s\n",
		"variant", "eps", "success", "95% interval", "chain", "layers", "verif", "backbone", "speedup", "free", "crit", "miss")
	for _, r := range rows {
		if !r.Available {
			fmt.Fprintf(w, "%-16s %s\n", r.Variant, r.Note)
			continue
		}
		fmt.Fprintf(w, "%-16s %4d %7.3f  [%5.3f, %5.3f] %6.2f %6.2f %5.3f %7.2fx %6.2fx %6s %6s %6.1f\n",
			r.Variant, r.Episodes, r.SuccessRate, r.SuccessLow, r.SuccessHigh, r.ChainLength, r.ExecutedLayers,
			r.VerificationRate, r.BackboneSpeedup, r.Speedup, rate(r.FreeSuccess), rate(r.CriticalSuccess), r.ApproachMissCm)
	}
	fmt.Fprintln(w)
	for _, r := range rows {
		matching.WriteVariantLine(w, r.Variant, r.Description, r.Param, r.Note, r.Available)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "columns: success = episodes with every instruction completed (Wilson 95% interval); chain = mean instructions completed in sequence;")
	fmt.Fprintln(w, "  layers = mean decoder layers per inference, verification re-runs included; verif = share of inferences re-run;")
	fmt.Fprintln(w, "  backbone/speedup = full's mean time per inference over the variant's, backbone part (layers, adapters, controllers, re-runs) / whole;")
	fmt.Fprintln(w, "  free/crit = success of the free-space legs (approach, transport) / of the grasp and release legs (-: none reached);")
	fmt.Fprintf(w, "  miss = median over instructions of the closest the gripper tip came to the named block, cm (grasp reach is %g cm;\n", 100*scene.GraspReach)
	fmt.Fprintf(w, "  an arm that only moved up and down would miss by %s cm on these episodes)\n", gapOf(rows))
}

// gapOf prints the rows' approach gap (the same seeds give every row the same), or "-".
func gapOf(rows []Row) string {
	for _, r := range rows {
		if r.Available && !math.IsNaN(float64(r.ApproachGapCm)) {
			return fmt.Sprintf("%.1f", float64(r.ApproachGapCm))
		}
	}
	return "-"
}

// rate prints a share, or "-" when there was nothing to count.
func rate(m Metric) string {
	if math.IsNaN(float64(m)) {
		return "-"
	}
	return fmt.Sprintf("%.3f", float64(m))
}
