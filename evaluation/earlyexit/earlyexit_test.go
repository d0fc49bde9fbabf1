package earlyexit_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/evaluation/earlyexit"
	"dysl_vla/modelbuild"
	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
	"dysl_vla/policy/ortbackend"
	"dysl_vla/policy/ortbackend/orttest"
	"dysl_vla/scene"
	"dysl_vla/skipping"
	"dysl_vla/training"
)

// tinyDir is a tiny random-weight bundle built once; exitFiles its exit adapters.
var (
	tinyDir     string
	tinyArch    modelbuild.Arch
	tinyFit     *earlyexit.Fit
	tinyWeights *modelbuild.Weights
	exitFiles   map[int]string
)

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "earlyexit-test-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(dir)
	tinyDir = filepath.Join(dir, "tiny")
	res, err := modelbuild.Build(modelbuild.Options{Preset: "tiny", OutDir: tinyDir, Seed: 7, CalibrationFrames: 8,
		Now: func() time.Time { return time.Unix(0, 0) }})
	if err != nil {
		return 1, fmt.Errorf("building the test bundle: %w", err)
	}
	tinyArch, tinyWeights = res.Model.Arch, res.Model.Weights
	data, err := training.GenerateEpisodes(tinyArch, training.Seeds(training.TrainSeedStart, 2))
	if err != nil {
		return 1, err
	}
	var obs []modelbuild.Observation
	for i := 0; i < len(data.Frames); i += 4 {
		obs = append(obs, data.Frames[i].Observation(tinyArch))
	}
	if tinyFit, err = earlyexit.FitExits(context.Background(), earlyexit.FitConfig{Arch: tinyArch, Weights: res.Model.Weights, Frames: obs}); err != nil {
		return 1, err
	}
	if exitFiles, err = tinyFit.Write(filepath.Join(dir, "exits")); err != nil {
		return 1, err
	}
	return m.Run(), nil
}

func TestExitLayers(t *testing.T) {
	require.Equal(t, []int{1, 3, 5, 7}, earlyexit.ExitLayers(8, 2))
	require.Equal(t, []int{2, 5, 7}, earlyexit.ExitLayers(8, 3))
	require.Equal(t, []int{0, 1, 2}, earlyexit.ExitLayers(3, 1))
	require.Equal(t, []int{3}, earlyexit.ExitLayers(4, 10))
}

// DeeR's criterion compares consecutive exits, so the first exit that can be taken is the second one.
func TestExitForAndMatchThreshold(t *testing.T) {
	deltas := []float64{0.5, 0.2, 0.05} // exits 1, 2, 3
	require.Equal(t, 3, earlyexit.ExitFor(deltas, 0))
	require.Equal(t, 3, earlyexit.ExitFor(deltas, 0.05))
	require.Equal(t, 3, earlyexit.ExitFor(deltas, 0.1))
	require.Equal(t, 2, earlyexit.ExitFor(deltas, 0.3))
	require.Equal(t, 1, earlyexit.ExitFor(deltas, 1e9))

	exits := []int{1, 3, 5, 7}
	profiles := [][]float64{{0.5, 0.2, 0.05}, {0.1, 0.3, 0.2}}
	eta, depth := earlyexit.MatchThreshold(profiles, exits, 8)
	require.Equal(t, 0.0, eta)
	require.Equal(t, 8.0, depth)
	_, depth = earlyexit.MatchThreshold(profiles, exits, 4)
	require.Equal(t, 4.0, depth)
	_, depth = earlyexit.MatchThreshold(profiles, exits, 6)
	require.Equal(t, 6.0, depth) // η in (0.1, 0.2]: the first frame runs 8 layers, the second exits after 4
}

func TestFitExplainsTheFinalState(t *testing.T) {
	require.Equal(t, []int{1, 3, 5, 7}, tinyFit.Exits)
	for _, k := range tinyFit.Exits[:len(tinyFit.Exits)-1] {
		require.Less(t, tinyFit.Unexplained[k], 1.0, "exit %d must beat the hidden state as it is", k)
	}
}

// An interval of the whole backbone or a rank above the hidden width is refused: neither would be the
// baseline its name says.
func TestFitRefusesIntervalAndRankBeyondTheBackbone(t *testing.T) {
	obs := []modelbuild.Observation{{}, {}}
	_, err := earlyexit.FitExits(context.Background(), earlyexit.FitConfig{Arch: tinyArch, Weights: tinyWeights, Every: 8, Frames: obs})
	require.EqualError(t, err, "earlyexit: exit interval (8 layers) must be below the backbone's 8 layers: one exit, after the last layer, is the full model")
	_, err = earlyexit.FitExits(context.Background(), earlyexit.FitConfig{Arch: tinyArch, Weights: tinyWeights, Rank: 65, Frames: obs})
	require.EqualError(t, err, "earlyexit: exit rank (65) must be at most the hidden width (64)")
}

func openRunner(t *testing.T, threshold float64) (*earlyexit.Runner, *policy.Engine) {
	t.Helper()
	open := ortbackend.Opener(ortbackend.Config{LibraryPath: orttest.Library(t)})
	r, err := earlyexit.Open(tinyDir, exitFiles, open, threshold)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	full := skipping.DefaultConfig()
	full.Strategy = skipping.StrategyFull
	e, err := policy.Open(tinyDir, open, full)
	require.NoError(t, err)
	t.Cleanup(func() { e.Close() })
	return r, e
}

// heldOut is a held-out frame as the engine takes it and as the reference model takes it.
type heldOut struct {
	obs policy.Observation
	ref modelbuild.Observation
}

func heldOutFrames(t *testing.T, n int) []heldOut {
	t.Helper()
	data, err := training.GenerateEpisodes(tinyArch, training.Seeds(training.HeldOutSeedStart, 1))
	require.NoError(t, err)
	S := tinyArch.ImageSize
	var out []heldOut
	for i := 0; i < len(data.Frames) && len(out) < n; i += len(data.Frames) / n {
		f := data.Frames[i]
		instr := make([]byte, 0, len(f.Tokens))
		for _, tok := range f.Tokens {
			if tok == 0 {
				break
			}
			instr = append(instr, byte(tok-1))
		}
		out = append(out, heldOut{
			obs: policy.Observation{Image: policy.Image{Width: S, Height: S, Encoding: "rgb8", Step: 3 * S, Data: f.RGB}, Instruction: string(instr)},
			ref: f.Observation(tinyArch),
		})
	}
	return out
}

// η = 0: no two exits ever agree strictly better than 0, so every layer runs and the chunk is the
// full model's, as the engine computes it.
func TestThresholdZeroIsTheFullModel(t *testing.T) {
	r, e := openRunner(t, 0)
	for _, f := range heldOutFrames(t, 5) {
		res, err := r.Infer(f.obs)
		require.NoError(t, err)
		require.Equal(t, 3, res.Exit)
		require.Equal(t, tinyArch.Layers, res.LayersExecuted)
		require.Equal(t, 3, res.ExitsRun)
		require.Len(t, res.Deltas, 3)

		want, err := e.Infer(f.obs)
		require.NoError(t, err)
		for k, row := range want.Chunk {
			require.InDeltaSlice(t, e.Normalize(row), res.Chunk[k], 1e-5, "chunk row %d", k)
		}
	}
}

// Matching the threshold to a depth profiles frame by frame; a done ctx stops it between frames and
// leaves the threshold as it was.
func TestMatchLayersStopsWithItsContext(t *testing.T) {
	r, _ := openRunner(t, 0.25)
	var obs []policy.Observation
	for _, f := range heldOutFrames(t, 2) {
		obs = append(obs, f.obs)
	}
	interrupt := errors.New("interrupt signal received")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(interrupt)
	_, err := r.MatchLayers(ctx, obs, 4)
	require.ErrorIs(t, err, interrupt)
	require.Equal(t, 0.25, r.Threshold)
	depth, err := r.MatchLayers(context.Background(), obs, 4)
	require.NoError(t, err)
	require.NotEqual(t, 0.25, r.Threshold)
	require.GreaterOrEqual(t, depth, 1.0)
}

// A huge η exits at the first exit that has a predecessor to compare with: the second one. Its chunk
// is the head on the exit adapter's estimate, as the Go reference model computes it from the output of
// the exit layer, and δ compares it with the first exit's chunk.
func TestHugeThresholdExitsAtTheFirstComparableExit(t *testing.T) {
	r, _ := openRunner(t, 1e9)
	ref := &modelbuild.Model{Arch: tinyFit.Arch, Weights: tinyWeights, Adapters: tinyFit.Adapters}
	first, second := r.Exits[0], r.Exits[1]
	for _, f := range heldOutFrames(t, 3) {
		res, err := r.Infer(f.obs)
		require.NoError(t, err)
		require.Equal(t, 1, res.Exit)
		require.Equal(t, second+1, res.LayersExecuted)
		require.Equal(t, 2, res.ExitsRun)
		require.Len(t, res.Deltas, 1)

		h, _, err := ref.Forward(f.ref)
		require.NoError(t, err)
		want := ref.Head(ref.Adapter(second, h[second+1]))
		got := slices.Concat(res.Chunk...)
		require.InDeltaSlice(t, want, got, 1e-3, "the chunk of the exit after layer %d", second)
		firstChunk := ref.Head(ref.Adapter(first, h[first+1]))
		require.InDelta(t, earlyexit.Delta(want, firstChunk), res.Deltas[0], 1e-3)
	}
}

// The evaluations' baseline refuses every bad count at once, by its flag's name, and an interval or a
// rank its bundle's backbone cannot take before any episode is generated.
func TestBaselineRefusesBadCounts(t *testing.T) {
	err := earlyexit.BaselineConfig{Every: -1, Stride: -2, Episodes: scene.MaxEpisodes + 1}.Check()
	require.ErrorContains(t, err, "early exit: exit-every (-1) must be >= 0 (0: the default); exit-stride (-2) must be >= 0")
	require.ErrorContains(t, err, fmt.Sprintf("exit-episodes (%d): expected at most %d episodes", scene.MaxEpisodes+1, scene.MaxEpisodes))
	require.NoError(t, earlyexit.BaselineConfig{}.Check(), "zero counts take the defaults")

	m, err := bundle.ReadManifest(tinyDir)
	require.NoError(t, err)
	require.NoError(t, earlyexit.BaselineConfig{}.CheckBundle(m))
	require.EqualError(t, earlyexit.BaselineConfig{Every: 8}.CheckBundle(m),
		"earlyexit: exit interval (8 layers) must be below the backbone's 8 layers: one exit, after the last layer, is the full model")
	require.EqualError(t, earlyexit.BaselineConfig{Rank: 65}.CheckBundle(m), "earlyexit: exit rank (65) must be at most the hidden width (64)")
}

// A random bundle's backbone is rebuilt from its manifest and the exits fitted on it; a trained
// bundle whose weights file is not given leaves the baseline unavailable, saying why, not failing
// the evaluation around it.
func TestOpenBaseline(t *testing.T) {
	open := ortbackend.Opener(ortbackend.Config{LibraryPath: orttest.Library(t)})
	var log strings.Builder
	b, err := earlyexit.OpenBaseline(context.Background(), earlyexit.BaselineConfig{Model: tinyDir, Backend: open, Episodes: 1, Stride: 8, Log: &log})
	require.NoError(t, err)
	require.NotNil(t, b.Runner)
	require.Equal(t, []int{1, 3, 5, 7}, b.Fit.Exits)
	require.Equal(t, "fitting early exits on 1 training episodes (every 8-th frame)\n", log.String())
	b.Close()

	m, err := bundle.ReadManifest(tinyDir)
	require.NoError(t, err)
	m.Provenance.Weights = "reference_tiny.safetensors"
	trained := t.TempDir()
	require.NoError(t, bundle.Write(trained, m))
	b, err = earlyexit.OpenBaseline(context.Background(), earlyexit.BaselineConfig{Model: trained, Backend: open})
	require.NoError(t, err)
	require.Nil(t, b.Runner)
	require.Contains(t, b.Unavailable, `was built from weights "reference_tiny.safetensors": pass that file with --weights`)
	b.Close()
}

// Weights named on purpose that cannot be used are an error, before the run (CheckBundle) and when the
// baseline opens: a mistyped --weights must not pass as a baseline left out for want of weights.
func TestNamedWeightsThatCannotBeUsedAreAnError(t *testing.T) {
	m, err := bundle.ReadManifest(tinyDir)
	require.NoError(t, err)
	missing := filepath.Join(t.TempDir(), "nonexist.safetensors")
	c := earlyexit.BaselineConfig{Model: tinyDir, Weights: missing}
	require.EqualError(t, c.CheckBundle(m), "early exit: --weights "+missing+": open "+missing+": no such file or directory")
	require.Empty(t, c.Unavailable(), "named weights are checked, not reported as a reason")
	b, err := earlyexit.OpenBaseline(context.Background(), c)
	require.Nil(t, b)
	require.EqualError(t, err, "early exit: --weights "+missing+": open "+missing+": no such file or directory")

	// The backbone's own file is taken.
	own := filepath.Join(t.TempDir(), "own.safetensors")
	require.NoError(t, modelbuild.SaveWeights(own, tinyArch, tinyWeights, nil))
	require.NoError(t, earlyexit.BaselineConfig{Model: tinyDir, Weights: own}.CheckBundle(m))
}

// A done ctx (Ctrl-C) stops the fit, the error saying what was being fitted and why it stopped.
func TestOpenBaselineStopsWithItsContext(t *testing.T) {
	open := ortbackend.Opener(ortbackend.Config{LibraryPath: orttest.Library(t)})
	interrupt := errors.New("interrupt signal received")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(interrupt)
	b, err := earlyexit.OpenBaseline(ctx, earlyexit.BaselineConfig{Model: tinyDir, Backend: open, Episodes: 1, Stride: 8})
	require.Nil(t, b)
	require.ErrorIs(t, err, interrupt)
	require.Regexp(t, `^early exit: stopped fitting the exits on \d+ frames of 1 training episodes: interrupt signal received$`, err.Error())
}
