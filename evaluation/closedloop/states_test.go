package closedloop

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/gripper"
	"dysl_vla/scene"
	"dysl_vla/skipping"
)

// Ctrl-C during train dagger: the episode being played finishes, and the states of the episodes
// played are written, as Visit of those seeds alone returns them.
func TestCollectStatesStoppedWritesTheEpisodesPlayed(t *testing.T) {
	sc := scene.DefaultConfig()
	sc.MaxSteps = 10
	ctx, cancel := context.WithCancelCause(t.Context())
	cfg := Config{Engine: newEngine(t, constantX), Skipping: skipping.DefaultConfig(), Scene: sc, Latency: FixedLatency(0),
		OnFrame: func(scene.State) { cancel(errors.New("interrupt signal received")) }}
	path := filepath.Join(t.TempDir(), "states.json")
	v, err := CollectStates(ctx, cfg, []int64{1, 2, 3}, KeepAll, path)
	require.ErrorContains(t, err, "stopped after 1 of 3 episodes: interrupt signal received; "+path+" holds their")
	require.Equal(t, 1, v.Episodes)

	cfg.OnFrame = nil
	want, _, err := Visit(t.Context(), cfg, []int64{1})
	require.NoError(t, err)
	got, err := ReadStates(path)
	require.NoError(t, err)
	require.Equal(t, want, got)

	// Stopped before the first episode: the file of an earlier run is left as it was.
	cancel(errors.New("interrupt signal received"))
	_, err = CollectStates(ctx, cfg, []int64{1, 2, 3}, KeepAll, path)
	require.ErrorContains(t, err, "stopped after 0 of 3 episodes")
	again, err := ReadStates(path)
	require.NoError(t, err)
	require.Equal(t, got, again)
}

// The states collected are those Visit returns, and ReadStates gives them back as they were.
func TestCollectStatesWritesWhatVisitCaptured(t *testing.T) {
	sc := scene.DefaultConfig()
	sc.MaxSteps = 10
	cfg := Config{Engine: newEngine(t, constantX), Skipping: skipping.DefaultConfig(), Scene: sc, Latency: FixedLatency(0)}
	path := filepath.Join(t.TempDir(), "states.json")
	v, err := CollectStates(t.Context(), cfg, []int64{1, 2}, KeepAll, path)
	require.NoError(t, err)
	want, episodes, err := Visit(t.Context(), cfg, []int64{1, 2})
	require.NoError(t, err)
	miss := 100 * min(episodes[0].Nearest[0], episodes[1].Nearest[0]) // the lower median of two
	gap := 100 * min(episodes[0].Gap[0], episodes[1].Gap[0])
	headway := 100 * min(episodes[0].Headway[0], episodes[1].Headway[0])
	var legs Legs
	legs.add(episodes[0].Legs)
	legs.add(episodes[1].Legs)
	// The arm moving 1 cm a step in x at the start height is never low beside the block.
	require.Zero(t, v.Beside)
	require.True(t, math.IsNaN(v.AwayShare) && math.IsNaN(v.AwayCosine), "no share of nothing")
	v.AwayShare, v.AwayCosine = 0, 0
	// Its gripper never closes, and no block is ever held.
	require.True(t, math.IsNaN(v.Misses.ClosedOffCm), "no offset of no close")
	v.Misses.ClosedOffCm = 0
	misses := GraspMisses{Instructions: 2, NeverClosed: 2}
	c := v.Carries
	require.True(t, math.IsNaN(c.OverPadCm) && math.IsNaN(c.MinOverPadCm) && math.IsNaN(c.MaxOverPadCm), "no offsets of no carries")
	v.Carries = HeldCarries{Instructions: c.Instructions, OverPad: c.OverPad}
	// Nor does the tip go below the descent height.
	d := v.Descents
	require.True(t, math.IsNaN(d.GraspedCm) && math.IsNaN(d.MissedCm), "no offsets of no descents")
	v.Descents = Descents{Grasped: d.Grasped, Missed: d.Missed}
	layers := float64(episodes[0].LayersExecuted+episodes[1].LayersExecuted) / float64(episodes[0].Inferences+episodes[1].Inferences)
	require.Equal(t, Visited{States: 20, Episodes: 2, Completed: 0, Tasks: 2, MissCm: miss, GapCm: gap, HeadwayCm: headway, Legs: legs,
		Layers: layers, Misses: misses, Carries: HeldCarries{}}, v)
	require.Greater(t, v.Layers, 0.0)
	require.Equal(t, 2, v.Legs.Attempts[LegApproach])
	require.Greater(t, miss, 100*scene.GraspReach)
	require.NotZero(t, headway, "10 steps of 1 cm in x change the distance to the block")

	got, err := ReadStates(path)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

// An episode whose instructions run to their step limit (a policy that never finishes) captures at
// most maxCaptures frames, whatever the camera rate and the chain: the bound the memory check uses.
func TestMaxCapturesBoundsAFailingEpisode(t *testing.T) {
	for _, tc := range []struct {
		hz    float64
		chain int
	}{{10, 1}, {2.5, 1}, {3, 1}, {2.5, 2}} {
		sc := scene.DefaultConfig()
		sc.MaxSteps = 10
		if tc.chain > 1 {
			sc.Tabletop = scene.DefaultTabletop()
			sc.Tabletop.Chain = tc.chain
		}
		cfg := Config{Engine: newEngine(t, constantX), Skipping: skipping.DefaultConfig(), Scene: sc, Latency: FixedLatency(0), CameraHz: tc.hz}
		states, episodes, err := Visit(t.Context(), cfg, []int64{1})
		require.NoError(t, err)
		require.Zero(t, episodes[0].Completed, "moving along x never completes a task")
		h, err := New(cfg)
		require.NoError(t, err)
		bound := h.maxCaptures(tc.chain)
		require.LessOrEqual(t, uint64(len(states)), bound, "%v Hz, chain %d", tc.hz, tc.chain)
		if tc.chain == 1 {
			// A chain ends at its first instruction out of time; its bound is that of a policy that
			// finishes each instruction but the last on its last step.
			require.GreaterOrEqual(t, uint64(len(states)), bound-1, "%v Hz: the bound is tight", tc.hz)
		}
	}
}

// A count of episodes whose states cannot fit is refused before the first is played, and an empty
// visit still writes a file ReadStates reads.
func TestVisitRefusesEpisodesThatCannotFitInMemory(t *testing.T) {
	sc := scene.DefaultConfig()
	sc.MaxSteps = scene.MaxStepLimit
	frames := 0
	cfg := Config{Engine: newEngine(t, constantX), Skipping: skipping.DefaultConfig(), Scene: sc, Latency: FixedLatency(0),
		OnFrame: func(scene.State) { frames++ }}
	_, err := CollectStates(t.Context(), cfg, make([]int64, 1_000_000), KeepAll, filepath.Join(t.TempDir(), "states.json"))
	require.ErrorContains(t, err, "closedloop: the states visited: 1000000 episodes at their step limit need about")
	require.ErrorContains(t, err, "play fewer episodes")
	require.Zero(t, frames)

	path := filepath.Join(t.TempDir(), "none.json")
	require.NoError(t, WriteStates(path, nil))
	got, err := ReadStates(path)
	require.NoError(t, err)
	require.Empty(t, got)
}

// States for the scripted expert to label are collected only from a policy of the scene's gripper
// convention, in which the expert labels them: another is refused before an episode is played, and
// no file is written.
func TestCollectStatesRefusesAnotherGripperConvention(t *testing.T) {
	sc := scene.DefaultConfig()
	sc.MaxSteps = 10
	frames := 0
	cfg := Config{Engine: newEngine(t, constantX), Skipping: skipping.DefaultConfig(), Scene: sc, Latency: FixedLatency(0),
		OnFrame: func(scene.State) { frames++ }, Gripper: gripper.Convention{Open: 0, Closed: 1}}
	path := filepath.Join(t.TempDir(), "states.json")
	_, err := CollectStates(t.Context(), cfg, []int64{1}, KeepAll, path)
	require.EqualError(t, err, "closedloop: the policy's gripper convention (gripper_open 0, gripper_closed 1) is not the scene's (-1 open, 1 closed), "+
		"in which the scripted expert labels the states visited: trained on them, the policy would learn the scene's convention in place of its own")
	require.Zero(t, frames)
	require.NoFileExists(t, path)

	for _, c := range []gripper.Convention{{}, gripper.Default()} {
		cfg.Gripper = c
		_, err = CollectStates(t.Context(), cfg, []int64{1}, KeepAll, path)
		require.NoError(t, err, "%+v", c)
	}
}

func TestReadStatesNamesTheFileItCannotRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "states.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"not": "an array"}`), 0o644))
	_, err := ReadStates(path)
	require.ErrorContains(t, err, path+": expected a JSON array of scene states")
}

// A states file of another program, or an edited one, is refused with the state and the field that
// the scene cannot hold, before anything renders or steps it (which panicked on an empty block list).
func TestReadStatesRefusesStatesTheSceneCannotHold(t *testing.T) {
	path := filepath.Join(t.TempDir(), "states.json")
	good := scene.Reset(1)
	good.Blocks = append(good.Blocks, scene.Block{Pos: scene.Vec3{X: -0.1, Z: scene.BlockHalfSize}, Colour: scene.Pink})
	for _, tc := range []struct {
		json string // the second state, after a good one
		want string
	}{
		{`{}`, "state 1: Blocks: expected at least one block"},
		{`{"Blocks":[{"Colour":1,"Pos":{"Z":0.02}}]}`, "state 1: Pads: expected at least one pad"},
		{`{"Blocks":[{"Colour":1,"Pos":{"Z":0.02}}],"Pads":[{"Colour":2}],"Task":{"Block":5}}`, "state 1: Task.Block (5): expected the index of one of its 1 blocks, 0..0"},
		{`{"Blocks":[{"Colour":1,"Pos":{"Z":0.02}}],"Pads":[{"Colour":2}],"Task":{"Pad":-1}}`, "state 1: Task.Pad (-1): expected the index of one of its 1 pads, 0..0"},
		{`{"Blocks":[{"Colour":1,"Pos":{"Z":0.02}}],"Pads":[{"Colour":2}],"Held":true,"HeldBlock":3}`, "state 1: HeldBlock (3): expected, with Held, the index of one of its 1 blocks"},
		{`{"Blocks":[{"Colour":1,"Pos":{"Z":0.02}}],"Pads":[{"Colour":2}]}`, "state 1: Gripper (0): expected -1 (open) or 1 (closed)"},
		{`{"Blocks":[{"Colour":1,"Pos":{"Z":0.02}}],"Pads":[{"Colour":2}],"Gripper":-1}`, "state 1: EE ({0 0 0}): expected a point of the arm's workspace"},
		{`{"Blocks":[{"Colour":1,"Pos":{"Z":0.02}}],"Pads":[{"Colour":2}],"Gripper":-1,"EE":{"X":25,"Z":0.2}}`, "state 1: EE ({25 0 0.2}): expected a point of the arm's workspace"},
		{`{"Blocks":[{"Colour":99,"Pos":{"Z":0.02}}],"Pads":[{"Colour":2}],"Gripper":-1,"EE":{"Z":0.2}}`, "state 1: Blocks[0].Colour (99): expected a colour 1..8 (red to pink)"},
		{`{"Blocks":[{"Colour":1,"Pos":{"Z":0.02}}],"Pads":[{"Colour":0}],"Gripper":-1,"EE":{"Z":0.2}}`, "state 1: Pads[0].Colour (0): expected a colour 1..8 (red to pink)"},
		{`{"Blocks":[{"Colour":1,"Pos":{"X":0.5,"Z":0.02}}],"Pads":[{"Colour":2}],"Gripper":-1,"EE":{"Z":0.2}}`, "state 1: Blocks[0].Pos ({0.5 0 0.02}): expected a point of the arm's workspace"},
		{`{"Blocks":[{"Colour":1,"Pos":{"Z":0.02}}],"Pads":[{"Colour":2,"Pos":{"Y":-1}}],"Gripper":-1,"EE":{"Z":0.2}}`, "state 1: Pads[0].Pos ({0 -1 0}): expected x and y within 0.3 m of the table centre"},
		{`{"Blocks":[{"Colour":1,"Pos":{"Z":0.02}}],"Pads":[{"Colour":2}],"Gripper":-1,"EE":{"Z":0.2},"Light":-1}`, "state 1: Light (-1): expected a share of the normal light in (-1, 1)"},
		{`{"Blocks":[{"Colour":1,"Pos":{"Z":0.02}}],"Pads":[{"Colour":2}],"Gripper":-1,"EE":{"Z":0.2},"Noise":-2}`, "state 1: Noise (-2): expected a standard deviation >= 0"},
		{`{"Blocks":[{"Colour":1,"Pos":{"Z":0.02}}],"Pads":[{"Colour":2}],"Gripper":-1,"EE":{"Z":0.2},"Tick":-2}`, "state 1: Still (0), Tick (-2): expected counts of steps >= 0"},
	} {
		require.NoError(t, WriteStates(path, []scene.State{good}))
		body, err := os.ReadFile(path)
		require.NoError(t, err)
		body = append(append(body[:len(body)-1], ','), tc.json+"]"...)
		require.NoError(t, os.WriteFile(path, body, 0o644))
		_, err = ReadStates(path)
		require.ErrorContains(t, err, path+": "+tc.want, tc.json)
	}
	// The last case less its fault is a state the scene can hold, and so is a block held in the air.
	lifted := good
	lifted.EE.Z, lifted.Gripper, lifted.Held, lifted.HeldBlock = 0.3, scene.GripperClosed, true, 1
	lifted.Blocks = slices.Clone(good.Blocks)
	lifted.Blocks[1].Pos = lifted.EE
	require.NoError(t, WriteStates(path, []scene.State{good, lifted}))
	got, err := ReadStates(path)
	require.NoError(t, err)
	require.Equal(t, []scene.State{good, lifted}, got)
	require.NoError(t, os.WriteFile(path, []byte(`[{"Blocks":[{"Colour":1,"Pos":{"Z":0.02}}],"Pads":[{"Colour":2}],"Gripper":-1,"EE":{"Z":0.2}}]`), 0o644))
	_, err = ReadStates(path)
	require.NoError(t, err)
}

// KeepApproach drops what follows an empty grasp, instruction by instruction, and keeps a grasp that held.
func TestApproachStatesEndAtTheFirstEmptyGrasp(t *testing.T) {
	at := func(seed int64, block int, gripper float64, held bool) scene.State {
		s := scene.Reset(seed)
		s.Task.Block, s.Gripper, s.Held, s.HeldBlock = block, gripper, held, block
		return s
	}
	open, shut := scene.GripperOpen, scene.GripperClosed
	states := []scene.State{
		at(1, 0, open, false), at(1, 0, open, false), at(1, 0, shut, false), at(1, 0, open, false), // missed at the third
		at(1, 1, open, false), at(1, 1, shut, true), at(1, 1, shut, true), // the next instruction: grasped
		at(2, 0, shut, false), at(2, 0, open, false), // another episode, empty from the start
		at(3, 0, open, false),
	}
	got := approachStates(states)
	require.Equal(t, []scene.State{states[0], states[1], states[4], states[5], states[6], states[9]}, got)
}

// Low beside the block, a move towards it and one away are told apart; states elsewhere, a still arm,
// a closed gripper and the step into another episode are not counted.
func TestMovesBesideTheBlock(t *testing.T) {
	base := scene.Reset(1)
	b := base.Object().Pos
	at := func(seed int64, dx, z, gripper float64) scene.State {
		s := base
		s.Seed, s.EE, s.Gripper = seed, scene.Vec3{X: b.X + dx, Y: b.Y, Z: z}, gripper
		return s
	}
	open, shut := scene.GripperOpen, scene.GripperClosed
	states := []scene.State{
		at(1, 0.03, 0.03, open), at(1, 0.02, 0.03, open), // towards: cosine 1
		at(1, 0.02, 0.03, open), at(1, 0.03, 0.02, open), // away: cosine -1 (the height does not count)
		at(1, 0.03, 0.03, open),                          // still
		at(1, 0.03, 0.10, open), at(1, 0.01, 0.10, open), // too high
		at(1, 0.03, 0.03, shut), at(1, 0.04, 0.03, shut), // closed
		at(1, 0.03, 0.03, open), at(2, 0.04, 0.03, open), // the next capture is another episode
	}
	beside, away, cosines := movesBesideTheBlock(states)
	require.Equal(t, 2, beside)
	require.Equal(t, 1, away)
	require.InDeltaSlice(t, []float64{1, -1}, cosines, 1e-9)
}

// besideSeedOne returns states of seed 1's scene as another episode seed's: the tip dx metres from the
// named block in x at height z, with the gripper and the held flag given.
func besideSeedOne() func(seed int64, dx, z, gripper float64, held bool) scene.State {
	base := scene.Reset(1)
	b := base.Object().Pos
	return func(seed int64, dx, z, gripper float64, held bool) scene.State {
		s := base
		s.Seed, s.EE, s.Gripper, s.Held, s.HeldBlock = seed, scene.Vec3{X: b.X + dx, Y: b.Y, Z: z}, gripper, held, s.Task.Block
		return s
	}
}

// Instructions whose block was never held are sorted by what their frames showed before the first
// close: in reach with the gripper open (closed too late), closed off the block, never closed.
func TestMissedGraspsSortsTheInstructionsNeverHeld(t *testing.T) {
	at := besideSeedOne()
	open, shut := scene.GripperOpen, scene.GripperClosed
	low := scene.GraspHeight
	states := []scene.State{
		at(1, 0.05, 0.10, open, false), at(1, 0.005, low, open, false), at(1, 0.005, 0.05, shut, false), // in reach, then closed rising
		at(2, 0.05, low, open, false), at(2, 0.02, low, shut, false), at(2, 0.005, low, open, false), // closed 2 cm off first
		at(3, 0.04, low, open, false), at(3, 0.015, low, shut, false), // closed off, 4 cm from the block the frame before
		at(4, 0.10, 0.15, open, false),                            // never closed
		at(5, 0.005, low, open, false), at(5, 0, low, shut, true), // held: not a miss
	}
	m := missedGrasps(states)
	require.InDelta(t, 4, m.ClosedOffCm, 1e-9, "the lower median of 5 and 4 cm")
	m.ClosedOffCm = 0
	require.Equal(t, GraspMisses{Instructions: 4, InReach: 1, ClosedOff: 2, NeverClosed: 1}, m)
	require.True(t, states[1].CanGrasp(), "the fixture's in-reach frame")
}

// Each instruction's descent is measured at its first frame below DescentHeight with the gripper open,
// and sorted by whether the block was held afterwards; frames above it, closed or carrying are not
// starts, and an instruction that never went below has none.
func TestDescentStartsSortByTheGrasp(t *testing.T) {
	at := besideSeedOne()
	open, shut := scene.GripperOpen, scene.GripperClosed
	low := scene.GraspHeight
	states := []scene.State{
		at(1, 0.05, 0.15, open, false), at(1, 0.004, 0.08, open, false), at(1, 0, low, shut, true), // down 0.4 cm off, held
		at(2, 0.01, 0.12, open, false), at(2, 0.002, 0.09, open, false), at(2, 0, low, shut, true), // 0.2 cm, held
		at(3, 0.03, 0.09, open, false), at(3, 0.02, low, shut, false), // down 3 cm off, closed on nothing
		at(4, 0.10, 0.15, open, false),                                 // never below
		at(5, 0.06, 0.05, shut, false), at(5, 0.02, 0.04, open, false), // closed first: the start is the open frame, 2 cm
	}
	placed := at(6, 0, 0.05, open, false) // the retreat after a release is no descent
	placed.Blocks = slices.Clone(placed.Blocks)
	placed.Blocks[placed.Task.Block].Pos = placed.Goal().Pos
	placed.Blocks[placed.Task.Block].Pos.Z = scene.BlockHalfSize
	require.True(t, placed.Placed())
	require.False(t, Descending(placed))
	require.True(t, Descending(states[1]))
	d := measureDescents(append(states, placed))
	require.Equal(t, 2, d.Grasped)
	require.Equal(t, 2, d.Missed)
	require.InDelta(t, 0.2, d.GraspedCm, 1e-9, "the lower median of 0.4 and 0.2 cm")
	require.InDelta(t, 0.4, d.GraspedP90Cm, 1e-9)
	require.InDelta(t, 2, d.MissedCm, 1e-9)
	require.InDelta(t, 3, d.MissedP90Cm, 1e-9)
	s := states[0]
	require.Equal(t, []ColourPairMisses{{Block: s.Object().Colour, Pad: s.Goal().Colour, Missed: 2, Descents: 4}}, d.MissedPairs)
	starts := DescentStarts(states)
	require.Len(t, starts, 4)
	require.Equal(t, DescentStart{1, true}, starts[0])
	require.Equal(t, DescentStart{6, false}, starts[2])

	// Misses are sorted by pair, most first: a second pair with three descents, all missed, leads.
	other := at(7, 0.03, 0.09, open, false)
	other.Pads = slices.Clone(other.Pads)
	other.Pads[other.Task.Pad].Colour = s.Object().Colour%scene.NumColours + 1
	if other.Goal().Colour == s.Goal().Colour {
		other.Pads[other.Task.Pad].Colour = other.Goal().Colour%scene.NumColours + 1
	}
	again, third := other, other
	again.Seed, third.Seed = 8, 9
	d = measureDescents(append(states, other, again, third))
	require.Equal(t, []ColourPairMisses{{Block: s.Object().Colour, Pad: other.Goal().Colour, Missed: 3, Descents: 3},
		{Block: s.Object().Colour, Pad: s.Goal().Colour, Missed: 2, Descents: 4}}, d.MissedPairs)
}

// Episodes that ended at the step limit with the named block held are counted, and those over the
// named pad measured from its centre; a completed episode, a block let go and one never held are not.
func TestHeldCarriesMeasuresTheCarriesOverThePad(t *testing.T) {
	base := scene.Reset(1)
	pad := base.Goal().Pos
	ended := func(dx float64, held bool, completed, tasks int) Episode {
		s := base
		s.Held, s.HeldBlock = held, s.Task.Block
		s.EE = scene.Vec3{X: pad.X + dx, Y: pad.Y, Z: 0.06}
		s.Blocks = slices.Clone(base.Blocks)
		s.Blocks[s.Task.Block].Pos = scene.Vec3{X: s.EE.X, Y: s.EE.Y, Z: s.EE.Z - scene.BlockHalfSize}
		return Episode{Tasks: tasks, Completed: completed, Final: s}
	}
	episodes := []Episode{
		ended(0.03, true, 0, 1),  // held 3 cm from the pad's centre at the step limit
		ended(0.01, true, 2, 5),  // 1 cm, the third instruction of a chain
		ended(0.15, true, 0, 1),  // held far from the pad
		ended(0.02, false, 0, 1), // let go off the pad
		ended(0.00, true, 1, 1),  // completed: not a failure's world
		ended(0.02, true, 0, 1),  // 2 cm
	}
	c := heldCarries(episodes)
	require.Equal(t, 4, c.Instructions)
	require.Equal(t, 3, c.OverPad)
	require.InDelta(t, 2, c.OverPadCm, 1e-9)
	require.InDelta(t, 1, c.MinOverPadCm, 1e-9)
	require.InDelta(t, 3, c.MaxOverPadCm, 1e-9)
}

// The descents that did not hold are counted by the pad's colour, and by where their offset from the
// block points: along the block-to-pad line (within 30 degrees), towards the pad or away, or across.
func TestDescentsSortTheMissesByPadAndDirection(t *testing.T) {
	base := scene.Reset(1)
	b, pad := base.Object().Pos, base.Goal().Pos
	toPad := pad.Sub(b)
	toPad.Z = 0
	toPad = toPad.Scale(1 / toPad.Norm())
	across := scene.Vec3{X: -toPad.Y, Y: toPad.X}
	descent := func(seed int64, offset scene.Vec3, held bool) []scene.State {
		s := base
		s.Seed, s.Gripper, s.HeldBlock = seed, scene.GripperOpen, s.Task.Block
		s.EE = b.Add(offset.Scale(0.02))
		s.EE.Z = 0.08
		grasp := s
		grasp.EE, grasp.EE.Z, grasp.Gripper, grasp.Held = b, scene.GraspHeight, scene.GripperClosed, held
		return []scene.State{s, grasp}
	}
	var states []scene.State
	for seed, offset := range []scene.Vec3{toPad, toPad.Scale(-1), toPad.Scale(-1), across, toPad.Add(across.Scale(0.5))} {
		states = append(states, descent(int64(seed+1), offset, false)...)
	}
	states = append(states, descent(9, toPad, true)...)
	d := measureDescents(states)
	require.Equal(t, 5, d.Missed)
	require.Equal(t, 2, d.MissedTowardsPad, "27 degrees off the line counts as along it; the one across does not")
	require.Equal(t, 2, d.MissedAwayFromPad)
	require.Equal(t, []ColourMisses{{Colour: base.Goal().Colour, Missed: 5, Descents: 6}}, d.MissedPads)
}

// On the way down (5 cm to the hover height), open, 1 to 5 cm from the block, each capture is followed
// to the next of its instruction: how far the tip moved on the table and down. Captures above the hover
// height or at the bottom, too far or too near, closed, or last in their instruction are not moves.
func TestDescentsMeasureTheMovesBelowHover(t *testing.T) {
	at := besideSeedOne()
	open, shut := scene.GripperOpen, scene.GripperClosed
	states := []scene.State{
		at(1, 0.03, 0.12, open, false), at(1, 0.0295, 0.10, open, false), at(1, 0.0293, 0.07, open, false), // two moves: 0.5 and 0.2 mm, 2 and 3 cm down
		at(2, 0.03, 0.16, open, false), at(2, 0.03, 0.12, open, false), // above hover: not a move
		at(3, 0.06, 0.12, open, false), at(3, 0.05, 0.10, open, false), // 6 cm off: not a move
		at(4, 0.03, 0.12, shut, false), at(4, 0.02, 0.10, shut, false), // closed: not a move
		at(5, 0.005, 0.12, open, false), at(5, 0.004, 0.10, open, false), // in reach: not a move
		at(6, 0.03, 0.04, open, false), at(6, 0.02, 0.04, open, false), // at the bottom: not a move
		at(7, 0.03, 0.12, open, false), // its instruction's last capture
	}
	d := measureDescents(states)
	require.Equal(t, 2, d.Moves)
	require.InDelta(t, 0.2, d.SidewaysMm, 1e-6, "the lower median of 0.5 and 0.2 mm")
	require.InDelta(t, 2, d.DownCm, 1e-6)
}
