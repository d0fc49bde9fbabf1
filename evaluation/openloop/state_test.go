package openloop_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/evaluation/openloop"
	"dysl_vla/modelbuild"
	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
)

// The recorded frames carry no robot state yet: a bundle that reads one is refused up front, naming
// what is missing, rather than every frame failing as bad input.
func TestABundleReadingTheRobotStateIsRefused(t *testing.T) {
	dir := t.TempDir()
	_, err := modelbuild.Build(modelbuild.Options{Preset: "small_state", OutDir: dir, Seed: 1, CalibrationFrames: 4})
	require.NoError(t, err)
	opened := false
	_, err = openloop.Run(openloop.Config{Model: dir, Episodes: 1,
		Backend: func(string, *bundle.Manifest) (policy.Backend, error) { opened = true; return nil, nil }})
	require.ErrorContains(t, err, "reads the robot state ([ee_x ee_y ee_z ee_yaw gripper]), and the open-loop frames do not carry it yet")
	require.False(t, opened)
}
