package training

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"dysl_vla/modelbuild"
	"dysl_vla/scene"
)

// frameBytes counts the camera frames' bytes at least, and not twice them.
func TestFrameBytes(t *testing.T) {
	a := tinyPreset()
	d, err := GenerateEpisodes(a, Seeds(0, 1))
	require.NoError(t, err)
	var rgb uint64
	for _, f := range d.Frames {
		rgb += uint64(len(f.RGB))
	}
	require.Greater(t, frameBytes(d.Frames), rgb)
	require.Less(t, frameBytes(d.Frames), 2*rgb, "the camera frames are most of a frame")
}

// A dataset that cannot fit in memory is refused after its first episode, with the size it needs.
func TestDatasetBeyondMemoryIsRefused(t *testing.T) {
	_, err := GenerateEpisodes(tinyPreset(), Seeds(0, scene.MaxEpisodes))
	require.ErrorContains(t, err, "training: 1000000 episodes like the first need about ")
	require.ErrorContains(t, err, ": use fewer episodes")
}

// More episodes than scene.MaxEpisodes, or a larger batch than MaxBatch, is refused before any episode is made.
func TestCountsAboveTheirBoundsAreRefused(t *testing.T) {
	require.EqualError(t, scene.CheckEpisodeCount("--episodes", scene.MaxEpisodes+1), "--episodes (1000001): expected at most 1000000 episodes")
	require.NoError(t, scene.CheckEpisodeCount("--episodes", scene.MaxEpisodes))
	cfg := DistillConfig{Episodes: 1, Stage1Steps: 1, Batch: MaxBatch + 1, LearningRate: 1e-3}
	require.EqualError(t, cfg.Validate(), "training: batch (65537): expected at most 65536 frames")
	cfg.Batch, cfg.Episodes = 1, 1_000_000_000
	require.EqualError(t, cfg.Validate(), "training: episodes (1000000000): expected at most 1000000 episodes")
}

// A loss that is no longer a finite number stops the run, naming where; weights that are not finite
// are not written, so no bundle is built from a run that diverged.
func TestADivergedRunWritesNothing(t *testing.T) {
	require.NoError(t, checkLoss(0.3, "step 1", 1e-3))
	require.EqualError(t, checkLoss(math.NaN(), "step 2", 1e9), "training: the loss is NaN at step 2: the run diverged (learning rate 1e+09); nothing more is written")
	require.ErrorContains(t, checkLoss(math.Inf(1), "stage 1 step 2", 1e9), "the loss is +Inf at stage 1 step 2")

	a := tinyPreset()
	m, err := NewModel(a, modelbuild.RandomWeights(a, 1))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "w.safetensors")
	require.NoError(t, m.SaveBackbone(path, nil))
	name := sortedKeys(m.BackboneVariables())[0]
	v := m.BackboneVariables()[name]
	value, err := v.Value()
	require.NoError(t, err)
	values := tensors.MustCopyFlatData[float32](value)
	values[1] = float32(math.NaN())
	v.SetValue(tensors.FromFlatDataAndDimensions(values, value.Shape().Dimensions...))
	bad := filepath.Join(t.TempDir(), "bad.safetensors")
	require.EqualError(t, m.SaveBackbone(bad, nil), "training: weight "+name+"[1] is NaN: the run diverged, "+bad+" is not written")
	require.NoFileExists(t, bad)
}
