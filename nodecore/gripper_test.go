package nodecore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/gripper"
)

func TestLeadGripperAdvancesOnlyTheGripperColumn(t *testing.T) {
	// Four actions of (x, gripper), or (gripper, x): the gripper closes at action 2.
	cases := []struct {
		name        string
		gripper     int
		lead        int
		wantGripper []float32
	}{
		{"no lead", 1, 0, []float32{-1, -1, 1, 1}},
		{"one action early", 1, 1, []float32{-1, 1, 1, 1}},
		{"two actions early", 1, 2, []float32{1, 1, 1, 1}},
		{"past the chunk's end: its last command", 1, 9, []float32{1, 1, 1, 1}},
		{"the gripper in the first column", 0, 1, []float32{-1, 1, 1, 1}},
		{"no gripper in the bundle", -1, 2, []float32{-1, -1, 1, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			actions := gripperAt(c.gripper, -1, -1, 1, 1)
			leadGripper(actions, 2, c.gripper, c.lead)
			require.Equal(t, gripperAt(c.gripper, c.wantGripper...), actions, "only the gripper column moves")
		})
	}
}

// The hold keeps a gripper change for the minimum time on the executed timeline: inside a chunk,
// across chunks (only the previous chunk's actions due before the new stamp count as executed), and
// not at all with a hold of 0 or without a gripper column.
func TestGripperHoldKeepsEachChangeForTheMinimumTime(t *testing.T) {
	const dt = 100 * time.Millisecond
	ms := func(m int64) int64 { return m * int64(time.Millisecond) }
	type published struct {
		atMs    int64
		gripper []float32
		want    []float32
	}
	cases := []struct {
		name   string
		col    int
		hold   time.Duration
		chunks []published
	}{
		{"a dip to open after a close is held closed, a later open passes", 1, 500 * time.Millisecond, []published{
			{0, []float32{-1, 1, -0.7, -0.5, 0.8, 0.9, 0.9, -1}, []float32{-1, 1, 1, 1, 0.8, 0.9, 0.9, -1}},
		}},
		{"no hold: as predicted", 1, 0, []published{
			{0, []float32{-1, 1, -0.7, -0.5, 0.8, 0.9, 0.9, -1}, []float32{-1, 1, -0.7, -0.5, 0.8, 0.9, 0.9, -1}},
		}},
		{"across chunks: the close executed at 100 ms holds the next chunk's opens until 400 ms", 1, 300 * time.Millisecond, []published{
			{0, []float32{-1, 1, 1, 1}, []float32{-1, 1, 1, 1}},
			{200, []float32{-1, -1, -1, -1}, []float32{1, 1, -1, -1}},
		}},
		{"a change planned but superseded before it was due does not count", 1, 300 * time.Millisecond, []published{
			{0, []float32{-1, -1, 1, 1}, []float32{-1, -1, 1, 1}},
			{100, []float32{1, -1, -1, -1}, []float32{1, 1, 1, -1}},
		}},
		{"a chunk stamped a little before the last keeps the history", 1, time.Second, []published{
			// Core.Step starts a new episode when time goes back further (episodeRewind).
			{0, []float32{-1, 1, 1, 1}, []float32{-1, 1, 1, 1}},
			{300, []float32{1, 1, 1, 1}, []float32{1, 1, 1, 1}},
			{299, []float32{-1, -1, -1, -1}, []float32{1, 1, 1, 1}},
		}},
		{"the gripper in the first column", 0, 500 * time.Millisecond, []published{
			{0, []float32{-1, 1, -0.7, -0.5, 0.8, 0.9, 0.9, -1}, []float32{-1, 1, 1, 1, 0.8, 0.9, 0.9, -1}},
		}},
		{"no gripper in the bundle", -1, time.Second, []published{
			{0, []float32{-1, 1, -1, 1}, []float32{-1, 1, -1, 1}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var g gripperHold
			for _, p := range c.chunks {
				actions := gripperAt(c.col, p.gripper...)
				g.apply(actions, 2, c.col, ms(p.atMs), dt, gripper.Default(), c.hold)
				require.Equal(t, gripperAt(c.col, p.want...), actions, "chunk at %d ms", p.atMs)
			}
		})
	}
}

// The hold judges a change by the node's gripper convention (gripper_open, gripper_closed), as the
// MAVLink bridge does: a 0..1 policy's 0.2 after its 0.9 opens the gripper, so within the hold it is
// held closed, while under the bundles' convention both close and 0.2 passes as predicted. An
// inverted column (1 open, -1 closed) holds its -0.9's close against a 0.2.
func TestGripperHoldReadsTheColumnByItsConvention(t *testing.T) {
	const dt, hold = 100 * time.Millisecond, time.Second
	for _, c := range []struct {
		name             string
		convention       gripper.Convention
		predicted, want  []float32
		afterHold, after []float32
	}{
		{"0 open, 1 closed", gripper.Convention{Open: 0, Closed: 1},
			[]float32{0.1, 0.9, 0.2, 0.5}, []float32{0.1, 0.9, 0.9, 0.9},
			[]float32{0.2, 0.5}, []float32{0.2, 0.5}},
		{"the bundles' -1 open, +1 closed", gripper.Default(),
			[]float32{0.1, 0.9, 0.2, 0.5}, []float32{0.1, 0.9, 0.2, 0.5},
			[]float32{0.2, 0.5}, []float32{0.2, 0.5}},
		{"1 open, -1 closed", gripper.Convention{Open: 1, Closed: -1},
			[]float32{0.9, -0.9, 0.2, 0}, []float32{0.9, -0.9, -0.9, -0.9},
			[]float32{0.2, 0}, []float32{0.2, 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var g gripperHold
			chunk := gripperColumn(c.predicted...)
			g.apply(chunk, 2, 1, 0, dt, c.convention, hold)
			require.Equal(t, gripperColumn(c.want...), chunk, "within the hold of the change at 100 ms")
			// 1.2 s on, the change at 100 ms is over a second old: the open passes.
			later := gripperColumn(c.afterHold...)
			g.apply(later, 2, 1, (1200 * time.Millisecond).Nanoseconds(), dt, c.convention, hold)
			require.Equal(t, gripperColumn(c.after...), later, "after the hold")
		})
	}
}
