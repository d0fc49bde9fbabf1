// Package modelbuildtest builds the bundles other packages' tests run on.
package modelbuildtest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"dysl_vla/modelbuild"
)

// RunWithTinyBundle is a TestMain body: it builds the tiny bundle (with the given seed, few calibration
// frames, a fixed creation time) into a temporary directory, stores its path in *dir, runs the tests and
// removes the directory. Building once per package keeps the tests fast.
func RunWithTinyBundle(m *testing.M, seed int64, dir *string) int {
	tmp, err := os.MkdirTemp("", "tiny-bundle-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	*dir = filepath.Join(tmp, "tiny")
	_, err = modelbuild.Build(modelbuild.Options{Preset: "tiny", OutDir: *dir, Seed: seed, CalibrationFrames: 8,
		Now: func() time.Time { return time.Unix(0, 0) }})
	if err != nil {
		fmt.Fprintln(os.Stderr, "building the test bundle:", err)
		return 1
	}
	return m.Run()
}
