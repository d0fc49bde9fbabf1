package openloop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/evaluation/openloop"
	"dysl_vla/modelbuild/modelbuildtest"
	"dysl_vla/policy/ortbackend"
	"dysl_vla/policy/ortbackend/orttest"
	"dysl_vla/skipping"
	"dysl_vla/training"
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
	rep, err := openloop.Run(context.Background(), openloop.Config{Model: tinyDir, Seed: training.HeldOutSeedStart, Backend: ortbackend.Opener(ortbackend.Config{LibraryPath: orttest.Library(t)}),
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
	rep, err := openloop.Run(context.Background(), openloop.Config{Model: tinyDir, Seed: training.HeldOutSeedStart, OneStage: tinyDir, Backend: ortbackend.Opener(ortbackend.Config{LibraryPath: orttest.Library(t)}),
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

// cancelOnLine is a log that cancels a context with cause at the first line marker matches.
type cancelOnLine struct {
	marker *regexp.Regexp
	cancel context.CancelCauseFunc
	cause  error
}

func (c cancelOnLine) Write(p []byte) (int, error) {
	if c.marker.Match(p) {
		c.cancel(c.cause)
	}
	return len(p), nil
}

// Ctrl-C during the timed run stops it at the next episode: the report of the whole episodes run comes
// back with the error, saying so, and its rows are those of a run of those episodes alone (the rows
// matched to DySL are left out: they were matched on every episode's frames). Stopped before the timed
// run, there is no report.
func TestStoppedRunReportsTheEpisodesRun(t *testing.T) {
	backend := ortbackend.Opener(ortbackend.Config{LibraryPath: orttest.Library(t)})
	interrupt := errors.New("interrupt signal received")
	run := func(episodes int, stopAt string) (*openloop.Report, error) {
		ctx, cancel := context.WithCancelCause(context.Background())
		defer cancel(nil)
		cfg := openloop.Config{Model: tinyDir, Seed: training.HeldOutSeedStart, Backend: backend, Episodes: episodes, ExitEpisodes: 2, ExitStride: 8, MatchFrames: 20}
		if stopAt != "" {
			cfg.Log = cancelOnLine{marker: regexp.MustCompile(stopAt), cancel: cancel, cause: interrupt}
		}
		return openloop.Run(ctx, cfg)
	}

	rep, err := run(2, `^  \d+/\d+ frames`) // the first progress line, a tenth of the way through the first episode
	require.ErrorIs(t, err, interrupt)
	require.ErrorContains(t, err, "evaluate: stopped after 1 of 2 episodes")
	require.NotNil(t, rep)
	require.Equal(t, "every variant ran the first 1 of 2 episodes (the baselines were matched to DySL's layers on all 2)", rep.Stopped)
	require.Equal(t, 1, rep.Episodes)
	require.Equal(t, rep.Seeds[0], rep.Seeds[1])
	one, err := run(1, "")
	require.NoError(t, err)
	require.Empty(t, one.Stopped)
	require.Equal(t, one.Frames, rep.Frames)
	require.Equal(t, one.CriticalFrames, rep.CriticalFrames)
	stoppedRows, oneRows := rowsByName(rep), rowsByName(one)
	for _, name := range []string{"full", "dysl", "dysl_no_preskip", "dysl_no_verify", "static_only"} {
		require.Equal(t, oneRows[name].Frames, stoppedRows[name].Frames, name)
		require.Equal(t, oneRows[name].MeanLayers, stoppedRows[name].MeanLayers, name)
		require.Equal(t, oneRows[name].MAEExpert, stoppedRows[name].MAEExpert, name)
	}
	var table strings.Builder
	openloop.WriteTable(&table, rep)
	require.Contains(t, table.String(), "STOPPED before the end: every variant ran the first 1 of 2 episodes")

	for stopAt, where := range map[string]string{
		"^measuring DySL's executed layers": "stopped while measuring DySL's executed layers",
		"^DySL executes":                    "flexidepth, matching tau: matching: stopped after 0 of ",
		"^fitting early exits":              "early exit: stopped fitting the exits on 32 frames of 2 training episodes",
		"^running ":                         "stopped before the first episode",
	} {
		rep, err := run(2, stopAt)
		require.ErrorIs(t, err, interrupt, stopAt)
		require.ErrorContains(t, err, where)
		require.Nil(t, rep, stopAt)
	}
}
