package modelbuild

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// A backbone whose hidden states overflow (float32 weights at their largest: finite, so the weights file
// is accepted) makes the calibration similarities NaN: Build refuses before writing anything, instead of
// writing a bundle whose static layers were chosen from NaN.
func TestBuildRefusesNonFiniteCalibration(t *testing.T) {
	a := presets["tiny"].Arch
	w := RandomWeights(a, 11)
	l := &w.Layers[3]
	for _, weights := range [][]float32{l.MLPNorm, l.Gate, l.Up, l.Down} {
		for i := range weights {
			weights[i] = math.MaxFloat32
		}
	}
	path := filepath.Join(t.TempDir(), "overflowing.safetensors")
	require.NoError(t, SaveWeights(path, a, w, nil))
	out := filepath.Join(t.TempDir(), "bundle")
	_, err := Build(Options{Preset: "tiny", OutDir: out, Seed: 1, WeightsFile: path, CalibrationFrames: 4, Now: epoch})
	require.ErrorContains(t, err, "calibration")
	require.ErrorContains(t, err, "not finite")
	_, statErr := os.Stat(filepath.Join(out, "manifest.yaml"))
	require.True(t, os.IsNotExist(statErr), "no bundle is written")
}
