package scene

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Tabletop shapes the multi-object scenes where language matters: several blocks and pads, each of
// its own colour, so only the instruction says which block goes where. Positions, lighting and
// camera noise vary from episode to episode, and an episode chains several instructions
// (CALVIN-style: scored by how many are completed in sequence).
type Tabletop struct {
	Blocks, Pads int
	// Chain is the number of instructions given one after the other in an episode.
	Chain int
	// Light bounds the lighting change: each episode scales pixel values by 1+u, u uniform in
	// [-Light, Light].
	Light float64
	// Noise bounds the extra camera noise: each episode adds a standard deviation uniform in
	// [0, Noise] (0..255 units) to the configured one.
	Noise float64
	// Colours is how many colours, from red on, the blocks and pads are drawn from (0: all eight).
	// Six keeps to the colours of the one-block scene, so a model trained there meets no new colour
	// word; with Blocks 1 and Pads 1 the scene is then the one-block scene laid out the tabletop way,
	// and each added block or pad is a distractor the instruction does not name.
	Colours int
}

// DefaultTabletop is three blocks and four pads (one pad is always free, so every chain can go on),
// all eight colours, one instruction per episode, lighting within ±25% and up to 4 more units of noise.
func DefaultTabletop() Tabletop {
	return Tabletop{Blocks: 3, Pads: 4, Chain: 1, Light: 0.25, Noise: 4}
}

// ChainTabletop is DefaultTabletop with five instructions per episode, as CALVIN's chains.
func ChainTabletop() Tabletop {
	t := DefaultTabletop()
	t.Chain = 5
	return t
}

// MaxChain is the longest chain of instructions in one episode. CALVIN's chains are five long; the
// bound keeps a mistyped count from planning an episode that never ends.
const MaxChain = 100

// Validate lists every field out of range.
func (t Tabletop) Validate() error {
	var problems []error
	if t.Blocks < 1 {
		problems = append(problems, fmt.Errorf("tabletop blocks (%d) must be >= 1", t.Blocks))
	}
	// No block starts on a pad, so one instruction always has a free pad; a chain needs a spare one.
	if t.Pads < 1 {
		problems = append(problems, fmt.Errorf("tabletop pads (%d) must be >= 1", t.Pads))
	} else if t.Chain > 1 && t.Pads <= t.Blocks {
		problems = append(problems, fmt.Errorf("tabletop pads (%d) must outnumber the blocks (%d) in a chain, so a pad is always free", t.Pads, t.Blocks))
	}
	if t.Colours < 0 || t.Colours > numColours {
		problems = append(problems, fmt.Errorf("tabletop colours (%d) must be in [0, %d] (0: all)", t.Colours, numColours))
	}
	if t.Blocks+t.Pads > t.palette() {
		problems = append(problems, fmt.Errorf("tabletop blocks and pads (%d) must each have their own colour: at most %d", t.Blocks+t.Pads, t.palette()))
	}
	if t.Chain < 1 || t.Chain > MaxChain {
		problems = append(problems, fmt.Errorf("tabletop chain (%d) must be in [1, %d] instructions", t.Chain, MaxChain))
	}
	if !(t.Light >= 0 && t.Light < 1) {
		problems = append(problems, fmt.Errorf("tabletop light (%v) must be in [0, 1)", t.Light))
	}
	if !(t.Noise >= 0) || math.IsInf(t.Noise, 0) {
		problems = append(problems, fmt.Errorf("tabletop noise (%v) must be >= 0 and finite", t.Noise))
	}
	return errors.Join(problems...)
}

// palette is how many colours the scene draws from.
func (t Tabletop) palette() int {
	if t.Colours == 0 {
		return numColours
	}
	return t.Colours
}

// minSeparation keeps every block and pad this far (centre to centre) from the others at the start:
// no block starts on a pad, and pads never overlap.
const minSeparation = 0.1

// ResetTabletop returns the start state of the tabletop episode with this seed: t.Blocks blocks
// and t.Pads pads at random places at least minSeparation apart, every one of a different colour,
// the episode's lighting and noise drawn, the gripper open above the table centre. The task is
// the zero Task; Start sets the first of the chain. t must be valid.
func ResetTabletop(seed int64, t Tabletop) State {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x7ab1e))
	colours := rng.Perm(t.palette())
	var placed []Vec3
	place := func() Vec3 {
		const margin = 0.22
		for {
			p := Vec3{X: (rng.Float64()*2 - 1) * margin, Y: (rng.Float64()*2 - 1) * margin}
			clear := true
			for _, q := range placed {
				clear = clear && p.HorizontalTo(q) >= minSeparation
			}
			// Sparse enough (a few items on a 44 cm square) that this ends after a few draws.
			if clear {
				placed = append(placed, p)
				return p
			}
		}
	}
	s := State{EE: Vec3{Z: StartHeight}, Gripper: GripperOpen, Seed: seed}
	for i := range t.Blocks {
		pos := place()
		pos.Z = BlockHalfSize
		s.Blocks = append(s.Blocks, Block{Pos: pos, Yaw: (rng.Float64()*2 - 1) * math.Pi / 4, Colour: Colour(1 + colours[i])})
	}
	for i := range t.Pads {
		s.Pads = append(s.Pads, Pad{Pos: place(), Colour: Colour(1 + colours[t.Blocks+i])})
	}
	s.Light = (rng.Float64()*2 - 1) * t.Light
	s.Noise = rng.Float64() * t.Noise
	return s
}

// ChainTasks draws n instructions for the scene s, seeded by s.Seed: each puts some block on a pad
// that is free at that point of the chain, assuming the tasks before it were done (the block then
// sits on its pad's centre). With more pads than blocks a free pad always exists.
func ChainTasks(s State, n int) []Task {
	rng := rand.New(rand.NewPCG(uint64(s.Seed), 0xc4a1))
	where := make([]Vec3, len(s.Blocks))
	for i, b := range s.Blocks {
		where[i] = b.Pos
	}
	tasks := make([]Task, 0, n)
	for range n {
		var free []int
		for p, pad := range s.Pads {
			taken := false
			for _, w := range where {
				taken = taken || w.HorizontalTo(pad.Pos) <= PadHalfSize
			}
			if !taken {
				free = append(free, p)
			}
		}
		t := Task{Block: rng.IntN(len(s.Blocks)), Pad: free[rng.IntN(len(free))]}
		where[t.Block] = s.Pads[t.Pad].Pos
		tasks = append(tasks, t)
	}
	return tasks
}
