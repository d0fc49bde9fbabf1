// Package modelbuildtest builds the bundles other packages' tests run on.
package modelbuildtest

import (
	"fmt"
	"os"
	"testing"
	"time"

	"dysl_vla/modelbuild"
)

// RunWithTinyBundle is a TestMain body: it builds the tiny bundle (with the given seed, few calibration
// frames, a fixed creation time) into a temporary directory, stores its path in *dir, runs the tests and
// removes the directory. Building once per package keeps the tests fast; the tests read the bundle in
// place, and copy it before they change it (Cache.Copy gives each test its own copy instead).
func RunWithTinyBundle(m *testing.M, seed int64, dir *string) int {
	var builds Cache
	defer builds.Remove()
	b, err := builds.build(modelbuild.Options{Preset: "tiny", Seed: seed, CalibrationFrames: 8,
		Now: func() time.Time { return time.Unix(0, 0) }})
	if err != nil {
		fmt.Fprintln(os.Stderr, "building the test bundle:", err)
		return 1
	}
	*dir = b.dir
	return m.Run()
}
