package scene

import (
	"fmt"
	"math"
)

// Vec3 is a point or displacement in the table frame, metres.
type Vec3 struct{ X, Y, Z float64 }

func (a Vec3) Add(b Vec3) Vec3             { return Vec3{a.X + b.X, a.Y + b.Y, a.Z + b.Z} }
func (a Vec3) Sub(b Vec3) Vec3             { return Vec3{a.X - b.X, a.Y - b.Y, a.Z - b.Z} }
func (a Vec3) Scale(k float64) Vec3        { return Vec3{a.X * k, a.Y * k, a.Z * k} }
func (a Vec3) Norm() float64               { return math.Sqrt(a.X*a.X + a.Y*a.Y + a.Z*a.Z) }
func (a Vec3) HorizontalTo(b Vec3) float64 { return math.Hypot(b.X-a.X, b.Y-a.Y) }

// Action is one 7-D command: [dx, dy, dz, droll, dpitch, dyaw, gripper]; see the package doc.
type Action [7]float64

// Gripper commands (Action[6]).
const (
	GripperOpen   = -1.0
	GripperClosed = 1.0
)

// Motion returns the translation part of the action.
func (a Action) Motion() Vec3 { return Vec3{a[0], a[1], a[2]} }

// Colour names an object or pad colour.
type Colour int

// Colours, starting at 1 so the zero value is invalid.
const (
	Red Colour = 1 + iota
	Green
	Blue
	Yellow
	Purple
	Orange
	numColours = iota
)

var colourNames = [...]string{"", "red", "green", "blue", "yellow", "purple", "orange"}

var colourRGB = [...][3]byte{
	{}, {200, 30, 30}, {30, 170, 50}, {40, 70, 210}, {220, 200, 30}, {140, 50, 170}, {240, 130, 20},
}

func (c Colour) String() string {
	if c < Red || c > Orange {
		return fmt.Sprintf("Colour(%d)", int(c))
	}
	return colourNames[c]
}

// State is the whole world at one step.
type State struct {
	EE      Vec3    // gripper tip position
	Yaw     float64 // gripper rotation about z, radians
	Roll    float64 // kept for completeness of the 6-D pose; the expert holds it at 0
	Pitch   float64 // likewise
	Gripper float64 // last gripper command: -1 open, +1 closed

	Object    Vec3    // centre of the block
	ObjectYaw float64 // block rotation about z, radians
	Held      bool    // the block moves with the gripper
	Goal      Vec3    // centre of the pad, on the table (Z = 0)

	ObjectColour, GoalColour Colour
	// Still counts consecutive steps in which the gripper did not move: the expert waits on it
	// before closing or opening, as a real arm settles before a grasp.
	Still int

	Seed int64 // the episode seed: render noise and any future randomness derive from it
	Tick int   // steps since the episode started
}

// Geometry of the world, metres.
const (
	TableHalfSize   = 0.30 // the table spans [-0.3, 0.3] in x and y
	BlockHalfSize   = 0.02 // the block is a 4 cm cube
	PadHalfSize     = 0.04 // the pad is 8 cm square
	GraspHeight     = BlockHalfSize
	HoverHeight     = 0.15 // approach and transport height
	RetreatHeight   = 0.20
	StartHeight     = 0.25
	graspReach      = 0.01 // the block is caught when the tip is this close to its centre
	stillMotionEps  = 1e-9
	placedTolerance = 0.01 // the block counts as on the pad within this distance of its centre
)

// Step applies action a to s and returns the next state. Motion is clamped to the workspace;
// closing the gripper within reach of the block grasps it, opening it drops the block onto the
// table below.
func Step(s State, a Action) State {
	next := s
	next.Tick++
	move := a.Motion()
	next.EE = clampWorkspace(s.EE.Add(move))
	next.Roll += a[3]
	next.Pitch += a[4]
	next.Yaw = wrapAngle(s.Yaw + a[5])
	moved := next.EE.Sub(s.EE).Norm() > stillMotionEps || math.Abs(a[5]) > stillMotionEps
	if moved {
		next.Still = 0
	} else {
		next.Still = s.Still + 1
	}

	closing := a[6] > 0
	switch {
	case closing && s.Gripper <= 0 && next.EE.Sub(s.Object).Norm() <= graspReach:
		next.Held = true
	case !closing && s.Held:
		next.Held = false
		next.Object.Z = BlockHalfSize // dropped: it falls onto the table
	}
	next.Gripper = GripperOpen
	if closing {
		next.Gripper = GripperClosed
	}
	if next.Held {
		next.Object = next.EE
		next.ObjectYaw = next.Yaw
	}
	return next
}

func clampWorkspace(p Vec3) Vec3 {
	limit := func(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }
	return Vec3{limit(p.X, -TableHalfSize, TableHalfSize), limit(p.Y, -TableHalfSize, TableHalfSize), limit(p.Z, BlockHalfSize, 0.5)}
}

func wrapAngle(a float64) float64 {
	return math.Remainder(a, 2*math.Pi)
}

// Placed reports whether the block rests on the pad.
func (s State) Placed() bool {
	return !s.Held && s.Object.HorizontalTo(s.Goal) <= placedTolerance && s.Object.Z <= BlockHalfSize+1e-9
}
