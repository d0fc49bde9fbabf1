package openloop_test

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/evaluation/openloop"
	"dysl_vla/modelbuild/modelbuildtest"
	"dysl_vla/policy/ortbackend"
	"dysl_vla/policy/ortbackend/orttest"
	"dysl_vla/skipping"
)

var tinyDir string

func TestMain(m *testing.M) { os.Exit(modelbuildtest.RunWithTinyBundle(m, 11, &tinyDir)) }

func rowsByName(rep *openloop.Report) map[string]openloop.Row {
	out := map[string]openloop.Row{}
	for _, r := range rep.Rows {
		out[r.Variant] = r
	}
	return out
}

// One held-out episode through every variant: the table has every row, full against itself has zero
// error, and the matched baselines execute the layers DySL executes (one layer of slack for those
// matched on a subset of the frames).
func TestEveryRowAndMatchedExecutedLayers(t *testing.T) {
	// At this eta_verify the tiny bundle's stand-in controllers skip about 40% of the layers on the
	// first pass and verification re-runs about a third of the inferences, still below L layers.
	dyslConfig := skipping.DefaultConfig()
	dyslConfig.EtaVerify = 0.15
	rep, err := openloop.Run(openloop.Config{Model: tinyDir, Backend: ortbackend.Opener(ortbackend.Config{LibraryPath: orttest.Library(t)}),
		Episodes: 1, ExitEpisodes: 2, ExitStride: 8, MatchFrames: 40, DySL: &dyslConfig})
	require.NoError(t, err)
	names := []string{"full", "dysl", "dysl_no_preskip", "dysl_no_verify", "one_stage", "random_skip",
		"static_only", "fixed_ratio", "flexidepth", "early_exit"}
	var got []string
	for _, r := range rep.Rows {
		got = append(got, r.Variant)
	}
	require.Equal(t, names, got)
	rows := rowsByName(rep)
	require.False(t, rows["one_stage"].Available)
	require.Contains(t, rows["one_stage"].Note, "--one-stage")

	full := rows["full"]
	require.Equal(t, rep.Frames, full.Frames)
	require.Equal(t, float64(rep.Layers), full.MeanLayers)
	require.Zero(t, full.MAEFull)
	require.Zero(t, full.CritFull)
	require.Zero(t, full.FreeFull)
	require.Equal(t, openloop.Metric(1), full.GripFull)
	require.Equal(t, 1.0, full.Speedup)
	require.Greater(t, float64(full.MAEExpert), 0.0)
	require.False(t, math.IsNaN(float64(full.StartHeading)), "the episode's first frame gives a start heading")
	require.LessOrEqual(t, math.Abs(float64(full.StartHeading)), 1.0)

	dysl := rows["dysl"]
	require.Greater(t, dysl.SkipRatio, 0.0, "the stand-in controllers of a built bundle let DySL skip")
	// Equal compute is equal executed layers, DySL's verification re-runs included: the baselines
	// are not matched to its first pass alone, which would charge them for fewer layers than it ran.
	require.Greater(t, dysl.VerificationRate, 0.0, "verification re-runs some inferences, so a first-pass match would show")
	require.Greater(t, dysl.MeanLayers, float64(rep.Layers)*(1-dysl.SkipRatio)+0.1)
	require.InDelta(t, dysl.MeanLayers, rows["random_skip"].MeanLayers, 1/float64(rep.Frames)+1e-9)
	require.InDelta(t, dysl.MeanLayers, rows["fixed_ratio"].MeanLayers, 1/float64(rep.Frames)+1e-9)
	require.InDelta(t, dysl.MeanLayers, rows["flexidepth"].MeanLayers, 1)
	require.InDelta(t, dysl.MeanLayers, rows["early_exit"].MeanLayers, 1)
	staticOnly := rows["static_only"]
	require.InDelta(t, 1-float64(len(rep.StaticLayers))/float64(rep.Layers), staticOnly.SkipRatio, 1e-9)
	for _, r := range rep.Rows {
		if r.Available {
			require.Equal(t, rep.Frames, r.Frames, r.Variant)
			require.InDelta(t, float64(rep.Layers)*(1-r.SkipRatio)*(1+r.VerificationRate), r.MeanLayers, float64(rep.Layers)*r.VerificationRate+1e-9, r.Variant)
			require.Greater(t, r.MedianMs, 0.0, r.Variant)
		}
	}

	var table bytes.Buffer
	openloop.WriteTable(&table, rep)
	for _, n := range names {
		require.Contains(t, table.String(), n)
	}
	require.Contains(t, table.String(), "open loop")
	_, err = json.Marshal(rep)
	require.NoError(t, err)
}

// The same bundle given as the one-stage bundle behaves exactly like the dysl row; η = 0 makes the
// early exit the full model.
func TestOneStageRowAndGivenExitThreshold(t *testing.T) {
	zero := 0.0
	rep, err := openloop.Run(openloop.Config{Model: tinyDir, OneStage: tinyDir, Backend: ortbackend.Opener(ortbackend.Config{LibraryPath: orttest.Library(t)}),
		Episodes: 1, ExitEpisodes: 2, ExitStride: 8, ExitThreshold: &zero, MatchFrames: 20})
	require.NoError(t, err)
	rows := rowsByName(rep)
	one, dysl := rows["one_stage"], rows["dysl"]
	require.True(t, one.Available)
	require.NotContains(t, one.Note, "WARNING")
	require.Equal(t, dysl.MeanLayers, one.MeanLayers)
	require.InDelta(t, float64(dysl.MAEFull), float64(one.MAEFull), 1e-9)
	exit := rows["early_exit"]
	require.Equal(t, float64(rep.Layers), exit.MeanLayers)
	require.InDelta(t, 0, float64(exit.MAEFull), 1e-5)
	require.Equal(t, openloop.Metric(1), exit.GripFull)
}
