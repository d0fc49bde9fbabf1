// Package replay runs a model on a recorded rosbag2 bag through the same node core as the ROS 2 node:
// the bag's instructions and images are fed in bag time, synchronously, so the same bag and parameters
// give the same decisions every time. The images are raw (sensor_msgs/msg/Image) or compressed
// (sensor_msgs/msg/CompressedImage, JPEG or PNG), as the bag records the image topic. It writes the
// node's publications into an output bag and a report (Markdown and PNG plots); with CompareFull it
// also runs the full model on every frame and measures the action error and the speedup side by side.
// For a bundle that reads the robot's state, the bag's JointState topic is fed in the same time order,
// as the node's joint_states subscription takes it.
package replay

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"dysl_vla/bag"
	"dysl_vla/compressedimage"
	"dysl_vla/gripper"
	"dysl_vla/msgs"
	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
	"dysl_vla/policy"
	"dysl_vla/realpath"
)

// NodeName is the node a parameters file is matched against, as `ros2 launch` names the node.
const NodeName = "/dysl_vla_node"

// Output topics, as the node publishes them under its default name and parameters (the chunks go to
// action_chunk_topic: TopicActionChunk by default).
const (
	TopicActionChunk = "/action_chunk"
	TopicSkipStats   = "/dysl_vla_node/skip_stats"
	TopicDiagnostics = "/diagnostics"
)

// Config says what to replay. Engine and Params are the caller's (open the engine with the bundle,
// build Params with nodecore.LoadParams from the same YAML the node takes).
type Config struct {
	Engine *policy.Engine
	Params *paramserver.Server
	// BagPath is the input bag (directory or lone .mcap); OutDir receives the output bag in OutDir/bag
	// and the report in OutDir. OutDir must not be the input bag or inside it, nor ModelDir (optional:
	// the bundle Engine was opened from) or inside it.
	BagPath, OutDir, ModelDir string
	// ImageTopic and InstructionTopic default to the parameters' image_topic and instruction_topic,
	// resolved as the node resolves them (/image and /instruction by default; with image_transport
	// compressed, /image/compressed). The image topic may hold sensor_msgs/msg/Image or
	// sensor_msgs/msg/CompressedImage, whichever the bag records. A default raw topic the bag lacks is
	// replaced by its image_transport compressed topic when the bag has that (/image/compressed).
	// StateTopic (a sensor_msgs/msg/JointState) defaults to /joint_states and is read only for a
	// bundle with a state block.
	ImageTopic, InstructionTopic, StateTopic string
	// CompareFull also runs the single-graph full model on every frame acted on.
	CompareFull bool
	// KeepChunks keeps every published chunk in Result.Chunks, a decision log to compare two replays
	// by. Off, memory stays flat over a long bag (each chunk kept cost about 1.4 KB: 150 MB an hour of
	// a 30 Hz camera); the output bag holds every chunk either way.
	KeepChunks bool
	// Forwarder, optional, receives every chunk as the live node would forward it (MAVLink bridge).
	Forwarder nodecore.ChunkForwarder
	// Progress, optional, is told the bag time reached and the bag's duration.
	Progress func(done, total time.Duration)
	// Context, optional, stops the replay when done (Ctrl-C): what was replayed until then is written
	// as a complete output bag and report, and Run returns the context's error.
	Context context.Context
}

// Input message types replay acts on.
const (
	imageType       = nodecore.ImageType
	compressedType  = nodecore.CompressedImageType
	instructionType = "std_msgs/msg/String"
	stateType       = "sensor_msgs/msg/JointState"
)

// throughputFrames is how many camera frames the report's bag-decoding rate is measured on: ten
// seconds of a 30 Hz camera, enough for a rate, and little beside a replay of any length.
const throughputFrames = 300

// frameDecoder decodes camera frames for the throughput line of the report as the node does, a
// compressed frame down to its pixels: its decoding is most of what reading such a bag costs.
func frameDecoder(compressed bool) func(data []byte) error {
	var image msgs.Image
	if !compressed {
		return func(data []byte) error { return msgs.Decode(data, &image) }
	}
	var m msgs.CompressedImage
	return func(data []byte) error {
		if err := msgs.Decode(data, &m); err != nil {
			return err
		}
		return compressedimage.Decode(&m, &image)
	}
}

// withOtherTransport adds to err, cfg's image topic missing from the bag or of another type, the
// other image transport's topic when the bag holds the camera there, and how to read it: --image-topic
// always; without it, the params file's setting that would name that topic.
func withOtherTransport(err error, info bag.Info, cfg Config, topicGiven bool) error {
	for _, expected := range []string{imageType, compressedType} {
		other, otherType, transport, ok := nodecore.OtherImageTransport(cfg.ImageTopic, expected)
		if !ok || !slices.Equal(info.TopicTypes(other), []string{otherType}) {
			continue
		}
		how := "give --image-topic " + other
		if !topicGiven {
			current, _ := cfg.Params.Get(nodecore.ParamImageTransport)
			setting := fmt.Sprintf("%s %s", nodecore.ParamImageTransport, transport)
			if len(current) == 1 && current[0].StringValue == transport {
				// The transport is right already: image_topic itself ends in /compressed.
				setting = fmt.Sprintf("%s %s", nodecore.ParamImageTopic, other)
			}
			how = fmt.Sprintf("set %s in the params file, or %s", setting, how)
		}
		return fmt.Errorf("%w; the bag holds the camera on %s (%s): %s", err, other, otherType, how)
	}
	return err
}

// Result is what a replay produced.
type Result struct {
	Steps   []Step
	Skips   []Skip
	Summary Summary
	// Chunks are the published chunks in order, with Config.KeepChunks: the decision log that must be
	// identical between two replays of the same bag.
	Chunks []msgs.ActionChunk
	// ReportPath is the Markdown report; OutBag the output bag directory.
	ReportPath, OutBag string
}

// Run replays the bag. The node's clock is what a dysl_vla_node would read with the same parameters
// while the bag is played into it (see ClockSource): use_sim_time decides, as on the robot.
// Diagnostics are published every diagnostic_updater.period of that clock while messages come, and
// once across a gap without messages, as the node does under use_sim_time. Whatever was computed
// before a fault in the input bag or an interruption is kept: the output bag is closed properly and
// the report written, and the fault is returned with the result.
func Run(cfg Config) (res Result, err error) {
	if cfg.Engine == nil || cfg.Params == nil || cfg.BagPath == "" || cfg.OutDir == "" {
		return res, errors.New("replay: Config needs Engine, Params, BagPath and OutDir")
	}
	imageTopicGiven := cfg.ImageTopic != ""
	if err := inputTopicsFromParams(&cfg); err != nil {
		return res, err
	}
	if cfg.StateTopic == "" {
		cfg.StateTopic = "/" + nodecore.StateTopic
	}
	needsState := cfg.Engine.Manifest != nil && cfg.Engine.Manifest.State != nil
	ctx := cfg.Context
	if ctx == nil {
		ctx = context.Background()
	}
	if err := checkOutputDir(cfg.BagPath, cfg.OutDir, cfg.ModelDir); err != nil {
		return res, err
	}
	in, err := bag.Open(cfg.BagPath)
	if err != nil {
		return res, err
	}
	defer in.Close()
	info := in.Info()
	var cameraNote string
	if !imageTopicGiven && len(info.TopicTypes(cfg.ImageTopic)) == 0 && !strings.HasSuffix(cfg.ImageTopic, "/compressed") &&
		slices.Equal(info.TopicTypes(cfg.ImageTopic+"/compressed"), []string{compressedType}) {
		// The camera as image_transport's compressed transport recorded it. The node with these
		// parameters would read the raw topic, so the report says which was read, and why.
		cameraNote = fmt.Sprintf("%s is not in the bag, so its compressed transport was read (the node reads it with %s %s)",
			cfg.ImageTopic, nodecore.ParamImageTransport, nodecore.ImageTransportCompressed)
		cfg.ImageTopic += "/compressed"
	}
	if err := checkTopicType(info, cfg.BagPath, cfg.ImageTopic, imageType, compressedType); err != nil {
		return res, withOtherTransport(err, info, cfg, imageTopicGiven)
	}
	if err := checkTopicType(info, cfg.BagPath, cfg.InstructionTopic, instructionType); err != nil {
		return res, err
	}
	compressedImages := info.TopicTypes(cfg.ImageTopic)[0] == compressedType
	if needsState {
		// Without it every frame would be skipped for want of a state: say so before replaying.
		if err := checkTopicType(info, cfg.BagPath, cfg.StateTopic, stateType); err != nil {
			return res, fmt.Errorf("%w; the bundle reads the robot state %v from it", err, cfg.Engine.Manifest.State.Names)
		}
	}

	res.OutBag = filepath.Join(cfg.OutDir, "bag")
	out, err := bag.Create(res.OutBag, bag.WriterOptions{})
	if err != nil {
		return res, fmt.Errorf("replay: %w; give another --out, or remove it", err)
	}
	rec := &recorder{out: out, keepChunks: cfg.KeepChunks}
	defer func() {
		if cerr := out.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()

	sess := &session{cfg: cfg, rec: rec, compressedImages: compressedImages}
	// The comparison with the full model needs the frame and the state the core inferred with: the
	// pixels the core decoded out of a compressed frame, the state picked by name out of the
	// JointState messages. Keep them as the core hands them to the engine.
	infer := func(obs policy.Observation) (policy.Result, error) {
		sess.state = append(sess.state[:0], obs.State...)
		if cfg.CompareFull {
			sess.image = obs.Image
			sess.image.Data = append(sess.pixels[:0], obs.Image.Data...)
			sess.pixels = sess.image.Data
		}
		return cfg.Engine.Infer(obs)
	}
	core, err := nodecore.New(nodecore.Config{Engine: cfg.Engine, Params: cfg.Params, Sink: rec, Forwarder: cfg.Forwarder, Infer: infer})
	if err != nil {
		return res, err
	}
	defer core.Close()
	settings := core.Settings()
	if err := rec.addTopics(resolveTopic(settings.ActionChunkTopic)); err != nil {
		return res, err
	}
	clock := newNodeClock(settings.UseSimTime, info, settings.DiagnosticsPeriod)
	topics := []string{cfg.ImageTopic, cfg.InstructionTopic}
	if needsState {
		topics = append(topics, cfg.StateTopic)
	}
	if clock.source == ClockRecorded {
		if err := checkTopicType(info, cfg.BagPath, TopicClock, clockType); err != nil {
			return res, err
		}
		topics = append(topics, TopicClock)
	}

	sess.core, sess.clock = core, clock
	var readErr error
	for m, err := range in.Messages(topics...) {
		if err != nil {
			readErr = err
			break
		}
		if ctx.Err() != nil {
			readErr = fmt.Errorf("interrupted: %w", context.Cause(ctx))
			break
		}
		if cfg.Progress != nil {
			cfg.Progress(time.Duration(m.LogTime-info.Start), info.Duration())
		}
		sess.serve(m)
	}
	if now := clock.now(); !now.IsZero() {
		rec.diagnosticsAt(core, now, rec.logTime)
	}

	res.Steps, res.Skips, res.Chunks = rec.steps, rec.skips, rec.chunks
	res.Summary = Summarize(res.Steps, res.Skips)
	res.Summary.ForwardFailures = rec.forwardFailures
	res.Summary.ControllersOutOfRange = rec.controllersOutOfRange
	res.Summary.Clock = clock.source
	res.Summary.BagWarnings = info.Warnings
	if readErr != nil {
		res.Summary.StoppedEarly = readErr.Error()
		if rec.logTime >= info.Start {
			res.Summary.StoppedEarly += fmt.Sprintf(" (at bag time %v of %v)",
				time.Duration(rec.logTime-info.Start).Round(time.Millisecond), info.Duration().Round(time.Millisecond))
		}
	}
	if stored, ok := info.StoredCount(cfg.ImageTopic); ok && readErr == nil && uint64(res.Summary.Frames+res.Summary.Skipped) < stored {
		// The MCAP reader passes over a message on a channel its file never declares without a word.
		res.Summary.BagWarnings = append(res.Summary.BagWarnings, fmt.Sprintf("the storage files say they hold %d messages on %s, and %d were read: the reader passed over the others (in an MCAP file, a message on a channel the file does not declare)",
			stored, cfg.ImageTopic, res.Summary.Frames+res.Summary.Skipped))
	}
	res.Summary.Hint = nothingActedOnHint(res.Summary, settings.Live.MaxImageAge, len(info.TopicTypes(TopicClock)) > 0, cfg)
	res.Summary.Camera = fmt.Sprintf("%s (%s)", cfg.ImageTopic, info.TopicTypes(cfg.ImageTopic)[0])
	res.Summary.CameraNote = cameraNote
	if readErr == nil { // not after Ctrl-C, nor on a bag the replay could not read to its end
		tp, err := bag.MeasureDecodeThroughput(ctx, cfg.BagPath, cfg.ImageTopic, frameDecoder(compressedImages), throughputFrames)
		if err == nil {
			res.Summary.DecodeFramesPerSecond = tp.FramesPerSecond()
		}
	}
	title := fmt.Sprintf("%s on %s", cfg.Engine.Manifest.Name, cfg.BagPath)
	if err := WriteReport(cfg.OutDir, title, res.Steps, res.Skips, res.Summary, cfg.Engine.SkippingConfig().String()); err != nil {
		return res, err // no ReportPath: nothing says a report was written
	}
	res.ReportPath = filepath.Join(cfg.OutDir, "report.md")
	if readErr != nil {
		return res, fmt.Errorf("replay: input bag stopped early (everything before it was replayed): %w", readErr)
	}
	if rec.writeErr != nil {
		return res, rec.writeErr
	}
	return res, nil
}

// session is one replay's node: the core, its clock and the recorder of what it publishes.
type session struct {
	cfg         Config
	core        *nodecore.Core
	rec         *recorder
	clock       *nodeClock
	instruction string
	// compressedImages: the image topic holds CompressedImage frames, which the core decodes.
	compressedImages bool
	// state and image are the robot state (in the bundle's order) and the frame of the last inference,
	// image's pixels in pixels' storage; image only with CompareFull.
	state  []float64
	image  policy.Image
	pixels []byte
}

// serve hands one input message to the node, as its subscription callback and worker would, with the
// diagnostics that fall due first; the message ends acted on or as one Skip.
func (s *session) serve(m bag.Message) {
	s.rec.begin(m, m.Topic == s.cfg.ImageTopic)
	if m.Damaged != nil { // counted as a message that does not decode; the bag reads on
		s.core.ReportDecodeError(m.Topic, m.Damaged)
		s.rec.settle()
		return
	}
	clockMessage, err := s.clock.observe(m)
	if at, due := s.clock.diagnosticsDue(); due {
		s.rec.diagnosticsAt(s.core, at, m.LogTime)
	}
	if clockMessage {
		if err != nil {
			s.rec.skip(Skip{Kind: SkipDecodeError, Reason: err.Error()})
		}
		return
	}
	switch m.Topic {
	case s.cfg.InstructionTopic:
		var text msgs.String
		if err := msgs.Decode(m.Data, &text); err != nil {
			s.core.ReportDecodeError(m.Topic, err)
			break
		}
		s.core.SetInstruction(text.Data)
		s.instruction = text.Data
	case s.cfg.StateTopic:
		s.core.OfferSerializedState(m.Topic, m.Data)
	case s.cfg.ImageTopic:
		offer := s.core.OfferSerializedFrame
		if s.compressedImages {
			offer = s.core.OfferSerializedCompressedFrame
		}
		if !offer(m.Topic, m.Data) {
			break // a decode error, reported
		}
		s.core.Step(s.clock.now())
		if s.rec.frameStep != nil && s.cfg.CompareFull {
			compare(s.cfg.Engine, s.core.Settings().Gripper, s.image, s.instruction, s.state, s.rec.frameStep, s.rec.lastChunk)
		}
	}
	s.rec.settle()
}

// checkTopicType refuses a topic recorded with another type than replay decodes (one of want), by the
// bag's own record of it (metadata.yaml and every storage file).
func checkTopicType(info bag.Info, bagPath, topic string, want ...string) error {
	types := info.TopicTypes(topic)
	switch {
	case len(types) == 0:
		err := fmt.Errorf("replay: bag %s has no topic %s (topics: %s)", bagPath, topic, topicList(info))
		if len(info.Warnings) > 0 { // a damaged file: the topic may be in what cannot be read
			err = fmt.Errorf("%w; %s", err, strings.Join(info.Warnings, "; "))
		}
		return err
	case len(types) > 1:
		return fmt.Errorf("replay: topic %s of bag %s is recorded with %d types (%s), expected only %s",
			topic, bagPath, len(types), strings.Join(types, ", "), strings.Join(want, " or "))
	case !slices.Contains(want, types[0]):
		return fmt.Errorf("replay: topic %s of bag %s is %s, expected %s", topic, bagPath, types[0], strings.Join(want, " or "))
	}
	return nil
}

// checkOutputDir refuses an output directory that is the input bag, lies inside it, or would put the
// output bag where the input is; and one that is the model bundle or inside it, where the bag, report
// and plots would land among the bundle's graphs.
func checkOutputDir(bagPath, outDir, modelDir string) error {
	in, out := realpath.Of(bagPath), realpath.Of(outDir)
	if modelDir != "" {
		if model := realpath.Of(modelDir); out == model || isWithin(out, model) {
			return fmt.Errorf("replay: output directory %s is the model bundle %s or inside it; give --out a directory of its own", outDir, modelDir)
		}
	}
	outBag := filepath.Join(out, "bag")
	if in == out || isWithin(out, in) {
		return fmt.Errorf("replay: output directory %s is the input bag %s or inside it; give --out a directory of its own", outDir, bagPath)
	}
	if in == outBag || isWithin(in, outBag) {
		return fmt.Errorf("replay: the output bag would be written to %s, where the input bag %s is; give another --out", outBag, bagPath)
	}
	return nil
}

func isWithin(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// nothingActedOnHint says what to do when no frame was acted on, by the reason that held back the
// most frames, or that none was read; empty when some frame was acted on.
func nothingActedOnHint(s Summary, maxAge time.Duration, bagHasClock bool, cfg Config) string {
	switch {
	case s.Frames > 0:
		return ""
	case s.Skipped == 0:
		return fmt.Sprintf("No frame was read: the bag holds no message on %s in what was replayed (--image-topic).", cfg.ImageTopic)
	}
	switch s.skipKinds()[0] {
	case SkipStale:
		if s.Unstamped*2 > s.SkippedBy[SkipStale] {
			return fmt.Sprintf("%d of the frames have header.stamp 0: the camera driver did not stamp them, so their age is unknown. "+
				"Set `max_image_age: 0` in --params to act on them unchecked (on the robot, have the driver stamp its images).", s.Unstamped)
		}
		return staleHint(s, maxAge, bagHasClock)
	case SkipInferenceFailed, SkipNonFinite:
		return fmt.Sprintf("Every inference failed (%d) or gave a chunk holding NaN or Inf (%d): the model is not usable on these frames. "+
			"The report lists the errors; `dysl model check` and `dysl bench` try the bundle alone.",
			s.SkippedBy[SkipInferenceFailed], s.SkippedBy[SkipNonFinite])
	case SkipBadFrame:
		return "The frames were refused: the reasons in report.md say why (an encoding or a size the model does not take, " +
			"or compressed data that is no 8-bit JPEG or PNG)."
	case SkipDecodeError:
		return "The frames' messages could not be read (damaged, or not of the type the bag records for the topic): the reasons in report.md name them."
	case SkipNoClock: // a bag without /clock replays on its log times: its /clock is there but empty or late
		return "use_sim_time is true, but no /clock message came before the frames: the bag's /clock is empty or starts after them " +
			"(`dysl bag info`). Replay with use_sim_time false (the default), which takes the time each message was recorded."
	case SkipNoInstruction:
		return fmt.Sprintf("No instruction was in force for the frames: is it recorded on %s? (--instruction-topic)", cfg.InstructionTopic)
	case SkipNoState:
		return fmt.Sprintf("No frame had a usable robot state: is the bundle's state on %s, with the joint names of its state.names? (--state-topic)", cfg.StateTopic)
	}
	return fmt.Sprintf("No frame was acted on (most often: %s): the reasons in report.md say why.", s.skipKinds()[0])
}

// staleHint says what to do when the frames were mostly dropped as stale: their stamps far from the
// node's clock point at the clocks, not at the camera.
func staleHint(s Summary, maxAge time.Duration, bagHasClock bool) string {
	age := s.StaleAgeMedian
	if age.Abs() < nodecore.ClockMismatch {
		return fmt.Sprintf("Every frame was older than max_image_age (%v), or stamped further ahead, by the node's clock (%s; median age %v): "+
			"raise max_image_age in --params.", maxAge, s.Clock, age)
	}
	side := "behind"
	if age < 0 {
		side = "ahead of"
	}
	hint := fmt.Sprintf("The image header stamps are %v %s the node's clock (%s), far beyond max_image_age (%v): "+
		"they were stamped in another session than the one this bag's times come from (a recorded playback, "+
		"or a camera clock that is not synchronized).", age.Abs().Round(time.Second), side, s.Clock, maxAge)
	switch {
	case s.Clock == ClockLogTime && bagHasClock:
		return hint + " The bag records /clock: replay with `use_sim_time: true` in --params " +
			"(on the robot: launch with use_sim_time:=true and `ros2 bag play` without --clock, so the recorded /clock plays)."
	case s.Clock == ClockRecorded:
		return hint + " The bag's /clock does not match the stamps either: set `max_image_age: 0` in --params to turn " +
			"the check off (on the robot: `ros2 param set /dysl_vla_node max_image_age 0.0`)."
	default:
		return hint + " The bag has no /clock of the stamps' session, so use_sim_time cannot help: set `max_image_age: 0` " +
			"in --params to turn the check off (on the robot: `ros2 param set /dysl_vla_node max_image_age 0.0`)."
	}
}

func topicList(info bag.Info) string {
	var s string
	for i, t := range info.Topics {
		if i > 0 {
			s += ", "
		}
		s += t.Name
	}
	return s
}

// compare runs the full model on the same frame and fills the comparison fields of st; grip is the
// node's gripper convention, by which the two chunks' gripper commands are read.
func compare(e *policy.Engine, grip gripper.Convention, img policy.Image, instruction string, state []float64, st *Step, chunk *msgs.ActionChunk) {
	t0 := time.Now()
	full, err := e.InferSingleGraph(policy.Observation{Image: img, Instruction: instruction, State: state})
	if err != nil || chunk == nil {
		return
	}
	st.FullLatencyMs = float64(time.Since(t0)) / float64(time.Millisecond)
	st.Compared = true
	st.ActionErrorMAE, st.GripperAgree = chunkError(full, chunk, e.Manifest.Action.GripperIndex, grip)
}

// chunkError is the mean absolute difference between two chunks and whether their gripper commands
// (column gripperDim, open or closed by grip) agree at every step.
func chunkError(full [][]float32, got *msgs.ActionChunk, gripperDim int, grip gripper.Convention) (float64, bool) {
	var sum float64
	n := 0
	agree := true
	for s, row := range full {
		for d, v := range row {
			if s*int(got.ActionDim)+d >= len(got.Actions) {
				continue
			}
			g := got.At(s, d)
			sum += math.Abs(float64(g - v))
			n++
			if d == gripperDim && grip.Closes(g) != grip.Closes(v) {
				agree = false
			}
		}
	}
	if n == 0 {
		return 0, false
	}
	return sum / float64(n), agree
}

// inputTopicsFromParams fills the image and instruction topics the caller left empty from the
// parameters, image_topic and instruction_topic resolved as the node resolves them, so that a bag
// recorded on a robot replays with the node's own parameters file and no topic flags.
func inputTopicsFromParams(cfg *Config) error {
	settings, err := nodecore.SettingsOf(cfg.Params)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	if cfg.ImageTopic == "" {
		image, _ := settings.ImageInput() // as the node subscribes to it
		cfg.ImageTopic = resolveTopic(image)
	}
	if cfg.InstructionTopic == "" {
		cfg.InstructionTopic = resolveTopic(settings.InstructionTopic)
	}
	return nil
}

// resolveTopic is topic as the node, in the root namespace under NodeName (as ros2 launch runs it by
// default), resolves it: "action_chunk" is /action_chunk, "~/chunks" /dysl_vla_node/chunks.
func resolveTopic(topic string) string {
	return paramserver.Args{NodeName: path.Base(NodeName), Namespace: "/"}.RemapName(topic)
}
