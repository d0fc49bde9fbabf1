// Package benchmark measures the engine's plans side by side: the single-graph model, the segmented
// full run, static-only and DySL plans at fixed skip ratios. Plans are interleaved round-robin within
// one run, so machine noise (other processes, frequency changes) lands on all of them alike, and each
// plan's measured speedup is compared with its ideal speedup, the ratio of executed FLOPs.
package benchmark

import (
	"fmt"
	"io"
	"math"
	"time"

	"dysl_vla/hostmemory"
	"dysl_vla/percentile"
	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
	"dysl_vla/skipping"
)

// Plan is one configuration to measure. SingleGraph plans run the whole model as one graph; the others
// run the segmented engine with Skipping.
type Plan struct {
	Name        string
	SingleGraph bool
	Skipping    skipping.Config
}

// DefaultPlans are the plans `dysl bench` measures on a backbone of layout l, with a fixed-ratio DySL
// plan per skip ratio (each a share of the dynamic layers, in [0, 1]). Each segment skips a whole
// number of layers, so a plan skips the share of l's dynamic layers nearest to its ratio that the
// segments allow: the plan is named after the share it skips (dysl_skip_33 for 0.25 on two segments
// of 2 and 4 dynamic layers), and ratios that come to the same plan give one.
func DefaultPlans(l *skipping.Layout, ratios ...float64) ([]Plan, error) {
	if len(ratios) == 0 {
		ratios = []float64{0.25, 0.5, 0.75}
	}
	full := skipping.DefaultConfig()
	full.Strategy = skipping.StrategyFull
	static := skipping.DefaultConfig()
	static.Strategy = skipping.StrategyStaticOnly
	plans := []Plan{
		{Name: "single_graph", SingleGraph: true},
		{Name: "segmented_full", Skipping: full},
		{Name: "static_only", Skipping: static},
	}
	named := map[string]bool{}
	for _, r := range ratios {
		if !(r >= 0 && r <= 1) {
			return nil, fmt.Errorf("benchmark: skip ratio %v: expected a share of the dynamic layers in [0, 1]", r)
		}
		skipped, _ := skipping.SkippedLayers(skipping.StrategyFixedRatio, *l, r)
		name := fmt.Sprintf("dysl_skip_%d", int(math.Round(100*float64(skipped)/float64(max(l.DynamicLayers(), 1)))))
		if named[name] {
			continue
		}
		named[name] = true
		c := skipping.DefaultConfig()
		c.Strategy = skipping.StrategyFixedRatio
		c.SkipRatio = r
		plans = append(plans, Plan{Name: name, Skipping: c})
	}
	return plans, nil
}

// Result is one plan's measurement.
type Result struct {
	Plan           string  `json:"plan"`
	Runs           int     `json:"runs"`
	MedianMs       float64 `json:"median_ms"`
	P95Ms          float64 `json:"p95_ms"`
	MeanExecuted   float64 `json:"mean_executed_layers"`
	SkipRatio      float64 `json:"skip_ratio"`
	Speedup        float64 `json:"speedup"`
	IdealSpeedup   float64 `json:"ideal_speedup"`
	Efficiency     float64 `json:"efficiency"`
	ExecutedGFLOPs float64 `json:"executed_gflops"`
}

// Report is the whole run. Without FLOPs in the bundle's manifest (FLOPsKnown false: its flops are
// all 0, as a bundle made elsewhere may leave them), ideal speedup, efficiency and GFLOPs are 0 and
// the table says n/a.
type Report struct {
	Model      string   `json:"model"`
	Provider   string   `json:"provider"`
	Machine    string   `json:"machine,omitempty"` // set by the caller: the processor and runtime timed
	Warmup     int      `json:"warmup"`
	FLOPsKnown bool     `json:"flops_known"`
	Plans      []Result `json:"plans"`
}

// Config says what to measure.
type Config struct {
	Engine       *policy.Engine
	Observations []policy.Observation // cycled through
	Plans        []Plan
	Iterations   int // timed inferences per plan
	Warmup       int // untimed rounds of every plan first
	// Now is the clock (defaults to time.Now); Progress, if set, is told after each round.
	Now      func() time.Time
	Progress func(done, total int)
}

// Run measures every plan, interleaved, and restores the engine's skipping configuration afterwards.
func Run(c Config) (Report, error) {
	if c.Engine == nil || len(c.Observations) == 0 || len(c.Plans) == 0 {
		return Report{}, fmt.Errorf("benchmark: need an engine, observations and plans")
	}
	if c.Iterations < 1 || c.Warmup < 0 {
		return Report{}, fmt.Errorf("benchmark: iterations (%d) must be >= 1 and warm-up rounds (%d) >= 0", c.Iterations, c.Warmup)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	e := c.Engine
	saved := e.SkippingConfig()
	defer func() { _ = e.SetSkipping(saved) }()

	// Every timed inference's latency is kept for the percentiles: a count whose latencies cannot fit in
	// memory is refused before the first inference, and the slices are made at their final size.
	// (The count is the iterations, not iterations × plans: that product can overflow an int.)
	if err := hostmemory.Check(c.Iterations, "iterations (a latency of each plan)", uint64(8*len(c.Plans))); err != nil {
		return Report{}, fmt.Errorf("benchmark: %w: use fewer iterations", err)
	}
	lat := make([][]time.Duration, len(c.Plans))
	for i := range lat {
		lat[i] = make([]time.Duration, 0, c.Iterations)
	}
	flops := make([]float64, len(c.Plans))
	executed := make([]float64, len(c.Plans))
	skipped := make([]float64, len(c.Plans))
	m := e.Manifest
	for round := 0; round < c.Warmup+c.Iterations; round++ {
		obs := c.Observations[round%len(c.Observations)]
		for i, p := range c.Plans {
			t0 := c.Now()
			var stats policy.Stats
			if p.SingleGraph {
				if _, err := e.InferSingleGraph(obs); err != nil {
					return Report{}, fmt.Errorf("benchmark: plan %s: %w", p.Name, err)
				}
				stats.LayersExecuted, stats.LayersTotal = m.Dims.Layers, m.Dims.Layers
			} else {
				if err := e.SetSkipping(p.Skipping); err != nil {
					return Report{}, fmt.Errorf("benchmark: plan %s: %w", p.Name, err)
				}
				res, err := e.Infer(obs)
				if err != nil {
					return Report{}, fmt.Errorf("benchmark: plan %s: %w", p.Name, err)
				}
				stats = res.Stats
			}
			d := c.Now().Sub(t0)
			if round < c.Warmup {
				continue
			}
			lat[i] = append(lat[i], d)
			flops[i] += ExecutedFLOPs(m.FLOPs, stats.Stats)
			executed[i] += float64(stats.LayersExecuted)
			skipped[i] += stats.SkipRatio()
		}
		if c.Progress != nil {
			c.Progress(round+1, c.Warmup+c.Iterations)
		}
	}
	n := float64(c.Iterations)
	full := FullFLOPs(m)
	rep := Report{Model: m.Name, Warmup: c.Warmup, FLOPsKnown: full > 0}
	var baseline float64
	for i, p := range c.Plans {
		med := percentile.Of(lat[i], 0.5)
		r := Result{
			Plan: p.Name, Runs: c.Iterations,
			MedianMs: ms(med), P95Ms: ms(percentile.Of(lat[i], 0.95)),
			MeanExecuted: executed[i] / n, SkipRatio: skipped[i] / n,
		}
		if rep.FLOPsKnown {
			r.ExecutedGFLOPs, r.IdealSpeedup = flops[i]/n/1e9, full/(flops[i]/n)
		}
		if p.SingleGraph && baseline == 0 {
			baseline = r.MedianMs
		}
		rep.Plans = append(rep.Plans, r)
	}
	if baseline == 0 { // no single-graph plan: compare with the first plan
		baseline = rep.Plans[0].MedianMs
	}
	for i := range rep.Plans {
		r := &rep.Plans[i]
		r.Speedup = baseline / r.MedianMs
		if rep.FLOPsKnown {
			r.Efficiency = r.Speedup / r.IdealSpeedup
		}
	}
	return rep, nil
}

// FullFLOPs is the work of one full inference: prefix, every layer, head.
func FullFLOPs(m *bundle.Manifest) float64 {
	f := m.FLOPs
	return float64(f.Prefix + int64(m.Dims.Layers)*f.Layer + f.Head)
}

// ExecutedFLOPs is the work one inference actually did, from its statistics (all passes).
func ExecutedFLOPs(f bundle.FLOPs, s skipping.Stats) float64 {
	passes := max(s.Passes, 1)
	return float64(f.Prefix + int64(s.LayersExecuted)*f.Layer + int64(s.AdaptersRun)*f.Adapter +
		int64(s.ControllersEvaluated)*f.Controller + int64(passes)*f.Head)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// WriteTable prints the report for people.
func WriteTable(w io.Writer, r Report) {
	fmt.Fprintf(w, "model %s, provider %s, %d timed runs per plan (interleaved), %d warm-up rounds\n",
		r.Model, r.Provider, firstRuns(r), r.Warmup)
	if r.Machine != "" {
		fmt.Fprintf(w, "machine: %s\n", r.Machine)
	}
	fmt.Fprintf(w, "%-16s %10s %10s %9s %9s %9s %9s %11s\n", "plan", "median_ms", "p95_ms", "layers", "speedup", "ideal", "efficiency", "GFLOPs")
	for _, p := range r.Plans {
		fmt.Fprintf(w, "%-16s %10.3f %10.3f %9.2f %9.3f ", p.Plan, p.MedianMs, p.P95Ms, p.MeanExecuted, p.Speedup)
		if r.FLOPsKnown {
			fmt.Fprintf(w, "%9.3f %9.3f %11.3f\n", p.IdealSpeedup, p.Efficiency, p.ExecutedGFLOPs)
		} else {
			fmt.Fprintf(w, "%9s %9s %11s\n", "n/a", "n/a", "n/a")
		}
	}
	if !r.FLOPsKnown {
		// A flops block of zeros and none at all decode alike; an author may have written either.
		fmt.Fprintln(w, "the manifest's flops are 0 for every graph (a flops block of zeros, or none): ideal speedup, efficiency and GFLOPs "+
			"are not computed; to have them, write each graph's FLOPs per inference into flops (docs/BUNDLE.md)")
	}
}

func firstRuns(r Report) int {
	if len(r.Plans) == 0 {
		return 0
	}
	return r.Plans[0].Runs
}
