package closedloop

import (
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/scene"
)

// A task the world shows done when it comes into force achieves no leg by that alone: the legs count
// what the policy did, as the success rate does (scene.Attempt). Done by the policy, every leg is.
func TestLegsCountOnlyWhatTheAttemptDid(t *testing.T) {
	done := scene.State{
		Blocks: []scene.Block{{Pos: scene.Vec3{X: 0.1, Z: scene.BlockHalfSize}}},
		Pads:   []scene.Pad{{Pos: scene.Vec3{X: 0.1}}},
		EE:     scene.Vec3{X: -0.2, Z: 0.2},
	}
	require.True(t, done.Succeeded())
	legs := newLegTracker(done)
	attempt := scene.NewAttempt(done)
	legs.observe(done, attempt.Done(done))
	require.Equal(t, [4]int{0, 0, 0, 0}, legs.legs.Achieved)

	legs = newLegTracker(done)
	legs.observe(done, true)
	require.Equal(t, [4]int{1, 1, 1, 1}, legs.legs.Achieved)
}
