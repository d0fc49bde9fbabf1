package training

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// A dataset is refused when its episodes, at the first one's size, exceed the memory available; the
// message says how much it needs and how much there is.
func TestCheckDatasetFits(t *testing.T) {
	const mib = 1 << 20
	require.NoError(t, checkDatasetFits(100, 2*mib, 200*mib))
	require.EqualError(t, checkDatasetFits(100_000, 2*mib, 4<<30),
		"training: 100000 episodes need about 195.3 GiB in memory (2.0 MiB each, judged by the first), and 4.0 GiB is available: use fewer episodes")
}

// frameBytes counts the camera frames' bytes at least, and availableMemory reads the kernel's figure on
// Linux.
func TestFrameBytesAndAvailableMemory(t *testing.T) {
	a := tinyPreset()
	d, err := GenerateEpisodes(a, Seeds(0, 1))
	require.NoError(t, err)
	var rgb uint64
	for _, f := range d.Frames {
		rgb += uint64(len(f.RGB))
	}
	require.Greater(t, frameBytes(d.Frames), rgb)
	require.Less(t, frameBytes(d.Frames), 2*rgb, "the camera frames are most of a frame")
	if runtime.GOOS == "linux" {
		available, ok := availableMemory()
		require.True(t, ok)
		require.Greater(t, available, uint64(1<<20))
	}
}

// More episodes than MaxEpisodes, or a larger batch than MaxBatch, is refused before any episode is made.
func TestCountsAboveTheirBoundsAreRefused(t *testing.T) {
	require.EqualError(t, CheckEpisodeCount("--episodes", MaxEpisodes+1), "--episodes (1000001): expected at most 1000000 episodes")
	require.NoError(t, CheckEpisodeCount("--episodes", MaxEpisodes))
	cfg := DistillConfig{Episodes: 1, Stage1Steps: 1, Batch: MaxBatch + 1, LearningRate: 1e-3}
	require.EqualError(t, cfg.Validate(), "training: batch (65537): expected at most 65536 frames")
	cfg.Batch, cfg.Episodes = 1, 1_000_000_000
	require.EqualError(t, cfg.Validate(), "training: episodes (1000000000): expected at most 1000000 episodes")
}
