package closedloop

import (
	"math"

	"dysl_vla/scene"
)

// Legs counts, over tasks, how often each leg of pick-and-place was attempted and achieved, judged
// on the world: free-space legs (approach: the tip gets within grasp reach of the named block;
// transport: the block, held, gets above the named pad) and the critical legs around them (grasp:
// the named block is held; release: it is let go on the pad, the task's success). A leg counts as
// attempted once the one before it was achieved.
type Legs struct {
	Attempts, Achieved [numLegs]int
}

// Leg indices.
const (
	LegApproach = iota
	LegGrasp
	LegTransport
	LegRelease
	numLegs
)

// LegNames name the legs in index order.
var LegNames = [numLegs]string{"approach", "grasp", "transport", "release"}

func (l *Legs) add(o Legs) {
	for i := range numLegs {
		l.Attempts[i] += o.Attempts[i]
		l.Achieved[i] += o.Achieved[i]
	}
}

// Rate is achieved / attempted over the given legs; NaN when none was attempted.
func (l Legs) Rate(legs ...int) float64 {
	var a, n int
	for _, i := range legs {
		a += l.Achieved[i]
		n += l.Attempts[i]
	}
	if n == 0 {
		return nan()
	}
	return float64(a) / float64(n)
}

// Free is the success rate of the free-space legs, Critical that of the grasp and release legs.
func (l Legs) Free() float64     { return l.Rate(LegApproach, LegTransport) }
func (l Legs) Critical() float64 { return l.Rate(LegGrasp, LegRelease) }

// legTracker follows one task.
type legTracker struct {
	legs Legs
	// nearest is the closest the gripper tip came to the named block, metres (0 once it holds it):
	// how far a failed approach missed by, the figure that says whether a policy is near success.
	nearest float64
	// gap is the horizontal distance from the tip to the named block when the task began: what an
	// arm that only moved up and down would miss by, the yardstick for nearest.
	gap float64
	// headway is how much of gap the first HeadwaySteps steps closed (all of them if the task ended
	// sooner), metres, negative if they moved away; steps counts the task's steps, which the
	// harness also holds against the scene's step limit.
	headway float64
	steps   int
}

// HeadwaySteps is the span over which the headway of an approach is measured. From the start pose the
// expert closes up to 2 cm of the gap a step, most of a median gap of 17.8 cm by then. A policy unsure
// where the block is sinks like the expert but barely moves sideways, and the headway shows it long
// before the miss does (GitHub issue 14).
const HeadwaySteps = 16

// newLegTracker starts following the task in force in s.
func newLegTracker(s scene.State) *legTracker {
	t := &legTracker{nearest: math.Inf(1), gap: s.EE.HorizontalTo(s.Object().Pos)}
	t.legs.Attempts[LegApproach] = 1
	return t
}

// observe advances the legs on the world after a step; done is the task's verdict on it
// (scene.Attempt: a task found done when it came into force is not done by the policy). Each leg is
// achieved at most once per task.
func (t *legTracker) observe(s scene.State, done bool) {
	l := &t.legs
	if d := s.EE.Sub(s.Object().Pos).Norm(); d < t.nearest {
		t.nearest = d
	}
	if t.steps++; t.steps <= HeadwaySteps {
		t.headway = t.gap - s.EE.HorizontalTo(s.Object().Pos)
	}
	achieve := func(leg int) {
		if l.Attempts[leg] == 1 && l.Achieved[leg] == 0 {
			l.Achieved[leg] = 1
			if leg+1 < numLegs {
				l.Attempts[leg+1] = 1
			}
		}
	}
	if s.CanGrasp() {
		achieve(LegApproach)
	}
	if s.HoldsObject() {
		// A grasp the policy made without the approach being seen (it closed in the same step it
		// arrived) still passed through the approach.
		achieve(LegApproach)
		achieve(LegGrasp)
		if s.EE.HorizontalTo(s.Goal().Pos) <= scene.SuccessTolerance {
			achieve(LegTransport)
		}
	}
	if done {
		for leg := range numLegs {
			achieve(leg)
		}
	}
}
