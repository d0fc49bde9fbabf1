package training

import (
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/modelbuild"
	"dysl_vla/scene"
)

// The fit is grouped by the expert's phase in task order, closed-on-nothing states apart, and each
// column's error is the model's squared error against the labels, averaged over frames and steps.
func TestFitToLabelsGroupsTheErrorByPhase(t *testing.T) {
	a := tinyArch()
	m, err := NewModel(a, modelbuild.RandomWeights(a, 3))
	require.NoError(t, err)
	start := scene.Reset(1)
	shut := start
	shut.Gripper = scene.GripperClosed
	low := start
	low.EE = start.Object().Pos // on the block, open: the expert closes or settles, not approaches
	states := []scene.State{start, shut, start, low}
	d, err := LabelStates(a, states, scene.ExpertOptions{})
	require.NoError(t, err)
	fits, err := m.FitToLabels(d, states)
	require.NoError(t, err)

	pred, err := m.PredictChunks(d, []int{0, 2})
	require.NoError(t, err)
	var want [7]float64
	for i, f := range []int{0, 2} {
		for k := range a.Chunk {
			for c := range a.ActionDim {
				e := float64(pred[i][k*a.ActionDim+c] - d.Frames[f].Chunk[k*a.ActionDim+c])
				want[c] += e * e / float64(2*a.Chunk)
			}
		}
	}
	require.Equal(t, "approach", fits[0].Group)
	require.Equal(t, 2, fits[0].Frames)
	require.InDeltaSlice(t, want[:], fits[0].MSE, 1e-9)
	require.Equal(t, ClosedOnNothing, fits[len(fits)-1].Group)
	require.Equal(t, 1, fits[len(fits)-1].Frames)
	require.Len(t, fits, 3, "approach, the phase on the block, closed on nothing")
	require.NotEqual(t, "approach", fits[1].Group)
	for _, f := range fits {
		require.True(t, f.GripperWrong >= 0 && f.GripperWrong <= 1 && f.GripperWrongNow >= 0 && f.GripperWrongNow <= 1, "%+v", f)
	}
}
