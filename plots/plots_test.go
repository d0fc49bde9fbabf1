package plots

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSaveLineWritesAPNG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loss.png")
	require.NoError(t, os.WriteFile(path, []byte("an older figure"), 0o644))
	require.NoError(t, SaveLine(path, "loss", "step", "L1", Series{Name: "train", X: []float64{1, 2, 3}, Y: []float64{3, 2, 1}}))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	require.Equal(t, 7*96, img.Bounds().Dx(), "7 inches at gonum's 96 dpi")
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file is left beside the plot")
}

// A plot that cannot be drawn leaves the figure already there as it was.
func TestSaveKeepsTheOldFigureOnFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sweep.bmpx")
	require.NoError(t, os.WriteFile(path, []byte("the last sweep"), 0o644))
	err := SaveShare(path, "sweep", "speedup", "success", Series{X: []float64{1}, Y: []float64{0.5}, Scatter: true})
	require.ErrorContains(t, err, "sweep.bmpx")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "the last sweep", string(data))
}

func TestRunningMean(t *testing.T) {
	require.Equal(t, []float64{2, 3, 6, 7}, RunningMean([]float64{2, 4, 8, 6}, 2))
	require.Empty(t, RunningMean(nil, 5))
}
