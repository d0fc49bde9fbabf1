package training

import (
	"fmt"
	"math"

	"dysl_vla/modelbuild"
	"dysl_vla/scene"
)

// ChosenPoint is where a model's keypoint selector placed the named block and pad in one world state,
// against where they are. It tells a policy that cannot see the block apart from one that sees it and
// cannot reach it: the closed loop alone shows only the miss.
type ChosenPoint struct {
	// TipHeight is the gripper tip's height, TipToBlock its horizontal distance to the named block,
	// metres.
	TipHeight, TipToBlock float64
	// Holding is set while the gripper carries the named block; Approaching while it is open on its
	// way to the block (not carrying it, the task not done).
	Holding, Approaching bool
	// Block and Pad are the distances on the table between the chosen points and the named block's and
	// pad's centres, metres.
	Block, Pad float64
	// BlockTowardsPad is the chosen block point's offset from the named block along the line from the
	// block to the named pad, metres, positive towards the pad: a channel that takes part of the pad
	// for its block is pulled that way (attempt 22: the orange, purple and green blocks beside a blue
	// pad).
	BlockTowardsPad float64
	// BlockColour and PadColour are the named block's and pad's: a keypoint channel can take one colour
	// for another it resembles (attempt 21: the yellow block beside an orange pad).
	BlockColour, PadColour scene.Colour
}

// ChosenPoints renders each state as the camera sees it (scene defaults, the model's image size),
// reads the instruction in force, and runs the float64 reference of the keypoints and the selector
// (modelbuild.Model.Keypoints and Chosen) on it. The model must have a keypoint selector.
func ChosenPoints(m *modelbuild.Model, states []scene.State) ([]ChosenPoint, error) {
	a := m.Arch
	if a.SelectorWindow == 0 {
		return nil, fmt.Errorf("training: the model has no keypoint selector to read (presets with one: small_selector, small_relative)")
	}
	off := func(x, y float64, p scene.Vec3) float64 {
		u, v := scene.ImagePoint(p)
		return math.Hypot(x-u, y-v) * scene.TableHalfSize // image units span the table's half size
	}
	towardsPad := func(x, y float64, s scene.State) float64 {
		bu, bv := scene.ImagePoint(s.Object().Pos)
		pu, pv := scene.ImagePoint(s.Goal().Pos)
		n := math.Hypot(pu-bu, pv-bv)
		if n == 0 {
			return 0
		}
		return ((x-bu)*(pu-bu) + (y-bv)*(pv-bv)) / n * scene.TableHalfSize
	}
	cfg := sceneConfig(a)
	out := make([]ChosenPoint, 0, len(states))
	for _, s := range states {
		img := scene.Render(s, cfg.Width, cfg.Height, cfg.CameraNoise)
		points := m.Keypoints(NormalizedImage(img.RGB, a.ImageSize))
		chosen := m.Chosen(Tokenize(scene.Instruction(s), a.InstructionTokens), points)
		out = append(out, ChosenPoint{
			TipHeight:       s.EE.Z,
			TipToBlock:      s.EE.HorizontalTo(s.Object().Pos),
			Holding:         s.HoldsObject(),
			Approaching:     s.Gripper <= 0 && !s.Held && !s.Placed(),
			Block:           off(chosen[0], chosen[1], s.Object().Pos),
			Pad:             off(chosen[2], chosen[3], s.Goal().Pos),
			BlockTowardsPad: towardsPad(chosen[0], chosen[1], s),
			BlockColour:     s.Object().Colour, PadColour: s.Goal().Colour,
		})
	}
	return out, nil
}
