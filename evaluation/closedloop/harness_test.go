package closedloop

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/gripper"
	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
	"dysl_vla/policy/policytest"
	"dysl_vla/scene"
	"dysl_vla/skipping"
)

// actionStd is the normalization of the test bundle: the training's, so a unit of the model's output
// is a centimetre of motion.
var actionStd = []float64{0.01, 0.01, 0.01, 0.05, 0.05, 0.05, 1}

// testManifest is policytest's manifest shaped as the scene's policy: 64x64 frames, chunks of 8
// seven-value actions (gripper last), static layers 2 and 7 as in the reference.
func testManifest() *bundle.Manifest {
	m := policytest.Manifest()
	m.Dims.InstructionTokens, m.Dims.Chunk, m.Dims.ActionDim = 64, 8, 7
	m.Image.Width, m.Image.Height = 64, 64
	m.Action.Names = []string{"x", "y", "z", "roll", "pitch", "yaw", "gripper"}
	m.Action.Mean, m.Action.Std, m.Action.GripperIndex = make([]float64, 7), actionStd, 6
	m.StaticLayers = []int{2, 7}
	return m
}

// scripted is a backend whose chunk comes from head: the fake's layers, adapters and controllers run
// (so skipping and its statistics are real), the chunk is what the test scripts.
type scripted struct {
	*policytest.Fake
	head func(out []float32)
}

func (b *scripted) RunHead(out []float32) error { b.head(out); return nil }

func newEngine(t *testing.T, head func(out []float32)) *policy.Engine {
	m := testManifest()
	e := &policy.Engine{Manifest: m, Backend: &scripted{Fake: policytest.NewFake(m), head: head}}
	require.NoError(t, e.Initialize())
	return e
}

// expertPolicy is the scripted expert as a policy: its chunk is the expert's from the world of the
// frame being served (the last one captured: the latest-frame slot serves the newest).
type expertPolicy struct{ seen scene.State }

func (p *expertPolicy) head(out []float32) {
	for k, a := range scene.Chunk(p.seen, 8) {
		for d, v := range a {
			out[k*7+d] = float32(v / actionStd[d])
		}
	}
}

func expertHarness(t *testing.T, sc scene.Config, latency Latency) *Harness {
	p := &expertPolicy{}
	h, err := New(Config{Engine: newEngine(t, p.head), Skipping: skipping.DefaultConfig(), Scene: sc,
		Latency: latency, OnFrame: func(s scene.State) { p.seen = s }})
	require.NoError(t, err)
	return h
}

func tabletop(t scene.Tabletop) scene.Config {
	cfg := scene.DefaultConfig()
	cfg.Tabletop = t
	return cfg
}

func TestEpisodesAreDeterministicPerSeed(t *testing.T) {
	h := expertHarness(t, tabletop(scene.ChainTabletop()), LayerLatency{Base: 20 * time.Millisecond, PerLayer: 10 * time.Millisecond})
	a, err := h.Run(3)
	require.NoError(t, err)
	b, err := h.Run(3)
	require.NoError(t, err)
	a.EngineTime, a.BackboneTime, b.EngineTime, b.BackboneTime = 0, 0, 0, 0 // wall-clock measurements
	require.Equal(t, a, b)
	c, err := h.Run(4)
	require.NoError(t, err)
	require.NotEqual(t, a.Final.Blocks, c.Final.Blocks)
}

// The expert, driving the arm through the node core, completes every task, single and chained, with
// no latency and with one under half a control step (46 ms: its chunks apply at the frame's step).
func TestScriptedExpertSucceedsOnEveryTask(t *testing.T) {
	for name, sc := range map[string]scene.Config{
		"single":   scene.DefaultConfig(),
		"tabletop": tabletop(scene.DefaultTabletop()),
		"chain":    tabletop(scene.ChainTabletop()),
	} {
		for _, latency := range []Latency{FixedLatency(0), LayerLatency{Base: 30 * time.Millisecond, PerLayer: 2 * time.Millisecond}} {
			t.Run(name+" "+latency.String(), func(t *testing.T) {
				h := expertHarness(t, sc, latency)
				for seed := range int64(10) {
					ep, err := h.Run(1000 + seed)
					require.NoError(t, err)
					require.Equal(t, ep.Tasks, ep.Completed, "seed %d: every instruction completed (%d steps)", 1000+seed, ep.Steps)
					require.Equal(t, ep.Legs.Attempts, ep.Legs.Achieved, "every leg achieved")
					require.Equal(t, make([]float64, ep.Tasks), ep.Nearest, "the tip reached every named block (it carried it)")
					require.Len(t, ep.Gap, ep.Tasks)
					require.Len(t, ep.Headway, ep.Tasks)
					// From the start pose the expert heads for the block at once; a chained task
					// begins with the retreat from the last pad, straight up.
					require.Greater(t, ep.Headway[0], min(ep.Gap[0], 0.16)/2, "seed %d: the expert heads for the block", 1000+seed)
					require.Positive(t, ep.Inferences)
				}
			})
		}
	}
}

func TestZeroPolicyNeverSucceeds(t *testing.T) {
	zero := func(out []float32) { clear(out) }
	for _, sc := range []scene.Config{scene.DefaultConfig(), tabletop(scene.ChainTabletop())} {
		sc.MaxSteps = 120
		h, err := New(Config{Engine: newEngine(t, zero), Skipping: skipping.DefaultConfig(), Scene: sc, Latency: FixedLatency(0)})
		require.NoError(t, err)
		for seed := range int64(10) {
			ep, err := h.Run(seed)
			require.NoError(t, err)
			require.Zero(t, ep.Completed)
			require.Equal(t, 120, ep.Steps, "the task runs to its step limit")
			require.Equal(t, 0, ep.Legs.Achieved[LegApproach])
			start, _ := scene.Start(seed, sc)
			require.Equal(t, []float64{start.EE.Sub(start.Object().Pos).Norm()}, ep.Nearest,
				"an arm that never moves misses by its starting distance, on the one instruction it played")
			require.Equal(t, []float64{start.EE.HorizontalTo(start.Object().Pos)}, ep.Gap)
			require.Equal(t, []float64{0}, ep.Headway, "nor does it close any of the gap")
		}
	}
}

// constantX is a policy that always moves +1 cm in x.
func constantX(out []float32) {
	clear(out)
	for k := 0; k < len(out); k += 7 {
		out[k] = 1
	}
}

// With a frame every 4 steps and executed_actions 2, the arm moves for 2 steps of every 4 and holds
// for the rest: actions past executed_actions are never run.
func TestExecutedActionsAreHonoured(t *testing.T) {
	sc := scene.DefaultConfig()
	sc.MaxSteps = 12
	cfg := skipping.DefaultConfig()
	cfg.ExecutedActions = 2
	h, err := New(Config{Engine: newEngine(t, constantX), Skipping: cfg, Scene: sc, CameraHz: 2.5, Latency: FixedLatency(0)})
	require.NoError(t, err)
	ep, err := h.Run(1)
	require.NoError(t, err)
	require.Equal(t, 3, ep.Inferences)
	require.InDelta(t, 6*0.01, ep.Final.EE.X, 1e-6, "2 of every 4 steps moved")
}

// The node's gripper_lead reaches the arm: a chunk that closes at its fourth action closes at the first
// with a lead of 3, and moves the arm as before.
func TestGripperLeadReachesTheArm(t *testing.T) {
	closeAtFourth := func(out []float32) {
		for k := 0; k < 8; k++ {
			out[k*7] = 1 // a centimetre in x per step
			out[k*7+6] = -1
			if k >= 3 {
				out[k*7+6] = 1
			}
		}
	}
	sc := scene.DefaultConfig()
	sc.MaxSteps = 3 // the first three actions of the first chunk
	run := func(lead int) scene.State {
		h, err := New(Config{Engine: newEngine(t, closeAtFourth), Skipping: skipping.DefaultConfig(), Scene: sc, CameraHz: 2.5, Latency: FixedLatency(0), GripperLead: lead})
		require.NoError(t, err)
		ep, err := h.Run(2)
		require.NoError(t, err)
		return ep.Final
	}
	asPredicted, led := run(0), run(3)
	require.Equal(t, scene.GripperOpen, asPredicted.Gripper)
	require.Equal(t, scene.GripperClosed, led.Gripper)
	require.Equal(t, asPredicted.EE, led.EE, "the motion is the policy's")
}

// The node's gripper_min_hold reaches the arm, in the bundles' convention and in any other (the scene
// and the hold read the column alike): a chunk that closes at its second action and dips open at its
// third and fourth leaves the gripper open without it and closed with it.
func TestGripperMinHoldReachesTheArm(t *testing.T) {
	for _, convention := range []gripper.Convention{gripper.Default(), {Open: 1, Closed: -1}} {
		closeThenDip := func(out []float32) {
			for k := 0; k < 8; k++ {
				out[k*7+6] = convention.Closed
				if k == 0 || k == 2 || k == 3 {
					out[k*7+6] = convention.Open
				}
			}
		}
		sc := scene.DefaultConfig()
		sc.MaxSteps = 4 // the first four actions of the first chunk
		run := func(hold time.Duration) scene.State {
			h, err := New(Config{Engine: newEngine(t, closeThenDip), Skipping: skipping.DefaultConfig(), Scene: sc, CameraHz: 2.5,
				Latency: FixedLatency(0), GripperMinHold: hold, Gripper: convention})
			require.NoError(t, err)
			ep, err := h.Run(2)
			require.NoError(t, err)
			return ep.Final
		}
		require.Equal(t, scene.GripperOpen, run(0).Gripper, "%+v", convention)
		require.Equal(t, scene.GripperClosed, run(time.Second).Gripper, "%+v", convention)
	}
}

// conventionHead is the scripted expert's chunk, its gripper written in convention c.
func conventionHead(p *expertPolicy, c gripper.Convention) func(out []float32) {
	return func(out []float32) {
		p.head(out)
		for k := 6; k < len(out); k += 7 {
			if out[k] > 0 { // the scene's expert closes (gripper std 1, mean 0: its value as written)
				out[k] = c.Closed
			} else {
				out[k] = c.Open
			}
		}
	}
}

// A policy whose gripper column has another convention than the scene's completes its tasks when the
// harness is told it (the node's gripper_open and gripper_closed), gripper_min_hold reading the
// column by it as well. Told nothing, the scene reads its opens as closes (or every command as a
// close) and it completes none; 0 open and 1 closed alone reads right by the default's middle.
func TestAPolicyIsReadByItsGripperConvention(t *testing.T) {
	for _, tc := range []struct {
		c           gripper.Convention
		untoldFails bool
	}{{gripper.Convention{Open: 1, Closed: -1}, true}, {gripper.Convention{Open: 1, Closed: 3}, true}, {gripper.Convention{Open: 100, Closed: -100}, true},
		{gripper.Convention{Open: 0, Closed: 1}, false}} {
		run := func(told gripper.Convention, hold time.Duration) int {
			p := &expertPolicy{}
			h, err := New(Config{Engine: newEngine(t, conventionHead(p, tc.c)), Skipping: skipping.DefaultConfig(), Scene: scene.DefaultConfig(),
				Latency: FixedLatency(0), OnFrame: func(s scene.State) { p.seen = s }, Gripper: told, GripperMinHold: hold})
			require.NoError(t, err)
			completed := 0
			for seed := range int64(5) {
				ep, err := h.Run(1000 + seed)
				require.NoError(t, err)
				completed += ep.Completed
			}
			return completed
		}
		require.Equal(t, 5, run(tc.c, 0), "%+v, told", tc.c)
		require.Equal(t, 5, run(tc.c, 300*time.Millisecond), "%+v, told, with gripper_min_hold", tc.c)
		if tc.untoldFails {
			require.Zero(t, run(gripper.Convention{}, 0), "%+v, not told", tc.c)
		}
	}
}

// In the scene's own convention the translation is the identity, to the bit: the default runs are
// the runs of before.
func TestSceneGripperIsTheIdentityInTheScenesConvention(t *testing.T) {
	for _, v := range []float32{-1, 1, 0, -0.3, 0.7, 1e-8, -1e-8, math.SmallestNonzeroFloat32, 5, -1000, float32(math.Inf(1))} {
		require.Equal(t, float64(v), sceneGripper(gripper.Default(), v), "%v", v)
	}
	require.True(t, math.IsNaN(sceneGripper(gripper.Default(), float32(math.NaN()))), "NaN stays NaN: the scene holds the gripper")
	for _, g := range []float64{scene.GripperOpen, scene.GripperClosed} {
		require.Equal(t, g, policyGripper(gripper.Default(), g))
	}
	// Another convention: its open and closed land on the scene's, its middle on the scene's.
	c := gripper.Convention{Open: 0, Closed: 1}
	require.Equal(t, scene.GripperOpen, sceneGripper(c, 0))
	require.Equal(t, scene.GripperClosed, sceneGripper(c, 1))
	require.Zero(t, sceneGripper(c, 0.5))
	require.Equal(t, 0.0, policyGripper(c, scene.GripperOpen))
	require.Equal(t, 1.0, policyGripper(c, scene.GripperClosed))
}

// A 250 ms inference on a 10 Hz camera: the worker is busy for 2.5 steps, frames pile up in the slot
// and are superseded, and a chunk applies from the first step after its arrival (at the action due
// then: every action moves a centimetre here).
func TestLatencyIsAccountedInSimTime(t *testing.T) {
	sc := scene.DefaultConfig()
	sc.MaxSteps = 6
	h, err := New(Config{Engine: newEngine(t, constantX), Skipping: skipping.DefaultConfig(), Scene: sc, Latency: FixedLatency(250 * time.Millisecond)})
	require.NoError(t, err)
	ep, err := h.Run(1)
	require.NoError(t, err)
	// Frame 0 is served at 0 and its chunk arrives at 250 ms: steps 0-2 hold, steps 3-5 move.
	require.InDelta(t, 3*0.01, ep.Final.EE.X, 1e-6)
	require.Equal(t, 3, ep.Inferences, "served at 0, 250 and 500 ms")
	require.Equal(t, 3, ep.FramesSuperseded, "the frames of 100, 300 and 400 ms (the 500 ms frame arrives as the worker frees)")
}

// A chunk that arrives late runs on its own timeline: action k is due at the frame's capture + k·dt, so
// the arm starts at the action due on arrival, as a robot's controller does, not at the first.
func TestLateChunkStartsAtTheActionDue(t *testing.T) {
	kMillimetres := func(out []float32) { // action k moves k mm in x
		for k := range 8 {
			out[k*7] = 0.1 * float32(k)
		}
	}
	sc := scene.DefaultConfig()
	sc.MaxSteps = 5
	h, err := New(Config{Engine: newEngine(t, kMillimetres), Skipping: skipping.DefaultConfig(), Scene: sc, Latency: FixedLatency(250 * time.Millisecond)})
	require.NoError(t, err)
	start, _ := scene.Start(1, sc)
	ep, err := h.Run(1)
	require.NoError(t, err)
	// Frame 0's chunk arrives at 250 ms, applied from step 3 (300 ms): actions 3 and 4, not 0 and 1.
	require.InDelta(t, 0.007, ep.Final.EE.X-start.EE.X, 1e-6)
}

// A latency model that puts a chunk's arrival before its frame's capture ends the episode with an
// error naming the model, instead of a run whose timing means nothing.
func TestNegativeLatencyIsRefused(t *testing.T) {
	sc := scene.DefaultConfig()
	sc.MaxSteps = 6
	h, err := New(Config{Engine: newEngine(t, constantX), Skipping: skipping.DefaultConfig(), Scene: sc, Latency: FixedLatency(-3 * time.Second)})
	require.NoError(t, err)
	_, err = h.Run(1)
	require.ErrorContains(t, err, `latency model "fixed -3s" gave -3s, expected a duration >= 0`)
}

// skippingEngine is the constant-x policy whose every controller says skip, with a 20-step scene.
func skippingEngine(t *testing.T) (*policy.Engine, scene.Config) {
	sc := scene.DefaultConfig()
	sc.MaxSteps = 20
	e := newEngine(t, constantX)
	fake := e.Backend.(*scripted).Fake
	for j := range fake.SkipProb {
		fake.SkipProb[j] = 1
	}
	return e, sc
}

func TestSkippingStatisticsReachTheEpisode(t *testing.T) {
	e, sc := skippingEngine(t)
	h, err := New(Config{Engine: e, Skipping: skipping.DefaultConfig(), Scene: sc, Latency: FixedLatency(0)})
	require.NoError(t, err)
	ep, err := h.Run(1)
	require.NoError(t, err)
	require.Equal(t, 20, ep.Inferences)
	require.Less(t, ep.LayersExecuted, 8*ep.Inferences, "DySL skipped layers")
	require.Zero(t, ep.VerificationRuns, "a constant chunk never drops in continuity")

	full := skipping.DefaultConfig()
	full.Strategy = skipping.StrategyFull
	h, err = New(Config{Engine: e, Skipping: full, Scene: sc, Latency: FixedLatency(0)})
	require.NoError(t, err)
	ep, err = h.Run(1)
	require.NoError(t, err)
	require.Equal(t, 8*ep.Inferences, ep.LayersExecuted)
}

// FullNearTarget runs every layer on the frames near the target and lets DySL skip elsewhere.
func TestFullNearTargetRunsEveryLayerNearTheTarget(t *testing.T) {
	e, sc := skippingEngine(t)
	run := func(radius float64) Episode {
		before, err := FullNearTarget(skipping.DefaultConfig(), radius)
		require.NoError(t, err)
		h, err := New(Config{Engine: e, Skipping: skipping.DefaultConfig(), Scene: sc, Latency: FixedLatency(0), BeforeInference: before})
		require.NoError(t, err)
		ep, err := h.Run(1)
		require.NoError(t, err)
		return ep
	}
	everywhere := run(10) // metres: the whole table is near
	require.Equal(t, 8*everywhere.Inferences, everywhere.LayersExecuted)
	nowhere := run(1e-9)
	require.Less(t, nowhere.LayersExecuted, 8*nowhere.Inferences, "DySL skipped layers away from the target")
	require.Equal(t, everywhere.Final, nowhere.Final, "the constant policy moves alike either way")

	_, err := FullNearTarget(skipping.DefaultConfig(), -0.1)
	require.ErrorContains(t, err, "full-within radius -0.1: expected metres >= 0")
}

func TestConfigErrors(t *testing.T) {
	_, err := New(Config{})
	require.ErrorContains(t, err, "needs an initialized Engine")
	bad := skipping.DefaultConfig()
	bad.ControllerThreshold = 2
	_, err = New(Config{Engine: newEngine(t, constantX), Skipping: bad})
	require.ErrorContains(t, err, "controller_threshold")
	_, err = New(Config{Engine: newEngine(t, constantX), Skipping: skipping.DefaultConfig(), CameraHz: -1})
	require.ErrorContains(t, err, "camera rate (-1 Hz) must be in (0, 1000]")
	_, err = New(Config{Engine: newEngine(t, constantX), Skipping: skipping.DefaultConfig(), CameraHz: 1e9})
	require.ErrorContains(t, err, "camera rate (1e+09 Hz) must be in (0, 1000]")
	// The node's own parameter ranges, before any episode is played.
	_, err = New(Config{Engine: newEngine(t, constantX), Skipping: skipping.DefaultConfig(), GripperLead: -3})
	require.ErrorContains(t, err, "parameter 'gripper_lead' could not be set to -3 (range 0 to 64)")
	_, err = New(Config{Engine: newEngine(t, constantX), Skipping: skipping.DefaultConfig(), GripperMinHold: 11 * time.Second})
	require.ErrorContains(t, err, "parameter 'gripper_min_hold' could not be set to 11 (range 0 to 10)")
	_, err = New(Config{Engine: newEngine(t, constantX), Skipping: skipping.DefaultConfig(), Gripper: gripper.Convention{Open: float32(math.NaN()), Closed: 1}})
	require.ErrorContains(t, err, "parameter 'gripper_open' could not be set to NaN (range -1000 to 1000)")
	_, err = New(Config{Engine: newEngine(t, constantX), Skipping: skipping.DefaultConfig(), Gripper: gripper.Convention{Open: 1, Closed: 1}})
	require.ErrorContains(t, err, "parameters gripper_open and gripper_closed are both 1: expected two different values")
	_, err = New(Config{Engine: newEngine(t, constantX), Skipping: skipping.DefaultConfig(), Gripper: gripper.Convention{Open: 0, Closed: float32(math.Inf(-1))}})
	require.ErrorContains(t, err, "parameter 'gripper_closed' could not be set to -Inf (range -1000 to 1000)")
}

// A bundle whose action columns mean other things than the scene's, the gripper first say, is refused
// before it drives the arm with the wrong values.
func TestActionColumnsMustBeTheScenes(t *testing.T) {
	for name, mend := range map[string]func(m *bundle.Manifest){
		"gripper first": func(m *bundle.Manifest) {
			m.Action.Names = []string{"gripper", "x", "y", "z", "roll", "pitch", "yaw"}
			m.Action.GripperIndex = 0
		},
		"no gripper": func(m *bundle.Manifest) {
			m.Action.Names[6] = "wrist"
			m.Action.GripperIndex = -1
		},
		"gripper index elsewhere": func(m *bundle.Manifest) { m.Action.GripperIndex = 5 },
	} {
		t.Run(name, func(t *testing.T) {
			m := testManifest()
			mend(m)
			e := &policy.Engine{Manifest: m, Backend: &scripted{Fake: policytest.NewFake(m), head: constantX}}
			require.NoError(t, e.Initialize())
			_, err := New(Config{Engine: e, Skipping: skipping.DefaultConfig()})
			require.ErrorContains(t, err, "the scene takes [x y z roll pitch yaw gripper] with the gripper at 6")
		})
	}
	_, err := New(Config{Engine: newEngine(t, constantX), Skipping: skipping.DefaultConfig()})
	require.NoError(t, err)
}

func TestVisitReturnsTheCapturedStates(t *testing.T) {
	sc := scene.DefaultConfig()
	sc.MaxSteps = 10
	states, eps, err := Visit(t.Context(), Config{Engine: newEngine(t, constantX), Skipping: skipping.DefaultConfig(), Scene: sc, Latency: FixedLatency(0)}, []int64{1, 2})
	require.NoError(t, err)
	require.Len(t, eps, 2)
	require.Len(t, states, 20, "one frame per step")
	require.Equal(t, int64(2), states[10].Seed)
	require.InDelta(t, 0.01*9, states[9].EE.X, 1e-6, "the policy's own trajectory: the tenth frame after nine steps")
}

// BenchmarkEpisode is the simulator's own cost of one 300-step episode (rendering, stepping, the node
// core), with a policy that costs nothing: what remains of a closed-loop evaluation besides inference.
func BenchmarkEpisode(b *testing.B) {
	h, err := New(Config{Engine: newEngineB(b), Skipping: skipping.DefaultConfig(), Scene: tabletop(scene.DefaultTabletop()), Latency: FixedLatency(0)})
	require.NoError(b, err)
	for b.Loop() {
		if _, err := h.Run(1); err != nil {
			b.Fatal(err)
		}
	}
}

func newEngineB(b *testing.B) *policy.Engine {
	m := testManifest()
	e := &policy.Engine{Manifest: m, Backend: &scripted{Fake: policytest.NewFake(m), head: func(out []float32) { clear(out) }}}
	require.NoError(b, e.Initialize())
	return e
}

// ExpertDims takes those action values from the expert: all of them make a zero policy succeed; the
// motion alone brings its gripper to the block, where its never-closing gripper fails the grasp.
func TestExpertDimsReplaceThePolicysActions(t *testing.T) {
	zero := func(out []float32) { clear(out) }
	sc := scene.DefaultConfig()
	sc.MaxSteps = 200
	run := func(dims []int) Episode {
		h, err := New(Config{Engine: newEngine(t, zero), Skipping: skipping.DefaultConfig(), Scene: sc, Latency: FixedLatency(0), ExpertDims: dims})
		require.NoError(t, err)
		ep, err := h.Run(5)
		require.NoError(t, err)
		return ep
	}
	all := run([]int{0, 1, 2, 3, 4, 5, 6})
	require.Equal(t, 1, all.Completed)
	motion := run([]int{0, 1, 2, 3, 4, 5})
	require.Zero(t, motion.Completed)
	require.Equal(t, 1, motion.Legs.Achieved[LegApproach], "the expert's motion reached the block")
	require.Zero(t, motion.Legs.Achieved[LegGrasp], "the policy's gripper never closed")
	require.LessOrEqual(t, motion.Nearest[0], scene.GraspReach)

	_, err := New(Config{Engine: newEngine(t, zero), Skipping: skipping.DefaultConfig(), Scene: sc, ExpertDims: []int{7}})
	require.ErrorContains(t, err, "expert action index 7: expected 0..6")
}

// A policy whose chunks hold NaN stops the episode with an error naming it: the node core refuses
// the chunk, and a closed loop must not carry on as if the arm had simply stood still.
func TestNaNChunksStopTheEpisode(t *testing.T) {
	nanHead := func(out []float32) {
		for i := range out {
			out[i] = float32(math.NaN())
		}
	}
	sc := scene.DefaultConfig()
	sc.MaxSteps = 20
	h, err := New(Config{Engine: newEngine(t, nanHead), Skipping: skipping.DefaultConfig(), Scene: sc, Latency: FixedLatency(0)})
	require.NoError(t, err)
	_, err = h.Run(1)
	require.ErrorContains(t, err, "closedloop: seed 1, step 0: chunk of frame")
	require.ErrorContains(t, err, `step 0 dimension 0 ("x") is NaN`)
}

// executed_actions counts the actions the arm runs: a late chunk runs that many from the one due on
// arrival, not only those of the first executed_actions still due (which froze the arm for good once
// the latency passed them).
func TestLateChunkRunsExecutedActionsFromTheOneDue(t *testing.T) {
	sc := scene.DefaultConfig()
	sc.MaxSteps = 30
	cfg := skipping.DefaultConfig()
	cfg.ExecutedActions = 2
	h, err := New(Config{Engine: newEngine(t, constantX), Skipping: cfg, Scene: sc, Latency: FixedLatency(250 * time.Millisecond)})
	require.NoError(t, err)
	start, _ := scene.Start(1, sc)
	ep, err := h.Run(1)
	require.NoError(t, err)
	require.Greater(t, ep.Final.EE.X-start.EE.X, 0.1, "the arm keeps moving")
}
