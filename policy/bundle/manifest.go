// Package bundle is the on-disk format of a DySL model bundle: a directory holding manifest.yaml and the
// ONNX graphs it names. It is pure Go (YAML and ONNX protobuf headers only, no ONNX Runtime) so the
// builder, the calibration and training tools, `dysl model check` and the engine share one definition.
package bundle

// ManifestFile is the manifest's file name inside a bundle directory.
const ManifestFile = "manifest.yaml"

// FormatVersion identifies this layout; Load rejects any other value.
const FormatVersion = "dysl-bundle/1"

// Tensor names shared by every graph of a bundle. Hidden states are float32 [1, Tokens, Hidden].
const (
	InputImage     = "image"      // float32 [1, 3, Image.Height, Image.Width], already normalized
	InputTokens    = "tokens"     // int64 [1, Dims.InstructionTokens]
	InputState     = "state"      // float32 [1, len(State.Names)], normalized; only when the manifest has a state block
	InputHidden    = "hidden_in"  // float32 [1, Tokens, Hidden]
	OutputHidden   = "hidden_out" // float32 [1, Tokens, Hidden]
	OutputSkipProb = "skip_prob"  // float32 [1, 1], controller output in [0, 1]
	OutputActions  = "actions"    // float32 [1, Chunk, ActionDim], normalized actions (see Action)
)

// The range of action.dt_seconds: a chunk step is sent as step_dt (a ROS Duration) and as MAVLink's
// step_dt_us (whole microseconds, 32 bits: at most 71 minutes).
const (
	MinDtSeconds = 1e-6
	MaxDtSeconds = 3600.0
)

// MaxImageSide is the largest width or height of the model's input image: far beyond a VLA's input
// (224 or so), and small enough that the engine's image buffer cannot outgrow memory.
const MaxImageSide = 8192

// Manifest describes one bundle. Every path is relative to the bundle directory.
type Manifest struct {
	Format     string     `yaml:"format"`
	Name       string     `yaml:"name"`
	Provenance Provenance `yaml:"provenance"`
	Dims       Dims       `yaml:"dims"`
	Image      ImageSpec  `yaml:"image"`
	Tokenizer  Tokenizer  `yaml:"tokenizer"`
	Action     ActionSpec `yaml:"action"`
	// State is the robot's own state the model reads next to the camera (proprioception); nil for a
	// model that sees the camera and the instruction only.
	State *StateSpec `yaml:"state,omitempty"`
	// StaticLayers are the always-executed layers, ascending; they must include Dims.Layers-1.
	StaticLayers []int `yaml:"static_layers"`
	// StaticProfile is the per-layer mean cosine similarity (input vs output) the static set was
	// chosen from, when calibration produced it; empty otherwise.
	StaticProfile []float64 `yaml:"static_profile,omitempty"`
	Files         Files     `yaml:"files"`
	// FLOPs per graph for one inference (multiply-adds counted as 2), used for ideal speedups.
	FLOPs FLOPs `yaml:"flops"`
	// SHA256 is each graph's and external data file's SHA-256 as the tools last wrote the bundle
	// (Write records it), by the file's name in the bundle. Load compares it with the files
	// (CheckRecordedFiles): a graph copied in from a sibling bundle of the same shapes passes every
	// other check. Absent from bundles written before it was kept, which are not compared.
	SHA256 map[string]string `yaml:"sha256,omitempty"`
}

// Provenance says how the bundle was made, so a result can be traced back to its inputs.
type Provenance struct {
	Builder     string `yaml:"builder"`           // e.g. "dysl model build"
	Preset      string `yaml:"preset"`            // tiny | bench | ...
	Seed        int64  `yaml:"seed"`              // random initialization seed
	Weights     string `yaml:"weights,omitempty"` // safetensors file the backbone came from, if any
	Adapters    string `yaml:"adapters"`          // how adapters were made, e.g. "closed-form least squares on 64 calibration frames"
	Controllers string `yaml:"controllers"`       // how controllers were made
	Created     string `yaml:"created,omitempty"` // RFC 3339, informational
}

// Dims are the model's sizes.
type Dims struct {
	Layers            int `yaml:"layers"`             // decoder layers L
	Hidden            int `yaml:"hidden"`             // D
	Heads             int `yaml:"heads"`              // attention heads
	MLP               int `yaml:"mlp"`                // SwiGLU inner width
	Tokens            int `yaml:"tokens"`             // T = image patches + instruction tokens (+ action queries)
	InstructionTokens int `yaml:"instruction_tokens"` // length of the token input
	Vocab             int `yaml:"vocab"`              // token embedding rows
	AdapterRank       int `yaml:"adapter_rank"`       // bottleneck width of the adapters
	// AdapterContext is, for context adapters, the number of token groups whose means every adapter
	// also reads (its context.weight has AdapterContext·Hidden rows); 0 for plain adapters.
	AdapterContext int `yaml:"adapter_context,omitempty"`
	Chunk          int `yaml:"chunk"`      // K actions per inference
	ActionDim      int `yaml:"action_dim"` // A values per action
}

// ImageSpec says how a camera frame becomes the model's image input.
type ImageSpec struct {
	Width  int `yaml:"width"`
	Height int `yaml:"height"`
	// Resize is the rule from any frame size to Width x Height: "center_crop_resize" (crop the largest
	// centered region of the target aspect ratio, then resize: area averaging where it shrinks,
	// bilinear where it grows) or "stretch".
	Resize string    `yaml:"resize"`
	Mean   []float64 `yaml:"mean"` // per RGB channel, applied to values in [0, 1]
	Std    []float64 `yaml:"std"`
	// Balance, when set, is the per-channel median (RGB, in [0, 1]) of the frames the model was
	// trained on: for a camera above a table, the table's colour, which fills most of the frame. Each
	// frame's channels are then scaled (by a gain within [MinBalanceGain, MaxBalanceGain]) so that
	// their medians match it, before the normalization: a light that brightens or dims the whole
	// scene is undone before the model sees it. Omitted, frames go in as they come.
	Balance []float64 `yaml:"balance,omitempty"`
}

// The gain Balance may apply to a channel: a frame darker or brighter than that, e.g. a covered lens,
// is corrected only this far.
const (
	MinBalanceGain = 0.5
	MaxBalanceGain = 2.0
)

// BalanceSpread is the ratio of the largest of a frame's three balance gains (RGB) to the smallest: 1
// when a light brightened or dimmed every channel alike.
func BalanceSpread(gain [3]float64) float64 {
	return max(gain[0], gain[1], gain[2]) / min(gain[0], gain[1], gain[2])
}

// Tokenizer says how an instruction string becomes InputTokens.
type Tokenizer struct {
	// Kind "bytes": UTF-8 bytes + 1 (0 is padding), truncated or zero-padded to Dims.InstructionTokens.
	Kind string `yaml:"kind"`
}

// ActionSpec names the action dimensions and holds the normalization statistics:
// action = normalized * Std + Mean, per dimension.
type ActionSpec struct {
	Names []string  `yaml:"names"` // len ActionDim, e.g. x y z roll pitch yaw gripper
	Mean  []float64 `yaml:"mean"`
	Std   []float64 `yaml:"std"`
	// GripperIndex is the gripper's column, -1 when there is none. It is required (ReadManifest):
	// left out, it would decode as 0, and column 0 would drive the gripper.
	GripperIndex int     `yaml:"gripper_index"`
	DtSeconds    float64 `yaml:"dt_seconds"` // time between consecutive actions of a chunk
}

// StateSpec names the values of the robot-state input and holds their normalization:
// normalized = (value − Mean) / Std per value. The names are what the robot publishes them under (the
// node picks them by name out of a sensor_msgs/JointState), in the order the model reads them.
type StateSpec struct {
	Names []string  `yaml:"names"`
	Mean  []float64 `yaml:"mean"`
	Std   []float64 `yaml:"std"`
}

// StateDim is how many values the state input has: 0 when the model takes no robot state.
func (m *Manifest) StateDim() int {
	if m.State == nil {
		return 0
	}
	return len(m.State.Names)
}

// Files names the graphs. Adapters and Controllers are keyed by dynamic layer index.
type Files struct {
	Prefix      string         `yaml:"prefix"` // image, tokens (, state) -> hidden_out
	Layers      []string       `yaml:"layers"` // hidden_in -> hidden_out, one per layer, index = layer
	Adapters    map[int]string `yaml:"adapters"`
	Controllers map[int]string `yaml:"controllers"`
	Head        string         `yaml:"head"` // hidden_in -> actions
	Full        string         `yaml:"full"` // image, tokens (, state) -> actions: the whole model as one graph
}

// FLOPs per graph, one inference.
type FLOPs struct {
	Prefix     int64 `yaml:"prefix"`
	Layer      int64 `yaml:"layer"`
	Adapter    int64 `yaml:"adapter"`
	Controller int64 `yaml:"controller"`
	Head       int64 `yaml:"head"`
}
