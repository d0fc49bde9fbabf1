package mavbridge

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/gripper"
)

// Without hysteresis the bridge commands the gripper as the node core reads the column
// (gripper.Convention.Closes, behind gripper_min_hold): for the bundles' convention, a 0..1 column
// and an inverted one, at their ends, their middle, its float32 neighbours and many values between,
// whatever state the tracker was in.
func TestGripperTrackerWithoutHysteresisIsTheNodeCoresRule(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []gripper.Convention{gripper.Default(), {Open: 0, Closed: 1}, {Open: 1, Closed: -1}, {Open: 85, Closed: 0}} {
		middle := (c.Open + c.Closed) / 2
		values := []float32{c.Open, c.Closed, middle,
			math.Nextafter32(middle, float32(math.Inf(1))), math.Nextafter32(middle, float32(math.Inf(-1)))}
		for range 2000 {
			values = append(values, c.Open+(c.Closed-c.Open)*float32(rng.Float64()*3-1))
		}
		for _, from := range []GripperAction{0, GripperOpen, GripperClose} {
			for _, v := range values {
				g := gripperTracker{openValue: c.Open, closedValue: c.Closed, state: from}
				got, _ := g.observe(v)
				want := GripperOpen
				if c.Closes(v) {
					want = GripperClose
				}
				require.Equal(t, want, got, "convention %+v, value %v, from %v", c, v, from)
			}
		}
	}
}
