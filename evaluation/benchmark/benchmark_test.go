package benchmark

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
	"dysl_vla/policy/policytest"
	"dysl_vla/skipping"
)

// simClock is a clock that only moves when a simulated graph "runs".
type simClock struct{ t time.Time }

func (c *simClock) Now() time.Time        { return c.t }
func (c *simClock) Sleep(d time.Duration) { c.t = c.t.Add(d) }

func manifest() *bundle.Manifest {
	return &bundle.Manifest{
		Format: bundle.FormatVersion, Name: "sim",
		Dims:         bundle.Dims{Layers: 8, Hidden: 4, Heads: 1, Tokens: 4, InstructionTokens: 4, Chunk: 2, ActionDim: 2},
		Image:        bundle.ImageSpec{Width: 2, Height: 2, Mean: []float64{0, 0, 0}, Std: []float64{1, 1, 1}},
		Tokenizer:    bundle.Tokenizer{Kind: "bytes"},
		Action:       bundle.ActionSpec{Names: []string{"x", "g"}, Mean: []float64{0, 0}, Std: []float64{1, 1}},
		StaticLayers: []int{3, 7},
		FLOPs:        bundle.FLOPs{Layer: 10, Adapter: 1},
	}
}

// With simulated graph times proportional to their FLOPs, every plan's measured speedup equals its
// ideal speedup: the report's arithmetic is checked against numbers computed by hand.
func TestReportComparesMeasuredWithIdealSpeedup(t *testing.T) {
	clock := &simClock{t: time.Unix(0, 0)}
	m := manifest()
	faulty := policytest.NewFaulty(policytest.NewFake(m),
		policytest.Slow(policytest.OpLayer, 10*time.Millisecond),
		policytest.Slow(policytest.OpAdapter, time.Millisecond),
		policytest.Slow(policytest.OpSingleGraph, 80*time.Millisecond))
	faulty.Sleep = clock.Sleep
	e := &policy.Engine{Manifest: m, Backend: faulty, Now: clock.Now}
	require.NoError(t, e.Initialize())
	img := policy.Image{Width: 2, Height: 2, Encoding: "mono8", Step: 2, Data: []byte{1, 2, 3, 4}}

	plans, err := DefaultPlans(e.Layout(), 0.5)
	require.NoError(t, err)
	rep, err := Run(Config{Engine: e, Observations: []policy.Observation{{Image: img}}, Plans: plans,
		Iterations: 5, Warmup: 1, Now: clock.Now})
	require.NoError(t, err)
	byName := map[string]Result{}
	for _, r := range rep.Plans {
		byName[r.Plan] = r
	}
	require.Len(t, byName, 4)
	require.InDelta(t, 80, byName["single_graph"].MedianMs, 1e-9)
	require.InDelta(t, 80, byName["segmented_full"].MedianMs, 1e-9)
	require.InDelta(t, 1, byName["segmented_full"].Efficiency, 1e-9)
	// static-only: static layers 3 and 7 (20 ms) + 2 adapters (2 ms)
	so := byName["static_only"]
	require.InDelta(t, 22, so.MedianMs, 1e-9)
	require.InDelta(t, 80.0/22, so.Speedup, 1e-9)
	require.InDelta(t, 80.0/22, so.IdealSpeedup, 1e-9)
	require.InDelta(t, 2, so.MeanExecuted, 1e-9)
	require.InDelta(t, 22e-9, so.ExecutedGFLOPs, 1e-18, "2 layers of 10 FLOPs and 2 adapters of 1")
	// ratio 0.5: 3 dynamic layers per segment, round(1.5)=2 skipped (4 of the 6 dynamic layers, half
	// of all 8): 4 layers + 2 adapters
	d := byName["dysl_skip_67"]
	require.InDelta(t, 42, d.MedianMs, 1e-9)
	require.InDelta(t, 1, d.Efficiency, 1e-9)
	require.InDelta(t, 0.5, d.SkipRatio, 1e-9)

	// Speedups are against the single graph wherever it stands in the plans.
	reordered := []Plan{plans[2], plans[0], plans[1]}
	rep, err = Run(Config{Engine: e, Observations: []policy.Observation{{Image: img}}, Plans: reordered,
		Iterations: 3, Now: clock.Now})
	require.NoError(t, err)
	require.Equal(t, "static_only", rep.Plans[0].Plan)
	require.InDelta(t, 80.0/22, rep.Plans[0].Speedup, 1e-9)
	require.InDelta(t, 1, rep.Plans[1].Speedup, 1e-9)
}

// A bundle whose manifest records no FLOPs (built elsewhere) is measured all the same: the FLOPs
// columns say n/a and the JSON holds zeros with flops_known false, not NaN, which JSON cannot encode.
// The note says what was found, a flops block of zeros or none, not "no flops block" to an author
// who wrote one of zeros.
func TestReportWithoutFLOPs(t *testing.T) {
	m := manifest()
	m.FLOPs = bundle.FLOPs{}
	e := &policy.Engine{Manifest: m, Backend: policytest.NewFake(m)}
	require.NoError(t, e.Initialize())
	img := policy.Image{Width: 2, Height: 2, Encoding: "mono8", Step: 2, Data: []byte{1, 2, 3, 4}}
	plans, err := DefaultPlans(e.Layout(), 0.5)
	require.NoError(t, err)
	rep, err := Run(Config{Engine: e, Observations: []policy.Observation{{Image: img}}, Plans: plans, Iterations: 2})
	require.NoError(t, err)
	require.False(t, rep.FLOPsKnown)
	_, err = json.Marshal(rep)
	require.NoError(t, err)
	for _, r := range rep.Plans {
		require.Zero(t, r.IdealSpeedup)
		require.Zero(t, r.Efficiency)
	}
	var out strings.Builder
	WriteTable(&out, rep)
	require.Contains(t, out.String(), "      n/a       n/a         n/a\n")
	require.Contains(t, out.String(), "the manifest's flops are 0 for every graph (a flops block of zeros, or none)")
	require.NotContains(t, out.String(), "no flops block")
	require.NotContains(t, out.String(), "machine:", "no machine given, none printed")

	rep.Machine = "AMD EPYC, 2 cores, ONNX Runtime 1.24.1, provider cpu"
	out.Reset()
	WriteTable(&out, rep)
	require.Contains(t, out.String(), " warm-up rounds\nmachine: AMD EPYC, 2 cores, ONNX Runtime 1.24.1, provider cpu\n")
}

// A run without timed rounds, or with fewer than no warm-up rounds, is refused: it would print a
// table of zeros and NaN.
func TestRunRefusesBadRoundCounts(t *testing.T) {
	m := manifest()
	e := &policy.Engine{Manifest: m, Backend: policytest.NewFake(m)}
	require.NoError(t, e.Initialize())
	img := policy.Image{Width: 2, Height: 2, Encoding: "mono8", Step: 2, Data: []byte{1, 2, 3, 4}}
	plans, err := DefaultPlans(e.Layout(), 0.5)
	require.NoError(t, err)
	// One timed round and no warm-up is the least a run may be.
	rep, err := Run(Config{Engine: e, Observations: []policy.Observation{{Image: img}}, Plans: plans, Iterations: 1})
	require.NoError(t, err)
	require.Len(t, rep.Plans, len(plans))
	for _, bad := range []struct{ iterations, warmup int }{{0, 1}, {2, -3}} {
		_, err := Run(Config{Engine: e, Observations: []policy.Observation{{Image: img}}, Plans: plans,
			Iterations: bad.iterations, Warmup: bad.warmup})
		require.ErrorContains(t, err, fmt.Sprintf("iterations (%d) must be >= 1 and warm-up rounds (%d) >= 0", bad.iterations, bad.warmup))
	}
	// Every latency is kept: more than memory holds is refused before the first inference.
	// 1 << 62 iterations of the plans' latencies overflow 64 bits: refused too, not wrapped round.
	for _, iterations := range []int{1 << 50, 1 << 62} {
		_, err = Run(Config{Engine: e, Observations: []policy.Observation{{Image: img}}, Plans: plans, Iterations: iterations})
		require.ErrorContains(t, err, fmt.Sprintf("benchmark: %d iterations (a latency of each plan) need about ", iterations))
		require.ErrorContains(t, err, ": use fewer iterations")
	}
}

// A skip ratio outside [0, 1] is refused by its value, not by a plan named after it.
func TestDefaultPlansRefuseRatiosOutsideZeroToOne(t *testing.T) {
	l, err := skipping.NewLayout(8, []int{3, 7})
	require.NoError(t, err)
	for _, bad := range []float64{-3, 1.5, math.NaN()} {
		_, err := DefaultPlans(&l, 0.5, bad)
		require.EqualError(t, err, fmt.Sprintf("benchmark: skip ratio %v: expected a share of the dynamic layers in [0, 1]", bad))
	}
	// The ends are ratios too: none of the dynamic layers skipped, and all of them.
	plans, err := DefaultPlans(&l, 0, 1)
	require.NoError(t, err)
	require.Equal(t, "dysl_skip_0", plans[3].Name)
	require.Equal(t, "dysl_skip_100", plans[4].Name)
	plans, err = DefaultPlans(&l)
	require.NoError(t, err)
	require.Len(t, plans, 5, "0.5 and 0.75 of 3 dynamic layers per segment both round to 2: one plan")
	require.Equal(t, "dysl_skip_67", plans[len(plans)-1].Name)
}

// A plan is named after the share of the dynamic layers it skips, which whole layers per segment
// allow, not after the ratio asked for; two ratios that come to one plan give one.
func TestDefaultPlansAreNamedByWhatTheySkip(t *testing.T) {
	l, err := skipping.NewLayout(8, []int{2, 7}) // segments of 2 and 4 dynamic layers
	require.NoError(t, err)
	plans, err := DefaultPlans(&l, 0.25, 0.5, 0.75)
	require.NoError(t, err)
	var names []string
	for _, p := range plans[3:] {
		names = append(names, p.Name)
	}
	require.Equal(t, []string{"dysl_skip_33", "dysl_skip_50", "dysl_skip_83"}, names)
	plans, err = DefaultPlans(&l, 0.25, 0.3, 0.25)
	require.NoError(t, err)
	require.Len(t, plans, 4)
}

// The ideal speedup is the full model's FLOPs over what a plan ran: every graph's FLOPs count, the
// prefix once and the head once a pass (a re-run is a second pass).
func TestFLOPsCountEveryGraph(t *testing.T) {
	m := manifest()
	m.FLOPs = bundle.FLOPs{Prefix: 100, Layer: 10, Adapter: 2, Controller: 1, Head: 50}
	require.Equal(t, float64(100+8*10+50), FullFLOPs(m))
	s := skipping.Stats{LayersExecuted: 5, AdaptersRun: 2, ControllersEvaluated: 3, Passes: 2}
	require.Equal(t, float64(100+5*10+2*2+3*1+2*50), ExecutedFLOPs(m.FLOPs, s))
	s.Passes = 0 // statistics of an inference that recorded no pass still ran the head once
	require.Equal(t, float64(100+5*10+2*2+3*1+50), ExecutedFLOPs(m.FLOPs, s))
}
