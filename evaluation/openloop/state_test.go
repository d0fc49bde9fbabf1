package openloop_test

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/evaluation/openloop"
	"dysl_vla/modelbuild"
	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
	"dysl_vla/policy/policytest"
	"dysl_vla/training"
)

// A bundle that reads the robot state is evaluated on frames that carry the state of the world they
// show: every prefix gets a state, normalized with the bundle's statistics, and it changes per frame.
func TestTheFramesCarryTheRobotState(t *testing.T) {
	dir := t.TempDir()
	_, err := modelbuild.Build(modelbuild.Options{Preset: "small_state", OutDir: dir, Seed: 1, CalibrationFrames: 4})
	require.NoError(t, err)
	var fakes []*policytest.Fake
	rep, err := openloop.Run(context.Background(), openloop.Config{Model: dir, Seed: training.HeldOutSeedStart, Episodes: 1, ExitEpisodes: 1, ExitStride: 40, MatchFrames: 4,
		Backend: func(_ string, m *bundle.Manifest) (policy.Backend, error) {
			f := policytest.NewFake(m)
			fakes = append(fakes, f)
			return f, nil
		}})
	require.NoError(t, err)
	require.Positive(t, rep.Frames)
	require.NotEmpty(t, fakes)
	got := fakes[0].LastState()
	require.Len(t, got, 5)
	for i, v := range got {
		require.False(t, math.IsNaN(float64(v)), "state value %d", i)
	}
	require.NotEqual(t, make([]float32, 5), got, "the last frame's state is the world's, not zeros")
}
