package openloop

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/policy/bundle"
)

// The start heading compares where two chunks take the gripper over the table, in robot units: the
// columns named x and y, each scaled by its own normalization.
func TestHeadingCosine(t *testing.T) {
	m := &bundle.Manifest{Action: bundle.ActionSpec{Names: []string{"gripper", "y", "x"}, Std: []float64{1, 0.02, 0.01}, Mean: []float64{0, 0, 0}}}
	h := headingOf(m)
	chunk := func(steps ...[3]float64) [][]float64 {
		var c [][]float64
		for _, s := range steps {
			c = append(c, []float64{s[0], s[1], s[2]})
		}
		return c
	}
	// Two steps of x +1 (0.01 m each) and one of y +1 (0.02 m) head at 45° in metres, as does one
	// step of x +2 and y +1.
	require.InDelta(t, 1, h.cosine(chunk([3]float64{0, 1, 1}, [3]float64{1, 0, 1}), chunk([3]float64{0, 1, 2})), 1e-12)
	// (0.02, 0.02) m against (0.01, 0.04) m: 5/√34, not the 0.8 of the normalized (2, 1) and (1, 2).
	require.InDelta(t, 5/math.Sqrt(34), h.cosine(chunk([3]float64{0, 1, 2}), chunk([3]float64{0, 2, 1})), 1e-12)
	require.InDelta(t, -1, h.cosine(chunk([3]float64{0, 0, 1}), chunk([3]float64{0, 0, -3})), 1e-12)
	require.InDelta(t, 0, h.cosine(chunk([3]float64{0, 0, 1}), chunk([3]float64{0, 1, 0})), 1e-12)
	require.True(t, math.IsNaN(h.cosine(chunk([3]float64{1, 0, 0}), chunk([3]float64{0, 1, 0}))), "a chunk that only works the gripper has no heading")
	noXY := headingOf(&bundle.Manifest{Action: bundle.ActionSpec{Names: []string{"a0", "a1"}, Std: []float64{1, 1}, Mean: []float64{0, 0}}})
	require.True(t, math.IsNaN(noXY.cosine([][]float64{{1, 1}}, [][]float64{{1, 1}})))
}
