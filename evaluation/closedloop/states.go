//lint:file-ignore ST1005 checkState's messages start with the name of the JSON field they refuse, as a states file spells it

package closedloop

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"unsafe"

	"github.com/google/renameio/v2"

	"dysl_vla/gripper"
	"dysl_vla/scene"
)

// The states a policy visits (Visit) reach the expert that labels them (training.LabelStates, behaviour
// cloning's DAgger frames) through a file: a JSON array of scene states.

// Visited is what CollectStates played and wrote.
type Visited struct {
	// States written; Episodes played.
	States, Episodes int
	// Completed of Tasks instructions were completed by the policy, summed over the episodes.
	Completed, Tasks int
	// MissCm is the median, over the instructions played, of the closest the gripper tip came to the
	// named block, centimetres (Row.ApproachMissCm); GapCm the median horizontal distance between them
	// when each instruction was given (Row.ApproachGapCm).
	// HeadwayCm is the median of how much of that distance the first HeadwaySteps steps closed.
	MissCm, GapCm, HeadwayCm float64
	// Legs sums the legs of pick-and-place attempted and achieved over the episodes.
	Legs Legs
	// Layers is the mean number of layers executed per inference, verification re-runs included.
	Layers float64
	// Beside counts the captured states low beside the named block (besideBlock) from which the arm
	// moved by the next capture; AwayShare is the share of them it moved away from the block, AwayCosine the
	// median cosine between that move and the way to the block (NaN without such states). A policy
	// that cannot finish an approach shows here whether it closes in or drifts off.
	Beside                int
	AwayShare, AwayCosine float64
	// Misses sorts the instructions whose named block was never held by what the camera saw.
	Misses GraspMisses
	// Carries sorts the instructions whose step limit came while the block was held.
	Carries HeldCarries
	// Descents measures where the descents onto the named block began.
	Descents Descents
}

// DescentHeight is where Descents says a descent onto the block begins: the tip below 10 cm, between
// the expert's hover height (15 cm) and the lowest it passes sideways over a block (6 cm).
const DescentHeight = 0.10

// Descents sorts the instructions by the first captured frame with the tip below DescentHeight, the
// gripper open and the named block not yet held: how far the tip then was from the block,
// horizontally. The committed policy descends nearly straight once below the hover height
// (models/closedloop/README.md, attempt 21), so where it starts down largely decides the grasp.
// Grasped counts the instructions whose block was held afterwards, Missed those whose was not;
// the Cm values are medians and 90th percentiles of their offsets (NaN without such descents).
type Descents struct {
	Grasped, Missed                                int
	GraspedCm, GraspedP90Cm, MissedCm, MissedP90Cm float64
	// MissedPairs counts the descents that did not hold by the named block's and pad's colours, most
	// first: a keypoint channel that takes one colour for another misses at its pairs.
	MissedPairs []ColourPairMisses
	// MissedPads counts the same by the named pad's colour alone, most first: the committed policy
	// misses 24 of its 54 training-range descents with a blue pad, 3 to 6 of about 50 with each other
	// colour (models/closedloop/README.md, attempt 22).
	MissedPads []ColourMisses
	// MissedTowardsPad and MissedAwayFromPad count the descents that did not hold whose offset from the
	// block points along the line from the block to the named pad (within 30 degrees), towards the pad
	// or away from it; the rest began off to the side. A block keypoint pulled towards the pad, and a
	// policy that learned to aim away from where such a pull would be, miss along that line.
	MissedTowardsPad, MissedAwayFromPad int
	// Moves counts the captures with the tip between 5 cm and the hover height (on its way down, not
	// yet at the block), gripper open, the block not yet held, 1 to 5 cm from it horizontally, followed
	// by a capture of the same instruction; SidewaysMm and DownCm are
	// the medians of how far the tip then moved on the table and down. Below its hover height the
	// committed policy moves under a millimetre sideways per capture while it sinks centimetres: it
	// does not correct its aim on the way down.
	Moves              int
	SidewaysMm, DownCm float64
}

// alongPadCosine is cos 30°: an offset within 30 degrees of the block-to-pad line counts as along it.
var alongPadCosine = math.Sqrt(3) / 2

// ColourMisses is how many of the Descents with a named pad of this colour did not hold the block.
type ColourMisses struct {
	Colour           scene.Colour
	Missed, Descents int
}

// ColourPairMisses is how many of the Descents with a named block and pad of these colours did not
// hold the block (Missed).
type ColourPairMisses struct {
	Block, Pad       scene.Colour
	Missed, Descents int
}

// GraspMisses sorts the instructions whose named block was never held (missedGrasps).
type GraspMisses struct {
	// Instructions whose block was never held, of which: InReach had the tip within grasp reach of the
	// block with the gripper open at a captured frame before the gripper first closed (closing then would
	// have caught it: the policy closed too late, often already rising); ClosedOff closed on nothing
	// without such a frame, a median ClosedOffCm from the block horizontally at the capture before;
	// NeverClosed never closed at a captured frame.
	Instructions, InReach, ClosedOff, NeverClosed int
	ClosedOffCm                                   float64
}

// HeldCarries sorts the instructions that ran to their step limit with the named block still held
// (a chain ends there). Instructions is how many; OverPad of
// them held it within the named pad's half size of the pad's centre (horizontally): the policy found
// the pad and never opened. OverPadCm is the median of those offsets, MinOverPadCm and MaxOverPadCm
// their range (NaN without such carries).
type HeldCarries struct {
	Instructions, OverPad                 int
	OverPadCm, MinOverPadCm, MaxOverPadCm float64
}

// Kept says which of the captured states CollectStates writes.
type Kept int

const (
	// KeepAll writes every state the camera captured.
	KeepAll Kept = iota
	// KeepApproach writes, of each instruction, the states before the policy first closed the gripper
	// without holding the named block. A policy that misses the block closes on nothing and wanders
	// with its gripper shut for the rest of the step limit: kept, those states outnumber its approach,
	// where it missed, several times over, and teach it mostly to open again (models/closedloop/README.md,
	// attempt 11).
	KeepApproach
)

// CheckExpertConvention refuses, for a policy whose states the scripted expert is to label, a
// gripper convention (Config.Gripper, the node's gripper_open and gripper_closed) other than the
// scene's. The expert writes its labels in the scene's (scene.GripperOpen, scene.GripperClosed), and
// the states file holds world states, which say nothing of the policy's convention: a policy of
// another convention trained on those labels would learn the scene's in place of its own, which its
// node would then misread. The zero value is the node's default, the scene's.
func CheckExpertConvention(c gripper.Convention) error {
	if c = c.OrDefault(); c != (gripper.Convention{Open: scene.GripperOpen, Closed: scene.GripperClosed}) {
		return fmt.Errorf("closedloop: the policy's gripper convention (gripper_open %v, gripper_closed %v) is not the scene's (%v open, %v closed), "+
			"in which the scripted expert labels the states visited: trained on them, the policy would learn the scene's convention in place of its own",
			c.Open, c.Closed, scene.GripperOpen, scene.GripperClosed)
	}
	return nil
}

// CollectStates plays the seeds with cfg's policy (Visit) and writes the world states its camera
// captured that keep selects to path, as ReadStates reads them, for the scripted expert to label.
// Stopped by ctx, it writes those of the episodes played and returns what they show with Visit's
// error. A policy of another gripper convention than the scene's is refused (CheckExpertConvention).
func CollectStates(ctx context.Context, cfg Config, seeds []int64, keep Kept, path string) (Visited, error) {
	if err := CheckExpertConvention(cfg.Gripper); err != nil {
		return Visited{}, err
	}
	states, episodes, err := Visit(ctx, cfg, seeds)
	stopped := isStopped(err)
	if err != nil && (!stopped || len(episodes) == 0) {
		return Visited{}, err // stopped before an episode was played: path is left as it was
	}
	beside, away, cosines := movesBesideTheBlock(states)
	misses, carries, descents := missedGrasps(states), heldCarries(episodes), measureDescents(states)
	if keep == KeepApproach {
		states = approachStates(states)
	}
	v := Visited{States: len(states), Episodes: len(episodes), Beside: beside, AwayShare: nan(), AwayCosine: median(cosines), Misses: misses, Carries: carries, Descents: descents}
	if beside > 0 {
		v.AwayShare = float64(away) / float64(beside)
	}
	var nearest, gap, headway []float64
	layers, inferences := 0, 0
	for _, ep := range episodes {
		layers, inferences = layers+ep.LayersExecuted, inferences+ep.Inferences
		v.Completed += ep.Completed
		v.Tasks += ep.Tasks
		nearest, gap, headway = append(nearest, ep.Nearest...), append(gap, ep.Gap...), append(headway, ep.Headway...)
		v.Legs.add(ep.Legs)
	}
	v.MissCm, v.GapCm, v.HeadwayCm = 100*median(nearest), 100*median(gap), 100*median(headway)
	v.Layers = float64(layers) / float64(max(1, inferences))
	if werr := WriteStates(path, states); werr != nil {
		return v, errors.Join(err, werr)
	}
	if stopped {
		return v, fmt.Errorf("%w; %s holds their %d states", err, path, len(states))
	}
	return v, nil
}

// WriteStates writes states to path as a JSON array, one state at a time: the states already fill
// the memory Visit was allowed, and a second copy as one JSON body would double it. The array goes to
// a temporary file renamed over path once complete, so a run that fails while writing leaves the
// states file already there as it was.
func WriteStates(path string, states []scene.State) error {
	f, err := renameio.NewPendingFile(path, renameio.WithPermissions(0o644), renameio.WithExistingPermissions())
	if err != nil {
		return err
	}
	defer f.Cleanup()
	w := bufio.NewWriter(f)
	w.WriteByte('[')
	for i, s := range states {
		body, err := json.Marshal(s)
		if err != nil {
			return err
		}
		if i > 0 {
			w.WriteByte(',')
		}
		w.Write(body)
	}
	w.WriteByte(']')
	if err := w.Flush(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.CloseAtomicallyReplace()
}

// stateBytes is what one captured state holds in memory, its blocks and pads included.
func stateBytes(s scene.State) uint64 {
	return uint64(unsafe.Sizeof(s)) + uint64(len(s.Blocks))*uint64(unsafe.Sizeof(scene.Block{})) +
		uint64(len(s.Pads))*uint64(unsafe.Sizeof(scene.Pad{}))
}

// ReadStates reads the states WriteStates wrote. Each state must be one the scene could have reached
// (checkState): the states are rendered, labelled by the expert and stepped, and a state of another
// file, or an edited one, would otherwise stop them with a panic (an empty block list, a task naming a
// block that is not there, an unknown colour) or quietly teach from a world the scene never shows.
func ReadStates(path string) ([]scene.State, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var states []scene.State
	if err := json.Unmarshal(data, &states); err != nil {
		return nil, fmt.Errorf("%s: expected a JSON array of scene states (dysl train dagger --out): %w", path, err)
	}
	for i, s := range states {
		if err := checkState(s); err != nil {
			return nil, fmt.Errorf("%s: state %d: %w (dysl train dagger --out writes the states)", path, i, err)
		}
	}
	return states, nil
}

// checkState says what in s no episode of the scene holds, naming the field (as the JSON names it):
// what Render, Step, Expert and Instruction index or read must be there and in range, and the
// numbers must lie where the scene keeps them (scene.Step's workspace, the table, the gripper's two
// commands).
func checkState(s scene.State) error {
	switch {
	case len(s.Blocks) == 0:
		return errors.New("Blocks: expected at least one block")
	case len(s.Pads) == 0:
		return errors.New("Pads: expected at least one pad")
	case s.Task.Block < 0 || s.Task.Block >= len(s.Blocks):
		return fmt.Errorf("Task.Block (%d): expected the index of one of its %d blocks, 0..%d", s.Task.Block, len(s.Blocks), len(s.Blocks)-1)
	case s.Task.Pad < 0 || s.Task.Pad >= len(s.Pads):
		return fmt.Errorf("Task.Pad (%d): expected the index of one of its %d pads, 0..%d", s.Task.Pad, len(s.Pads), len(s.Pads)-1)
	case s.Held && (s.HeldBlock < 0 || s.HeldBlock >= len(s.Blocks)):
		return fmt.Errorf("HeldBlock (%d): expected, with Held, the index of one of its %d blocks, 0..%d", s.HeldBlock, len(s.Blocks), len(s.Blocks)-1)
	case s.Gripper != scene.GripperOpen && s.Gripper != scene.GripperClosed:
		return fmt.Errorf("Gripper (%v): expected %v (open) or %v (closed)", s.Gripper, scene.GripperOpen, scene.GripperClosed)
	case !inWorkspace(s.EE):
		return fmt.Errorf("EE (%v): expected a point of the arm's workspace (x and y within %v m of the table centre, z from %v m up)", s.EE, scene.TableHalfSize, scene.BlockHalfSize)
	case !(s.Light > -1 && s.Light < 1):
		return fmt.Errorf("Light (%v): expected a share of the normal light in (-1, 1)", s.Light)
	case !(s.Noise >= 0):
		return fmt.Errorf("Noise (%v): expected a standard deviation >= 0 (0..255 units)", s.Noise)
	case s.Still < 0 || s.Tick < 0:
		return fmt.Errorf("Still (%d), Tick (%d): expected counts of steps >= 0", s.Still, s.Tick)
	}
	for i, b := range s.Blocks {
		if err := checkColour(b.Colour); err != nil {
			return fmt.Errorf("Blocks[%d].Colour %w", i, err)
		}
		if !inWorkspace(b.Pos) {
			return fmt.Errorf("Blocks[%d].Pos (%v): expected a point of the arm's workspace (on the table or in the gripper)", i, b.Pos)
		}
	}
	for i, p := range s.Pads {
		if err := checkColour(p.Colour); err != nil {
			return fmt.Errorf("Pads[%d].Colour %w", i, err)
		}
		if !(math.Abs(p.Pos.X) <= scene.TableHalfSize && math.Abs(p.Pos.Y) <= scene.TableHalfSize) {
			return fmt.Errorf("Pads[%d].Pos (%v): expected x and y within %v m of the table centre", i, p.Pos, scene.TableHalfSize)
		}
	}
	return nil
}

// checkColour refuses a colour the scene has no paint for.
func checkColour(c scene.Colour) error {
	if c >= scene.Red && int(c) <= scene.NumColours {
		return nil
	}
	return fmt.Errorf("(%d): expected a colour %d..%d (%s to %s)", int(c), scene.Red, scene.NumColours, scene.Red, scene.Colour(scene.NumColours))
}

// inWorkspace reports whether p is where the arm can be: scene.Step keeps the tip in its workspace,
// so a point it leaves where it is, holding still from there, lies inside. (A NaN is not.)
func inWorkspace(p scene.Vec3) bool {
	return scene.Step(scene.State{EE: p, Gripper: scene.GripperOpen}, scene.Action{6: scene.GripperOpen}).EE == p
}

// sameInstruction reports whether two captured states belong to one instruction of one episode.
func sameInstruction(a, b scene.State) bool { return a.Seed == b.Seed && a.Task == b.Task }

// byInstruction splits states (captured in order, episode by episode) into the runs of one instruction.
func byInstruction(states []scene.State) [][]scene.State {
	var runs [][]scene.State
	for start := 0; start < len(states); {
		end := start + 1
		for end < len(states) && sameInstruction(states[end], states[start]) {
			end++
		}
		runs = append(runs, states[start:end])
		start = end
	}
	return runs
}

// approachStates keeps, of each instruction in states (captured in order, episode by episode), those
// before the first with the gripper closed on anything but the named block.
func approachStates(states []scene.State) []scene.State {
	var kept []scene.State
	missed := false
	for i, s := range states {
		if i == 0 || !sameInstruction(s, states[i-1]) {
			missed = false
		}
		if s.ClosedOnNothing() {
			missed = true
		}
		if !missed {
			kept = append(kept, s)
		}
	}
	return kept
}

// besideBlock reports whether s is low beside the named block with the gripper open: the tip below
// 5 cm and 1 to 5 cm from the block horizontally, where a policy that missed the grasp reach is.
func besideBlock(s scene.State) bool {
	d := s.EE.HorizontalTo(s.Object().Pos)
	return s.Gripper <= 0 && s.EE.Z < 0.05 && d > scene.GraspReach && d < 0.05
}

// movesBesideTheBlock follows each state low beside the block to the next capture of the same episode
// and instruction, where the arm moved at all (0.1 mm): how many there were, how many moved away from
// the block (the move's cosine with the way to the block below 0), and the cosines.
func movesBesideTheBlock(states []scene.State) (beside, away int, cosines []float64) {
	for i := 1; i < len(states); i++ {
		s, next := states[i-1], states[i]
		if !sameInstruction(next, s) || !besideBlock(s) {
			continue
		}
		to := s.Object().Pos.Sub(s.EE)
		move := next.EE.Sub(s.EE)
		to.Z, move.Z = 0, 0
		if move.Norm() < 1e-4 {
			continue
		}
		c := horizontalCosine(to, move)
		beside++
		if c < 0 {
			away++
		}
		cosines = append(cosines, c)
	}
	return beside, away, cosines
}

// missedGrasps sorts the instructions in states (captured in order, episode by episode) whose named
// block was never held by what the captured frames show before the gripper first closed.
func missedGrasps(states []scene.State) GraspMisses {
	var m GraspMisses
	var offsets []float64
	for _, instruction := range byInstruction(states) {
		if slices.ContainsFunc(instruction, scene.State.HoldsObject) {
			continue
		}
		m.Instructions++
		closed := slices.IndexFunc(instruction, func(s scene.State) bool { return s.Gripper > 0 })
		switch {
		case closed < 0:
			m.NeverClosed++
		case slices.ContainsFunc(instruction[:closed], scene.State.CanGrasp):
			m.InReach++
		default:
			m.ClosedOff++
			before := instruction[max(0, closed-1)]
			offsets = append(offsets, 100*before.EE.HorizontalTo(before.Object().Pos))
		}
	}
	m.ClosedOffCm = median(offsets)
	return m
}

// Descending reports whether s is on the way down onto the named block: the tip below DescentHeight,
// the gripper open, the block neither held nor placed. On such states the scripted expert's DAgger
// labels ask for sideways corrections the camera can hardly support (the open fingers hide the
// block), and a fine-tune on them unlearned the approach (models/closedloop/README.md, attempt 21).
func Descending(s scene.State) bool {
	return s.EE.Z < DescentHeight && s.Gripper <= 0 && !s.HoldsObject() && !s.Placed()
}

// DescentStart is the first Descending frame of one instruction: its Index in the states it was found
// in, and whether the named block was held afterwards.
type DescentStart struct {
	Index int
	Held  bool
}

// DescentStarts returns where each instruction in states (captured in order, episode by episode) began
// its descent onto the named block, for those that did.
func DescentStarts(states []scene.State) []DescentStart {
	var starts []DescentStart
	offset := 0
	for _, instruction := range byInstruction(states) {
		if i := slices.IndexFunc(instruction, Descending); i >= 0 {
			starts = append(starts, DescentStart{offset + i, slices.ContainsFunc(instruction[i:], scene.State.HoldsObject)})
		}
		offset += len(instruction)
	}
	return starts
}

// measureDescents measures the descents of states (Descents).
func measureDescents(states []scene.State) Descents {
	type pair struct{ block, pad scene.Colour }
	var grasped, missed []float64
	descents, misses := map[pair]int{}, map[pair]int{}
	padDescents, padMisses := map[scene.Colour]int{}, map[scene.Colour]int{}
	var towards, away int
	for _, d := range DescentStarts(states) {
		s := states[d.Index]
		offset := 100 * s.EE.HorizontalTo(s.Object().Pos)
		p := pair{s.Object().Colour, s.Goal().Colour}
		descents[p]++
		padDescents[p.pad]++
		if d.Held {
			grasped = append(grasped, offset)
			continue
		}
		missed = append(missed, offset)
		misses[p]++
		padMisses[p.pad]++
		switch cos := horizontalCosine(s.EE.Sub(s.Object().Pos), s.Goal().Pos.Sub(s.Object().Pos)); {
		case cos >= alongPadCosine:
			towards++
		case cos <= -alongPadCosine:
			away++
		}
	}
	var missedPads []ColourMisses
	for c, n := range padMisses {
		missedPads = append(missedPads, ColourMisses{Colour: c, Missed: n, Descents: padDescents[c]})
	}
	slices.SortFunc(missedPads, func(a, b ColourMisses) int {
		return cmp.Or(cmp.Compare(b.Missed, a.Missed), cmp.Compare(a.Colour, b.Colour))
	})
	var missedPairs []ColourPairMisses
	for p, n := range misses {
		missedPairs = append(missedPairs, ColourPairMisses{Block: p.block, Pad: p.pad, Missed: n, Descents: descents[p]})
	}
	slices.SortFunc(missedPairs, func(a, b ColourPairMisses) int {
		return cmp.Or(cmp.Compare(b.Missed, a.Missed), cmp.Compare(a.Block, b.Block), cmp.Compare(a.Pad, b.Pad))
	})
	sideways, down := movesBelowHover(states)
	return Descents{Grasped: len(grasped), Missed: len(missed), MissedPairs: missedPairs, MissedPads: missedPads,
		MissedTowardsPad: towards, MissedAwayFromPad: away, Moves: len(sideways), SidewaysMm: median(sideways), DownCm: median(down),
		GraspedCm: median(grasped), GraspedP90Cm: Percentile(grasped, 0.9), MissedCm: median(missed), MissedP90Cm: Percentile(missed, 0.9)}
}

// movesBelowHover follows each capture with the tip between 5 cm and the hover height, the gripper
// open, the named block
// neither held nor placed, 1 to 5 cm from it horizontally, to the next capture of the same
// instruction: how far the tip moved on the table (mm) and down (cm).
func movesBelowHover(states []scene.State) (sidewaysMm, downCm []float64) {
	for i := 1; i < len(states); i++ {
		s, next := states[i-1], states[i]
		if !sameInstruction(next, s) || s.EE.Z < 0.05 || s.EE.Z >= scene.HoverHeight || s.Gripper > 0 || s.HoldsObject() || s.Placed() {
			continue
		}
		if d := s.EE.HorizontalTo(s.Object().Pos); d < 0.01 || d > 0.05 {
			continue
		}
		sidewaysMm = append(sidewaysMm, 1000*next.EE.HorizontalTo(s.EE))
		downCm = append(downCm, 100*(s.EE.Z-next.EE.Z))
	}
	return sidewaysMm, downCm
}

// horizontalCosine is the cosine of the angle between a and b on the table (0 when either is vertical).
func horizontalCosine(a, b scene.Vec3) float64 {
	n := math.Hypot(a.X, a.Y) * math.Hypot(b.X, b.Y)
	if n == 0 {
		return 0
	}
	return (a.X*b.X + a.Y*b.Y) / n
}

// heldCarries sorts the episodes whose instruction in force at the end (Episode.Final) was not
// completed and still had its named block held: the step limit came while the arm carried it.
func heldCarries(episodes []Episode) HeldCarries {
	var c HeldCarries
	var offsets []float64
	for _, ep := range episodes {
		end := ep.Final
		if ep.Completed == ep.Tasks || !end.HoldsObject() {
			continue
		}
		c.Instructions++
		if d := end.Object().Pos.HorizontalTo(end.Goal().Pos); d <= scene.PadHalfSize {
			c.OverPad++
			offsets = append(offsets, 100*d)
		}
	}
	c.OverPadCm, c.MinOverPadCm, c.MaxOverPadCm = median(offsets), nan(), nan()
	if len(offsets) > 0 {
		c.MinOverPadCm, c.MaxOverPadCm = slices.Min(offsets), slices.Max(offsets)
	}
	return c
}
