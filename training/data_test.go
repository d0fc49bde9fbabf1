package training

import (
	"testing"

	"dysl_vla/modelbuild"
	"dysl_vla/scene"

	"github.com/stretchr/testify/require"
)

// TestActionNormalizationMatchesBuiltManifests: a bundle built from trained weights denormalizes with
// its manifest's statistics, so they must be the ones training normalized with.
func TestActionNormalizationMatchesBuiltManifests(t *testing.T) {
	res, err := modelbuild.Build(modelbuild.Options{Preset: "tiny", OutDir: t.TempDir(), Seed: 1})
	require.NoError(t, err)
	mean, std := ActionNormalization()
	require.Equal(t, mean, res.Manifest.Action.Mean)
	require.Equal(t, std, res.Manifest.Action.Std)
	// A mid-gray pixel normalizes as the manifest's image statistics say.
	img := NormalizedImage([]byte{128, 128, 128}, 1)
	for c, v := range img {
		require.InDelta(t, (128.0/255-res.Manifest.Image.Mean[c])/res.Manifest.Image.Std[c], float64(v), 1e-6)
	}
}

func TestGeneratedFramesMarkGraspAndRelease(t *testing.T) {
	a := tinyPreset()
	d, err := GenerateEpisodes(a, Seeds(0, 1))
	require.NoError(t, err)
	critical := map[scene.Phase]int{}
	for _, f := range d.Frames {
		require.Len(t, f.Chunk, a.Chunk*a.ActionDim)
		require.Len(t, f.RGB, 3*a.ImageSize*a.ImageSize)
		if f.Critical {
			critical[f.Phase]++
		}
	}
	require.Positive(t, critical[scene.Grasp])
	require.Positive(t, critical[scene.Release])
	require.False(t, d.Frames[0].Critical, "the first approach step is free-space motion")
	n := 0
	for _, f := range d.Frames {
		if f.Critical {
			n++
		}
	}
	require.Less(t, n, len(d.Frames)/4, "grasp and release windows are a small part of an episode")
}

// TestActionStatisticsOfTheScene records the scale of the expert's actions: motions well inside the
// normalization's ±2 (std about half of the normalization's for x and y), roll and pitch always zero, yaw mostly
// zero, the gripper ±1.
func TestActionStatisticsOfTheScene(t *testing.T) {
	d, err := GenerateEpisodes(tinyPreset(), Seeds(0, 4))
	require.NoError(t, err)
	mean, std := ActionStatistics(d)
	_, normalizedWith := ActionNormalization()
	for c := 0; c < 3; c++ {
		require.InDelta(t, 0, mean[c], 0.002, "dimension %d", c)
		require.Greater(t, std[c], 0.002)
		require.Less(t, std[c], normalizedWith[c])
	}
	require.Zero(t, std[3])
	require.Zero(t, std[4])
	require.Less(t, std[5], normalizedWith[5])
	require.InDelta(t, 1, std[6], 0.05)
}
