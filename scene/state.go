package scene

import (
	"fmt"
	"math"
	"slices"
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

// ActionNames name an Action's values in order, as a bundle's manifest names its action columns.
var ActionNames = []string{"x", "y", "z", "roll", "pitch", "yaw", "gripper"}

// GripperIndex is the gripper command's place in an Action.
const GripperIndex = 6

// Gripper commands (Action[GripperIndex]).
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
	Cyan
	Pink
	numColours = iota
)

// singleTaskColours is how many of the colours, from Red on, the single-task scene draws from: the
// first six, as before the tabletop tasks existed, so its episodes stay the ones the reference
// model was trained on.
const singleTaskColours = 6

var colourNames = [...]string{"", "red", "green", "blue", "yellow", "purple", "orange", "cyan", "pink"}

var colourRGB = [...][3]byte{
	{}, {200, 30, 30}, {30, 170, 50}, {40, 70, 210}, {220, 200, 30}, {140, 50, 170}, {240, 130, 20},
	{40, 200, 210}, {245, 140, 200},
}

func (c Colour) String() string {
	if c < Red || c > Pink {
		return fmt.Sprintf("Colour(%d)", int(c))
	}
	return colourNames[c]
}

// Block is a cube the gripper can pick up.
type Block struct {
	Pos    Vec3    // centre
	Yaw    float64 // rotation about z, radians
	Colour Colour
}

// Pad is a flat square target on the table.
type Pad struct {
	Pos    Vec3 // centre, on the table (Z = 0)
	Colour Colour
}

// Task is one instruction: put Blocks[Block] on Pads[Pad].
type Task struct{ Block, Pad int }

// State is the whole world at one step.
type State struct {
	EE      Vec3    // gripper tip position
	Yaw     float64 // gripper rotation about z, radians
	Roll    float64 // kept for completeness of the 6-D pose; the expert holds it at 0
	Pitch   float64 // likewise
	Gripper float64 // last gripper command: -1 open, +1 closed

	Blocks []Block
	Pads   []Pad
	// Task is the instruction in force; the expert works on it and Succeeded judges it.
	Task Task
	// Held is set while Blocks[HeldBlock] moves with the gripper.
	Held      bool
	HeldBlock int

	// Still counts consecutive steps in which the gripper did not move: the expert waits on it
	// before closing or opening, as a real arm settles before a grasp.
	Still int

	// Light is the episode's lighting: every pixel value is scaled by 1+Light. Noise is the episode's
	// camera noise standard deviation (0..255 units), added to what the renderer is asked for. Both
	// are zero in the single-task scene.
	Light, Noise float64

	Seed int64 // the episode seed: render noise and any future randomness derive from it
	Tick int   // steps since the episode started
}

// RobotStateNames name the values of RobotState, in its order: what a robot publishes about itself
// (as sensor_msgs/JointState names) and a model with a state input reads.
var RobotStateNames = []string{"ee_x", "ee_y", "ee_z", "ee_yaw", "gripper"}

// RobotState is what the arm knows of itself without a camera (proprioception): the gripper tip's
// position (metres) and yaw (radians), as its joint encoders give them, and the gripper's last command.
// Roll and pitch are left out: the expert holds them at zero.
func (s State) RobotState() []float64 {
	return []float64{s.EE.X, s.EE.Y, s.EE.Z, s.Yaw, s.Gripper}
}

// Object is the block the task names.
func (s State) Object() Block { return s.Blocks[s.Task.Block] }

// Goal is the pad the task names.
func (s State) Goal() Pad { return s.Pads[s.Task.Pad] }

// CanGrasp reports whether closing the gripper now would catch the block the task names.
func (s State) CanGrasp() bool {
	i, ok := blockInReach(s.Blocks, s.EE)
	return ok && i == s.Task.Block && !s.Held && s.Gripper <= 0
}

// HoldsObject reports whether the gripper carries the block the task names.
func (s State) HoldsObject() bool { return s.Held && s.HeldBlock == s.Task.Block }

// ClosedOnNothing reports whether the gripper is closed without the block the task names: a grasp
// that missed, or caught another block.
func (s State) ClosedOnNothing() bool { return s.Gripper > 0 && !s.HoldsObject() }

// TargetDistance is the horizontal distance, metres, from the gripper tip to where the task in force
// needs precision: the named block until the gripper holds it, then the named pad.
func (s State) TargetDistance() float64 {
	target := s.Object().Pos
	if s.HoldsObject() {
		target = s.Goal().Pos
	}
	return math.Hypot(s.EE.X-target.X, s.EE.Y-target.Y)
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
	GraspReach      = 0.01 // the block is caught when the tip is this close to its centre
	stillMotionEps  = 1e-9
	placedTolerance = 0.01 // the block counts as on the pad within this distance of its centre
)

// Step applies action a to s and returns the next state. Motion is clamped to the workspace;
// closing the gripper within reach of a block grasps it (the nearest, should two be in reach),
// opening it drops the block onto the table below. s is not modified: blocks that move are copied.
//
// A NaN or infinite value holds that part of the arm as it was (no motion, no rotation, the gripper
// unchanged), as an arm controller that checks its commands would: passed through, a NaN would stick
// in the pose for the rest of the episode and read as "open", dropping a held block.
func Step(s State, a Action) State {
	for i, v := range a {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			a[i] = 0
			if i == 6 {
				a[i] = s.Gripper
			}
		}
	}
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

	closing := a[GripperIndex] > 0
	switch {
	case closing && s.Gripper <= 0:
		if i, ok := blockInReach(s.Blocks, next.EE); ok {
			next.Held, next.HeldBlock = true, i
		}
	case !closing && s.Held:
		next.Held = false
		next.Blocks = slices.Clone(s.Blocks)
		next.Blocks[s.HeldBlock].Pos.Z = BlockHalfSize // dropped: it falls onto the table
	}
	next.Gripper = GripperOpen
	if closing {
		next.Gripper = GripperClosed
	}
	if next.Held {
		next.Blocks = slices.Clone(s.Blocks)
		next.Blocks[next.HeldBlock].Pos = next.EE
		next.Blocks[next.HeldBlock].Yaw = next.Yaw
	}
	return next
}

// blockInReach returns the block whose centre is nearest to tip, if one is within GraspReach.
func blockInReach(blocks []Block, tip Vec3) (int, bool) {
	best, bestDist := -1, GraspReach
	for i, b := range blocks {
		if d := tip.Sub(b.Pos).Norm(); d <= bestDist {
			best, bestDist = i, d
		}
	}
	return best, best >= 0
}

func clampWorkspace(p Vec3) Vec3 {
	limit := func(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }
	return Vec3{limit(p.X, -TableHalfSize, TableHalfSize), limit(p.Y, -TableHalfSize, TableHalfSize), limit(p.Z, BlockHalfSize, 0.5)}
}

func wrapAngle(a float64) float64 {
	return math.Remainder(a, 2*math.Pi)
}

// Placed reports whether the task's block rests on its pad where the expert puts it (centred within
// placedTolerance): the expert's own arrival test, tighter than Succeeded.
func (s State) Placed() bool {
	return s.onPad(placedTolerance)
}

// SuccessTolerance is how far the block's centre may sit from the pad's centre, horizontally (the
// straight-line distance), for the task to count as done: the room a block square to the pad has
// on either side of the centre. The block's yaw is not judged: a block turned 45 degrees at the
// tolerance overhangs the pad's edge by up to 8 mm, a fifth of its width, as a block resting mostly
// on a plate still counts as put on it.
const SuccessTolerance = PadHalfSize - BlockHalfSize

// Succeeded reports whether the task in force is done, judged by the world alone: the named block
// rests on the table within SuccessTolerance of the named pad's centre and the gripper has let it go.
func (s State) Succeeded() bool {
	return s.onPad(SuccessTolerance)
}

// Attempt judges one task of an episode by what happens while it is in force. A chain's later tasks
// are drawn for the world the earlier ones leave when done as planned; a policy that drops another
// block on a free pad on its way can leave a later task done before it begins. Such a task counts only
// once it has been undone and done again, as CALVIN's task oracle compares a subtask's end with its
// start: a chain scores what the policy did during each task.
type Attempt struct {
	doneAtStart bool
}

// NewAttempt starts judging the task in force in s.
func NewAttempt(s State) Attempt { return Attempt{doneAtStart: s.Succeeded()} }

// Done reports whether the task is done in s, a state after the attempt began, by the attempt.
func (a *Attempt) Done(s State) bool {
	if !s.Succeeded() {
		a.doneAtStart = false
		return false
	}
	return !a.doneAtStart
}

func (s State) onPad(tolerance float64) bool {
	b := s.Object()
	return !s.HoldsObject() && b.Pos.HorizontalTo(s.Goal().Pos) <= tolerance && b.Pos.Z <= BlockHalfSize+1e-9
}
