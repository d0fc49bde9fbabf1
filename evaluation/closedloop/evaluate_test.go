package closedloop_test

import (
	"math"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/evaluation/closedloop"
	"dysl_vla/modelbuild/modelbuildtest"
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
	cfg := closedloop.EvaluateConfig{Skipped: func(n int) { skipped += n }, Model: tinyDir, Backend: ortbackend.Opener(ortbackend.Config{LibraryPath: orttest.Library(t)}),
		DySL: skipping.DefaultConfig(), Seeds: []int64{1_000_000, 1_000_001}, ExitEpisodes: 2, ExitStride: 8,
		Suite: closedloop.Suite{Scene: sc, Latency: closedloop.LayerLatency{PerLayer: 5_000_000}, Progress: func() { runs++ }}}
	rep, err := closedloop.Evaluate(cfg)
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
	dysl := float64(rows["dysl"].ExecutedLayers)
	require.Less(t, dysl, 8.0, "the stand-in controllers of a built bundle let DySL skip")
	for _, name := range []string{"random_skip", "fixed_ratio"} {
		require.InDelta(t, dysl, float64(rows[name].ExecutedLayers), 1/float64(rows[name].Inferences)+1e-9, name)
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
