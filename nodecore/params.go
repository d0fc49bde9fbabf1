package nodecore

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"dysl_vla/gripper"
	"dysl_vla/msgs"
	"dysl_vla/paramserver"
	"dysl_vla/skipping"
)

// Parameter names. The skipping thresholds and switches carry the names docs/ALGORITHM.md and
// skipping.Config.Validate use, so a rejection reason names the parameter the operator typed.
const (
	// Read-only: fixed for the life of the process.
	ParamModelDir          = "model_dir"
	ParamExecutionProvider = "execution_provider"
	ParamORTThreads        = "ort_intra_op_threads"
	ParamTRTFP16           = "trt_fp16"
	ParamImageTopic        = "image_topic"
	ParamImageTransport    = "image_transport"
	ParamInstructionTopic  = "instruction_topic"
	ParamActionChunkTopic  = "action_chunk_topic"
	ParamDiagnosticsPeriod = "diagnostic_updater.period"
	ParamHardwareID        = "diagnostic_updater.hardware_id"
	ParamUseSimTime        = "use_sim_time"
	ParamManaged           = "managed"

	ParamMavlinkEnabled         = "mavlink.enabled"
	ParamMavlinkEndpoint        = "mavlink.endpoint"
	ParamMavlinkLinkTimeout     = "mavlink.link_timeout"
	ParamMavlinkTargetSystem    = "mavlink.target_system"
	ParamMavlinkTargetComponent = "mavlink.target_component"
	ParamMavlinkMaxChannels     = "mavlink.max_channels"
	ParamMavlinkGripperProgress = "mavlink.gripper_progress_timeout"
	ParamMavlinkMaxChunkWait    = "mavlink.max_chunk_wait"

	ParamGripperOpen   = "gripper_open"
	ParamGripperClosed = "gripper_closed"

	// Live: applied at the next inference.
	ParamMaxImageAge = "max_image_age"
	ParamStateMaxAge = "state_max_age"
	ParamFrameID     = "frame_id"

	ParamStrategy            = "strategy"
	ParamControllerThreshold = "controller_threshold"
	ParamEtaMove             = "eta_move"
	ParamEtaVerify           = "eta_verify"
	ParamContinuityWindow    = "continuity_window"
	ParamStride              = "stride"
	ParamVerification        = "verification"
	ParamPreSkipPrediction   = "pre_skip_prediction"
	ParamExecutedActions     = "executed_actions"
	ParamSkipRatio           = "skip_ratio"
	ParamSeed                = "seed"
	ParamGripperLead         = "gripper_lead"
	ParamGripperMinHold      = "gripper_min_hold"
)

// Settings is every parameter of the node, typed. The read-only part is read once at start-up;
// Live changes with `ros2 param set`.
type Settings struct {
	ModelDir          string
	ExecutionProvider string
	ORTThreads        int
	// TRTFP16 lets TensorRT choose fp16 kernels (execution_provider tensorrt), as the dysl tool's
	// --trt-fp16 does by default: the latencies and accuracy it measures are those of fp16 engines.
	TRTFP16    bool
	ImageTopic string
	// ImageTransport is how camera frames arrive: ImageTransportRaw or ImageTransportCompressed
	// (ImageInput says on which topic, of which type).
	ImageTransport    string
	InstructionTopic  string
	ActionChunkTopic  string
	DiagnosticsPeriod time.Duration
	HardwareID        string
	UseSimTime        bool
	Managed           bool
	// Gripper is what the policy's gripper column means (gripper_open, gripper_closed): the rule by
	// which gripper_min_hold and the MAVLink bridge tell its closes from its opens.
	Gripper gripper.Convention
	Mavlink MavlinkSettings
	Live    LiveSettings
}

// The values of image_transport, named as image_transport names its transports.
const (
	ImageTransportRaw        = "raw"
	ImageTransportCompressed = "compressed"
)

// ImageTransports lists the image transports the node takes.
func ImageTransports() []string { return []string{ImageTransportRaw, ImageTransportCompressed} }

// Image message types, one per transport.
const (
	ImageType           = "sensor_msgs/msg/Image"
	CompressedImageType = "sensor_msgs/msg/CompressedImage"
)

// ImageInput is the topic the node takes camera frames on and their type: image_topic itself with
// sensor_msgs/msg/Image, or, with image_transport compressed, image_topic + "/compressed" with
// sensor_msgs/msg/CompressedImage, as image_transport's publishers and subscribers name the
// transport's topic (a camera's /camera/color/image_raw/compressed).
func (s Settings) ImageInput() (topic, typeName string) {
	if s.ImageTransport == ImageTransportCompressed {
		return s.ImageTopic + "/compressed", CompressedImageType
	}
	return s.ImageTopic, ImageType
}

// OtherImageTransport is where image_transport's other transport would carry the camera of topic, a
// topic of type typeName: topic + "/compressed" with CompressedImage for a raw topic, the topic without
// its "/compressed" with Image for a compressed one, and the image_transport value that reads it.
// ok is false for a type that is no camera frame, or a compressed topic not named as the transport
// names it.
func OtherImageTransport(topic, typeName string) (other, otherType, transport string, ok bool) {
	switch typeName {
	case ImageType:
		return topic + "/compressed", CompressedImageType, ImageTransportCompressed, true
	case CompressedImageType:
		if base, named := strings.CutSuffix(topic, "/compressed"); named {
			return base, ImageType, ImageTransportRaw, true
		}
	}
	return "", "", "", false
}

// MavlinkSettings configure the optional MAVLink bridge the executable forwards chunks to.
type MavlinkSettings struct {
	Enabled         bool
	Endpoint        string // mavbridge.ParseEndpoint syntax: "udp-client:127.0.0.1:14550", "serial:/dev/ttyUSB0:921600"
	LinkTimeout     time.Duration
	TargetSystem    int
	TargetComponent int
	// MaxChannels is how many channels a server endpoint keeps open at once (mavbridge.Bridge.MaxChannels).
	MaxChannels int
	// GripperProgressTimeout is how long a gripper command the controller answered IN_PROGRESS is
	// given to say its outcome (mavbridge.Bridge.GripperProgressTimeout).
	GripperProgressTimeout time.Duration
	// MaxChunkWait is how long a chunk may wait unwritten before the link's status warns of a backlog
	// (mavbridge.Bridge.MaxChunkWait).
	MaxChunkWait time.Duration
}

// LiveSettings are the parameters the node core reads at every inference.
type LiveSettings struct {
	// MaxImageAge is how old (clock time minus image stamp) a frame may be when inference starts; older
	// frames are dropped, never acted on. 0 disables the check.
	MaxImageAge time.Duration
	// StateMaxAge is how far from a frame's stamp the robot state it is inferred with may be stamped,
	// for a bundle that reads one; a frame without such a state is not acted on. 0 disables the check.
	StateMaxAge time.Duration
	// FrameID is the frame_id published when the image carries none.
	FrameID string
	// GripperLead advances the gripper column of every published chunk by this many actions (see
	// leadGripper); 0 publishes the chunk as the policy predicted it.
	GripperLead int
	// GripperMinHold is the least time the gripper keeps a command before the published chunks may
	// change it again (see gripperHold); 0 publishes the gripper as predicted.
	GripperMinHold time.Duration
	Skipping       skipping.Config
}

// paramSpec is one declaration: default value and descriptor (the descriptor's Name is filled in).
type paramSpec struct {
	name string
	def  paramserver.Value
	desc paramserver.Descriptor
}

func readOnly(description string) paramserver.Descriptor {
	return paramserver.Descriptor{Description: description, ReadOnly: true}
}

func doubleRange(description string, from, to, step float64) paramserver.Descriptor {
	return paramserver.Descriptor{Description: description,
		FloatingPointRange: []msgs.FloatingPointRange{{FromValue: from, ToValue: to, Step: step}}}
}

func integerRange(description string, from, to int64, step uint64) paramserver.Descriptor {
	return paramserver.Descriptor{Description: description,
		IntegerRange: []msgs.IntegerRange{{FromValue: from, ToValue: to, Step: step}}}
}

// minEta is the smallest eta_move and eta_verify the descriptors advertise. ROS ranges include their
// ends and the thresholds must be above 0: a range from 0 would advertise a value the node refuses.
const minEta = 1e-6

// specs lists every parameter the node declares, in declaration order, with its default.
func specs() []paramSpec {
	d := skipping.DefaultConfig()
	defaultGripper := gripper.Default()
	mavTimeout := doubleRange("seconds without a heartbeat from the controller before the MAVLink link counts as down", 0.1, 60, 0)
	mavTimeout.ReadOnly = true
	// No broadcast id (0): the bridge addresses chunks and gripper commands to one controller, and only
	// that controller's heartbeats keep the link up.
	mavSystem := integerRange("MAVLink system id of the arm controller: chunks go to it, its heartbeats keep the link up", 1, 255, 1)
	mavSystem.ReadOnly = true
	mavComponent := integerRange("MAVLink component id of the arm controller", 1, 255, 1)
	mavComponent.ReadOnly = true
	// 16 is mavbridge.DefaultMaxChannels (the node executable's tests hold the two equal). Up to 1024:
	// each channel costs gomavlib three goroutines and, for UDP, a 64 KiB datagram buffer.
	mavChannels := integerRange("channels a udp-server or tcp-server endpoint keeps open at once, one per peer: a peer beyond "+
		"them takes the place of the least useful channel, never the controller's while its heartbeat comes within link_timeout, or is refused "+
		"(no effect on client and serial endpoints)", 1, 1024, 1)
	mavChannels.ReadOnly = true
	// 3 s and 0.5 s are mavbridge's DefaultGripperProgressTimeout and DefaultMaxChunkWait, as
	// link_timeout's 2 s is its DefaultLinkTimeout (the node executable's tests hold them equal).
	mavProgress := doubleRange("seconds a gripper command the controller answered MAV_RESULT_IN_PROGRESS is given to say its outcome, "+
		"each IN_PROGRESS starting the wait again, before it counts as failed and is sent again: more than a slow gripper takes to close", 0.1, 60, 0)
	mavProgress.ReadOnly = true
	mavChunkWait := doubleRange("seconds a chunk may wait in the link's queue, part of it not yet written, before the MAVLink status "+
		"warns of a backlog (a link slower than the chunks: the controller executes old chunks)", 0.01, 60, 0)
	mavChunkWait.ReadOnly = true
	// The policy's gripper column in its own units: -1..1 in the bundles, 0..1 or a width in
	// millimetres elsewhere. A range makes the values finite; ±1000 keeps them within 1e-4 in float32.
	// Read-only: the bridge takes them once, when it starts.
	gripperOpen := doubleRange("value of the policy's gripper column (as the chunks publish it) that means fully open (the bundles' convention: -1; "+
		"0 for a column of 0..1 that closes at 1): a command at the middle between gripper_open and gripper_closed, or on this side of it, "+
		"opens the gripper, for gripper_min_hold and the MAVLink bridge alike", -1000, 1000, 0)
	gripperOpen.ReadOnly = true
	gripperClosed := doubleRange("value of the policy's gripper column that means fully closed (the bundles' convention: +1): a command past "+
		"the middle towards it closes the gripper, for gripper_min_hold and the MAVLink bridge alike; must differ from gripper_open "+
		"(the two the other way round for a column whose high value opens)", -1000, 1000, 0)
	gripperClosed.ReadOnly = true
	threads := integerRange("ONNX Runtime intra-op threads per session", 1, 64, 1)
	threads.ReadOnly = true
	period := doubleRange("seconds between /diagnostics publications", 0.1, 60, 0)
	period.ReadOnly = true
	transport := readOnly("how camera frames arrive, as image_transport's subscribers take it: raw, sensor_msgs/msg/Image on image_topic; compressed, sensor_msgs/msg/CompressedImage (JPEG or PNG, 8-bit colour or gray) on image_topic/compressed")
	transport.AdditionalConstraints = "one of " + strings.Join(ImageTransports(), ", ")
	strategy := paramserver.Descriptor{
		Description:           "skipping strategy: the paper's method or a baseline",
		AdditionalConstraints: "one of " + strings.Join(skipping.StrategyNames(), ", "),
	}
	return []paramSpec{
		{ParamModelDir, paramserver.String(""), readOnly("directory of the DySL model bundle (manifest.yaml and ONNX graphs)")},
		{ParamExecutionProvider, paramserver.String("cpu"), readOnly("ONNX Runtime execution provider: cpu, cuda or tensorrt")},
		{ParamORTThreads, paramserver.Integer(1), threads},
		{ParamTRTFP16, paramserver.Bool(true), readOnly("with execution_provider tensorrt: let TensorRT choose fp16 kernels, as dysl's --trt-fp16 (default true) does when it measures a bundle")},
		{ParamImageTopic, paramserver.String("image"), readOnly("camera topic (sensor_msgs/msg/Image, best effort; with image_transport compressed, the base of the topic taken)")},
		{ParamImageTransport, paramserver.String(ImageTransportRaw), transport},
		{ParamInstructionTopic, paramserver.String("instruction"), readOnly("instruction topic (std_msgs/msg/String, reliable, transient local)")},
		{ParamActionChunkTopic, paramserver.String("action_chunk"), readOnly("output topic of the action chunks")},
		{ParamDiagnosticsPeriod, paramserver.Double(1.0), period},
		{ParamHardwareID, paramserver.String("none"), readOnly("hardware_id of the diagnostic statuses")},
		{ParamUseSimTime, paramserver.Bool(false), readOnly("use the ROS time of /clock (rosgraph_msgs/Clock) instead of the system clock, as ros2 bag play --clock publishes it")},
		{ParamManaged, paramserver.Bool(false), readOnly("start as a managed (lifecycle) node, unconfigured: configure loads the bundle, activate serves frames (~/change_state)")},
		{ParamMavlinkEnabled, paramserver.Bool(false), readOnly("forward every published chunk to a MAVLink controller")},
		{ParamMavlinkEndpoint, paramserver.String("udp-client:127.0.0.1:14550"), readOnly("MAVLink endpoint of the arm controller: udp-client:HOST:PORT, udp-server:HOST:PORT, tcp-client:HOST:PORT, tcp-server:HOST:PORT or serial:DEVICE:BAUD (checked at start-up by the node executable)")},
		{ParamMavlinkLinkTimeout, paramserver.Double(2.0), mavTimeout},
		{ParamMavlinkTargetSystem, paramserver.Integer(1), mavSystem},
		{ParamMavlinkTargetComponent, paramserver.Integer(1), mavComponent},
		{ParamMavlinkMaxChannels, paramserver.Integer(16), mavChannels},
		{ParamMavlinkGripperProgress, paramserver.Double(3.0), mavProgress},
		{ParamMavlinkMaxChunkWait, paramserver.Double(0.5), mavChunkWait},

		{ParamMaxImageAge, paramserver.Double(0.5), doubleRange("seconds a frame may age before inference starts on it; older frames, and frames stamped further ahead of the clock, are dropped (0 disables the check)", 0, 60, 0)},
		{ParamStateMaxAge, paramserver.Double(0.5), doubleRange("seconds between a frame's stamp (the node's clock for a frame not stamped) and the robot state (joint_states) it is inferred with, for a bundle that reads one; a frame without such a state is not acted on (0 disables the check, as a robot whose joint_states are not stamped needs)", 0, 60, 0)},
		{ParamFrameID, paramserver.String(""), paramserver.Descriptor{Description: "frame_id published with a chunk when the image has none",
			AdditionalConstraints: fmt.Sprintf("at most %d bytes", MaxFrameID)}},

		{ParamStrategy, paramserver.String(d.Strategy.String()), strategy},
		{ParamControllerThreshold, paramserver.Double(d.ControllerThreshold), doubleRange("tau: a controller skips when its probability exceeds this", 0, 1, 0)},
		{ParamEtaMove, paramserver.Double(d.EtaMove), doubleRange("eta1: continuity change that moves the allow points (normalized action units)", minEta, 10, 0)},
		{ParamEtaVerify, paramserver.Double(d.EtaVerify), doubleRange("eta2: continuity drop that triggers post-skip verification (normalized action units)", minEta, 10, 0)},
		{ParamContinuityWindow, paramserver.Integer(int64(d.ContinuityWindow)), integerRange("N: executed actions continuity is computed over", 2, 64, 1)},
		{ParamStride, paramserver.Integer(int64(d.Stride)), integerRange("allow-point stride on a continuity drop: 0 adaptive, 1..64 constant", 0, 64, 1)},
		{ParamVerification, paramserver.Bool(d.Verification), paramserver.Descriptor{Description: "post-skip verification: re-run a frame in full at the first continuity drop"}},
		{ParamPreSkipPrediction, paramserver.Bool(d.PreSkipPrediction), paramserver.Descriptor{Description: "move the allow points with continuity (off: they stay at the front)"}},
		{ParamExecutedActions, paramserver.Integer(int64(d.ExecutedActions)), integerRange("actions of each chunk the robot executes, entering the continuity history (0 = whole chunk)", 0, 1024, 1)},
		{ParamSkipRatio, paramserver.Double(d.SkipRatio), doubleRange("share of dynamic layers skipped by the random_skip and fixed_ratio strategies", 0, 1, 0)},
		{ParamSeed, paramserver.Integer(d.Seed), paramserver.Descriptor{Description: "seed of the random skip baseline"}},
		{ParamGripperOpen, paramserver.Double(float64(defaultGripper.Open)), gripperOpen},
		{ParamGripperClosed, paramserver.Double(float64(defaultGripper.Closed)), gripperClosed},
		{ParamGripperLead, paramserver.Integer(0), integerRange("actions by which the gripper column of each published chunk is advanced: the gripper opens or closes that many steps before the policy's chunk says (0 = as predicted; no effect without a gripper in the bundle's actions)", 0, 64, 1)},
		{ParamGripperMinHold, paramserver.Double(0), doubleRange("seconds the gripper keeps a command once it opened or closed: a published chunk that would change it sooner keeps the command in force, on the timeline of the published chunks (their stamps; the node's clock for a frame not stamped) (0 = as predicted; no effect without a gripper in the bundle's actions)", 0, 10, 0)},
	}
}

// ParameterNames lists every parameter the node declares, in declaration order.
func ParameterNames() []string {
	var names []string
	for _, s := range specs() {
		names = append(names, s.name)
	}
	return names
}

// Declare declares every node parameter on srv, taking srv's start-up overrides (--params-file, -p)
// instead of the defaults, and returns the resulting settings. A value of the wrong type or out of its
// range, or a combination skipping.Config.Validate rejects, is an error naming the parameter. From
// then on srv refuses a set that settingsFrom would reject, as rclcpp's on-set callback registered in
// a node's constructor does: a managed node that is not configured yet (no Core, no bundle) must not
// take values its configure would then fail on.
func Declare(srv *paramserver.Server) (Settings, error) {
	for _, s := range specs() {
		desc := s.desc
		desc.Name = s.name
		if _, err := srv.Declare(s.name, s.def, desc); err != nil {
			return Settings{}, fmt.Errorf("nodecore: %w", err)
		}
	}
	settings, err := SettingsOf(srv)
	if err != nil {
		return Settings{}, err
	}
	srv.AddOnSetCallback(func(params []paramserver.Parameter) paramserver.SetResult {
		if _, err := proposedSettings(srv, params); err != nil {
			return paramserver.SetResult{Successful: false, Reason: err.Error()}
		}
		return paramserver.SetResult{Successful: true}
	})
	return settings, nil
}

// SettingsOf reads the settings srv's parameters hold now, as the Core reads them: for a caller that
// needs them before a Core exists (replay resolves its input topics with them).
func SettingsOf(srv *paramserver.Server) (Settings, error) {
	return settingsFrom(srv.Snapshot().Value)
}

// proposedSettings are the settings srv would hold with params set.
func proposedSettings(srv *paramserver.Server, params []paramserver.Parameter) (Settings, error) {
	snap := srv.Snapshot()
	return settingsFrom(func(name string) (paramserver.Value, bool) {
		for _, p := range params {
			if p.Name == name {
				return p.Value, true
			}
		}
		return snap.Value(name)
	})
}

// NewParamServer returns a parameter server for the node nodeFQN (such as "/dysl_vla_node") with every
// node parameter declared, overrides applied. now stamps parameter events (nil: time.Now).
func NewParamServer(nodeFQN string, overrides map[string]paramserver.Value, now func() time.Time) (*paramserver.Server, Settings, error) {
	srv, err := paramserver.New(paramserver.Config{Node: nodeFQN, Overrides: overrides, Now: now})
	if err != nil {
		return nil, Settings{}, err
	}
	settings, err := Declare(srv)
	if err != nil {
		return nil, Settings{}, err
	}
	return srv, settings, nil
}

// LoadParams builds the parameter server as the ROS node would with `--params-file paramsFile`, for the
// node nodeFQN: `dysl replay` uses it so a replay runs with the same YAML as the robot. An empty
// paramsFile gives the defaults.
func LoadParams(paramsFile, nodeFQN string, now func() time.Time) (*paramserver.Server, Settings, error) {
	var overrides map[string]paramserver.Value
	if paramsFile != "" {
		var err error
		if overrides, err = paramserver.LoadParamsFile(paramsFile, nodeFQN); err != nil {
			return nil, Settings{}, fmt.Errorf("params file %s: %w", paramsFile, err)
		}
	}
	srv, settings, err := NewParamServer(nodeFQN, overrides, now)
	if err != nil && paramsFile != "" {
		// A value the file gives that the node refuses ("unknown strategy") is the file's to fix.
		return nil, Settings{}, fmt.Errorf("params file %s: %w", paramsFile, err)
	}
	return srv, settings, err
}

// lookup gives a parameter's value; settingsFrom reads through it so the on-set callback can overlay a
// proposed change on the current values.
type lookup func(name string) (paramserver.Value, bool)

// settingsFrom reads every parameter through get and checks what the descriptors cannot: the strategy
// name, the skipping configuration as a whole and the gripper's open and closed values against each
// other.
func settingsFrom(get lookup) (Settings, error) {
	r := reader{get: get}
	s := Settings{
		ModelDir:          r.str(ParamModelDir),
		ExecutionProvider: r.str(ParamExecutionProvider),
		ORTThreads:        int(r.integer(ParamORTThreads)),
		TRTFP16:           r.boolean(ParamTRTFP16),
		ImageTopic:        r.str(ParamImageTopic),
		ImageTransport:    r.str(ParamImageTransport),
		InstructionTopic:  r.str(ParamInstructionTopic),
		ActionChunkTopic:  r.str(ParamActionChunkTopic),
		DiagnosticsPeriod: seconds(r.double(ParamDiagnosticsPeriod)),
		HardwareID:        r.str(ParamHardwareID),
		UseSimTime:        r.boolean(ParamUseSimTime),
		Managed:           r.boolean(ParamManaged),
		Gripper: gripper.Convention{
			Open:   float32(r.double(ParamGripperOpen)), // ±1000, the declared range
			Closed: float32(r.double(ParamGripperClosed)),
		},
		Mavlink: MavlinkSettings{
			Enabled:         r.boolean(ParamMavlinkEnabled),
			Endpoint:        r.str(ParamMavlinkEndpoint),
			LinkTimeout:     seconds(r.double(ParamMavlinkLinkTimeout)),
			TargetSystem:    int(r.integer(ParamMavlinkTargetSystem)),
			TargetComponent: int(r.integer(ParamMavlinkTargetComponent)),
			MaxChannels:     int(r.integer(ParamMavlinkMaxChannels)),

			GripperProgressTimeout: seconds(r.double(ParamMavlinkGripperProgress)),
			MaxChunkWait:           seconds(r.double(ParamMavlinkMaxChunkWait)),
		},
		Live: LiveSettings{
			MaxImageAge:    seconds(r.double(ParamMaxImageAge)),
			StateMaxAge:    seconds(r.double(ParamStateMaxAge)),
			FrameID:        r.str(ParamFrameID),
			GripperLead:    int(r.integer(ParamGripperLead)),
			GripperMinHold: seconds(r.double(ParamGripperMinHold)),
			Skipping: skipping.Config{
				ControllerThreshold: r.double(ParamControllerThreshold),
				ContinuityWindow:    int(r.integer(ParamContinuityWindow)),
				EtaMove:             r.double(ParamEtaMove),
				EtaVerify:           r.double(ParamEtaVerify),
				Stride:              int(r.integer(ParamStride)),
				Verification:        r.boolean(ParamVerification),
				PreSkipPrediction:   r.boolean(ParamPreSkipPrediction),
				ExecutedActions:     int(r.integer(ParamExecutedActions)),
				SkipRatio:           r.double(ParamSkipRatio),
				Seed:                r.integer(ParamSeed),
			},
		},
	}
	if r.err != nil {
		return Settings{}, r.err
	}
	// Published with every chunk; the parameter services also answer with it, once per name asked.
	if err := checkFrameID("parameter "+ParamFrameID, s.Live.FrameID); err != nil {
		return Settings{}, err
	}
	// A command is told open or closed by the side of their middle it is on: equal values have no
	// middle (and two zeros would be taken by the bridge for its default, -1 and +1). Compared as the
	// float32 the rule takes.
	if s.Gripper.Open == s.Gripper.Closed {
		return Settings{}, fmt.Errorf("parameters %s and %s are both %v: expected two different values, the gripper column's fully open and fully closed",
			ParamGripperOpen, ParamGripperClosed, s.Gripper.Open)
	}
	if !slices.Contains(ImageTransports(), s.ImageTransport) {
		return Settings{}, fmt.Errorf("parameter %s: %q is not an image transport this node takes (expected one of %s)",
			ParamImageTransport, s.ImageTransport, strings.Join(ImageTransports(), ", "))
	}
	strategy, err := skipping.ParseStrategy(r.str(ParamStrategy))
	if err != nil {
		return Settings{}, fmt.Errorf("parameter %s: %w", ParamStrategy, err)
	}
	s.Live.Skipping.Strategy = strategy
	if err := s.Live.Skipping.Validate(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// reader reads typed values and keeps the first problem, so settingsFrom reads like a field list.
type reader struct {
	get lookup
	err error
}

func (r *reader) value(name string, want msgs.ParameterType) paramserver.Value {
	v, ok := r.get(name)
	switch {
	case r.err != nil:
	case !ok:
		r.err = fmt.Errorf("parameter %s is not declared", name)
	case v.Type != want:
		r.err = fmt.Errorf("parameter %s is %s, expected %s", name, v.Type, want)
	}
	return v
}

func (r *reader) str(name string) string { return r.value(name, msgs.ParameterString).StringValue }
func (r *reader) integer(name string) int64 {
	return r.value(name, msgs.ParameterInteger).IntegerValue
}
func (r *reader) double(name string) float64 {
	return r.value(name, msgs.ParameterDouble).DoubleValue
}
func (r *reader) boolean(name string) bool { return r.value(name, msgs.ParameterBool).BoolValue }

func seconds(s float64) time.Duration {
	if math.IsNaN(s) || s <= 0 {
		return 0
	}
	// The declared ranges keep values far below this; a value past it would wrap to a negative
	// duration in the conversion, which a ticker refuses with a panic.
	if s >= float64(math.MaxInt64)/float64(time.Second) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(s * float64(time.Second))
}

// SkippingParameters are the node parameters that set cfg, the inverse of what the node reads into
// LiveSettings.Skipping: for a simulator or a test that drives a Core under a given configuration
// (as NewParamServer overrides, or through Set).
func SkippingParameters(cfg skipping.Config) []paramserver.Parameter {
	return []paramserver.Parameter{
		{Name: ParamStrategy, Value: paramserver.String(cfg.Strategy.String())},
		{Name: ParamControllerThreshold, Value: paramserver.Double(cfg.ControllerThreshold)},
		{Name: ParamEtaMove, Value: paramserver.Double(cfg.EtaMove)},
		{Name: ParamEtaVerify, Value: paramserver.Double(cfg.EtaVerify)},
		{Name: ParamContinuityWindow, Value: paramserver.Integer(int64(cfg.ContinuityWindow))},
		{Name: ParamStride, Value: paramserver.Integer(int64(cfg.Stride))},
		{Name: ParamVerification, Value: paramserver.Bool(cfg.Verification)},
		{Name: ParamPreSkipPrediction, Value: paramserver.Bool(cfg.PreSkipPrediction)},
		{Name: ParamExecutedActions, Value: paramserver.Integer(int64(cfg.ExecutedActions))},
		{Name: ParamSkipRatio, Value: paramserver.Double(cfg.SkipRatio)},
		{Name: ParamSeed, Value: paramserver.Integer(cfg.Seed)},
	}
}
