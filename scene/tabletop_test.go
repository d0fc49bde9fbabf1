package scene

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func tabletopConfig(t Tabletop) Config {
	cfg := DefaultConfig()
	cfg.Tabletop = t
	return cfg
}

func TestTabletopScenes(t *testing.T) {
	tt := DefaultTabletop()
	for seed := range int64(30) {
		s := ResetTabletop(seed, tt)
		require.Equal(t, s, ResetTabletop(seed, tt), "same seed, same scene")
		require.Len(t, s.Blocks, tt.Blocks)
		require.Len(t, s.Pads, tt.Pads)
		colours := map[Colour]bool{}
		var centres []Vec3
		for _, b := range s.Blocks {
			colours[b.Colour] = true
			centres = append(centres, b.Pos)
			require.Equal(t, BlockHalfSize, b.Pos.Z, "blocks start on the table")
		}
		for _, p := range s.Pads {
			colours[p.Colour] = true
			centres = append(centres, p.Pos)
		}
		require.Len(t, colours, tt.Blocks+tt.Pads, "every block and pad has its own colour")
		for i := range centres {
			for j := range i {
				require.GreaterOrEqual(t, centres[i].HorizontalTo(centres[j]), minSeparation)
			}
		}
		require.LessOrEqual(t, s.Light*s.Light, tt.Light*tt.Light)
		require.GreaterOrEqual(t, s.Noise, 0.0)
		require.LessOrEqual(t, s.Noise, tt.Noise)
	}
	require.NotEqual(t, ResetTabletop(1, tt).Light, ResetTabletop(2, tt).Light, "lighting varies by episode")
}

func TestChainInstructionsNameTheTasksBlockAndPad(t *testing.T) {
	s, tasks := Start(4, tabletopConfig(ChainTabletop()))
	require.Len(t, tasks, 5)
	texts := map[string]bool{}
	for _, task := range tasks {
		s.Task = task
		text := Instruction(s)
		require.Contains(t, text, s.Blocks[task.Block].Colour.String()+" block")
		require.Contains(t, text, s.Pads[task.Pad].Colour.String()+" pad")
		texts[text] = true
	}
	require.Greater(t, len(texts), 1, "the chain's instructions differ")
}

// The scripted expert completes every task of every chain, each within the task step limit, and
// each completed task leaves the world in a state Succeeded accepts.
func TestExpertCompletesEveryChain(t *testing.T) {
	for _, tt := range []Tabletop{DefaultTabletop(), ChainTabletop(), {Blocks: 1, Pads: 1, Chain: 1, Colours: 6}, {Blocks: 1, Pads: 2, Chain: 5, Colours: 6}} {
		cfg := tabletopConfig(tt)
		for seed := range int64(25) {
			s, tasks := Start(seed, cfg)
			for i, task := range tasks {
				s.Task = task
				steps := 0
				for ; steps < cfg.MaxSteps; steps++ {
					a, phase := Expert(s)
					if phase == Done {
						break
					}
					s = Step(s, a)
				}
				require.Less(t, steps, cfg.MaxSteps, "seed %d task %d (%s): the expert finishes", seed, i, Instruction(s))
				require.True(t, s.Succeeded(), "seed %d task %d: the block is on its pad", seed, i)
			}
			// Earlier tasks' blocks were not disturbed unless a later task moved them.
			last := map[int]int{}
			for _, task := range tasks {
				last[task.Block] = task.Pad
			}
			for b, p := range last {
				require.LessOrEqual(t, s.Blocks[b].Pos.HorizontalTo(s.Pads[p].Pos), placedTolerance, "seed %d block %d", seed, b)
			}
		}
	}
}

func TestEpisodeRunsTheWholeChain(t *testing.T) {
	steps, err := Episode(9, tabletopConfig(ChainTabletop()))
	require.NoError(t, err)
	seen := map[int]string{}
	for _, st := range steps {
		seen[st.TaskIndex] = st.Instruction
		require.Equal(t, Instruction(st.State), st.Instruction)
	}
	require.Len(t, seen, 5)
}

// Success is judged on the world alone; these states are built by hand.
func TestSucceeded(t *testing.T) {
	base := State{
		Blocks: []Block{{Pos: Vec3{0.1, 0, BlockHalfSize}, Colour: Red}, {Pos: Vec3{-0.1, 0.1, BlockHalfSize}, Colour: Blue}},
		Pads:   []Pad{{Pos: Vec3{0.1, 0.01, 0}, Colour: Green}, {Pos: Vec3{-0.1, -0.1, 0}, Colour: Yellow}},
		Task:   Task{Block: 0, Pad: 0},
	}
	require.True(t, base.Succeeded(), "the named block on the named pad, 1 cm off centre")

	off := base
	off.Blocks = []Block{{Pos: Vec3{0.1, 0.01 + SuccessTolerance + 0.001, BlockHalfSize}}, base.Blocks[1]}
	require.False(t, off.Succeeded(), "beyond the tolerance")

	held := base
	held.Held, held.HeldBlock = true, 0
	require.False(t, held.Succeeded(), "still in the gripper")

	heldOther := base
	heldOther.Held, heldOther.HeldBlock = true, 1
	require.True(t, heldOther.Succeeded(), "holding another block does not undo the task")

	lifted := base
	lifted.Blocks = []Block{{Pos: Vec3{0.1, 0.01, 0.05}}, base.Blocks[1]}
	require.False(t, lifted.Succeeded(), "above the pad, not on it")

	otherPad := base
	otherPad.Task = Task{Block: 0, Pad: 1}
	require.False(t, otherPad.Succeeded(), "on a pad, but not the named one")

	otherBlock := base
	otherBlock.Task = Task{Block: 1, Pad: 0}
	require.False(t, otherBlock.Succeeded(), "a block is on the pad, but not the named one")
}

// A task found done when it comes into force (another task's side effect) counts only once the
// policy has picked the block up and put it back.
func TestAttemptCountsWhatHappensDuringTheTask(t *testing.T) {
	done := State{
		Blocks: []Block{{Pos: Vec3{0.1, 0, BlockHalfSize}, Colour: Red}},
		Pads:   []Pad{{Pos: Vec3{0.1, 0.01, 0}, Colour: Green}},
	}
	held := done
	held.Held = true
	require.True(t, done.Succeeded())

	a := NewAttempt(done)
	require.False(t, a.Done(done), "done before the task began")
	require.False(t, a.Done(held))
	require.True(t, a.Done(done), "undone, then done again")

	b := NewAttempt(held)
	require.True(t, b.Done(done), "done during the task")
}

func TestStepGraspsTheBlockInReachAndLeavesItsInputAlone(t *testing.T) {
	s := ResetTabletop(3, DefaultTabletop())
	target := s.Blocks[2].Pos
	s.EE = target
	before := append([]Block(nil), s.Blocks...)
	grasped := Step(s, Action{6: GripperClosed})
	require.True(t, grasped.Held)
	require.Equal(t, 2, grasped.HeldBlock)
	lifted := Step(grasped, Action{2: 0.02, 6: GripperClosed})
	require.InDelta(t, target.Z+0.02, lifted.Blocks[2].Pos.Z, 1e-12)
	require.Equal(t, before, s.Blocks, "Step is pure")
	require.Equal(t, target, grasped.Blocks[2].Pos)
	dropped := Step(lifted, Action{6: GripperOpen})
	require.False(t, dropped.Held)
	require.Equal(t, BlockHalfSize, dropped.Blocks[2].Pos.Z, "a released block falls onto the table")
	require.Equal(t, target.Z+0.02, lifted.Blocks[2].Pos.Z, "Step is pure")
}

// A non-finite command holds the arm as it was: a held block stays held, nothing turns NaN, and the
// finite parts of the same action still apply.
func TestStepHoldsStillOnNonFiniteValues(t *testing.T) {
	s := ResetTabletop(3, DefaultTabletop())
	s.EE = s.Blocks[2].Pos
	held := Step(s, Action{6: GripperClosed})
	require.True(t, held.Held)
	nan, inf := math.NaN(), math.Inf(1)
	next := Step(held, Action{nan, 0.01, inf, nan, inf, nan, nan})
	require.True(t, next.Held, "a NaN gripper command does not drop the block")
	require.Equal(t, GripperClosed, next.Gripper)
	require.Equal(t, held.EE.X, next.EE.X)
	require.InDelta(t, held.EE.Y+0.01, next.EE.Y, 1e-12)
	require.Equal(t, held.EE.Z, next.EE.Z)
	require.Equal(t, [3]float64{held.Roll, held.Pitch, held.Yaw}, [3]float64{next.Roll, next.Pitch, next.Yaw})
	require.Equal(t, next.EE, next.Blocks[2].Pos)
	require.False(t, next.Succeeded())
}

func TestRenderLighting(t *testing.T) {
	s := ResetTabletop(5, DefaultTabletop())
	s.Noise = 0
	s.Light = 0
	plain := Render(s, 32, 32, 0)
	s.Light = 0.2
	bright := Render(s, 32, 32, 0)
	require.Greater(t, bright.At(0, 0)[0], plain.At(0, 0)[0], "brighter light, brighter table")
}

func TestTabletopValidation(t *testing.T) {
	err := Tabletop{Blocks: 4, Pads: 4, Chain: 2, Light: 1, Noise: -1}.Validate()
	require.ErrorContains(t, err, "pads (4) must outnumber the blocks (4) in a chain")
	require.ErrorContains(t, err, "light (1) must be in [0, 1)")
	require.ErrorContains(t, err, "noise (-1) must be >= 0")
	require.ErrorContains(t, Tabletop{Blocks: 1, Pads: 1}.Validate(), "chain (0) must be in [1, 100] instructions")
	require.ErrorContains(t, Tabletop{Blocks: 1, Pads: 2, Chain: 1_000_000_000}.Validate(), "chain (1000000000) must be in [1, 100] instructions")
	require.ErrorContains(t, Tabletop{Blocks: 1, Chain: 1}.Validate(), "pads (0) must be >= 1")
	require.ErrorContains(t, Tabletop{Blocks: 4, Pads: 5, Chain: 1}.Validate(), "at most 8")
	require.ErrorContains(t, Tabletop{Blocks: 1, Pads: 2, Chain: 1, Colours: 2}.Validate(), "at most 2")
	require.ErrorContains(t, Tabletop{Blocks: 1, Pads: 2, Chain: 1, Colours: 9}.Validate(), "colours (9) must be in [0, 8]")
	// One instruction needs no spare pad: no block starts on one.
	require.NoError(t, Tabletop{Blocks: 2, Pads: 2, Chain: 1}.Validate())
	_, err = Episode(1, tabletopConfig(Tabletop{Blocks: 2, Pads: 2, Chain: 2}))
	require.ErrorContains(t, err, "scene config")
}

// A scene drawn from the one-block scene's six colours uses no other, and with one block and one
// pad it is that scene laid out the tabletop way.
func TestTabletopColours(t *testing.T) {
	for seed := range int64(50) {
		s := ResetTabletop(seed, Tabletop{Blocks: 1, Pads: 2, Chain: 1, Colours: singleTaskColours})
		require.Len(t, s.Blocks, 1)
		require.Len(t, s.Pads, 2)
		for _, c := range []Colour{s.Blocks[0].Colour, s.Pads[0].Colour, s.Pads[1].Colour} {
			require.LessOrEqual(t, int(c), singleTaskColours, "seed %d", seed)
		}
	}
	// The default palette draws as before Colours existed.
	require.Equal(t, ResetTabletop(3, DefaultTabletop()), ResetTabletop(3, Tabletop{Blocks: 3, Pads: 4, Chain: 1, Light: 0.25, Noise: 4, Colours: numColours}))
}
