package training

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/policy/bundle"
)

// Calibrating writes the static layers and the profile it printed into the manifest; a second
// calibration with the same settings finds nothing to change and keeps the adapters.
func TestCalibrateBundleWritesTheStaticLayers(t *testing.T) {
	dir, _, _, _, _ := builtTinyBundle(t)
	// A distillation stopped part way: recalibrated, its adapters are gone, and so must its checkpoint.
	require.NoError(t, os.WriteFile(filepath.Join(dir, DistillCheckpointFile), []byte("{}\n"), 0o644))
	var log bytes.Buffer
	c := BundleCalibration{Dir: dir, Ratio: 0.4, Episodes: 1, Every: 8, Log: &log,
		Plot: filepath.Join(t.TempDir(), "profile.png")}
	static, similarity, err := CalibrateBundle(c)
	require.NoError(t, err)
	m, err := bundle.ReadManifest(dir)
	require.NoError(t, err)
	require.Equal(t, static, m.StaticLayers)
	require.Equal(t, similarity, m.StaticProfile)
	require.Len(t, similarity, m.Dims.Layers)
	require.NoFileExists(t, filepath.Join(dir, DistillCheckpointFile))
	for _, s := range static { // a layer made static has no adapter or controller left behind
		require.NoFileExists(t, filepath.Join(dir, fmt.Sprintf("adapter_%02d.onnx", s)))
		require.NoFileExists(t, filepath.Join(dir, fmt.Sprintf("controller_%02d.onnx", s)))
	}
	require.Contains(t, log.String(), fmt.Sprintf("layer %2d  cos %.4f  static\n", static[0], similarity[static[0]]))
	require.Contains(t, log.String(), "wrote "+c.Plot+"\n")
	require.FileExists(t, c.Plot)

	log.Reset()
	again, _, err := CalibrateBundle(c)
	require.NoError(t, err)
	require.Equal(t, static, again)
	require.Contains(t, log.String(), fmt.Sprintf("static layers unchanged: %v\n", static))

	for _, bad := range []struct {
		ratio           float64
		episodes, every int
		want            string
	}{
		{-3, 1, 8, "static ratio (-3) must be in (0, 1]"},
		{math.NaN(), 1, 8, "static ratio (NaN)"},
		{0.4, -3, 8, "calibration episodes (-3) and every (8, frames apart) must be >= 1"},
		{0.4, 1, 0, "every (0, frames apart)"},
	} {
		c.Ratio, c.Episodes, c.Every = bad.ratio, bad.episodes, bad.every
		_, _, err := CalibrateBundle(c)
		require.ErrorContains(t, err, bad.want)
	}
	m, err = bundle.ReadManifest(dir)
	require.NoError(t, err)
	require.Equal(t, static, m.StaticLayers, "a refused calibration leaves the bundle as it was")
}

// Distilling a bundle writes its adapters and controllers with notes on how they were trained, says
// where each checkpoint was written, and leaves no checkpoint once done.
func TestDistillBundleWritesTheSkipModules(t *testing.T) {
	dir, _, before, _, _ := builtTinyBundle(t)
	var log bytes.Buffer
	d := BundleDistillation{Dir: dir, Config: DistillConfig{Seed: 2, Episodes: 1, Stage1Steps: 2, Stage2Steps: 3,
		Batch: 2, LearningRate: 1e-3, Lambda: 0.05, CheckpointEvery: 2, Log: &log}}
	res, err := DistillBundle(d)
	require.NoError(t, err)
	require.Len(t, res.Stage1Loss, 2)
	for _, p := range []string{"stage 1 step 2 of 2", "stage 2 step 2 of 3", "stage 2 step 3 of 3"} {
		require.Contains(t, log.String(), "checkpoint: "+p+" written into "+dir+"\n")
	}
	require.Equal(t, 3, strings.Count(log.String(), "checkpoint: "), "every 2 steps of each stage and at its end")
	require.Contains(t, log.String(), fmt.Sprintf("wrote adapters and controllers of layers %v into %s: ", before.DynamicLayers(), dir))
	after, err := bundle.ReadManifest(dir)
	require.NoError(t, err)
	require.NotEqual(t, before.Provenance.Adapters, after.Provenance.Adapters)
	require.Contains(t, after.Provenance.Adapters, "the bundle's adapters", "stage 1 started from the closed-form fit")
	_, err = os.Stat(filepath.Join(dir, DistillCheckpointFile))
	require.ErrorIs(t, err, os.ErrNotExist, "a finished run leaves no checkpoint")

	d.Resume = true
	_, err = DistillBundle(d)
	require.Error(t, err, "nothing to resume")
}

// A --model that is no bundle is refused as the input it is, before anything is read or generated: not
// as a calibrated or distilled bundle that could not be written.
func TestCalibrateAndDistillRefuseWhatIsNoBundle(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "afile")
	require.NoError(t, os.WriteFile(file, []byte("x\n"), 0o644))
	const expected = ": expected a bundle directory, as 'dysl model build --out' writes"
	for _, tc := range []struct{ dir, want string }{
		{file, "training: bundle " + file + " is a file, not a bundle directory" + expected},
		{filepath.Join(dir, "none"), "training: bundle " + filepath.Join(dir, "none") + " does not exist" + expected},
		{dir, "training: bundle " + dir + " holds no manifest.yaml" + expected},
	} {
		_, _, err := CalibrateBundle(BundleCalibration{Dir: tc.dir, Ratio: 0.4, Episodes: 1, Every: 8})
		require.EqualError(t, err, tc.want)
		_, err = DistillBundle(BundleDistillation{Dir: tc.dir, Config: DistillConfig{Seed: 2, Episodes: 1, Stage1Steps: 2, Stage2Steps: 3,
			Batch: 2, LearningRate: 1e-3, Lambda: 0.05}})
		require.EqualError(t, err, tc.want)
	}
}

// A calibration on fewer frames than MinCalibrationFrames says so on its warning writer, before the
// work, and still calibrates; one on enough says nothing there.
func TestCalibrateBundleWarnsOfTooFewFrames(t *testing.T) {
	dir, _, _, _, _ := builtTinyBundle(t)
	var log, warn bytes.Buffer
	c := BundleCalibration{Dir: dir, Ratio: 0.4, Episodes: 1, Every: 100_000, Log: &log, Warn: &warn}
	_, _, err := CalibrateBundle(c)
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("warning: calibration on 1 frames (1 generated episodes, one frame in 100000), which show 1 of the expert's 9 phases: "+
		"static layers chosen on so few may not hold for the rest of the task; %d or more (two per phase) are advised: more episodes, or a smaller every\n", MinCalibrationFrames), warn.String())
	require.Contains(t, log.String(), "calibration: 1 frames from 1 generated episodes\n")

	warn.Reset()
	c.Every = 4 // a single-task episode is over a hundred frames
	_, _, err = CalibrateBundle(c)
	require.NoError(t, err)
	require.Empty(t, warn.String())
}
