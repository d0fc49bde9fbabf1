package nodecore

import (
	"errors"
	"fmt"
	"math"
	"path"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"dysl_vla/compressedimage"
	"dysl_vla/msgs"
	"dysl_vla/paramserver"
	"dysl_vla/policy"
)

// Config wires a Core. Engine, Params and Sink are required.
type Config struct {
	// Engine runs the policy. The Core calls SetSkipping and Reset on it; nothing else may.
	Engine *policy.Engine
	// Params holds the node's parameters, declared by Declare (NewParamServer and LoadParams do it).
	Params *paramserver.Server
	// Sink receives publications and notices.
	Sink Sink
	// Forwarder, optional, receives every published chunk too (the MAVLink bridge).
	Forwarder ChunkForwarder
	// Infer, optional, replaces Engine.Infer as the inference the Core runs on a frame: for a baseline
	// that steps the engine itself (early exit, through Engine.InferStepwise). The Core still resets
	// and configures Engine.
	Infer func(policy.Observation) (policy.Result, error)
	// NodeName prefixes the diagnostic status names ("dysl_vla_node: inference"). It defaults to the last
	// component of Params.Node().
	NodeName string
}

// Core is the node without its edges: frames and instructions in; action chunks, skip statistics and
// diagnostics out through a Sink. It owns no goroutine and reads no clock: every call that needs the
// time takes it as an argument, so `dysl replay` drives it with bag time and gets the same outputs for
// the same bag, and Runner drives it live.
//
// Concurrency: OfferFrame, OfferSerializedFrame, OfferSerializedCompressedFrame, OfferState,
// SetInstruction, ReportDecodeError and Diagnostics may be called from any goroutine at any time and
// never wait for an inference. Step must be called by one goroutine at a time (Runner's worker, or the
// replay loop).
type Core struct {
	cfg      Config
	settings Settings // read-only part, as at construction
	live     atomic.Pointer[LiveSettings]
	remove   []func()

	// mu guards the latest-frame slot, the instruction and the statistics. It is never held during an
	// inference, so a camera callback never waits for the model.
	mu      sync.Mutex
	pending *frame
	// spare holds frames whose inference is over, for OfferSerializedFrame and
	// OfferSerializedCompressedFrame to decode the next frames into: a camera at 30 Hz then costs no
	// pixel buffer per frame.
	spare []*frame
	// state is the latest robot state, next to the latest frame; nil when the bundle reads none.
	state        *stateSlot
	instruction  string
	withdrawn    bool // the instruction was withdrawn by an empty one, not never received
	resetPending bool
	totals       totals
	win          window
	lastReport   time.Time
	// topics are the topic names the diagnostics and notices say: as configured, or as the edge
	// resolved them (NameTopics).
	topics, configured topicNames

	// stateDecode guards jointState, OfferSerializedState's decode buffer; apart from mu so decoding
	// never holds up the frame slot.
	stateDecode sync.Mutex
	jointState  msgs.JointState

	// sequence numbers published chunks; only Step touches it.
	sequence uint64
	// stateValues is the state handed to the engine with a frame, in state.names order; only Step
	// touches it, so a frame costs no allocation for it.
	stateValues []float64
	// engineLive is the live settings whose skipping configuration the engine runs with; only Step
	// touches it.
	engineLive *LiveSettings
	// gripper is the executed gripper commands' history for gripper_min_hold; only Step touches it.
	gripper gripperHold
	// lastStamped is the stamp of the last stamped frame inference ran on in this episode, and
	// lastUnstamped the node's clock at the last unstamped one; zero before the first. Only Step
	// touches them.
	lastStamped, lastUnstamped msgs.Time
}

// episodeRewind is how far a frame's stamp may lie before the last served frame's and still belong to
// the same episode. Stamps a little out of order are jitter (two publishers on the camera topic, a
// camera clock re-synced); a bag played again from its start (ros2 bag play --loop) or a simulator
// reset moves them back by an episode's length, and the world with them: the trajectory continuity
// and the gripper's history of the previous pass say nothing about the new one.
const episodeRewind = time.Second

// New checks cfg, pushes the parameters' skipping configuration into the engine and registers the
// parameter callbacks: from now on a `ros2 param set` is validated as a whole (the on-set callback
// rejects what skipping.Config.Validate rejects, with its reason) and applied at the next inference.
func New(cfg Config) (*Core, error) {
	if cfg.Engine == nil || cfg.Params == nil || cfg.Sink == nil {
		return nil, errors.New("nodecore: Config needs an Engine, Params and a Sink")
	}
	if cfg.Engine.Manifest == nil {
		return nil, errors.New("nodecore: the Engine has no Manifest; initialize it first")
	}
	if cfg.NodeName == "" {
		cfg.NodeName = path.Base(cfg.Params.Node())
	}
	settings, err := SettingsOf(cfg.Params)
	if err != nil {
		return nil, fmt.Errorf("nodecore: %w", err)
	}
	live := settings.Live
	if err := fitsChunk(live, cfg.Engine.Manifest.Dims.Chunk); err != nil {
		return nil, fmt.Errorf("nodecore: %w", err)
	}
	if err := cfg.Engine.SetSkipping(live.Skipping); err != nil {
		return nil, fmt.Errorf("nodecore: %w", err)
	}
	imageTopic, _ := settings.ImageInput()
	c := &Core{cfg: cfg, settings: settings, engineLive: &live, state: newStateSlot(cfg.Engine.Manifest.State),
		configured: topicNames{image: imageTopic, instruction: settings.InstructionTopic, state: StateTopic}}
	c.topics = c.configured
	if c.state != nil {
		c.stateValues = make([]float64, len(c.state.names))
	}
	c.live.Store(&live)
	c.remove = append(c.remove,
		cfg.Params.AddOnSetCallback(c.checkParameters),
		cfg.Params.AddPostSetCallback(c.applyParameters))
	return c, nil
}

// Close unregisters the parameter callbacks. It does not close the engine.
func (c *Core) Close() {
	for _, remove := range c.remove {
		remove()
	}
	c.remove = nil
}

// Settings returns the node's settings: the read-only ones as at start-up, the live ones as now.
func (c *Core) Settings() Settings {
	s := c.settings
	s.Live = *c.live.Load()
	return s
}

// checkParameters is the Core's on-set callback: it overlays the proposed values on the current ones
// and refuses the change when the result does not fit the loaded bundle (fitsChunk). Ranges and types
// were checked by the server against the descriptors, and the settings as a whole by the callback
// Declare registers, before this runs.
func (c *Core) checkParameters(params []paramserver.Parameter) paramserver.SetResult {
	settings, err := proposedSettings(c.cfg.Params, params)
	if err == nil {
		err = fitsChunk(settings.Live, c.cfg.Engine.Manifest.Dims.Chunk)
	}
	if err != nil {
		return paramserver.SetResult{Successful: false, Reason: err.Error()}
	}
	return paramserver.SetResult{Successful: true}
}

// fitsChunk refuses counts of actions beyond the bundle's chunk of k, which the descriptors' ranges
// (the same for every bundle) cannot: executed_actions above k would be taken for k, and a
// gripper_lead of k-1 already takes every action's gripper command from the chunk's last, so a larger
// one changes nothing it says. Like skipping.Config.Validate, it names every violation, so that a
// configure refused for one does not hide the next.
func fitsChunk(live LiveSettings, k int) error {
	var p []string
	if n := live.Skipping.ExecutedActions; n > k {
		p = append(p, fmt.Sprintf("%s (%d) must be at most the bundle's chunk of %d actions (0 = whole chunk)", ParamExecutedActions, n, k))
	}
	if n := live.GripperLead; n > k-1 {
		p = append(p, fmt.Sprintf("%s (%d) must be below the bundle's chunk of %d actions: %d already takes every action's gripper command from the last", ParamGripperLead, n, k, k-1))
	}
	if len(p) > 0 {
		return errors.New(strings.Join(p, "; "))
	}
	return nil
}

// applyParameters is the post-set callback: the committed values become the live settings in one
// swap, once per request (paramserver runs it after a whole set_parameters, not after each of its
// parameters). The next Step hands their skipping configuration to the engine before it infers, so
// an inference never runs with the max_image_age of one set and the thresholds of another, nor with
// half of a ros2 param load.
func (c *Core) applyParameters([]paramserver.Parameter) {
	settings, err := SettingsOf(c.cfg.Params)
	if err != nil {
		// checkParameters accepted exactly these values; reaching here is a bug, and keeping the
		// previous settings is the safe reaction.
		c.cfg.Sink.Notice(EventParametersNotApplied{Err: err})
		return
	}
	live := settings.Live
	c.live.Store(&live)
}

// frame is a camera frame in the latest-frame slot: a raw image, or a compressed one whose pixels Step
// decodes into image only when it serves the frame, so that the frames a camera sends faster than the
// model infers, superseded in the slot, cost no JPEG or PNG decode.
type frame struct {
	image        msgs.Image
	compressed   msgs.CompressedImage
	isCompressed bool
}

// header is the frame's header, known before its pixels are decoded.
func (f *frame) header() msgs.Header {
	if f.isCompressed {
		return f.compressed.Header
	}
	return f.image.Header
}

// OfferFrame puts img in the latest-frame slot, replacing (and counting as dropped) a frame inference
// has not reached yet. The Core keeps img: the caller must not reuse img.Data. A frame whose
// header.frame_id is longer than MaxFrameID is not offered: it is counted as a decode error on the
// image topic, as OfferSerializedFrame counts it.
func (c *Core) OfferFrame(img msgs.Image) {
	if err := checkFrameID("field header.frame_id", img.Header.FrameID); err != nil {
		c.ReportDecodeError(c.configured.image, err)
		return
	}
	c.offer(&frame{image: img})
}

// OfferSerializedFrame decodes a serialized sensor_msgs/msg/Image (what a subscription takes) into an
// image buffer the Core recycles, and offers it as OfferFrame does. raw is not kept. A message that does
// not decode is counted as a decode error on topic; it reports whether the frame was offered.
func (c *Core) OfferSerializedFrame(topic string, raw []byte) bool {
	return c.offerSerialized(topic, raw, false)
}

// OfferSerializedCompressedFrame takes a serialized sensor_msgs/msg/CompressedImage (the compressed
// image transport) as OfferSerializedFrame takes an Image: the message is decoded and offered at once,
// but its JPEG or PNG only when Step serves it. Data that does not decode into an 8-bit colour or gray
// frame (package compressedimage) is then a bad frame, as a raw frame the model cannot read is.
func (c *Core) OfferSerializedCompressedFrame(topic string, raw []byte) bool {
	return c.offerSerialized(topic, raw, true)
}

func (c *Core) offerSerialized(topic string, raw []byte, compressed bool) bool {
	c.mu.Lock()
	var f *frame
	if n := len(c.spare); n > 0 {
		f, c.spare = c.spare[n-1], c.spare[:n-1]
	} else {
		f = new(frame)
	}
	c.mu.Unlock()
	f.isCompressed = compressed
	var err error
	if compressed {
		err = msgs.Decode(raw, &f.compressed)
	} else {
		err = msgs.Decode(raw, &f.image)
	}
	if err == nil {
		err = checkFrameID("field header.frame_id", f.header().FrameID)
	}
	if err != nil {
		c.recycle(f)
		c.ReportDecodeError(topic, err)
		return false
	}
	c.offer(f)
	return true
}

// MaxFrameID is the longest frame_id the node takes, in bytes: an image's header.frame_id or the
// frame_id parameter. A frame_id is a TF frame name, tens of bytes even under a robot's namespace.
// Every chunk and skip statistics message published from a frame carries it, and one of a megabyte
// sent out 2 MB per frame (the parameter's: 63 MB in 30 frames of 96 bytes each); 256 bytes at most
// doubles a chunk.
const MaxFrameID = 256

// checkFrameID refuses a frame_id longer than MaxFrameID; what says whose it is.
func checkFrameID(what, id string) error {
	if len(id) > MaxFrameID {
		return fmt.Errorf("%s holds %d bytes, at most %d allowed: a frame_id is a TF frame name", what, len(id), MaxFrameID)
	}
	return nil
}

func (c *Core) offer(f *frame) {
	c.mu.Lock()
	old := c.pending
	c.pending = f
	c.totals.received++
	if old != nil {
		c.totals.superseded++
	}
	c.mu.Unlock()
	if old != nil {
		c.cfg.Sink.Notice(EventFrameSuperseded{Stamp: old.header().Stamp})
		c.recycle(old)
	}
}

// recycle keeps f's buffers for the next decode. Two spares cover the frame in the slot and the one
// being decoded while another is served. A buffer far larger than its frame is let go: grown once by
// a camera run at a larger size (8K frames left 190 MB held after it went back to 640x480), it would
// be kept for the life of the node.
func (c *Core) recycle(f *frame) {
	if oversized(f.image.Data) || oversized(f.compressed.Data) {
		return
	}
	c.mu.Lock()
	if len(c.spare) < 2 {
		c.spare = append(c.spare, f)
	}
	c.mu.Unlock()
}

func oversized(buf []byte) bool { return cap(buf) > oversizedSpare && cap(buf) > 4*len(buf) }

// oversizedSpare is the buffer size below which recycle keeps any spare: a few 640x480 frames.
const oversizedSpare = 4 << 20

// SetInstruction sets the instruction in force. A new instruction starts a new episode at the next
// inference (continuity history cleared, allow points at the front, the gripper's hold forgotten),
// since the robot is now doing something else. The instruction in force arriving again (a publisher
// that repeats it, ros2 topic pub -r 5) changes nothing: resetting at each would keep the continuity
// undefined, so that DySL never skips, as training and the closed-loop harness, which give an
// instruction once, never see. To start the same task over, withdraw it first. An empty instruction,
// or one of white space alone, withdraws it: no action is computed until the next one.
func (c *Core) SetInstruction(text string) {
	withdrawn := strings.TrimSpace(text) == ""
	if withdrawn {
		text = ""
	}
	c.mu.Lock()
	if !withdrawn && !c.withdrawn && c.instruction == text {
		c.mu.Unlock()
		return
	}
	c.instruction = text
	c.withdrawn = withdrawn
	c.resetPending = true
	c.mu.Unlock()
	c.cfg.Sink.Notice(EventInstruction{Text: text})
}

// RestartEpisode starts a new episode at the next inference with the instruction in force: a node
// activated again after a pause is not carrying on from where the arm was.
func (c *Core) RestartEpisode() {
	c.mu.Lock()
	c.resetPending = true
	c.mu.Unlock()
}

// ReportDecodeError counts a message the edge could not decode, for the diagnostics. A topic given as
// configured is named as NameTopics resolved it.
func (c *Core) ReportDecodeError(topic string, err error) {
	c.mu.Lock()
	c.totals.decodeErrors++
	topic = c.topics.named(c.configured, topic)
	c.mu.Unlock()
	c.cfg.Sink.Notice(EventDecodeError{Topic: topic, Err: err})
}

// HasPendingFrame reports whether a frame waits in the slot.
func (c *Core) HasPendingFrame() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pending != nil
}

// Step serves the frame in the latest-frame slot, if any, at clock time now, and reports whether there
// was one. It runs the inference on the calling goroutine and publishes through the Sink before it
// returns. A frame is not acted on when no instruction is in force, when it is older than
// max_image_age at now, or, for a bundle that reads the robot's state, when a value of it has not
// arrived or is further than state_max_age from the frame's time (its stamp; now for a frame not
// stamped); a failed inference or a non-finite chunk is reported (notice and diagnostics) and nothing
// is published. In every case the Core is ready for the next frame.
func (c *Core) Step(now time.Time) bool {
	c.mu.Lock()
	f := c.pending
	c.pending = nil
	instruction, withdrawn := c.instruction, c.withdrawn
	reset := c.resetPending
	c.resetPending = false
	c.mu.Unlock()
	if reset {
		c.restartEpisode()
	}
	if f == nil {
		return false
	}
	defer c.recycle(f) // nothing published keeps the frame's buffers
	live := c.live.Load()
	if live != c.engineLive {
		if err := c.cfg.Engine.SetSkipping(live.Skipping); err != nil {
			// Validated when set; the engine keeps its previous configuration.
			c.cfg.Sink.Notice(EventParametersNotApplied{Err: err})
		}
		c.engineLive = live
	}
	stamp := f.header().Stamp
	if now.IsZero() {
		c.count(func(w *window, t *totals) { t.noClock++; w.noClock++ })
		c.cfg.Sink.Notice(EventNoClock{Stamp: stamp})
		return true
	}
	// A frame the model cannot read is said before any reason that waiting could cure: a yuv422 camera
	// that does not stamp its frames was reported as unstamped, and its encoding only once
	// max_image_age was set to 0. Neither check decodes a pixel.
	var unreadable error
	var compressed compressedimage.Checked // its header read once, here; its pixels below
	if f.isCompressed {
		compressed, unreadable = compressedimage.Check(&f.compressed)
	} else {
		unreadable = imageOf(&f.image).Validate()
	}
	if unreadable != nil {
		c.refuseBadFrame(stamp, unreadable)
		return true
	}
	if instruction == "" {
		c.count(func(_ *window, t *totals) { t.noInstruction++ })
		c.cfg.Sink.Notice(EventNoInstruction{Stamp: stamp, Withdrawn: withdrawn})
		return true
	}
	// A frame stamped further ahead of the clock than max_image_age is dropped as well: its chunk
	// would be meant for a time that has not come (a camera clock ahead of the node's).
	if age := now.Sub(stamp.Go()); live.MaxImageAge > 0 && (stamp.IsZero() || age > live.MaxImageAge || age < -live.MaxImageAge) {
		c.count(func(w *window, t *totals) {
			t.stale++
			w.stale++
			w.lastStaleAge, w.lastStaleUnstamped = age, stamp.IsZero()
		})
		c.cfg.Sink.Notice(EventFrameStale{Stamp: stamp, Age: age, MaxAge: live.MaxImageAge})
		return true
	}
	// at is the instant the frame shows: its stamp, or the node's clock for a frame not stamped (a
	// camera that does not stamp, with max_image_age 0). The robot state, the episode's time line and
	// the gripper's hold all follow it.
	at := stamp
	if at.IsZero() {
		at = msgs.TimeFromGo(now)
	}
	var state []float64
	if c.state != nil {
		c.mu.Lock()
		problem := c.state.stateFor(stamp, at, live.StateMaxAge, c.topics.state, c.stateValues)
		if problem != "" {
			c.totals.noState++
			c.win.noState++
			c.win.lastStateProblem = problem
		}
		c.mu.Unlock()
		if problem != "" {
			c.cfg.Sink.Notice(EventNoState{Stamp: stamp, Problem: problem})
			return true
		}
		state = c.stateValues
	}
	// Stamps and the node's clock are two time lines (a camera's clock, sim time): each frame is held
	// to the last one served on its own, so that a camera stamping some frames and not others does
	// not look like time going back at every change.
	line := &c.lastStamped
	if stamp.IsZero() {
		line = &c.lastUnstamped
	}
	if last := *line; !last.IsZero() && last.Go().Sub(at.Go()) > episodeRewind {
		c.restartEpisode()
		c.count(func(w *window, t *totals) { t.timeRewinds++ })
		c.cfg.Sink.Notice(EventTimeWentBack{At: at, Last: last})
	}
	*line = at

	// The one frame decoded: every check that needs no pixels came first.
	if f.isCompressed {
		// Timed by the engine's clock, as the inference is: it is not in the inference's latency, and a
		// large JPEG takes tens of milliseconds on a robot's CPU.
		began := c.cfg.Engine.Now()
		err := compressed.Decode(&f.image)
		took := c.cfg.Engine.Now().Sub(began)
		c.count(func(w *window, _ *totals) { w.decodes = append(w.decodes, took) })
		if err != nil {
			c.refuseBadFrame(stamp, err)
			return true
		}
	}
	img := &f.image
	res, err := c.infer(img, instruction, state)
	if err != nil {
		c.refuseInference(stamp, err)
		return true
	}
	if step, dim, v, bad := firstNonFinite(res.Chunk); bad {
		c.refuseNonFinite(EventNonFiniteAction{Stamp: stamp, Step: step, Dim: dim, Value: v})
		return true
	}

	frameID := img.Header.FrameID
	if frameID == "" {
		frameID = live.FrameID
	}
	header := msgs.Header{Stamp: stamp, FrameID: frameID}
	skipRatio := res.Stats.SkipRatio()
	chunk := c.actionChunk(header, at, res, skipRatio, live)
	stats := c.skipStats(header, res.Stats)
	c.sequence++
	c.cfg.Sink.PublishActionChunk(chunk)
	c.cfg.Sink.PublishSkipStats(stats)
	c.count(func(w *window, t *totals) {
		t.published++
		t.controllersOutOfRange += uint64(res.Stats.ControllersOutOfRange)
		w.add(skipRatio, res.Stats)
	})
	if c.cfg.Forwarder != nil {
		if err := c.cfg.Forwarder.ForwardChunk(chunk, live.Skipping.ExecutedActions); err != nil {
			c.count(func(w *window, t *totals) { t.forwardFailures++ })
			c.cfg.Sink.Notice(EventForwardFailed{Sequence: chunk.Sequence, Err: err})
		}
	}
	return true
}

// restartEpisode forgets what the episode so far told the engine and the gripper's hold.
func (c *Core) restartEpisode() {
	c.cfg.Engine.Reset()
	c.gripper = gripperHold{}
	c.lastStamped, c.lastUnstamped = msgs.Time{}, msgs.Time{}
}

// infer runs the engine on one frame. A panic inside it (a bug, in our code or a library's) is the
// failure of this one inference: the node reports it and serves the next frame rather than leaving
// the arm without a policy.
func (c *Core) infer(img *msgs.Image, instruction string, state []float64) (res policy.Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	obs := policy.Observation{Image: imageOf(img), Instruction: instruction, State: state}
	if c.cfg.Infer != nil {
		return c.cfg.Infer(obs)
	}
	return c.cfg.Engine.Infer(obs)
}

// imageOf is the model input's view of img: its pixels are shared, not copied.
func imageOf(img *msgs.Image) policy.Image {
	return policy.Image{Width: int(img.Width), Height: int(img.Height), Encoding: img.Encoding,
		Step: int(img.Step), Data: img.Data}
}

func (c *Core) count(update func(*window, *totals)) {
	c.mu.Lock()
	update(&c.win, &c.totals)
	c.mu.Unlock()
}

// actionChunk is dysl_vla/msg/ActionChunk for res: the image's header, the bundle's step time and
// action names, the skip summary, and the gripper column advanced (gripper_lead) and held
// (gripper_min_hold, telling open from closed by gripper_open and gripper_closed). The hold follows at,
// the frame's instant (Step): for unstamped frames the node's clock, since every chunk at time 0 would
// leave no action executed before the next, and nothing held.
func (c *Core) actionChunk(header msgs.Header, at msgs.Time, res policy.Result, skipRatio float64, live *LiveSettings) *msgs.ActionChunk {
	m := c.cfg.Engine.Manifest
	dim := m.Dims.ActionDim
	actions := make([]float32, 0, len(res.Chunk)*dim)
	for _, row := range res.Chunk {
		actions = append(actions, row...)
	}
	leadGripper(actions, dim, m.Action.GripperIndex, live.GripperLead)
	c.gripper.apply(actions, dim, m.Action.GripperIndex, at.Nanos(), seconds(m.Action.DtSeconds), c.settings.Gripper, live.GripperMinHold)
	s := res.Stats
	return &msgs.ActionChunk{
		Header:            header,
		Sequence:          c.sequence,
		StepDt:            msgs.DurationFromGo(seconds(m.Action.DtSeconds)),
		Steps:             uint32(len(res.Chunk)),
		ActionDim:         uint32(dim),
		ActionNames:       append([]string(nil), m.Action.Names...),
		Actions:           actions,
		LayersExecuted:    uint32(s.LayersExecuted),
		LayersTotal:       uint32(m.Dims.Layers),
		VerificationFired: s.VerificationFired,
		SkipRatio:         float32(skipRatio),
		Strategy:          s.Strategy.String(),
	}
}

// skipStats is dysl_vla/msg/SkipStats for one inference; latencies go out in milliseconds.
func (c *Core) skipStats(header msgs.Header, s policy.Stats) *msgs.SkipStats {
	allow := make([]int32, len(s.AllowPoints))
	for i, a := range s.AllowPoints {
		allow[i] = int32(a)
	}
	return &msgs.SkipStats{
		Header:                header,
		Sequence:              c.sequence,
		LayersExecuted:        uint32(s.LayersExecuted),
		LayersSkipped:         uint32(s.LayersSkipped),
		LayersTotal:           uint32(c.cfg.Engine.Manifest.Dims.Layers),
		AdaptersRun:           uint32(s.AdaptersRun),
		ControllersEvaluated:  uint32(s.ControllersEvaluated),
		AllowPoints:           allow,
		Continuity:            s.Continuity,
		ContinuityDelta:       s.ContinuityDelta,
		ContinuityDefined:     !math.IsNaN(s.Continuity),
		VerificationFired:     s.VerificationFired,
		LatencyMs:             milliseconds(s.Timing.Total),
		PrefixLatencyMs:       milliseconds(s.Timing.Prefix),
		LayersLatencyMs:       milliseconds(s.Timing.Layers),
		AdaptersLatencyMs:     milliseconds(s.Timing.Adapters),
		ControllersLatencyMs:  milliseconds(s.Timing.Controllers),
		HeadLatencyMs:         milliseconds(s.Timing.Head),
		VerificationLatencyMs: milliseconds(s.Timing.Verification),
		Strategy:              s.Strategy.String(),
	}
}

func milliseconds(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// refuseNonFinite counts and reports a chunk that was not published because it held NaN or Inf,
// whether the model produced it or de-normalization overflowed.
func (c *Core) refuseNonFinite(ev EventNonFiniteAction) {
	if names := c.cfg.Engine.Manifest.Action.Names; ev.Dim < len(names) {
		ev.Name = names[ev.Dim]
	}
	c.count(func(w *window, t *totals) { t.nonFinite++; w.nonFinite++; w.lastError = ev.String() })
	c.cfg.Sink.Notice(ev)
}

// refuseInference counts and reports an inference that gave no chunk, by why: a model output holding
// NaN or Inf, an unusable frame, or a failure of the model. It is apart from the success path, whose
// error targets would otherwise be allocated for every frame.
func (c *Core) refuseInference(stamp msgs.Time, err error) {
	var inputErr *policy.InputError
	var nonFinite *policy.NonFiniteActionError
	switch {
	case errors.As(err, &nonFinite):
		c.refuseNonFinite(EventNonFiniteAction{Stamp: stamp, Step: nonFinite.Step, Dim: nonFinite.Dim, Value: float32(nonFinite.Value)})
	case errors.As(err, &inputErr):
		c.refuseBadFrame(stamp, err)
	default:
		c.count(func(w *window, t *totals) {
			t.failures++
			w.failures++
			w.lastError = "inference failed: " + err.Error()
		})
		c.cfg.Sink.Notice(EventInferenceFailed{Stamp: stamp, Err: err})
	}
}

// refuseBadFrame counts and reports a frame that could not be read: a raw encoding or size, or a
// compressed format or header, that Step refuses before anything else; compressed data that did not
// decode; or a frame the engine refused.
func (c *Core) refuseBadFrame(stamp msgs.Time, err error) {
	c.count(func(w *window, t *totals) { t.badFrames++; w.badFrames++; w.lastWarning = err.Error() })
	c.cfg.Sink.Notice(EventBadFrame{Stamp: stamp, Err: err})
}

// firstNonFinite finds the first NaN or Inf of a chunk. The engine refuses non-finite chunks, in
// robot units too, but Config.Infer may be another inference (a baseline's); nothing non-finite may
// reach an arm.
func firstNonFinite(chunk [][]float32) (step, dim int, v float32, found bool) {
	for i, row := range chunk {
		for d, x := range row {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return i, d, x, true
			}
		}
	}
	return 0, 0, 0, false
}
