package demo_test

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/policy/ortbackend"
	"dysl_vla/policy/ortbackend/orttest"
	"dysl_vla/replay/demo"
)

func backend(t *testing.T) ortbackend.Config {
	return ortbackend.Config{LibraryPath: orttest.Library(t), Provider: ortbackend.ProviderCPU, IntraOpThreads: 1}
}

// The demo replays the given bundle with every layer and with DySL, prints both rows, and a second run
// into the same directory replaces the first one's results.
func TestDemoComparesFullAndDySL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the reference model on a recorded episode, twice")
	}
	out := t.TempDir()
	cfg := demo.Config{Model: filepath.Join("..", "..", demo.ReferenceBundle), Out: out, Episodes: 1, EpisodeSeed: 1000000,
		Backend: ortbackend.Opener(backend(t))}
	for run := range 2 {
		var log bytes.Buffer
		cfg.Log = &log
		replays, err := demo.Run(cfg)
		require.NoError(t, err, "run %d", run+1)
		require.Len(t, replays, 2)
		full, dysl := replays[0], replays[1]
		require.Equal(t, "full", full.Strategy)
		require.Equal(t, "dysl", dysl.Strategy)
		require.Zero(t, full.Summary.SkipRatio, "strategy full runs every layer")
		require.Greater(t, dysl.Summary.SkipRatio, 0.0, "the reference controllers skip layers")
		require.FileExists(t, filepath.Join(out, "replay_dysl", "report.md"))
		require.NotContains(t, log.String(), "building the tiny model", "the given bundle is used as it is")
		require.Contains(t, log.String(), "recorded 1 episodes (seeds 1000000..1000000), ")
		require.Contains(t, log.String(), "replayed with strategy full: report "+full.ReportPath+"\n")
		require.Regexp(t, `\nfull +[0-9.]+ .*\ndysl +[0-9.]+ `, log.String())
	}
}

// A bundle that does not load is refused before any episode is recorded.
func TestDemoRefusesABrokenBundleFirst(t *testing.T) {
	broken, out := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(broken, "manifest.yaml"), []byte("format: x\n"), 0o644))
	_, err := demo.Run(demo.Config{Model: broken, Out: out, Episodes: 1, Seed: 1, Backend: ortbackend.Opener(backend(t)), Log: &bytes.Buffer{}})
	require.ErrorContains(t, err, "bundle "+broken)
	require.NoDirExists(t, filepath.Join(out, "pick_and_place"))
}

// Without a bundle, reference weights or the reference bundle, the demo builds the tiny model from a
// random backbone into its output directory and says the backbone is random.
func TestDemoBuildsTheTinyModelWhenThereIsNoReference(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the tiny model and replays an episode on it")
	}
	lib := backend(t)
	t.Chdir(t.TempDir()) // no models/reference here
	wd, err := os.Getwd()
	require.NoError(t, err)
	var log bytes.Buffer
	_, err = demo.Run(demo.Config{Out: "out", Episodes: 1, Seed: 2, Backend: ortbackend.Opener(lib), Log: &log})
	require.NoError(t, err)
	require.Contains(t, log.String(), "backbone weights: random: neither "+demo.ReferenceBundle+" nor "+demo.ReferenceWeights+
		" under the working directory "+wd+" (run dysl demo from the repository root, or give --model or --weights)\n"+
		"building the tiny model into "+filepath.Join("out", "model")+"\n")
	require.Contains(t, log.String(), "the backbone is random")
	_, err = os.Stat(filepath.Join("out", "model", "manifest.yaml"))
	require.NoError(t, err)
}

// Settings that cannot make a demo are refused before a model is built or an episode recorded: no
// episode (zero was once taken for one), and weights beside a bundle, which would be ignored.
func TestDemoRefusesBadSettingsFirst(t *testing.T) {
	out := t.TempDir()
	file := filepath.Join(t.TempDir(), "afile")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	for _, c := range []struct {
		cfg  demo.Config
		want string
	}{
		{demo.Config{Out: out, Episodes: 0}, "demo: episodes (0) must be at least 1"},
		{demo.Config{Out: out, Episodes: -3}, "demo: episodes (-3) must be at least 1"},
		{demo.Config{Out: out, Episodes: 2, EpisodeSeed: math.MaxInt64}, "demo: episode seed (9223372036854775807): 2 episodes from it would pass the largest seed"},
		{demo.Config{Out: out, Episodes: 1, Model: "m", Weights: "w.safetensors"}, "demo: give a model bundle (m) or backbone weights to build one from (w.safetensors), not both"},
		{demo.Config{Episodes: 1}, "demo: no output directory (--out)"},
		{demo.Config{Out: file, Episodes: 1}, "demo: output " + file + " is not a directory"},
	} {
		c.cfg.Log = &bytes.Buffer{}
		_, err := demo.Run(c.cfg)
		require.ErrorContains(t, err, c.want)
		entries, err := os.ReadDir(out)
		require.NoError(t, err)
		require.Empty(t, entries, "nothing built or recorded")
	}
}

// Ctrl-C stops the demo at its next safe point: the bag closes, no replay starts, and the error says
// why (the command then exits 1). Before, the demo ignored it and the signal killed the process,
// leaving a bag without its footer beside a metadata.yaml that counted a message.
func TestDemoStopsWhenItsContextIsDone(t *testing.T) {
	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := demo.Run(demo.Config{Model: filepath.Join("..", "..", demo.ReferenceBundle), Out: out, Episodes: 2, EpisodeSeed: 1000000,
		Backend: ortbackend.Opener(backend(t)), Log: &bytes.Buffer{}, Context: ctx})
	require.ErrorIs(t, err, context.Canceled)
	require.FileExists(t, filepath.Join(out, "pick_and_place", "metadata.yaml"), "the bag is closed")
	require.NoDirExists(t, filepath.Join(out, "replay_full"))
	require.NoDirExists(t, filepath.Join(out, "replay_dysl"))
}
