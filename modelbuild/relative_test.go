package modelbuild

import (
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/scene"
)

// The relative points read the gripper's image point off the robot state through the camera's
// calibration; on every frame of an expert episode, the calibration the weights start with puts it
// where the camera shows the tip.
func TestGripperPointIsWhereTheCameraShowsTheTip(t *testing.T) {
	p, err := LookupPreset("small_relative")
	require.NoError(t, err)
	model := &Model{Arch: p.Arch, Weights: RandomWeights(p.Arch, 1)}
	cfg := scene.DefaultConfig()
	cfg.StartSpread = 0.15 // starts anywhere, so that x and y both vary
	steps, err := scene.Episode(3, cfg)
	require.NoError(t, err)
	require.Greater(t, len(steps), 50)
	for i, st := range steps {
		state, err := NormalizedRobotState(p.Arch, st.State)
		require.NoError(t, err)
		u, v := model.GripperPoint(state)
		wantU, wantV := scene.ImagePoint(st.State.EE)
		require.InDelta(t, wantU, u, 1e-6, "step %d: u", i)
		require.InDelta(t, wantV, v, 1e-6, "step %d: v", i)
	}
}

// Relative points need the selector and the scene's robot state.
func TestRelativePointsNeedTheSelectorAndTheState(t *testing.T) {
	p, err := LookupPreset("small_keypoints")
	require.NoError(t, err)
	a := p.Arch
	a.RelativePoints = true
	require.ErrorContains(t, a.Validate(), "relative_points needs the keypoint selector (selector_window 0) and the scene's 5 robot-state values (state_dim 5)")
}

// The committed small_relative weights (models/closedloop/README.md, attempts 12 to 14) kept the camera's
// calibration as built and learned to read the relative points.
func TestCommittedRelativeWeightsKeepTheCalibration(t *testing.T) {
	p, err := LookupPreset("small_relative")
	require.NoError(t, err)
	w, err := LoadWeights("../models/closedloop/reference_small_relative.safetensors", p.Arch)
	require.NoError(t, err)
	grip, gripBias := GripperImagePoint()
	require.Equal(t, grip, w.GripperWeight)
	require.Equal(t, gripBias, w.GripperBias)
	require.NotEqual(t, make([]float32, len(w.RelativeOut)), w.RelativeOut, "the relative points' map was trained")
}
