package scene

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEpisodeIsDeterministicBySeed(t *testing.T) {
	a, err := Episode(7, DefaultConfig())
	require.NoError(t, err)
	b, err := Episode(7, DefaultConfig())
	require.NoError(t, err)
	require.Equal(t, a, b)

	c, err := Episode(8, DefaultConfig())
	require.NoError(t, err)
	require.NotEqual(t, a[0].State.Object(), c[0].State.Object(), "another seed, another scene")
}

func TestEpisodePhaseStructure(t *testing.T) {
	want := []Phase{Approach, Descend, Stop, Grasp, Lift, Transport, Place, Stop, Release, Retreat}
	for seed := range int64(20) {
		t.Run(Instruction(Reset(seed)), func(t *testing.T) {
			steps, err := Episode(seed, DefaultConfig())
			require.NoError(t, err)
			require.Less(t, len(steps), DefaultConfig().MaxSteps, "the expert finishes the task")

			var phases []Phase
			for _, st := range steps {
				if len(phases) == 0 || phases[len(phases)-1] != st.Phase {
					phases = append(phases, st.Phase)
				}
			}
			require.Equal(t, want, phases)

			final := Step(steps[len(steps)-1].State, steps[len(steps)-1].Action)
			require.True(t, final.Placed(), "the block ends on the pad")

			for i := 1; i < len(steps); i++ {
				prev, cur := steps[i-1], steps[i]
				flipped := prev.Action[6] != cur.Action[6]
				require.Equal(t, cur.Phase == Grasp || cur.Phase == Release, flipped,
					"step %d (%v): the gripper command flips exactly at grasp and release", i, cur.Phase)
				if cur.Phase == Grasp {
					require.Equal(t, GripperClosed, cur.Action[6])
					require.Equal(t, Vec3{}, cur.Action.Motion(), "the arm is still while grasping")
				}
				if cur.Phase == Release {
					require.Equal(t, GripperOpen, cur.Action[6])
				}
				if (cur.Phase == Approach || cur.Phase == Transport) && cur.Phase == prev.Phase {
					change := cur.Action.Motion().Sub(prev.Action.Motion()).Norm()
					require.LessOrEqual(t, change, 0.25*MaxStep, "step %d: free-space motion is smooth", i)
				}
				require.LessOrEqual(t, cur.Action.Motion().Norm(), MaxStep+1e-12, "speed limit")
			}
		})
	}
}

func TestChunkIsTheExpertsFuture(t *testing.T) {
	cfg := DefaultConfig()
	steps, err := Episode(3, cfg)
	require.NoError(t, err)
	for i, st := range steps {
		require.Len(t, st.Chunk, cfg.ChunkSize)
		require.Equal(t, st.Action, st.Chunk[0])
		// Along the expert's own trajectory, the chunk is the next K actions taken.
		for k := 1; k < cfg.ChunkSize && i+k < len(steps); k++ {
			require.Equal(t, steps[i+k].Action, st.Chunk[k], "step %d, chunk entry %d", i, k)
		}
	}
}

func TestInstructionNamesTheColours(t *testing.T) {
	seen := map[string]bool{}
	for seed := range int64(40) {
		s := Reset(seed)
		require.NotEqual(t, s.Object().Colour, s.Goal().Colour)
		text := Instruction(s)
		require.Contains(t, text, s.Object().Colour.String()+" block")
		require.Contains(t, text, s.Goal().Colour.String()+" pad")
		seen[strings.Fields(text)[0]] = true
	}
	require.Greater(t, len(seen), 1, "instructions vary in wording")
}

func TestExpertRecoversFromAnEmptyClosedGripper(t *testing.T) {
	s := Reset(1)
	s.Gripper = GripperClosed
	a, phase := Expert(s)
	require.Equal(t, Approach, phase)
	require.Equal(t, GripperOpen, a[6])
	require.False(t, Step(s, Action{6: GripperClosed}).Held, "closing far from the block grasps nothing")
}

func TestExpertRecoversFromALowMiss(t *testing.T) {
	low := func(dx float64) State {
		s := Reset(1)
		b := s.Object()
		s.EE = Vec3{b.Pos.X + dx, b.Pos.Y, GraspHeight + 0.005}
		s.Yaw = b.Yaw + 0.2
		return s
	}
	// Within grasp reach: down onto the block while aligning, and grasped, never rising towards hover.
	s := low(0.008)
	first, _ := Expert(s)
	require.Less(t, first[2], 0.0, "down at once, turning on the way")
	for range 40 {
		a, _ := Expert(s)
		s = Step(s, a)
		require.Less(t, s.EE.Z, GraspHeight+0.006, "a near miss is mended without rising")
		if s.Held {
			break
		}
	}
	require.True(t, s.HoldsObject(), "the expert grasps after a near miss")
	require.InDelta(t, 0, angleBetween(s.Yaw, s.Object().Yaw), 1e-9, "turned to the block before closing")

	// Carrying the block low, within the pad's tolerance: aligned over the pad and released there.
	s.EE = s.EE.Add(Vec3{X: s.Goal().Pos.X - s.EE.X + 0.007, Y: s.Goal().Pos.Y - s.EE.Y})
	for range 40 {
		a, _ := Expert(s)
		s = Step(s, a)
		require.Less(t, s.EE.Z, GraspHeight+0.006, "a near miss over the pad is mended without rising")
		if !s.Held {
			break
		}
	}
	require.True(t, s.Succeeded(), "released on the pad after a near miss")

	// Beyond grasp reach and beside the block: straight up until clear of its top, never sweeping
	// through it, then over it at that height and down; never back to hover.
	s = low(0.03)
	a, phase := Expert(s)
	require.Equal(t, Approach, phase)
	require.Zero(t, a[0])
	require.Zero(t, a[1])
	require.Greater(t, a[2], 0.0)
	for range 60 {
		a, _ := Expert(s)
		if s.EE.Z < clearHeight-1e-9 && s.EE.HorizontalTo(s.Object().Pos) > GraspReach {
			require.Zero(t, a[0], "no sideways motion below the block's top, beside it")
		}
		s = Step(s, a)
		require.LessOrEqual(t, s.EE.Z, clearHeight+1e-9)
		if s.Held {
			break
		}
	}
	require.True(t, s.HoldsObject(), "the expert grasps after a miss beside the block")

	// Off to one side at mid height: over the block at that height.
	s = low(0.05)
	s.EE.Z = 0.10
	a, _ = Expert(s)
	require.Zero(t, a[2], "no rising from a descent that set off early")
	require.Less(t, a[0], 0.0, "towards the block")
}

func TestRender(t *testing.T) {
	s := Reset(5)
	t.Run("size and determinism", func(t *testing.T) {
		im := Render(s, 40, 24, 2)
		require.Equal(t, 40, im.Width)
		require.Equal(t, 24, im.Height)
		require.Len(t, im.RGB, 40*24*3)
		require.Equal(t, im, Render(s, 40, 24, 2))
		next := s
		next.Tick++
		require.NotEqual(t, im.RGB, Render(next, 40, 24, 2).RGB, "noise differs per step")
	})
	t.Run("block and pad are drawn in their colours", func(t *testing.T) {
		const size = 64
		im := Render(s, size, size, 0)
		pixelOf := func(p Vec3) [3]byte {
			r := int((TableHalfSize - p.X) / (2 * TableHalfSize) * size)
			c := int((TableHalfSize - p.Y) / (2 * TableHalfSize) * size)
			return im.At(r, c)
		}
		require.Equal(t, colourRGB[s.Object().Colour], pixelOf(s.Object().Pos))
		require.Equal(t, colourRGB[s.Goal().Colour], pixelOf(s.Goal().Pos))
		require.Equal(t, tableRGB, im.At(0, 0))
	})
	t.Run("ImagePoint is the centroid of an object's pixels", func(t *testing.T) {
		const size = 64
		for _, seed := range []int64{5, 6, 7} {
			s := Reset(seed)
			im := Render(s, size, size, 0)
			for _, object := range []struct {
				pos    Vec3
				colour Colour
			}{{s.Object().Pos, s.Object().Colour}, {s.Goal().Pos, s.Goal().Colour}} {
				var su, sv, n float64
				for r := range size {
					for c := range size {
						if im.At(r, c) == colourRGB[object.colour] {
							su, sv, n = su+(2*float64(c)+1)/size-1, sv+(2*float64(r)+1)/size-1, n+1
						}
					}
				}
				require.Positive(t, n)
				u, v := ImagePoint(object.pos)
				require.InDelta(t, u, su/n, 1.5/size, "seed %d, %v: u", seed, object.colour)
				require.InDelta(t, v, sv/n, 1.5/size, "seed %d, %v: v", seed, object.colour)
			}
		}
	})
	t.Run("closing the gripper changes the frame", func(t *testing.T) {
		closed := s
		closed.Gripper = GripperClosed
		require.NotEqual(t, Render(s, 32, 32, 0).RGB, Render(closed, 32, 32, 0).RGB)
	})
}

func TestSeedsThatWouldWrapAreRefused(t *testing.T) {
	require.NoError(t, CheckSeeds("seed", math.MaxInt64, 1))
	require.NoError(t, CheckSeeds("seed", math.MaxInt64-9, 10))
	require.EqualError(t, CheckSeeds("--seed", math.MaxInt64-8, 10), "--seed (9223372036854775799): 10 episodes from it would pass the largest seed, 9223372036854775807")
	require.NoError(t, CheckSeeds("seed", math.MinInt64, 10))
}

func TestConfigValidation(t *testing.T) {
	_, err := Episode(1, Config{Width: 4, ChunkSize: -1, CameraNoise: math.NaN()})
	require.ErrorContains(t, err, "width (4) must be in [8, 4096] pixels")
	require.ErrorContains(t, err, "chunk size (-1) must be in [1, 1024] steps")
	require.ErrorContains(t, err, "camera noise (NaN) must be in [0, 255] pixel units")
	_, err = Episode(1, Config{CameraNoise: math.Inf(1)})
	require.ErrorContains(t, err, "camera noise (+Inf) must be in [0, 255] pixel units")
	_, err = Episode(1, Config{MaxSteps: 1_000_000_000})
	require.ErrorContains(t, err, "max steps (1000000000) must be in [1, 100000] per instruction")
	_, err = Episode(1, Config{ChunkSize: 1_000_000_000})
	require.ErrorContains(t, err, "chunk size (1000000000) must be in [1, 1024] steps")
	_, err = Episode(1, Config{StartSpread: 0.4})
	require.ErrorContains(t, err, "start spread (0.4 m) must be in [0, 0.3] (the table's half size)")

	var cfg Config
	cfg.EnsureDefaults()
	require.Equal(t, 64, cfg.Width)
	require.Equal(t, 8, cfg.ChunkSize)
	require.Zero(t, cfg.CameraNoise, "zero noise stays zero: clean frames")
}

func TestPhaseNames(t *testing.T) {
	var names []string
	for p := Approach; p <= Done; p++ {
		names = append(names, p.String())
	}
	require.Equal(t, []string{"approach", "descend", "stop", "grasp", "lift", "transport", "place", "release", "retreat", "done"}, names)
	require.Equal(t, "Phase(0)", Phase(0).String())

}

// TestSingleTaskEpisodesUnchanged pins the single-task episodes (frames, instructions, expert chunks,
// phases) to the ones the committed reference model in models/reference was trained and evaluated on:
// the tabletop scenes were added beside them, and they must not move by one pixel.
func TestSingleTaskEpisodesUnchanged(t *testing.T) {
	h := sha256.New()
	for seed := range int64(12) {
		steps, err := Episode(seed, DefaultConfig())
		require.NoError(t, err)
		for _, st := range steps {
			h.Write(st.Image.RGB)
			h.Write([]byte(st.Instruction))
			for _, a := range st.Chunk {
				for _, v := range a {
					require.NoError(t, binary.Write(h, binary.LittleEndian, math.Float64bits(v)))
				}
			}
			h.Write([]byte{byte(st.Phase)})
		}
	}
	require.Equal(t, "7cc06ed02afc51049f571cf3919664ec55e86ccbd2f06385836bb3020166ab4f", hex.EncodeToString(h.Sum(nil)))
}

func TestStartSpreadMovesOnlyTheGripper(t *testing.T) {
	for _, tt := range []Tabletop{{}, DefaultTabletop()} {
		centred := DefaultConfig()
		centred.Tabletop = tt
		spread := centred
		spread.StartSpread = 0.15
		moved := 0
		for seed := range int64(20) {
			a, tasksA := Start(seed, centred)
			b, tasksB := Start(seed, spread)
			require.Equal(t, Vec3{Z: StartHeight}, a.EE, "no spread: the gripper starts above the table centre")
			require.Equal(t, StartHeight, b.EE.Z)
			require.LessOrEqual(t, math.Abs(b.EE.X), 0.15)
			require.LessOrEqual(t, math.Abs(b.EE.Y), 0.15)
			if b.EE != a.EE {
				moved++
			}
			again, _ := Start(seed, spread)
			require.Equal(t, b, again, "seed %d: the same start every time", seed)
			b.EE = a.EE
			require.Equal(t, a, b, "seed %d: blocks, pads, colours and lighting stay the seed's", seed)
			require.Equal(t, tasksA, tasksB)

			steps, err := Episode(seed, spread)
			require.NoError(t, err)
			last := steps[len(steps)-1]
			require.True(t, Step(last.State, last.Action).Succeeded(), "seed %d: the expert completes from a spread start", seed)
		}
		require.Equal(t, 20, moved, "every seed starts somewhere else")
	}
}

// DART demonstrations: the executed motion wanders, the labels stay the expert's, and every seed still
// completes.
func TestActionNoisePerturbsTheWayToTheBlock(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ActionNoise = 0.004
	offBelowHover := 0
	for seed := range int64(20) {
		steps, err := Episode(seed, cfg)
		require.NoError(t, err)
		last := steps[len(steps)-1]
		require.True(t, Step(last.State, last.Action).Succeeded(), "seed %d: the expert completes despite the noise", seed)
		for _, st := range steps {
			a, phase := Expert(st.State)
			require.Equal(t, a, st.Action, "seed %d tick %d: the label is the expert's action", seed, st.Tick)
			require.Equal(t, phase, st.Phase)
			s := st.State
			if !s.Held && s.EE.Z < HoverHeight-0.01 && s.EE.HorizontalTo(s.Object().Pos) > 0.003 {
				offBelowHover++
			}
		}
	}
	require.Greater(t, offBelowHover, 50, "the demonstrations show the arm off the block below hover")

	again, err := Episode(3, cfg)
	require.NoError(t, err)
	first, err := Episode(3, cfg)
	require.NoError(t, err)
	require.Equal(t, first, again, "deterministic per seed")
	plain, err := Episode(3, DefaultConfig())
	require.NoError(t, err)
	require.Equal(t, plain[0].State.Blocks, first[0].State.Blocks, "the scene stays the seed's")
	require.NotEqual(t, plain[5].State.EE, first[5].State.EE, "the path does not")

	cfg.ActionNoise = -1
	require.ErrorContains(t, cfg.Validate(), "action noise (-1 m) must be in [0, 0.02]")
}

// GraspOnReach closes where the committed expert still aligns and settles; its episodes complete
// every task as well, with the grasp straight after the descent.
func TestExpertGraspOnReach(t *testing.T) {
	o := ExpertOptions{GraspOnReach: true}
	s := Reset(1)
	b := s.Object()
	s.EE, s.Yaw = Vec3{b.Pos.X + 0.008, b.Pos.Y, GraspHeight + 0.005}, b.Yaw+0.2
	require.True(t, s.CanGrasp(), "the fixture is in grasp reach")
	a, phase := o.Next(s)
	require.Equal(t, Grasp, phase)
	require.Equal(t, GripperClosed, a[6])
	require.Equal(t, Vec3{}, a.Motion(), "closing in place")
	require.True(t, Step(s, a).HoldsObject())
	_, phase = Expert(s)
	require.Equal(t, Descend, phase, "the committed expert aligns first")

	cfg := DefaultConfig()
	cfg.Expert = o
	for seed := range int64(20) {
		steps, err := Episode(seed, cfg)
		require.NoError(t, err)
		require.Less(t, len(steps), cfg.MaxSteps, "seed %d: the expert finishes the task", seed)
		last := steps[len(steps)-1]
		require.True(t, Step(last.State, last.Action).Placed(), "seed %d: the block ends on the pad", seed)
		grasp := slices.IndexFunc(steps, func(st EpisodeStep) bool { return st.Phase == Grasp })
		require.Positive(t, grasp, "seed %d", seed)
		require.Equal(t, Descend, steps[grasp-1].Phase, "seed %d: no settle wait before the grasp", seed)
		require.Equal(t, o.Chunk(steps[0].State, cfg.ChunkSize), steps[0].Chunk, "seed %d: the labels are this expert's", seed)
	}
}

// Direct labels a policy's low near miss by moving in towards the block at its height, where the
// committed expert first rises clear of the block's top; its own episodes, from the committed start
// and from starts spread over the table, are the committed expert's.
func TestExpertDirect(t *testing.T) {
	o := ExpertOptions{Direct: true}
	s := Reset(1)
	b := s.Object().Pos
	s.EE = Vec3{b.X + 0.03, b.Y, GraspHeight + 0.01} // 3 cm beside the block, below its top
	a, phase := o.Next(s)
	require.Equal(t, Approach, phase)
	require.Less(t, a[0], 0.0, "towards the block")
	require.InDelta(t, 0, a[2], 1e-12, "level: below the cone, the height is kept")
	committed, _ := Expert(s)
	require.Greater(t, committed[2], 0.0, "the committed expert rises first")
	require.InDelta(t, 0, committed[0], 1e-12)

	s.EE = Vec3{b.X, b.Y - 0.02, 0.1} // above the cone: down it
	a, _ = o.Next(s)
	require.Greater(t, a[1], 0.0)
	require.Less(t, a[2], 0.0)

	for _, spread := range []float64{0, 0.15} {
		cfg := DefaultConfig()
		cfg.Expert, cfg.StartSpread = o, spread
		for seed := range int64(8) {
			steps, err := Episode(seed, cfg)
			require.NoError(t, err)
			cfg.Expert = ExpertOptions{}
			committed, err := Episode(seed, cfg)
			require.NoError(t, err)
			cfg.Expert = o
			require.Equal(t, committed, steps, "spread %v seed %d", spread, seed)
		}
	}
}

// TargetDistance measures from the named block until it is held, then from the named pad, horizontally.
func TestTargetDistanceFollowsTheTask(t *testing.T) {
	s := Reset(1)
	block, pad := s.Object().Pos, s.Goal().Pos
	s.EE = Vec3{X: block.X + 0.02, Y: block.Y, Z: block.Z + 0.3}
	require.InDelta(t, 0.02, s.TargetDistance(), 1e-12, "2 cm beside the block, whatever the height")
	s.Held, s.HeldBlock = true, s.Task.Block
	s.EE = Vec3{X: pad.X, Y: pad.Y - 0.03, Z: 0.2}
	require.InDelta(t, 0.03, s.TargetDistance(), 1e-12, "holding it: from the pad")
	s.HeldBlock = s.Task.Block + 1 // another block held: the named one is still the target
	require.InDelta(t, math.Hypot(pad.X-block.X, pad.Y-0.03-block.Y), s.TargetDistance(), 1e-12)
}

// A pad recolour paints only the pads drawn in its From colour, never in the block's colour or in
// From again, and leaves everything else the seed's; a bad one is refused.
func TestPadRecolourPaintsOnlyThatColour(t *testing.T) {
	plain := DefaultConfig()
	recoloured := plain
	var err error
	recoloured.PadRecolour, err = ParseRecolour("blue=red")
	require.NoError(t, err)
	require.NoError(t, recoloured.Validate())
	painted, redBlock := 0, 0
	for seed := range int64(200) {
		a, _ := Start(seed, plain)
		b, _ := Start(seed, recoloured)
		if a.Goal().Colour != Blue {
			require.Equal(t, a, b, "seed %d: not blue, not touched", seed)
			continue
		}
		painted++
		require.NotEqual(t, Blue, b.Goal().Colour)
		require.NotEqual(t, b.Object().Colour, b.Goal().Colour, "seed %d: the pad never takes the block's colour", seed)
		if a.Object().Colour == Red {
			redBlock++
		} else {
			require.Equal(t, Red, b.Goal().Colour)
		}
		b.Pads[0].Colour = Blue
		require.Equal(t, a, b, "seed %d: only the pad's colour changes", seed)
	}
	require.Greater(t, painted, 10)
	require.Greater(t, redBlock, 0, "the case of a red block beside a blue pad is seen")

	for _, bad := range []string{"blue", "blue=blue", "blue=navy", "cyan=red", "=red"} {
		_, err := ParseRecolour(bad)
		require.ErrorContains(t, err, "expected FROM=TO", bad)
	}
	same := plain
	same.PadRecolour = Recolour{From: Blue, To: Blue}
	require.ErrorContains(t, same.Validate(), "must map one single-task colour to another")
	recoloured.Tabletop = DefaultTabletop()
	require.ErrorContains(t, recoloured.Validate(), "in the single task only")
}

// A frame of another shape than square has square pixels, as a camera's: its centred square is the
// square frame of that size, pixel for pixel, and the columns beyond it show more table.
func TestRenderKeepsPixelsSquare(t *testing.T) {
	s := Reset(5)
	s.EE = Vec3{0.05, -0.03, 0.1}
	square := Render(s, 48, 48, 0)
	for _, size := range [][2]int{{64, 48}, {48, 80}} {
		w, h := size[0], size[1]
		im := Render(s, w, h, 0)
		x0, y0 := (w-48)/2, (h-48)/2
		for r := range 48 {
			got := im.RGB[3*((r+y0)*w+x0) : 3*((r+y0)*w+x0+48)]
			require.Equal(t, square.RGB[3*r*48:3*(r+1)*48], got, "%dx%d: row %d of the centred square", w, h, r)
		}
	}
}
