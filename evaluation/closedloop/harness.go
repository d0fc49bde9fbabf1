// Package closedloop is the closed-loop simulator: a policy drives the scene (package scene) through
// the same node core as the ROS 2 node and `dysl replay` (nodecore.Core), and success is judged on the
// world it leaves behind (GitHub issue 14).
//
// One episode, in simulated time, on the control grid of the bundle's step time dt:
//
//   - The instruction in force goes to Core.SetInstruction; every new instruction of a chain does
//     too, so the engine starts a new skipping episode as on the robot.
//   - The camera renders the world at its own rate (CameraHz) into the latest-frame slot
//     (Core.OfferFrame), stamped with the capture time; a frame the worker has not reached yet is
//     superseded by the next. For a bundle that reads the robot's state, the arm's state at that
//     moment (scene.State.RobotState) goes to Core.OfferState with the same stamp, as joint_states
//     would.
//   - The worker serves the slot (Core.Step) as soon as it is free and a frame waits. An inference
//     takes the Latency model's time in simulated seconds: the measured engine time, scaled or not, a
//     fixed time, or a time per executed layer. Its chunk reaches the arm at serve time + latency.
//   - A chunk applies from its arrival, rounded to the control grid, on its own timeline: action k is
//     due at the chunk's stamp (the frame's capture time) + k·dt, as ActionChunk.msg says and a
//     controller on the robot executes it. From the control step nearest to its arrival the arm runs
//     the action due then (the first, unless the chunk came late), then one action per step, until a
//     newer chunk arrives. Only executed_actions of a chunk's actions (all when 0) are executed, from
//     the first it runs; after them the arm holds still, gripper unchanged. A latency under half a step therefore costs
//     nothing; beyond it the actions already past are skipped, as a robot's controller skips them.
//   - The policy's gripper column is in the node's convention (gripper_open, gripper_closed), the
//     scene's in its own (scene.GripperOpen, scene.GripperClosed). Where a command enters the world it
//     is translated into the scene's, so that the scene closes exactly where the node core's
//     gripper_min_hold (and, on the robot, the MAVLink bridge) reads a close; the arm's last gripper
//     command in the robot state goes back to the policy in the node's.
//   - A task succeeds when scene's Succeeded holds (the named block released on the named pad); the
//     next instruction of the chain then follows at once. A task that takes more than the scene's
//     MaxSteps steps ends the episode.
//
// Everything is a pure function of the seed and the policy's outputs, except the measured latency;
// with a fixed or per-layer latency, episodes are deterministic.
package closedloop

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"dysl_vla/gripper"
	"dysl_vla/hostmemory"
	"dysl_vla/msgs"
	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
	"dysl_vla/policy"
	"dysl_vla/scene"
	"dysl_vla/skipping"
)

// Latency is how long an inference takes in simulated time, given what it did.
type Latency interface {
	Of(stats *msgs.SkipStats) time.Duration
	String() string
}

// MeasuredLatency is the engine's own measured time of the inference (verification included), times
// Scale (0 means 1): a slower robot computer, or a bigger model, is emulated by scaling.
type MeasuredLatency struct{ Scale float64 }

// FixedLatency is the same time for every inference, whatever it skipped.
type FixedLatency time.Duration

// LayerLatency is Base plus PerLayer for every layer executed (verification re-runs included): a
// deterministic latency that still rewards skipping.
type LayerLatency struct{ Base, PerLayer time.Duration }

func (l MeasuredLatency) Of(s *msgs.SkipStats) time.Duration {
	scale := l.Scale
	if scale == 0 {
		scale = 1
	}
	return time.Duration(s.LatencyMs * scale * float64(time.Millisecond))
}
func (l FixedLatency) Of(*msgs.SkipStats) time.Duration { return time.Duration(l) }
func (l LayerLatency) Of(s *msgs.SkipStats) time.Duration {
	return l.Base + time.Duration(s.LayersExecuted)*l.PerLayer
}
func (l MeasuredLatency) String() string {
	if l.Scale == 0 || l.Scale == 1 {
		return "measured"
	}
	return fmt.Sprintf("measured x%g", l.Scale)
}
func (l FixedLatency) String() string { return fmt.Sprintf("fixed %v", time.Duration(l)) }
func (l LayerLatency) String() string {
	return fmt.Sprintf("%v + %v per executed layer", l.Base, l.PerLayer)
}

// Config wires a Harness. Engine is required.
type Config struct {
	// Engine is the policy. Its skipping configuration is set through the node parameters from
	// Skipping at every episode.
	Engine   *policy.Engine
	Skipping skipping.Config
	// Scene shapes the episodes (single task or tabletop chains, camera noise, the step limit per
	// task). Width and Height default to the bundle's image size.
	Scene scene.Config
	// CameraHz is the camera's frame rate; it defaults to the control rate 1/dt.
	CameraHz float64
	// Latency defaults to MeasuredLatency{}.
	Latency Latency
	// MaxImageAge is the node's max_image_age; 0 keeps the node's default.
	MaxImageAge time.Duration
	// GripperLead is the node's gripper_lead: the published chunks' gripper commands come that many
	// actions early.
	GripperLead int
	// GripperMinHold is the node's gripper_min_hold: the least time the gripper keeps a command.
	GripperMinHold time.Duration
	// Gripper is the node's gripper_open and gripper_closed: what the policy's gripper column means.
	// The node core's gripper_min_hold reads the column by it, and so does the scene, through the
	// harness's translation (sceneGripper). The zero value keeps the node's default, gripper.Default(),
	// which is the scene's own convention.
	Gripper gripper.Convention
	// BeforeInference, optional, may return a new skipping configuration before each inference, given
	// the world the served frame was captured from (the baselines matched frame by frame, FullNearTarget);
	// it is applied through the node's parameters.
	BeforeInference func(served scene.State) *skipping.Config
	// OnFrame, optional, is told the world state of every frame the camera captures.
	OnFrame func(scene.State)
	// OnServe, optional, is told every observation the worker serves (the policy's inputs).
	OnServe func(policy.Observation)
	// Infer, optional, replaces Engine.Infer in the node core (nodecore.Config.Infer): early exit.
	Infer func(policy.Observation) (policy.Result, error)
	// ExpertDims, optional, are action indices (scene.Action: x, y, z, roll, pitch, yaw, gripper) whose
	// values come from the scripted expert's chunk for the world of the served frame instead of the
	// policy's. A diagnostic, not a policy: with the motion from the expert and the gripper from the
	// policy (or the other way round) an episode shows which part of a failing policy fails. The
	// expert's gripper is in the scene's convention: it replaces the policy's command once translated.
	ExpertDims []int
}

// Harness runs closed-loop episodes.
type Harness struct {
	cfg    Config
	dt     time.Duration
	camera time.Duration
	params map[string]paramserver.Value // every episode's node overrides
	// gripper is the node's convention as its parameters hold it: the one the node core reads the
	// gripper column by, and the harness translates it by.
	gripper gripper.Convention
}

// New checks cfg and fills its defaults.
func New(cfg Config) (*Harness, error) {
	if cfg.Engine == nil || cfg.Engine.Manifest == nil {
		return nil, errors.New("closedloop: Config needs an initialized Engine")
	}
	m := cfg.Engine.Manifest
	if cfg.Scene.Width == 0 {
		cfg.Scene.Width, cfg.Scene.Height = m.Image.Width, m.Image.Height
	}
	cfg.Scene.EnsureDefaults()
	if err := cfg.Scene.Validate(); err != nil {
		return nil, fmt.Errorf("closedloop: scene: %w", err)
	}
	if err := cfg.Skipping.Validate(); err != nil {
		return nil, fmt.Errorf("closedloop: %w", err)
	}
	if m.Dims.ActionDim != len(scene.Action{}) {
		return nil, fmt.Errorf("closedloop: bundle %q has %d action values, the scene takes %d", m.Name, m.Dims.ActionDim, len(scene.Action{}))
	}
	// The chunks enter the scene column by column: a bundle whose columns mean other things (another
	// order, the gripper elsewhere) would drive the arm with the wrong values and fail for no reason
	// the report could name.
	if !slices.Equal(m.Action.Names, scene.ActionNames) || m.Action.GripperIndex != scene.GripperIndex {
		return nil, fmt.Errorf("closedloop: bundle %q names its action columns %v with the gripper at %d; the scene takes %v with the gripper at %d",
			m.Name, m.Action.Names, m.Action.GripperIndex, scene.ActionNames, scene.GripperIndex)
	}
	dt := time.Duration(m.Action.DtSeconds * float64(time.Second))
	if cfg.CameraHz == 0 {
		cfg.CameraHz = 1 / m.Action.DtSeconds
	}
	if !(cfg.CameraHz > 0 && cfg.CameraHz <= scene.MaxCameraHz) {
		return nil, fmt.Errorf("closedloop: camera rate (%v Hz) must be in (0, %d]", cfg.CameraHz, scene.MaxCameraHz)
	}
	if cfg.Latency == nil {
		cfg.Latency = MeasuredLatency{}
	}
	if m.State != nil {
		for _, name := range m.State.Names {
			if !slices.Contains(scene.RobotStateNames, name) {
				return nil, fmt.Errorf("closedloop: bundle %q reads the robot state %q, the scene gives only %v", m.Name, name, scene.RobotStateNames)
			}
		}
	}
	for _, d := range cfg.ExpertDims {
		if d < 0 || d >= len(scene.Action{}) {
			return nil, fmt.Errorf("closedloop: expert action index %d: expected 0..%d (x, y, z, roll, pitch, yaw, gripper)", d, len(scene.Action{})-1)
		}
	}
	h := &Harness{cfg: cfg, dt: dt, camera: time.Duration(float64(time.Second) / cfg.CameraHz), params: nodeParameters(cfg)}
	// Each episode starts a node of its own; one declared here refuses a gripper_lead out of range, or
	// a gripper_open equal to gripper_closed, before any episode is played.
	_, settings, err := h.newParamServer()
	if err != nil {
		return nil, err
	}
	h.gripper = settings.Gripper
	return h, nil
}

// nodeParameters are the start-up overrides of every episode's node: the skipping configuration and
// the harness's node settings.
func nodeParameters(cfg Config) map[string]paramserver.Value {
	overrides := map[string]paramserver.Value{}
	for _, p := range nodecore.SkippingParameters(cfg.Skipping) {
		overrides[p.Name] = p.Value
	}
	if cfg.MaxImageAge > 0 {
		overrides[nodecore.ParamMaxImageAge] = paramserver.Double(cfg.MaxImageAge.Seconds())
	}
	overrides[nodecore.ParamGripperLead] = paramserver.Integer(int64(cfg.GripperLead))
	overrides[nodecore.ParamGripperMinHold] = paramserver.Double(cfg.GripperMinHold.Seconds())
	convention := cfg.Gripper.OrDefault()
	overrides[nodecore.ParamGripperOpen] = paramserver.Double(float64(convention.Open))
	overrides[nodecore.ParamGripperClosed] = paramserver.Double(float64(convention.Closed))
	return overrides
}

// episodeOrigin is the wall time every episode's sim time counts from.
var episodeOrigin = time.Unix(1_700_000_000, 0)

// newParamServer is a fresh node's parameter server with the harness's overrides.
func (h *Harness) newParamServer() (*paramserver.Server, nodecore.Settings, error) {
	srv, settings, err := nodecore.NewParamServer("/dysl_vla_node", h.params, func() time.Time { return episodeOrigin })
	if err != nil {
		return nil, nodecore.Settings{}, fmt.Errorf("closedloop: %w", err)
	}
	return srv, settings, nil
}

// Episode is what one closed-loop episode did.
type Episode struct {
	Seed  int64
	Tasks int // instructions in the chain
	// Completed is how many instructions were completed in sequence (the chain length).
	Completed int
	Steps     int
	// Inferences counts published chunks; LayersExecuted and VerificationRuns sum over them.
	Inferences       int
	LayersExecuted   int
	VerificationRuns int
	// EngineTime is the engine's measured time summed over the inferences; BackboneTime the part spent
	// in decoder layers, adapters, controllers and verification re-runs.
	EngineTime, BackboneTime time.Duration
	// FramesSuperseded counts frames replaced in the latest-frame slot before the worker reached them.
	FramesSuperseded int
	Legs             Legs
	// Nearest is, per instruction played, the closest the gripper tip came to the named block, metres;
	// Gap the horizontal distance between them when the instruction was given; Headway how much of
	// that gap the first HeadwaySteps steps closed.
	Nearest, Gap, Headway []float64
	// Final is the world at the end.
	Final scene.State
}

// arrival is a chunk on its way to the arm.
type arrival struct {
	ready    time.Duration
	captured time.Duration // the served frame's capture time: its chunk's stamp
	actions  []scene.Action
}

// Run plays the episode with this seed.
func (h *Harness) Run(seed int64) (Episode, error) {
	cfg := h.cfg
	origin := episodeOrigin
	srv, _, err := h.newParamServer()
	if err != nil {
		return Episode{}, err
	}
	sink := &sink{}
	core, err := nodecore.New(nodecore.Config{Engine: cfg.Engine, Params: srv, Sink: sink, Infer: cfg.Infer})
	if err != nil {
		return Episode{}, err
	}
	defer core.Close()

	s, tasks := scene.Start(seed, cfg.Scene)
	ep := Episode{Seed: seed, Tasks: len(tasks)}
	instruction := scene.Instruction(s)
	core.SetInstruction(instruction)
	legs := newLegTracker(s)
	attempt := scene.NewAttempt(s)

	const never = time.Duration(math.MaxInt64)
	var (
		arrivals     []arrival
		active       *arrival
		activeSince  int // the tick the active chunk's first action was due (it may have come later)
		activeFrom   int // the first of its actions the arm runs: the one due on arrival
		freeAt       time.Duration
		nextCapture  time.Duration
		pending      bool
		pendingAt    time.Duration
		pendingObs   policy.Observation
		pendingWorld scene.State // the world pendingObs was captured from
		limit        = cfg.Skipping.ExecutedActions
	)
	for tick := 0; ; tick++ {
		t := time.Duration(tick) * h.dt
		windowEnd := t + h.dt
		// Camera and worker events in [t, t+dt), in time order. The world is s throughout.
		for {
			serveAt := never
			if pending {
				serveAt = max(freeAt, pendingAt)
			}
			if nextCapture < windowEnd && nextCapture <= serveAt {
				img := scene.Render(s, cfg.Scene.Width, cfg.Scene.Height, cfg.Scene.CameraNoise)
				frame := msgs.Image{Header: msgs.Header{Stamp: msgs.TimeFromGo(origin.Add(nextCapture)), FrameID: "camera"},
					Height: uint32(img.Height), Width: uint32(img.Width), Encoding: msgs.EncodingRGB8, Step: uint32(3 * img.Width), Data: img.RGB}
				if pending {
					ep.FramesSuperseded++
				}
				core.OfferFrame(frame)
				pending, pendingAt, pendingWorld = true, nextCapture, s
				pendingObs = policy.Observation{Image: policy.Image{Width: img.Width, Height: img.Height, Encoding: msgs.EncodingRGB8,
					Step: 3 * img.Width, Data: img.RGB}, Instruction: instruction}
				if core.NeedsState() {
					state := s.RobotState()
					state[robotStateGripper] = policyGripper(h.gripper, state[robotStateGripper])
					core.OfferState(frame.Header.Stamp, scene.RobotStateNames, state)
					pendingObs.State = pickState(cfg.Engine.Manifest.State.Names, state)
				}
				if cfg.OnFrame != nil {
					cfg.OnFrame(s)
				}
				nextCapture += h.camera
				continue
			}
			if serveAt >= windowEnd {
				break
			}
			if cfg.BeforeInference != nil {
				if c := cfg.BeforeInference(pendingWorld); c != nil {
					if res := srv.SetAtomically(nodecore.SkippingParameters(*c)...); !res.Successful {
						return ep, fmt.Errorf("closedloop: skipping configuration refused: %s", res.Reason)
					}
				}
			}
			if cfg.OnServe != nil {
				pendingObs.Instruction = instruction // the Core serves with the instruction in force now
				cfg.OnServe(pendingObs)
			}
			sink.chunk, sink.stats, sink.failure = nil, nil, nil
			served := pendingWorld
			core.Step(origin.Add(serveAt))
			pending = false
			freeAt = serveAt
			if sink.failure != nil {
				return ep, fmt.Errorf("closedloop: seed %d, step %d: %v", seed, tick, sink.failure)
			}
			if sink.chunk == nil {
				continue
			}
			latency := cfg.Latency.Of(sink.stats)
			if latency < 0 {
				return ep, fmt.Errorf("closedloop: seed %d, step %d: latency model %q gave %v, expected a duration >= 0", seed, tick, cfg.Latency, latency)
			}
			freeAt = serveAt + latency
			actions := chunkActions(sink.chunk, h.gripper)
			if len(cfg.ExpertDims) > 0 {
				expert := scene.Chunk(served, len(actions))
				for k := range actions {
					for _, d := range cfg.ExpertDims {
						actions[k][d] = expert[k][d]
					}
				}
			}
			arrivals = append(arrivals, arrival{ready: freeAt, captured: pendingAt, actions: actions})
			ep.Inferences++
			ep.LayersExecuted += int(sink.stats.LayersExecuted)
			if sink.stats.VerificationFired {
				ep.VerificationRuns++
			}
			ep.EngineTime += durationOfMs(sink.stats.LatencyMs)
			ep.BackboneTime += durationOfMs(sink.stats.LayersLatencyMs + sink.stats.AdaptersLatencyMs + sink.stats.ControllersLatencyMs + sink.stats.VerificationLatencyMs)
		}
		for len(arrivals) > 0 && arrivals[0].ready < t+h.dt/2 {
			next := arrivals[0]
			// Action k is due at stamp + k·dt (ActionChunk.msg): a chunk that arrives late starts at the
			// one due now, the earlier ones past.
			due := max(0, int(math.Round(float64(t-next.captured)/float64(h.dt))))
			active, arrivals, activeSince, activeFrom = &next, arrivals[1:], tick-due, due
		}
		a := scene.Action{6: s.Gripper} // hold still until a chunk says otherwise
		if active != nil {
			i := tick - activeSince
			n := len(active.actions)
			if limit > 0 && activeFrom+limit < n { // executed_actions counts the actions the arm runs
				n = activeFrom + limit
			}
			if i < n {
				a = active.actions[i]
			}
		}
		s = scene.Step(s, a)
		ep.Steps++
		done := attempt.Done(s)
		legs.observe(s, done)
		if done {
			ep.Completed++
			ep.Legs.add(legs.legs)
			ep.addApproach(legs)
			if ep.Completed == len(tasks) {
				break
			}
			s.Task = tasks[ep.Completed]
			instruction = scene.Instruction(s)
			core.SetInstruction(instruction)
			legs = newLegTracker(s)
			attempt = scene.NewAttempt(s)
			continue
		}
		if legs.steps >= cfg.Scene.MaxSteps { // the step limit is per task
			ep.Legs.add(legs.legs)
			ep.addApproach(legs)
			break
		}
	}
	ep.Final = s
	return ep, nil
}

// addApproach records how the approach of a finished task went.
func (ep *Episode) addApproach(t *legTracker) {
	ep.Nearest, ep.Gap, ep.Headway = append(ep.Nearest, t.nearest), append(ep.Gap, t.gap), append(ep.Headway, t.headway)
}

// durationOfMs reads a statistic published in milliseconds (SkipStats' latencies) back as a duration.
func durationOfMs(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

// chunkActions reads a published chunk as scene actions, its gripper commands, in the node's
// convention c, translated into the scene's (sceneGripper).
func chunkActions(c *msgs.ActionChunk, convention gripper.Convention) []scene.Action {
	out := make([]scene.Action, c.Steps)
	dim := int(c.ActionDim)
	for i := range out {
		for d := range out[i] {
			out[i][d] = float64(c.Actions[i*dim+d])
		}
		out[i][scene.GripperIndex] = sceneGripper(convention, c.Actions[i*dim+scene.GripperIndex])
	}
	return out
}

// robotStateGripper is the gripper's place in scene.State.RobotState.
var robotStateGripper = slices.Index(scene.RobotStateNames, "gripper")

// sceneGripper is the policy's gripper command v, in the node's convention c, in the scene's: the
// same offset from the middle of open and closed, in the scene's units (-1 open, +1 closed, the
// middle 0). scene.Step closes on a command above 0, so it closes exactly where c.Closes(v) does,
// the rule of the node core's gripper_min_hold and of the MAVLink bridge. In the scene's own
// convention it is v itself (v/2·2, exact in float64); NaN stays NaN, which the scene reads as "the
// gripper unchanged".
func sceneGripper(c gripper.Convention, v float32) float64 {
	return (scene.GripperClosed - scene.GripperOpen) * c.Offset(v)
}

// policyGripper is the scene's gripper state g (scene.GripperOpen or scene.GripperClosed, the arm's
// last command) in the node's convention c: the value the policy commands for it, as a robot state
// read alongside the policy's own commands gives it back.
func policyGripper(c gripper.Convention, g float64) float64 {
	if g > 0 {
		return float64(c.Closed)
	}
	return float64(c.Open)
}

// sink keeps what the last Core.Step published.
type sink struct {
	chunk   *msgs.ActionChunk
	stats   *msgs.SkipStats
	failure error
}

func (s *sink) PublishActionChunk(c *msgs.ActionChunk)   { s.chunk = c }
func (s *sink) PublishSkipStats(st *msgs.SkipStats)      { s.stats = st }
func (s *sink) PublishDiagnostics(*msgs.DiagnosticArray) {}
func (s *sink) Notice(ev nodecore.Event) {
	switch e := ev.(type) {
	case nodecore.EventInferenceFailed:
		s.failure = e.Err
	case nodecore.EventBadFrame:
		s.failure = e.Err
	case nodecore.EventNonFiniteAction:
		s.failure = errors.New(e.String())
	case nodecore.EventNoState:
		// The simulator offers the state with every frame: a frame without one is a bug here.
		s.failure = errors.New(e.String())
	case nodecore.EventParametersNotApplied:
		s.failure = e.Err
	}
}

func nan() float64 { return math.NaN() }

// pickState is the scene's robot state in the order of names (a bundle's state.names), as the node
// core picks it out of a JointState.
func pickState(names []string, state []float64) []float64 {
	out := make([]float64, len(names))
	for i, name := range names {
		out[i] = state[slices.Index(scene.RobotStateNames, name)]
	}
	return out
}

// Visit plays the seeds with cfg's policy and returns every world state its camera captured, in
// order, with the episodes: the states DAgger has the expert label. When ctx is done it stops
// before the next episode and returns those of the episodes played, whole, with an error that
// says so.
func Visit(ctx context.Context, cfg Config, seeds []int64) ([]scene.State, []Episode, error) {
	var states []scene.State
	inner := cfg.OnFrame
	cfg.OnFrame = func(s scene.State) {
		states = append(states, s)
		if inner != nil {
			inner(s)
		}
	}
	h, err := New(cfg)
	if err != nil {
		return nil, nil, err
	}
	if len(seeds) > 0 {
		if err := h.checkVisitMemory(seeds); err != nil {
			return nil, nil, err
		}
	}
	var episodes []Episode
	for _, seed := range seeds {
		if ctx.Err() != nil {
			return states, episodes, stopped(ctx, len(episodes), len(seeds), "")
		}
		ep, err := h.Run(seed)
		if err != nil {
			return nil, nil, err
		}
		episodes = append(episodes, ep)
	}
	return states, episodes, nil
}

// checkVisitMemory refuses, before the first is played, a count of episodes whose captured states
// would not fit in memory if every instruction ran to its step limit, as a failing policy's do: Visit
// keeps them all (episodes like the first seed's, in the number of blocks and instructions).
func (h *Harness) checkVisitMemory(seeds []int64) error {
	first, tasks := scene.Start(seeds[0], h.cfg.Scene)
	if err := hostmemory.Check(len(seeds), "episodes at their step limit", h.maxCaptures(len(tasks))*stateBytes(first)); err != nil {
		return fmt.Errorf("closedloop: the states visited: %w: play fewer episodes", err)
	}
	return nil
}

// maxCaptures is the most frames the camera captures in an episode of tasks instructions: one at the
// start, then one every camera period until the last instruction's step limit.
func (h *Harness) maxCaptures(tasks int) uint64 {
	return 1 + uint64(math.Ceil(float64(tasks*h.cfg.Scene.MaxSteps)*h.dt.Seconds()*h.cfg.CameraHz))
}

// FullNearTarget is a diagnostic BeforeInference: every layer runs (strategy full) on the frames whose
// gripper tip is within radius metres of where the task needs precision (scene.State.TargetDistance),
// and play elsewhere. With DySL it shows whether skipping costs the task near the objects or in the
// free space before them. A change of strategy starts a new DySL episode (skipping.Machine.SetConfig),
// so each time the tip leaves the radius DySL runs every layer again until its continuity is defined:
// the layer counts it reports include those inferences.
func FullNearTarget(play skipping.Config, radius float64) (func(served scene.State) *skipping.Config, error) {
	if !(radius >= 0) || math.IsInf(radius, 0) {
		return nil, fmt.Errorf("closedloop: full-within radius %v: expected metres >= 0", radius)
	}
	full := play
	full.Strategy = skipping.StrategyFull
	return func(served scene.State) *skipping.Config {
		if served.TargetDistance() < radius {
			return &full
		}
		return &play
	}, nil
}
