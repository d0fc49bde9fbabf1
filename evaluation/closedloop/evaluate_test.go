package closedloop_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/evaluation/closedloop"
	"dysl_vla/modelbuild/modelbuildtest"
	"dysl_vla/nodecore"
	"dysl_vla/policy/bundle"
	"dysl_vla/policy/ortbackend"
	"dysl_vla/policy/ortbackend/orttest"
	"dysl_vla/scene"
	"dysl_vla/skipping"
)

var tinyDir string

func TestMain(m *testing.M) { os.Exit(modelbuildtest.RunWithTinyBundle(m, 11, &tinyDir)) }

// Two short episodes of a random tiny bundle through every variant: every row is there, the same
// episodes were played by each, and the dithered baselines execute what DySL executed per inference
// (to within one layer over the run's inferences: each skips whole layers).
func TestEvaluateEveryVariant(t *testing.T) {
	sc := scene.DefaultConfig()
	sc.MaxSteps = 25
	var runs, skipped int
	// A random policy's chunks jump about, so every skipped pass after the first inference's full one
	// looks like a continuity drop. The largest eta_move and eta_verify (10) let the controllers decide.
	dysl := skipping.DefaultConfig()
	dysl.EtaMove, dysl.EtaVerify = 10, 10
	cfg := closedloop.EvaluateConfig{Skipped: func(n int) { skipped += n }, Model: tinyDir, Backend: ortbackend.Opener(ortbackend.Config{LibraryPath: orttest.Library(t)}),
		DySL: dysl, Seeds: []int64{1_000_000, 1_000_001}, ExitEpisodes: 2, ExitStride: 8,
		Suite: closedloop.Suite{Scene: sc, Latency: closedloop.LayerLatency{PerLayer: 5_000_000}, Progress: func() { runs++ }}}
	rep, err := closedloop.Evaluate(context.Background(), cfg)
	require.NoError(t, err)
	require.Equal(t, closedloop.EpisodeRuns(cfg), runs+skipped, "the progress total is what ran and what a search left unplayed")
	var names []string
	rows := map[string]closedloop.Row{}
	for _, r := range rep.Variants {
		names = append(names, r.Variant)
		rows[r.Variant] = r
	}
	require.Equal(t, []string{"full", "dysl", "dysl_no_preskip", "dysl_no_verify", "one_stage", "random_skip",
		"fixed_ratio", "static_only", "flexidepth", "early_exit"}, names)
	require.False(t, rows["one_stage"].Available)
	require.True(t, rows["early_exit"].Available, "a random backbone is rebuilt from the manifest for the exit fit")
	for _, r := range rep.Variants {
		if r.Available {
			require.Equal(t, 2, r.Episodes, r.Variant)
			require.Equal(t, 50, r.Steps, "%s: a random policy completes nothing in 25 steps", r.Variant)
			require.Equal(t, closedloop.Metric(0), r.SuccessRate)
		}
	}
	require.Equal(t, closedloop.Metric(8), rows["full"].ExecutedLayers)
	require.Equal(t, closedloop.Metric(1), rows["full"].Speedup)
	dyslLayers := float64(rows["dysl"].ExecutedLayers)
	require.Less(t, dyslLayers, 8.0, "the stand-in controllers of a built bundle let DySL skip")
	for _, name := range []string{"random_skip", "fixed_ratio"} {
		require.InDelta(t, dyslLayers, float64(rows[name].ExecutedLayers), 1/float64(rows[name].Inferences)+1e-9, name)
	}
	require.Equal(t, closedloop.Metric(2), rows["static_only"].ExecutedLayers)
	require.Nil(t, rows["static_only"].Match)
	// Every matched baseline says what it was matched to, and its note says when its own run missed.
	for _, name := range []string{"random_skip", "fixed_ratio", "flexidepth", "early_exit"} {
		m := rows[name].Match
		require.NotNil(t, m, name)
		require.Equal(t, rows["dysl"].ExecutedLayers, m.TargetLayers, name)
		off := math.Abs(float64(rows[name].ExecutedLayers - m.TargetLayers))
		require.Equal(t, off <= m.Tolerance, m.WithinTolerance, name)
		require.Equal(t, !m.WithinTolerance, strings.Contains(rows[name].Note, "OFF TARGET"), "%s: %s", name, rows[name].Note)
	}
	for _, name := range []string{"flexidepth", "early_exit"} {
		m := rows[name].Match
		require.Equal(t, 2, m.Episodes, name)
		require.GreaterOrEqual(t, m.Runs, 1, "%s: searched in closed loop", name)
		require.LessOrEqual(t, m.Runs, 6, name)
	}
}

// --variants: full and dysl always run, then only the rows asked for; full and dysl alone play no
// second phase. The progress total is what ran, and an unknown name stops the run before it starts.
func TestEvaluateOnlyTheVariantsAskedFor(t *testing.T) {
	sc := scene.DefaultConfig()
	sc.MaxSteps = 10
	backend := ortbackend.Opener(ortbackend.Config{LibraryPath: orttest.Library(t)})
	for _, tc := range []struct {
		variants, rows []string
	}{
		{[]string{"full", "dysl"}, []string{"full", "dysl"}},
		{[]string{"static_only", "dysl_no_verify"}, []string{"full", "dysl", "dysl_no_verify", "static_only"}},
	} {
		var runs int
		cfg := closedloop.EvaluateConfig{Model: tinyDir, Backend: backend, DySL: skipping.DefaultConfig(), Seeds: []int64{1_000_000, 1_000_001},
			Variants: tc.variants, Suite: closedloop.Suite{Scene: sc, Latency: closedloop.LayerLatency{PerLayer: 5_000_000}, Progress: func() { runs++ }}}
		rep, err := closedloop.Evaluate(context.Background(), cfg)
		require.NoError(t, err)
		var names []string
		for _, r := range rep.Variants {
			names = append(names, r.Variant)
		}
		require.Equal(t, tc.rows, names)
		require.Equal(t, closedloop.EpisodeRuns(cfg), runs, tc.variants)
		require.Contains(t, rep.Notes, "only the variants asked for ran: "+strings.Join(tc.variants, ", ")+" (full and dysl always run)")
	}
	require.Equal(t, 2*2, closedloop.EpisodeRuns(closedloop.EvaluateConfig{Model: tinyDir, Seeds: []int64{1, 2}, Variants: []string{"full", "dysl"}}))

	var runs int
	_, err := closedloop.Evaluate(context.Background(), closedloop.EvaluateConfig{Model: tinyDir, Backend: backend, DySL: skipping.DefaultConfig(), Seeds: []int64{1_000_000},
		Variants: []string{"flexi"}, Suite: closedloop.Suite{Scene: sc, Progress: func() { runs++ }}})
	require.ErrorContains(t, err, `closedloop: variant "flexi": expected full, dysl or one of [dysl_no_preskip`)
	require.Zero(t, runs)

	// Asked for by name, a variant that cannot play is refused before anything plays: its "not run"
	// row would pass in a script for one that ran. (With every variant, such rows stay and say why.)
	_, err = closedloop.Evaluate(context.Background(), closedloop.EvaluateConfig{Model: tinyDir, Backend: backend, DySL: skipping.DefaultConfig(), Seeds: []int64{1_000_000},
		Variants: []string{"dysl", "one_stage"}, Suite: closedloop.Suite{Scene: sc, Progress: func() { runs++ }}})
	require.EqualError(t, err, "closedloop: variant one_stage was asked for, and there is no one-stage bundle to play it (--one-stage DIR)")
	require.Zero(t, runs)
}

// A sweep on a random tiny bundle: every point of the grid, the extra bundle and the baselines plays
// the same episodes, the progress total is what ran, the front is marked where ParetoFront says, and
// with a full model that never succeeds nothing is recommended.
func TestSweepEveryPoint(t *testing.T) {
	sc := scene.DefaultConfig()
	sc.MaxSteps = 15
	var runs int
	grid := []closedloop.Setting{{{Name: "controller_threshold", Value: 0.9}}, {{Name: "eta_verify", Value: 0.2}, {Name: "stride", Value: 1}}}
	cfg := closedloop.SweepConfig{Model: tinyDir, Backend: ortbackend.Opener(ortbackend.Config{LibraryPath: orttest.Library(t)}),
		DySL: skipping.DefaultConfig(), Grid: grid, Bundles: []closedloop.LabelledBundle{{Label: "lambda=0.1", Dir: tinyDir}},
		SkipLevels: []float64{0.5, 1}, ExitEta: []float64{0.05}, Seeds: []int64{1_000_000}, ExitEpisodes: 2, ExitStride: 8,
		Suite: closedloop.Suite{Scene: sc, Latency: closedloop.LayerLatency{PerLayer: 5_000_000}, Progress: func() { runs++ }}}
	rep, err := closedloop.Sweep(context.Background(), cfg)
	require.NoError(t, err)
	require.Equal(t, closedloop.SweepRuns(cfg), runs)
	var series []string
	for _, p := range rep.Points {
		series = append(series, p.Series+" "+p.Setting)
		require.Equal(t, 1, p.Episodes, p.Variant)
		require.Equal(t, 15, p.Steps, p.Variant)
	}
	require.Equal(t, []string{"full every layer", "dysl defaults", "dysl controller_threshold=0.9", "dysl eta_verify=0.2,stride=1",
		"dysl_bundle lambda=0.1", "static_only ", "random_skip skip 0.50 of dynamic", "random_skip skip 1.00 of dynamic",
		"fixed_ratio skip 0.50 of dynamic", "fixed_ratio skip 1.00 of dynamic"}, series[:10])
	require.Len(t, series, 13, "two flexidepth thresholds matched to the levels, one early-exit eta given: %v", series)
	require.Equal(t, "early_exit", rep.Points[12].Series)
	require.Equal(t, "eta=0.05", rep.Points[12].Setting)
	require.Equal(t, closedloop.Metric(2), rep.Points[7].ExecutedLayers, "skipping every dynamic layer leaves the static ones")
	front := closedloop.ParetoFront(rep.Points)
	for i, p := range rep.Points {
		require.Equal(t, slices.Contains(front, i), p.Pareto, p.Variant)
	}
	require.False(t, rep.Recommendation.Found)
	require.Contains(t, rep.Recommendation.Reason, "succeeds in none")
}

// Early exit asked for by name on a trained bundle whose weights file is not given: refused before
// anything plays, saying why (among every variant, its row says the same and plays nothing).
func TestEvaluateSaysWhyEarlyExitCannotRun(t *testing.T) {
	sc := scene.DefaultConfig()
	sc.MaxSteps = 10
	backend := ortbackend.Opener(ortbackend.Config{LibraryPath: orttest.Library(t)})
	trained := filepath.Join(t.TempDir(), "trained")
	require.NoError(t, os.CopyFS(trained, os.DirFS(tinyDir)))
	m, err := bundle.ReadManifest(trained)
	require.NoError(t, err)
	m.Provenance.Weights = "reference_tiny.safetensors"
	require.NoError(t, bundle.Write(trained, m))
	var runs int
	cfg := closedloop.EvaluateConfig{Model: trained, Backend: backend, DySL: skipping.DefaultConfig(), Seeds: []int64{1_000_000, 1_000_001},
		Variants: []string{"early_exit"}, Suite: closedloop.Suite{Scene: sc, Latency: closedloop.LayerLatency{PerLayer: 5_000_000}, Progress: func() { runs++ }}}
	_, err = closedloop.Evaluate(context.Background(), cfg)
	require.EqualError(t, err, `closedloop: variant early_exit was asked for, and cannot run: training: bundle `+trained+` was built from weights "reference_tiny.safetensors": pass that file with --weights`)
	require.Zero(t, runs)
}

// A further bundle that cannot be opened, and a grid setting out of range, stop the evaluation and
// the sweep before the first phase: they used to be found after full and dysl had played every episode.
func TestEvaluateAndSweepRefuseBadBundlesBeforePlaying(t *testing.T) {
	var runs int
	suite := closedloop.Suite{Scene: scene.DefaultConfig(), Progress: func() { runs++ }}
	backend := ortbackend.Opener(ortbackend.Config{LibraryPath: orttest.Library(t)})
	missing := filepath.Join(t.TempDir(), "no_such_bundle")
	_, err := closedloop.Evaluate(context.Background(), closedloop.EvaluateConfig{Model: tinyDir, Backend: backend, DySL: skipping.DefaultConfig(),
		Seeds: []int64{1_000_000}, OneStage: missing, Suite: suite})
	require.ErrorContains(t, err, "closedloop: --one-stage: ")
	require.ErrorContains(t, err, missing)
	_, err = closedloop.Sweep(context.Background(), closedloop.SweepConfig{Model: tinyDir, Backend: backend, DySL: skipping.DefaultConfig(),
		Seeds: []int64{1_000_000}, Bundles: []closedloop.LabelledBundle{{Label: "lambda=0.5", Dir: missing}}, Suite: suite})
	require.ErrorContains(t, err, "closedloop: bundle lambda=0.5 ("+missing+"): ")
	_, err = closedloop.Sweep(context.Background(), closedloop.SweepConfig{Model: tinyDir, Backend: backend, DySL: skipping.DefaultConfig(),
		Seeds: []int64{1_000_000}, Grid: []closedloop.Setting{{{Name: nodecore.ParamContinuityWindow, Value: 2.5}}}, Suite: suite})
	require.ErrorContains(t, err, "continuity_window must be a whole number")
	require.Zero(t, runs)
}

// The baselines' counts and thresholds out of range stop the evaluation and the sweep before any
// episode is played (a negative stride once looped over frames backwards; a negative match-frames
// count and a NaN eta were taken as given).
func TestEvaluateAndSweepRefuseBadBaselineSettings(t *testing.T) {
	var runs int
	suite := closedloop.Suite{Scene: scene.DefaultConfig(), Progress: func() { runs++ }}
	_, err := closedloop.Evaluate(context.Background(), closedloop.EvaluateConfig{Model: tinyDir, DySL: skipping.DefaultConfig(),
		Seeds: []int64{1_000_000}, ExitStride: -3, Suite: suite})
	require.ErrorContains(t, err, "early exit: exit-stride (-3) must be >= 0 (0: the default)")
	_, err = closedloop.Evaluate(context.Background(), closedloop.EvaluateConfig{Model: tinyDir, DySL: skipping.DefaultConfig(),
		Seeds: []int64{1_000_000}, MatchFrames: -3, Suite: suite})
	require.ErrorContains(t, err, "the frames thresholds are matched on (-3)")
	_, err = closedloop.Sweep(context.Background(), closedloop.SweepConfig{Model: tinyDir, DySL: skipping.DefaultConfig(),
		Seeds: []int64{1_000_000}, ExitEvery: -1, Suite: suite})
	require.ErrorContains(t, err, "early exit: exit-every (-1) must be >= 0")
	// An interval of the whole backbone is refused once the bundle is open, before the first phase:
	// it used to be refused at the fit, after full and dysl had played every episode.
	_, err = closedloop.Evaluate(context.Background(), closedloop.EvaluateConfig{Model: tinyDir, Backend: ortbackend.Opener(ortbackend.Config{LibraryPath: orttest.Library(t)}), DySL: skipping.DefaultConfig(),
		Seeds: []int64{1_000_000}, ExitEvery: 8, Suite: suite})
	require.ErrorContains(t, err, "earlyexit: exit interval (8 layers) must be below the backbone's 8 layers")
	_, err = closedloop.Sweep(context.Background(), closedloop.SweepConfig{Model: tinyDir, Backend: ortbackend.Opener(ortbackend.Config{LibraryPath: orttest.Library(t)}), DySL: skipping.DefaultConfig(),
		Seeds: []int64{1_000_000}, ExitEvery: 1_000_000_000, Suite: suite})
	require.ErrorContains(t, err, "earlyexit: exit interval (1000000000 layers)")
	_, err = closedloop.Sweep(context.Background(), closedloop.SweepConfig{Model: tinyDir, DySL: skipping.DefaultConfig(),
		Seeds: []int64{1_000_000}, ExitEta: []float64{0.2, math.NaN()}, Suite: suite})
	require.ErrorContains(t, err, "early exit threshold NaN: expected a finite eta >= 0")
	_, err = closedloop.Sweep(context.Background(), closedloop.SweepConfig{Model: tinyDir, DySL: skipping.DefaultConfig(),
		Seeds: []int64{1_000_000}, FlexiTau: []float64{-3}, Suite: suite})
	require.ErrorContains(t, err, "flexidepth threshold -3: expected a probability in [0, 1]")
	require.Zero(t, runs)
}

// Ctrl-C during an evaluation: the report of what was played comes back with the error, every row
// on the episodes it played and the report saying so; stopped before full and dysl finished an
// episode, there is no report.
func TestEvaluateStoppedReportsWhatWasPlayed(t *testing.T) {
	sc := scene.DefaultConfig()
	sc.MaxSteps = 10
	backend := ortbackend.Opener(ortbackend.Config{LibraryPath: orttest.Library(t)})
	interrupt := errors.New("interrupt signal received")
	// The first phase plays full and dysl (2 episodes a round), then a search of flexidepth's tau plays
	// 3 episodes a run, or the second phase its rows and full again (3 a round).
	for _, tc := range []struct {
		name      string
		variants  []string
		stopAfter int
		episodes  map[string]int // the rows and their episodes
		stopped   string
		where     string // in the error
	}{
		{"before a round", []string{"static_only", "random_skip"}, 1, nil, "", "stopped after 0 of 3 episodes"},
		{"full and dysl alone", []string{"full", "dysl"}, 5, map[string]int{"full": 2, "dysl": 2}, "full and dysl played the first 2 of 3 episodes",
			"stopped after 2 of 3 episodes"},
		{"first phase", []string{"static_only", "random_skip"}, 3, map[string]int{"full": 1, "dysl": 1},
			"full and dysl played the first 1 of 3 episodes; the ablations and baselines did not run", "stopped after 1 of 3 episodes"},
		{"matching on served frames", []string{"flexidepth"}, 6, map[string]int{"full": 3, "dysl": 3},
			"full and dysl played all 3 episodes; the run stopped before the ablations and baselines played theirs",
			"frames served to dysl, matching flexidepth's tau on them"},
		{"fitting early exit", []string{"early_exit"}, 6, map[string]int{"full": 3, "dysl": 3},
			"full and dysl played all 3 episodes; the run stopped before the ablations and baselines played theirs",
			"stopped during 8 training episodes, fitting the early exits on them"},
		{"search", []string{"flexidepth"}, 7, map[string]int{"full": 3, "dysl": 3},
			"full and dysl played all 3 episodes; the run stopped before the ablations and baselines played theirs", "stopped after 1 of 3 episodes"},
		{"second phase", []string{"static_only", "random_skip"}, 6 + 3 + 2, map[string]int{"full": 3, "dysl": 3, "random_skip": 1, "static_only": 1},
			"full and dysl played all 3 episodes; the ablations and baselines the first 1 of them", "stopped after 1 of 3 episodes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			played := 0
			cfg := closedloop.EvaluateConfig{Model: tinyDir, Backend: backend, DySL: skipping.DefaultConfig(), Seeds: []int64{1_000_000, 1_000_001, 1_000_002},
				Variants: tc.variants, Suite: closedloop.Suite{Scene: sc, Latency: closedloop.LayerLatency{PerLayer: 5_000_000}, Progress: func() {
					if played++; played == tc.stopAfter {
						cancel(interrupt)
					}
				}}}
			rep, err := closedloop.Evaluate(ctx, cfg)
			require.ErrorIs(t, err, interrupt)
			require.ErrorContains(t, err, tc.where)
			require.Equal(t, tc.stopAfter, played)
			if tc.episodes == nil {
				require.Nil(t, rep)
				return
			}
			require.NotNil(t, rep)
			got := map[string]int{}
			for _, r := range rep.Variants {
				got[r.Variant] = r.Episodes
			}
			require.Equal(t, tc.episodes, got)
			require.Equal(t, tc.stopped, rep.Stopped)
			var text strings.Builder
			closedloop.WriteReport(&text, rep)
			require.Contains(t, text.String(), "STOPPED before the end: "+tc.stopped)
			out, err := json.Marshal(rep)
			require.NoError(t, err)
			require.Contains(t, string(out), `"stopped":"full and dysl played`)
		})
	}
}

// Ctrl-C during a sweep's second phase: every point is reported on the episodes it played, the
// stop is said, and no setting is recommended from the unfinished sweep.
func TestSweepStoppedReportsWhatWasPlayed(t *testing.T) {
	sc := scene.DefaultConfig()
	sc.MaxSteps = 10
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	interrupt := errors.New("interrupt signal received")
	played := 0
	// The first phase plays 2 episodes a round; the second static_only, random_skip and full again.
	cfg := closedloop.SweepConfig{Model: tinyDir, Backend: ortbackend.Opener(ortbackend.Config{LibraryPath: orttest.Library(t)}),
		DySL: skipping.DefaultConfig(), SkipLevels: []float64{0.5}, FlexiTau: []float64{0.5}, ExitEta: []float64{0.05},
		Seeds: []int64{1_000_000, 1_000_001}, ExitEpisodes: 2, ExitStride: 8,
		Suite: closedloop.Suite{Scene: sc, Latency: closedloop.LayerLatency{PerLayer: 5_000_000}, Progress: func() {
			if played++; played == 4+7+1 {
				cancel(interrupt)
			}
		}}}
	rep, err := closedloop.Sweep(ctx, cfg)
	require.ErrorIs(t, err, interrupt)
	require.NotNil(t, rep)
	require.Len(t, rep.Points, 7, "full, dysl, static_only, random_skip, fixed_ratio, flexidepth, early_exit")
	for i, p := range rep.Points {
		want := 1
		if i < 2 {
			want = 2
		}
		require.Equal(t, want, p.Episodes, "%s %s", p.Series, p.Setting)
	}
	require.Equal(t, "full and dysl at its defaults played all 2 episodes; the other points the first 1 of them", rep.Stopped)
	require.False(t, rep.Recommendation.Found)
	require.Contains(t, rep.Recommendation.Reason, "stopped before its end")
	var text strings.Builder
	closedloop.WriteSweep(&text, rep)
	require.Contains(t, text.String(), "STOPPED before the end: ")
}

// outcome is what a row played, timing aside: rounds taken from a journal must give what playing
// them gives (the per-layer latency makes episodes deterministic).
func outcome(r closedloop.Row) string {
	return fmt.Sprintf("%s %s eps=%d steps=%d inferences=%d layers=%.4f success=%.3f chain=%.3f", r.Variant, r.Param, r.Episodes, r.Steps, r.Inferences,
		r.ExecutedLayers, r.SuccessRate, r.ChainLength)
}

// An evaluation stopped in its first phase and one stopped in its second, each run again with the
// same journal, end where an evaluation never stopped ends: the same rows from the same episodes,
// flexidepth's threshold matched and searched alike (its first frames served to dysl again, where
// the journal held the first phase's rounds). The run again plays only what was left.
func TestEvaluateResumedFromItsJournal(t *testing.T) {
	sc := scene.DefaultConfig()
	sc.MaxSteps = 10
	backend := ortbackend.Opener(ortbackend.Config{LibraryPath: orttest.Library(t)})
	// As in TestEvaluateEveryVariant, the controllers decide, so that flexidepth's threshold depends
	// on the frames it is matched on.
	dysl := skipping.DefaultConfig()
	dysl.EtaMove, dysl.EtaVerify = 10, 10
	config := func(journal string, progress func()) closedloop.EvaluateConfig {
		return closedloop.EvaluateConfig{Model: tinyDir, Backend: backend, DySL: dysl, Seeds: []int64{1_000_000, 1_000_001, 1_000_002},
			Variants: []string{"static_only", "flexidepth"}, MatchEpisodes: 2, MatchFrames: 20, Journal: journal,
			Suite: closedloop.Suite{Scene: sc, Latency: closedloop.LayerLatency{PerLayer: 5_000_000}, Progress: progress}}
	}
	wholeRuns := 0
	whole, err := closedloop.Evaluate(context.Background(), config("", func() { wholeRuns++ }))
	require.NoError(t, err)
	var want []string
	for _, r := range whole.Variants {
		want = append(want, outcome(r)+" "+r.Note)
	}

	// The first phase plays 3 rounds of 2 episodes, flexidepth's search 6 runs of 2 rounds of 1, the
	// second phase 3 rounds of 3 (static_only, flexidepth, full again).
	require.Equal(t, 6, whole.Variants[3].Match.Runs, "%s: search runs", whole.Variants[3].Variant)
	// Stopped in the first phase (its second round begun), in the search (its third run's first round
	// played) or in the second phase (its second round begun): the rounds played before come from the
	// journal.
	for _, tc := range []struct{ stopAfter, reused int }{{3, 1}, {6 + 5, 3 + 5}, {6 + 12 + 3 + 1, 3 + 12 + 1}} {
		stopAfter := tc.stopAfter
		journal := filepath.Join(t.TempDir(), "evaluate.journal")
		ctx, cancel := context.WithCancelCause(context.Background())
		played := 0
		_, err := closedloop.Evaluate(ctx, config(journal, func() {
			if played++; played == stopAfter {
				cancel(errors.New("interrupt signal received"))
			}
		}))
		require.ErrorContains(t, err, "interrupt signal received")
		cancel(nil)

		again := 0
		rep, err := closedloop.Evaluate(context.Background(), config(journal, func() { again++ }))
		require.NoError(t, err)
		var got []string
		for _, r := range rep.Variants {
			got = append(got, outcome(r)+" "+r.Note)
		}
		require.Equal(t, want, got, "stopped after %d episodes", stopAfter)
		require.Empty(t, rep.Stopped)
		require.Contains(t, strings.Join(rep.Notes, "\n"), fmt.Sprintf("resumed from the journal %s: %d rounds", journal, tc.reused))
		require.Equal(t, wholeRuns, again, "the progress counts the rounds taken from the journal too")
	}
}

// Where the journal held first-phase rounds, whose frames this run did not see, the thresholds are
// matched on dysl's first frames all the same: served to it again.
func TestFramesServedAgainAfterAResume(t *testing.T) {
	sc := scene.DefaultConfig()
	sc.MaxSteps = 10
	backend := ortbackend.Opener(ortbackend.Config{LibraryPath: orttest.Library(t)})
	seeds := []int64{1_000_000, 1_000_001, 1_000_002}
	suite := closedloop.Suite{Scene: sc, Latency: closedloop.LayerLatency{PerLayer: 5_000_000}}
	want, err := closedloop.ServedForMatching(context.Background(), tinyDir, backend, skipping.DefaultConfig(), suite, seeds, 15, "")
	require.NoError(t, err)
	require.Len(t, want, 15)

	journal := filepath.Join(t.TempDir(), "evaluate.journal")
	ctx, cancel := context.WithCancelCause(context.Background())
	played := 0
	stopping := suite
	stopping.Progress = func() {
		if played++; played == 3 { // the second round begun: the first is in the journal
			cancel(errors.New("interrupt signal received"))
		}
	}
	_, err = closedloop.ServedForMatching(ctx, tinyDir, backend, skipping.DefaultConfig(), stopping, seeds, 15, journal)
	require.ErrorContains(t, err, "stopped after 1 of 3 episodes")
	cancel(nil)
	got, err := closedloop.ServedForMatching(context.Background(), tinyDir, backend, skipping.DefaultConfig(), suite, seeds, 15, journal)
	require.NoError(t, err)
	require.Len(t, got, 15)
	for i := range want {
		require.Equal(t, want[i].Image.Data, got[i].Image.Data, "frame %d", i)
		require.Equal(t, want[i].Instruction, got[i].Instruction, "frame %d", i)
	}
}

// A sweep stopped in its second phase and run again with its journal ends with the points a sweep
// never stopped has, on every episode, its thresholds matched once; the dithered baselines too, whose
// dither starts again with each episode.
func TestSweepResumedFromItsJournal(t *testing.T) {
	sc := scene.DefaultConfig()
	sc.MaxSteps = 10
	dysl := skipping.DefaultConfig()
	dysl.EtaMove, dysl.EtaVerify = 10, 10
	config := func(journal string, progress func()) closedloop.SweepConfig {
		return closedloop.SweepConfig{Model: tinyDir, Backend: ortbackend.Opener(ortbackend.Config{LibraryPath: orttest.Library(t)}),
			DySL: dysl, Grid: []closedloop.Setting{{{Name: "controller_threshold", Value: 0.9}}}, SkipLevels: []float64{0.5},
			Seeds: []int64{1_000_000, 1_000_001, 1_000_002}, ExitEpisodes: 2, ExitStride: 8, MatchFrames: 20, Journal: journal,
			Suite: closedloop.Suite{Scene: sc, Latency: closedloop.LayerLatency{PerLayer: 5_000_000}, Progress: progress}}
	}
	whole, err := closedloop.Sweep(context.Background(), config("", nil))
	require.NoError(t, err)

	journal := filepath.Join(t.TempDir(), "sweep.journal")
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	played := 0
	// The first phase plays 3 rounds of 2; the second rounds of 7 (dysl at 0.9, static_only,
	// random_skip, fixed_ratio, flexidepth, early_exit, full again): stopped in its second round.
	_, err = closedloop.Sweep(ctx, config(journal, func() {
		if played++; played == 6+8+3 {
			cancel(errors.New("interrupt signal received"))
		}
	}))
	require.ErrorContains(t, err, "stopped after 1 of 3 episodes")
	rep, err := closedloop.Sweep(context.Background(), config(journal, nil))
	require.NoError(t, err)
	require.Empty(t, rep.Stopped)
	require.Contains(t, strings.Join(rep.Notes, "\n"), fmt.Sprintf("resumed from the journal %s: 4 rounds", journal))
	require.Len(t, rep.Points, len(whole.Points))
	for i, p := range rep.Points {
		require.Equal(t, outcome(whole.Points[i].Row), outcome(p.Row), "%s %s", p.Series, p.Setting)
	}
}

// Stopped while the baselines' thresholds are matched on the frames served to dysl (tens of seconds
// on 600 frames), a sweep stops there, not after the matching: full and dysl are reported.
func TestSweepStoppedWhileMatchingThresholds(t *testing.T) {
	sc := scene.DefaultConfig()
	sc.MaxSteps = 10
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	played := 0
	cfg := closedloop.SweepConfig{Model: tinyDir, Backend: ortbackend.Opener(ortbackend.Config{LibraryPath: orttest.Library(t)}),
		DySL: skipping.DefaultConfig(), SkipLevels: []float64{0.5}, Seeds: []int64{1_000_000, 1_000_001}, ExitEpisodes: 2, ExitStride: 8,
		Suite: closedloop.Suite{Scene: sc, Latency: closedloop.LayerLatency{PerLayer: 5_000_000}, Progress: func() {
			if played++; played == 4 { // the first phase's last episode
				cancel(errors.New("interrupt signal received"))
			}
		}}}
	rep, err := closedloop.Sweep(ctx, cfg)
	require.ErrorContains(t, err, "closedloop: stopped after 0 of ")
	require.ErrorContains(t, err, " frames served to dysl, matching flexidepth's tau on them: interrupt signal received")
	require.Equal(t, 4, played)
	require.NotNil(t, rep)
	require.Len(t, rep.Points, 2)
	require.Equal(t, "full and dysl at its defaults played all 2 episodes; the sweep stopped before the other points played theirs", rep.Stopped)
}
