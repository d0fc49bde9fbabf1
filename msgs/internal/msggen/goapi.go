package msggen

// API is what the .msg files cannot say about the Go code generated from
// them: Go names that differ from the mechanical ones, Go types for fields
// that hold enum values, and doc comments.
type API struct {
	// OwnPackage is the ROS package of msg/*.msg and srv/*.srv.
	OwnPackage string
	// GoPackage is the package clause of the generated files.
	GoPackage string
	// CDRImport is the import path of the cdr package the codecs call.
	CDRImport string
	// Types is keyed by full ROS name, e.g. "sensor_msgs/msg/Image". A type
	// not listed gets the mechanical names and a one-line doc.
	Types map[string]TypeAPI
	// Enums turns the constants of a ROS type into a Go type with a
	// String method.
	Enums []EnumAPI
	// Fixtures is the folder of a second definition tree whose types only
	// test the generator (see Load), or "".
	Fixtures string
	// Notes are doc comment paragraphs put before the first type of a
	// ROS package's generated file, keyed by package.
	Notes map[string]string
}

// TypeAPI describes the Go side of one ROS type.
type TypeAPI struct {
	// Doc is the doc comment, without "// ".
	Doc    string
	Fields map[string]FieldAPI
	// Constants maps a constant that no enum takes to its Go name (the
	// mechanical one is the Go type name followed by the CamelCase of the
	// constant's name).
	Constants map[string]string
	// ConstantDocs holds the doc comment of each such constant.
	ConstantDocs map[string]string
}

// FieldAPI describes the Go side of one field.
type FieldAPI struct {
	// Name replaces the CamelCase of the field name.
	Name string
	// Enum is the Go enum type of the value (or of each element).
	Enum string
	Doc  string
}

// EnumAPI makes a Go type of the constants of one ROS type.
type EnumAPI struct {
	// Name is the Go type.
	Name string
	Doc  string
	// From is the ROS type whose constants become the enum's values.
	From string
	// Strip lists prefixes; the first that a constant name starts with is
	// removed before the rest becomes the Go name Prefix+CamelCase(rest)
	// and the String text.
	Strip  []string
	Prefix string
	// Lower puts String texts in lower case; otherwise they are the
	// constant names with Strip removed.
	Lower bool
	// GoNames and Strings replace the mechanical Go name and String text of
	// single constants.
	GoNames map[string]string
	Strings map[string]string
}

// MsgsAPI is the Go API of dysl_vla/msgs: the names and docs the rest of
// the module uses.
var MsgsAPI = API{
	OwnPackage: "dysl_vla",
	GoPackage:  "msgs",
	CDRImport:  "dysl_vla/msgs/cdr",
	Fixtures:   "testdata/fixtures",
	Notes: map[string]string{
		"rcl_interfaces": "Requests and responses of the six parameter services that `ros2 param`\n" +
			"calls on ~/list_parameters, ~/describe_parameters, ~/get_parameters,\n" +
			"~/get_parameter_types, ~/set_parameters and ~/set_parameters_atomically.\n" +
			"Their type names are those rosidl gives the two halves of a .srv, e.g.\n" +
			"\"rcl_interfaces/srv/GetParameters_Request\".",
		"lifecycle_msgs": "Requests and responses of the lifecycle services a managed node offers on\n" +
			"~/change_state, ~/get_state, ~/get_available_states and\n" +
			"~/get_available_transitions, and the transition events it publishes on\n" +
			"~/transition_event.",
	},
	Enums: []EnumAPI{
		{
			Name:   "DiagnosticLevel",
			Doc:    "DiagnosticLevel is the level byte of a DiagnosticStatus.",
			From:   "diagnostic_msgs/msg/DiagnosticStatus",
			Prefix: "Diagnostic",
		},
		{
			Name: "ParameterType",
			Doc: "ParameterType is the type byte of a ParameterValue and of a\n" +
				"ParameterDescriptor (rcl_interfaces/msg/ParameterType). String returns\n" +
				"the name rclcpp uses in messages such as \"Wrong parameter type,\n" +
				"parameter x is of type {double}\".",
			From:    "rcl_interfaces/msg/ParameterType",
			Strip:   []string{"PARAMETER_"},
			Prefix:  "Parameter",
			Lower:   true,
			Strings: map[string]string{"PARAMETER_NOT_SET": "not set"},
		},
		{
			Name:   "LogLevel",
			Doc:    "LogLevel is the level byte of rcl_interfaces/msg/Log.",
			From:   "rcl_interfaces/msg/Log",
			Prefix: "Log",
		},
		{
			Name:   "FixtureMode",
			Doc:    "FixtureMode tests enum arrays and sequences.",
			From:   "codec_fixtures/msg/FixtureMode",
			Strip:  []string{"MODE_"},
			Prefix: "FixtureMode",
		},
		{
			Name: "StateID",
			Doc: "StateID is the id of a lifecycle_msgs/msg/State: a primary state, or a\n" +
				"transition state the node passes through while a transition runs.\n" +
				"String returns the label rcl_lifecycle gives the state.",
			From:   "lifecycle_msgs/msg/State",
			Strip:  []string{"PRIMARY_STATE_", "TRANSITION_STATE_"},
			Prefix: "State",
			Lower:  true,
			GoNames: map[string]string{
				"TRANSITION_STATE_CLEANINGUP":      "StateCleaningUp",
				"TRANSITION_STATE_SHUTTINGDOWN":    "StateShuttingDown",
				"TRANSITION_STATE_ERRORPROCESSING": "StateErrorProcessing",
			},
		},
		{
			Name: "TransitionID",
			Doc: "TransitionID is the id of a lifecycle_msgs/msg/Transition. String\n" +
				"returns the constant's name in lower case without TRANSITION_, e.g.\n" +
				"\"configure\" or \"on_configure_success\".",
			From:   "lifecycle_msgs/msg/Transition",
			Strip:  []string{"TRANSITION_"},
			Prefix: "Transition",
			Lower:  true,
		},
	},
	Types: map[string]TypeAPI{
		"codec_fixtures/msg/FixtureShapes": {
			Fields: map[string]FieldAPI{
				"modes":    {Enum: "FixtureMode"},
				"mode_log": {Enum: "FixtureMode"},
			},
		},
		"builtin_interfaces/msg/Time": {
			Doc: "Time is builtin_interfaces/msg/Time: a ROS time point as seconds and\n" +
				"nanoseconds since the epoch of its clock.",
			Fields: map[string]FieldAPI{"nanosec": {Doc: "in [0, 1e9)"}},
		},
		"builtin_interfaces/msg/Duration": {
			Doc: "Duration is builtin_interfaces/msg/Duration. A negative span has a\n" +
				"negative Sec and a Nanosec in [0, 1e9): -1.7 s is {Sec: -2, Nanosec: 3e8}.",
		},
		"std_msgs/msg/Header": {
			Doc: "Header is std_msgs/msg/Header: when and in which coordinate frame the data\n" +
				"of a stamped message was taken.",
		},
		"std_msgs/msg/String": {
			Doc: "String is std_msgs/msg/String, the type of the instruction topic and of\n" +
				"the talker demo in the rosbag2 fixtures.",
		},
		"sensor_msgs/msg/Image": {
			Doc: "Image is sensor_msgs/msg/Image, an uncompressed camera frame.\n\n" +
				"Header.Stamp is the acquisition time and Header.FrameID the camera's\n" +
				"optical frame (+x right, +y down, +z forward). Row r starts at byte\n" +
				"r*Step of Data; Step may exceed Width times the pixel size when rows are\n" +
				"padded, so always index rows by Step.",
			Fields: map[string]FieldAPI{
				"height":   {Doc: "rows"},
				"width":    {Doc: "columns"},
				"encoding": {Doc: "e.g. \"rgb8\", \"bgr8\", \"mono8\", \"16UC1\"; see sensor_msgs/image_encodings.hpp"},
				"is_bigendian": {Name: "IsBigEndian", Doc: "IsBigEndian is 0 on x86 and ARM; it matters only for multi-byte\n" +
					"channels such as 16UC1."},
				"step": {Doc: "bytes per row, padding included"},
				"data": {Doc: "Step*Height bytes"},
			},
		},
		"sensor_msgs/msg/CompressedImage": {
			Doc: "CompressedImage is sensor_msgs/msg/CompressedImage, a camera frame as\n" +
				"image_transport's \"compressed\" transport carries it: a JPEG or PNG file in\n" +
				"Data. Package compressedimage decodes it into an Image.",
			Fields: map[string]FieldAPI{
				"format": {Doc: "compressed_image_transport writes \"<encoding>; jpeg compressed <encoding>\"\n" +
					"(or png); older publishers \"jpeg\" or \"png\""},
				"data": {Doc: "the whole JPEG or PNG file"},
			},
		},
		"diagnostic_msgs/msg/DiagnosticArray": {
			Doc: "DiagnosticArray is diagnostic_msgs/msg/DiagnosticArray, published on\n/diagnostics.",
		},
		"diagnostic_msgs/msg/DiagnosticStatus": {
			Doc: "DiagnosticStatus is diagnostic_msgs/msg/DiagnosticStatus: the state of one\n" +
				"component. Name is \"<node name>: <task>\"; HardwareID is \"none\" when there\n" +
				"is no hardware to name.",
			Fields: map[string]FieldAPI{"level": {Enum: "DiagnosticLevel"}},
		},
		"diagnostic_msgs/msg/KeyValue": {
			Doc: "KeyValue is diagnostic_msgs/msg/KeyValue, one labelled value of a status.",
		},
		"rcl_interfaces/msg/ParameterValue": {
			Doc: "ParameterValue is rcl_interfaces/msg/ParameterValue: a variant whose Type\n" +
				"says which one of the other fields holds the value.",
			Fields: map[string]FieldAPI{"type": {Enum: "ParameterType"}},
		},
		"rcl_interfaces/msg/Parameter": {
			Doc: "Parameter is rcl_interfaces/msg/Parameter: a name and its value.",
		},
		"rcl_interfaces/msg/FloatingPointRange": {
			Doc: "FloatingPointRange is rcl_interfaces/msg/FloatingPointRange: inclusive\n" +
				"bounds and a step (0 means any value in between).",
		},
		"rcl_interfaces/msg/IntegerRange": {
			Doc: "IntegerRange is rcl_interfaces/msg/IntegerRange: inclusive bounds and a\n" +
				"step (0 means any value in between).",
		},
		"rcl_interfaces/msg/ParameterDescriptor": {
			Doc: "ParameterDescriptor is rcl_interfaces/msg/ParameterDescriptor. At most one\n" +
				"of FloatingPointRange and IntegerRange holds an element (both are\n" +
				"T[<=1] on the wire); encoding a longer one fails.",
			Fields: map[string]FieldAPI{"type": {Enum: "ParameterType"}},
		},
		"rcl_interfaces/msg/SetParametersResult": {
			Doc: "SetParametersResult is rcl_interfaces/msg/SetParametersResult. Reason is\n" +
				"shown to the user by `ros2 param set` when Successful is false.",
		},
		"rcl_interfaces/msg/ListParametersResult": {
			Doc: "ListParametersResult is rcl_interfaces/msg/ListParametersResult.",
		},
		"rcl_interfaces/msg/ParameterEvent": {
			Doc: "ParameterEvent is rcl_interfaces/msg/ParameterEvent, published on\n" +
				"/parameter_events after every accepted change. Node is the fully\n" +
				"qualified node name.",
		},
		"rcl_interfaces/msg/Log": {
			Doc: "Log is rcl_interfaces/msg/Log, one /rosout line.",
			Fields: map[string]FieldAPI{
				"level": {Enum: "LogLevel"},
				"name":  {Doc: "logger name"},
			},
		},
		"rcl_interfaces/srv/ListParameters_Request": {
			Doc: "ListParametersRequest lists parameters under Prefixes (all when empty),\n" +
				"Depth dotted levels deep.",
			Constants:    map[string]string{"DEPTH_RECURSIVE": "ListParametersDepthRecursive"},
			ConstantDocs: map[string]string{"DEPTH_RECURSIVE": "ListParametersDepthRecursive asks ListParameters for every level below\nthe prefixes."},
		},
		"rcl_interfaces/srv/ListParameters_Response": {
			Doc: "ListParametersResponse answers ListParametersRequest.",
		},
		"rcl_interfaces/srv/DescribeParameters_Request": {
			Doc: "DescribeParametersRequest asks for the descriptors of Names.",
		},
		"rcl_interfaces/srv/DescribeParameters_Response": {
			Doc: "DescribeParametersResponse holds one descriptor per requested name, in order.",
		},
		"rcl_interfaces/srv/GetParameters_Request": {
			Doc: "GetParametersRequest asks for the values of Names.",
		},
		"rcl_interfaces/srv/GetParameters_Response": {
			Doc: "GetParametersResponse holds one value per requested name, in order; an\n" +
				"unknown name gets Type ParameterNotSet.",
		},
		"rcl_interfaces/srv/GetParameterTypes_Request": {
			Doc: "GetParameterTypesRequest asks for the types of Names.",
		},
		"rcl_interfaces/srv/GetParameterTypes_Response": {
			Doc:    "GetParameterTypesResponse holds one type per requested name, in order.",
			Fields: map[string]FieldAPI{"types": {Enum: "ParameterType"}},
		},
		"rcl_interfaces/srv/SetParameters_Request": {
			Doc: "SetParametersRequest sets each parameter on its own.",
		},
		"rcl_interfaces/srv/SetParameters_Response": {
			Doc: "SetParametersResponse holds one result per parameter, in request order.",
		},
		"rcl_interfaces/srv/SetParametersAtomically_Request": {
			Doc: "SetParametersAtomicallyRequest sets all parameters or none.",
		},
		"rcl_interfaces/srv/SetParametersAtomically_Response": {
			Doc: "SetParametersAtomicallyResponse holds the single all-or-nothing result.",
		},
		"rosgraph_msgs/msg/Clock": {
			Doc: "Clock is rosgraph_msgs/msg/Clock, published on /clock by a simulator or a\n" +
				"bag player; nodes with use_sim_time take their time from it.",
		},
		"lifecycle_msgs/msg/State": {
			Doc: "State is lifecycle_msgs/msg/State: a lifecycle state and its label\n" +
				"(\"unconfigured\", \"inactive\", \"active\", ...).",
			Fields: map[string]FieldAPI{"id": {Enum: "StateID"}},
		},
		"lifecycle_msgs/msg/Transition": {
			Doc:    "Transition is lifecycle_msgs/msg/Transition: a transition and its label.",
			Fields: map[string]FieldAPI{"id": {Enum: "TransitionID"}},
		},
		"lifecycle_msgs/msg/TransitionDescription": {
			Doc: "TransitionDescription is lifecycle_msgs/msg/TransitionDescription: a\n" +
				"transition with the state it starts from and the state it leads to.",
		},
		"lifecycle_msgs/msg/TransitionEvent": {
			Doc: "TransitionEvent is lifecycle_msgs/msg/TransitionEvent, published on\n" +
				"~/transition_event each time the node changes state. Timestamp is in\n" +
				"nanoseconds of the node's clock.",
		},
		"lifecycle_msgs/srv/ChangeState_Request": {
			Doc: "ChangeStateRequest asks the node to run Transition. rclcpp takes the\n" +
				"transition by its label when the label is set, by its id otherwise.",
		},
		"lifecycle_msgs/srv/ChangeState_Response": {
			Doc: "ChangeStateResponse says whether the transition ran and succeeded.",
		},
		"lifecycle_msgs/srv/GetState_Request": {
			Doc: "GetStateRequest asks for the node's current state. It has no fields; on\n" +
				"the wire it is the one placeholder byte rosidl gives an empty message.",
		},
		"lifecycle_msgs/srv/GetState_Response": {
			Doc: "GetStateResponse holds the node's current state.",
		},
		"lifecycle_msgs/srv/GetAvailableStates_Request": {
			Doc: "GetAvailableStatesRequest asks for every state of the node's state\n" +
				"machine. It has no fields (one placeholder byte on the wire).",
		},
		"lifecycle_msgs/srv/GetAvailableStates_Response": {
			Doc: "GetAvailableStatesResponse lists the states of the node's state machine.",
		},
		"lifecycle_msgs/srv/GetAvailableTransitions_Request": {
			Doc: "GetAvailableTransitionsRequest asks for the transitions possible from the\n" +
				"current state. It has no fields (one placeholder byte on the wire).",
		},
		"lifecycle_msgs/srv/GetAvailableTransitions_Response": {
			Doc: "GetAvailableTransitionsResponse lists the transitions possible from the\n" +
				"current state.",
		},
		"dysl_vla/msg/ActionChunk": {
			Doc: "ActionChunk is dysl_vla/msg/ActionChunk (msg/ActionChunk.msg): the actions\n" +
				"the policy predicted from one camera frame, with a summary of the layer\n" +
				"skipping that produced them.",
			Fields: map[string]FieldAPI{
				"header":       {Doc: "Header is the stamp and frame_id of the source image."},
				"sequence":     {Doc: "Sequence counts inferences of this node; SkipStats repeats it."},
				"step_dt":      {Doc: "StepDt is the time between consecutive steps."},
				"steps":        {Doc: "Steps and ActionDim are the shape of Actions."},
				"action_names": {Doc: "ActionNames names each of the ActionDim columns, or is empty."},
				"actions":      {Doc: "Actions holds Steps*ActionDim values, row-major: At(s, j)."},
			},
		},
		"dysl_vla/msg/SkipStats": {
			Doc: "SkipStats is dysl_vla/msg/SkipStats (msg/SkipStats.msg): what layer\n" +
				"skipping did in one inference, for monitoring and offline analysis.",
			Fields: map[string]FieldAPI{
				"allow_points": {Doc: "AllowPoints holds each segment's skipping-allow point, in segment order."},
				"continuity":   {Doc: "Continuity and ContinuityDelta are NaN while ContinuityDefined is false."},
			},
		},
	},
}
