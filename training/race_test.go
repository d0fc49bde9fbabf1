package training

import (
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/modelbuild"
	"dysl_vla/policy/bundle"
)

// microArch is a model small enough that training it a few steps under the race detector takes seconds.
func microArch() modelbuild.Arch {
	a := tinyArch()
	a.Hidden, a.Heads, a.MLP, a.AdapterRank, a.ControllerHidden = 16, 2, 32, 4, 8
	a.ImageSize, a.PatchSize, a.InstructionTokens, a.Chunk = 16, 8, 8, 2
	return a
}

// microDistillModel is a micro model of random weights with skip modules on its first layer, and the
// one segment that skips it: enough for the tests of Distill's own mechanics, in a fraction of the
// tiny bundle's time.
func microDistillModel(t *testing.T) (*Model, []bundle.Segment) {
	t.Helper()
	a := microArch()
	m, err := NewModel(a, modelbuild.RandomWeights(a, 1))
	require.NoError(t, err)
	m.AddSkipModules([]int{0}, 1)
	return m, []bundle.Segment{{Dynamic: []int{0}, Static: 1}}
}

// TestShortTrainingRuns is the training `make test` repeats under the race detector: behaviour cloning
// and both distillation stages, a couple of steps each on a micro model. Before NewBackend chose
// ops_sequential, `go test -race` reported simplego's in-place buffer reuse racing on these graphs; a
// result that a race may change is not reproducible, so the same seed must give the same losses twice.
func TestShortTrainingRuns(t *testing.T) {
	a := microArch()
	trainTwice(t, BCConfig{Arch: a, Seed: 4, Episodes: 1, HeldOut: 1, Steps: 2, Batch: 2, LearningRate: 1e-3, EvalEvery: 2})

	m, segments := microDistillModel(t)
	res, err := Distill(m, DistillConfig{Segments: segments, Seed: 2, Episodes: 1,
		Stage1Steps: 1, Stage2Steps: 1, Batch: 2, LearningRate: 1e-3, Lambda: 0.05})
	require.NoError(t, err)
	require.Len(t, res.Stage2Loss, 1)

	// The episodes are played by a pool of workers after the first (one episode above leaves the pool
	// idle): three let two run at once, and the frames are the same whatever their order.
	first, err := GenerateEpisodes(a, Seeds(TrainSeedStart, 3))
	require.NoError(t, err)
	second, err := GenerateEpisodes(a, Seeds(TrainSeedStart, 3))
	require.NoError(t, err)
	require.Equal(t, first.Frames, second.Frames)
}
