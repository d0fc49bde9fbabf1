package replay

import (
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/gripper"
	"dysl_vla/msgs"
)

// The gripper agreement with the full model reads both chunks' gripper column by the node's
// convention: for a 0..1 column, 0.2 and 0.4 both open and agree, where reading by sign would call
// them both closed and 0.6 against 0.4 agreeing too.
func TestChunkErrorReadsTheGripperByTheConvention(t *testing.T) {
	chunk := func(col ...float32) *msgs.ActionChunk {
		c := &msgs.ActionChunk{Steps: uint32(len(col)), ActionDim: 2}
		for _, g := range col {
			c.Actions = append(c.Actions, 0, g)
		}
		return c
	}
	rows := func(col ...float32) [][]float32 {
		var r [][]float32
		for _, g := range col {
			r = append(r, []float32{0, g})
		}
		return r
	}
	zeroOne := gripper.Convention{Open: 0, Closed: 1}
	for _, tc := range []struct {
		name      string
		grip      gripper.Convention
		full, got []float32
		agree     bool
	}{
		{"0..1, both open", zeroOne, []float32{0.2, 0.1}, []float32{0.4, 0.3}, true},
		{"0..1, one closes past the middle", zeroOne, []float32{0.2, 0.4}, []float32{0.4, 0.6}, false},
		{"the bundles' -1..1, by sign", gripper.Default(), []float32{-0.5, 0.5}, []float32{-0.1, 0.1}, true},
		{"the bundles' -1..1, a sign differs", gripper.Default(), []float32{-0.5, 0.5}, []float32{0.1, 0.1}, false},
		{"inverted, 1 open", gripper.Convention{Open: 1, Closed: -1}, []float32{0.5, -0.5}, []float32{0.9, -0.9}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mae, agree := chunkError(rows(tc.full...), chunk(tc.got...), 1, tc.grip)
			require.Equal(t, tc.agree, agree)
			require.Greater(t, mae, 0.0)
		})
	}
}
