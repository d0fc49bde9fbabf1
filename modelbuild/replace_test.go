package modelbuild

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/policy/bundle"
	"dysl_vla/test/diskfull"
)

// Rebuilding a bundle with a larger preset on a disk that fills part way: the graphs written before
// the disk filled must not land beside the old manifest. The old bundle stays, whole and loadable.
func TestBuildOverABundleOnAFullDiskLeavesIt(t *testing.T) {
	dir, _ := buildTiny(t, Options{Seed: 1})
	before := diskfull.Snapshot(t, dir)
	largest := diskfull.LargestFile(t, dir)
	tmp, err := diskfull.Run(t, uint64(largest)+1024, dir, func(dir string) error {
		_, err := Build(Options{Preset: "small", OutDir: dir, Seed: 2, CalibrationFrames: 8, Now: epoch})
		return err
	})
	require.ErrorContains(t, err, "file too large")
	require.Equal(t, before, diskfull.Snapshot(t, dir))
	_, err = bundle.Load(dir)
	require.NoError(t, err)
	require.Empty(t, diskfull.DotFiles(t, filepath.Dir(dir)), "no staging directory left beside the bundle")
	require.Empty(t, diskfull.DotFiles(t, tmp), "no temporary file left in TMPDIR")
}
