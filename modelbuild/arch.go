// Package modelbuild makes DySL model bundles: a small LLaMA-style vision-language-action model written
// as ONNX graphs (prefix, one graph per decoder layer, adapters, controllers, head, and the whole model
// as one graph), its static layers chosen by calibration, and closed-form adapters.
//
// The model, for an image [1,3,H,W] and an instruction of InstructionTokens byte tokens:
//
//	prefix:  patches = reshape/transpose(image) · W_patch + position    [1, Np, D]
//	         words   = token_embedding[tokens]                          [1, Ti, D]
//	         state   = features(robot_state) · W_state + b_state        [1, 1, D]   (only with a state input)
//	         hidden  = concat(patches, words, action_queries + state)   [1, T, D], T = Np + Ti + K
//	layer i: h = h + W_o · attention(rope(W_q n), rope(W_k n), W_v n),  n = RMSNorm(h)
//	         h = h + W_down · (silu(W_gate n) * W_up n),                 n = RMSNorm(h)
//	head:    actions = RMSNorm(h)[last K tokens] · W_head + b_head       [1, K, A]
//
// Attention is bidirectional over all T tokens (no causal mask: the whole prefix is known at once and the
// action queries read everything, as in OpenVLA-OFT's parallel decoding). Rotary position embedding uses
// the rotate-half convention. Rotary positions only reach the attention scores, never the values, so
// the patches also get a learned absolute embedding (ViT's): without it a patch's value says what is in
// it but not where in the image it is, and the action queries could not read off where the gripper is.
//
// Keypoints (Arch.Keypoints > 0) give the action queries where things are in the image as numbers: a
// per-pixel network (the pixel's 3 values -> KeypointHidden, silu -> Keypoints scores, a 1x1
// convolution written as MatMul) scores every pixel for each channel; a softmax over the pixels and the
// expected pixel coordinates under it (a spatial soft-argmax, as in Levine et al.'s deep spatial
// autoencoders and end-to-end visuomotor policies) turn each channel into an (x, y) in [-1, 1]; a
// linear map of those 2·Keypoints values is added to every action query, like the state:
//
//	scores  = silu(pixels · W_kp1 + b_kp1) · W_kp2 + b_kp2        [1, S·S, C]
//	points  = softmax_pixels(gain · scores)ᵀ · pixel_grid        [1, C, 2]
//	queries += reshape(points, 2C) · W_kp_out                    [1, 1, D]
//
// Why: a patch token's value says what is in the patch, and its learned position embedding where the
// patch is, but the attention that must join the two ("the block named in the instruction is in this
// patch, so go there") is learned only from the approach frames' actions, and on 2 CPU cores the 12-layer
// reference did not learn it in 4000 steps (GitHub issue 14: its first move from the start pose pointed
// at the block with a cosine of 0.3). A block is a patch of one saturated colour, which a pixel-wise
// network separates at once, and the soft-argmax hands its place to the action queries directly.
// W_kp_out starts at zero, so a backbone trained without keypoints loads unchanged and computes what it
// computed until trained.
//
// The gain (Arch.KeypointScoreGain) sets how sharp each channel's softmax is. At 4 (small_keypoints)
// the scores the keypoint loss trained ranked a block's pixels first, but the softmax still spread
// over the table, and every block's keypoint sat about halfway to the image centre: 0.39 image units
// (12 cm) from the block on held-out start frames, where the pads, four times the pixels, were within
// 0.1. The same weights at 16 put the block's keypoint within 0.015 (small_selector; GitHub issue 14;
// measured once over Model.Keypoints by a throw-away program, not printed by any command here).
//
// The keypoint selector (Arch.SelectorWindow > 0, only with keypoints) lets the instruction say which
// keypoints matter. It embeds the instruction's bytes in SelectorEmbedding values of its own, reads
// every window of SelectorWindow consecutive bytes (past the end, padding: token 0) through a silu layer,
// sums over the windows, and scores the keypoint channels twice: once for the object the instruction
// names, once for the pad. A softmax over the channels weighs the keypoints into those two points, and a
// linear map of their 4 values is added to every action query:
//
//	windows  = [emb(t_i), …, emb(t_{i+W-1})]                        [1, Ti, W·E]
//	choice   = (Σ_i silu(windows_i · W_s1 + b_s1)) · W_s2 + b_s2    [1, 2, C]
//	chosen   = softmax_channels(choice) · points                    [1, 2, 2]
//	queries += 8 · reshape(chosen, 4) · W_sel_out                   [1, 1, D]
//
// Why: a keypoint channel follows one colour wherever it is, block or pad, and only the instruction
// says which colour is the block to pick. Left to the decoder layers, that join (the colour word in the
// instruction, then the channel of that colour) was not learned (GitHub issue 14, attempt 9: in its
// first 16 steps the policy closed a median 1.8 cm of the distance to the block, the expert 17.0;
// with the selector and sharp keypoints, 12.9 cm, small_selector). A window of 5 bytes
// sees the end of a colour word and the start of the noun after it ("red b", "lue p"), which is enough
// to tell which colour is the block and which the pad; the sum over windows makes it indifferent to
// where in the sentence they stand. W_sel_out starts at zero, so the selector can be added to a trained
// backbone that computes what it computed until trained.
//
// With Arch.RelativePoints (the selector and the scene's robot state both needed) the two chosen points
// also reach the action queries as seen from the gripper: where the block and the pad lie from the
// gripper's own place in the image, squashed so that far away reads as a direction and near as a
// distance:
//
//	gripper  = state · W_grip + b_grip                               [1, 2]     (the camera's calibration)
//	relative = 8 · tanh(3 · (chosen − gripper))                      [1, 2, 2]
//	queries += reshape(relative, 4) · W_rel                          [1, 1, D]
//
// Why: the expert steps towards the block by a fifth of the distance, up to 2 cm, i.e. a proportional
// step within 10 cm of it, and the selector policy came within a median 4.2 cm but, once low beside the
// block, moved away from it (GitHub issue 14, attempt 11), though its chosen point lay within 0.7 cm of
// the block there. The queries held the chosen point and the state's position apart, and the
// difference the step needs had to be learned through 12 layers from frames on the expert's exact
// path. tanh(3·d) is within a quarter of linear up to 10 cm (0.33 image units) and saturates beyond,
// the expert's own shape. W_grip and b_grip start as the scene camera's projection (GripperImagePoint:
// scene.ImagePoint of the normalized state) and training leaves them there: they are geometry, as a
// robot's hand-eye calibration is, not something to fit to actions. W_rel starts at zero, so the
// relative points can be added to a trained selector backbone that computes what it computed until
// trained.
//
// The robot's state (proprioception, Arch.StateDim values) is added to every action query rather than
// given a token of its own: T stays the same, so a backbone trained without it loads unchanged with a
// zero W_state and b_state and computes exactly what it computed before, and training starts from there.
// features(s) holds each normalized value v with sin(π·2^k·v) and cos(π·2^k·v), k < StateFrequencies
// (the sinusoidal features NeRF and diffusion policies give low-dimensional inputs): the gripper's
// last 2 mm above the block are 0.02 normalized units of height, and a linear layer trained with Adam
// (weights moving about a learning rate per step) would need tens of thousands of steps to grow weights
// large enough to tell them apart. At π·32 the same 2 mm turn the phase by 2 radians.
//
// Only ops that onnx-gomlx v0.3.4 imports are used: silu is written with Tanh
// (sigmoid(x) = 0.5·(1 + tanh(x/2))) because Sigmoid is missing there.
//
// Model (the Go reference forward pass in float64) is the test oracle for the ONNX graphs and the source
// of the calibration hidden states.
package modelbuild

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"dysl_vla/scene"
)

// Arch are the sizes of the model.
type Arch struct {
	Layers            int     // decoder layers L
	Hidden            int     // D
	Heads             int     // attention heads; Hidden/Heads must be even (rotary pairs)
	MLP               int     // SwiGLU inner width
	ImageSize         int     // square input images, pixels per side
	PatchSize         int     // square patches, pixels per side; must divide ImageSize
	InstructionTokens int     // byte tokens of the instruction
	Vocab             int     // token embedding rows (257: bytes + 1, 0 = padding)
	Chunk             int     // K: action queries = actions per inference
	ActionDim         int     // A
	StateDim          int     // robot-state values the model reads (proprioception); 0 = none
	StateFrequencies  int     // octaves of sinusoidal features per state value (see the package doc)
	Keypoints         int     // spatial soft-argmax channels of the image (see the package doc); 0 = none
	KeypointHidden    int     // hidden width of the per-pixel network that scores them
	KeypointGain      float64 // multiplies the keypoint scores before their softmax; 0 = DefaultKeypointGain
	SelectorWindow    int     // instruction bytes the keypoint selector reads at once (package doc); 0 = none
	SelectorHidden    int     // hidden width of the keypoint selector's window network
	RelativePoints    bool    // the chosen points also as seen from the gripper (package doc); needs the selector and the scene's state
	AdapterRank       int     // bottleneck width of the adapters
	AdapterContext    bool    // context adapters: each token also reads the mean of every token group (TokenGroups)
	ControllerHidden  int     // hidden width of the controller MLP
	RopeTheta         float64
	NormEps           float64
}

// Patches is the number of image patches, Np.
func (a Arch) Patches() int { g := a.ImageSize / a.PatchSize; return g * g }

// Tokens is T, the sequence length of the hidden state.
func (a Arch) Tokens() int { return a.Patches() + a.InstructionTokens + a.Chunk }

// TokenGroups are the hidden state's tokens by what they stand for, as [start, end) ranges in token
// order: the image patches, the instruction, the action queries. A context adapter reads the mean of
// each group, so that a token can take in what the skipped layers' attention would have brought it.
func (a Arch) TokenGroups() [][2]int {
	p, i := a.Patches(), a.InstructionTokens
	return [][2]int{{0, p}, {p, p + i}, {p + i, a.Tokens()}}
}

// AdapterFormula says what the adapters compute, for provenance notes.
func (a Arch) AdapterFormula() string {
	if !a.AdapterContext {
		return "A(h) = h + RMSNorm(h)·down·up + bias"
	}
	return "A(h) = h + (n·down + c·context)·up + bias with n = RMSNorm(h) per token and c the means of n over the image patches, the instruction and the action queries"
}

// AdapterContextWidth is the length of a context adapter's context vector (the token groups' means
// side by side), 0 for a plain adapter.
func (a Arch) AdapterContextWidth() int {
	if !a.AdapterContext {
		return 0
	}
	return len(a.TokenGroups()) * a.Hidden
}

// DefaultKeypointGain is the keypoint gain of an Arch that leaves KeypointGain at 0 (small_keypoints).
// A channel's softmax picks out a block's 18 pixels among 4096 once its score there stands about 8
// above the rest; Adam moves each weight by about a learning rate per step, so at unit gain the scores
// would take hundreds of steps to spread that far, and at 4 a quarter of that.
const DefaultKeypointGain = 4

// KeypointScoreGain is what the keypoint scores are multiplied by before their softmax over the pixels:
// KeypointGain, or DefaultKeypointGain when that is 0.
func (a Arch) KeypointScoreGain() float64 {
	if a.KeypointGain == 0 {
		return DefaultKeypointGain
	}
	return a.KeypointGain
}

// SelectorEmbedding is the width of the keypoint selector's own byte embedding: a colour word is a few
// bytes, and 16 values tell the bytes of the colour names and of " block" and " pad" apart.
const SelectorEmbedding = 16

// SelectorPointGain multiplies the chosen points before their output map. The map starts at zero and
// Adam grows each weight by about a learning rate per step, so at unit gain the points, at most 1 in
// size, reached the action queries (whose values are of order 1 each) only after hundreds of steps:
// 400 steps after the selector had learned to choose, the policy's first moves were still a quarter of
// the expert's (GitHub issue 14). At 8 the same steps move the queries eight times as far.
const SelectorPointGain = 8

// RelativeScale multiplies the chosen points' offsets from the gripper (image units, 1 = 30 cm) inside
// their tanh: near-linear up to the 10 cm within which the expert's step is proportional (package doc).
const RelativeScale = 3

// SelectorChoices is how many points the selector picks from the keypoints: the object to pick and the
// pad to put it on, in the order the instruction names them.
const SelectorChoices = 2

// KeypointFeatures is the width of the keypoint vector: an expected x and y per channel.
func (a Arch) KeypointFeatures() int { return 2 * a.Keypoints }

// KeypointGrid is the [S·S, 2] table of pixel-centre coordinates the soft-argmax averages, row-major
// pixels, (x, y) in [-1, 1]: x grows with the column, y with the row.
func (a Arch) KeypointGrid() []float32 {
	S := a.ImageSize
	out := make([]float32, 0, 2*S*S)
	for r := 0; r < S; r++ {
		for c := 0; c < S; c++ {
			out = append(out, float32((2*float64(c)+1)/float64(S)-1), float32((2*float64(r)+1)/float64(S)-1))
		}
	}
	return out
}

// HeadDim is the per-head width.
func (a Arch) HeadDim() int { return a.Hidden / a.Heads }

// StateFeatures is the width of features(robot_state): each value, then its sines and cosines.
func (a Arch) StateFeatures() int { return a.StateDim * (1 + 2*a.StateFrequencies) }

// StateAngularFrequencies are π·2^k, k < StateFrequencies: what features(robot_state) multiplies each
// normalized value by before its sine and cosine.
func (a Arch) StateAngularFrequencies() []float32 {
	out := make([]float32, a.StateFrequencies)
	for k := range out {
		out[k] = float32(math.Pi * math.Exp2(float64(k)))
	}
	return out
}

// PatchValues is the length of one flattened patch (3·P·P).
func (a Arch) PatchValues() int { return 3 * a.PatchSize * a.PatchSize }

// Validate lists every size that is out of range.
func (a Arch) Validate() error {
	var problems []string
	positive := map[string]int{
		"layers": a.Layers, "hidden": a.Hidden, "heads": a.Heads, "mlp": a.MLP, "image_size": a.ImageSize,
		"patch_size": a.PatchSize, "instruction_tokens": a.InstructionTokens, "vocab": a.Vocab, "chunk": a.Chunk,
		"action_dim": a.ActionDim, "adapter_rank": a.AdapterRank, "controller_hidden": a.ControllerHidden,
	}
	names := make([]string, 0, len(positive))
	for name := range positive {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if positive[name] <= 0 {
			problems = append(problems, fmt.Sprintf("%s (%d) must be > 0", name, positive[name]))
		}
	}
	if a.Heads > 0 && (a.Hidden%a.Heads != 0 || (a.Hidden/a.Heads)%2 != 0) {
		problems = append(problems, fmt.Sprintf("hidden (%d) must be heads (%d) times an even head width", a.Hidden, a.Heads))
	}
	if a.PatchSize > 0 && a.ImageSize%a.PatchSize != 0 {
		problems = append(problems, fmt.Sprintf("patch_size (%d) must divide image_size (%d)", a.PatchSize, a.ImageSize))
	}
	if a.Keypoints < 0 || a.KeypointHidden < 0 || (a.Keypoints > 0) != (a.KeypointHidden > 0) {
		problems = append(problems, fmt.Sprintf("keypoints (%d) and keypoint_hidden (%d) must both be > 0, or both 0", a.Keypoints, a.KeypointHidden))
	}
	if !(a.KeypointGain >= 0) || math.IsInf(a.KeypointGain, 0) {
		problems = append(problems, fmt.Sprintf("keypoint_gain (%g) must be finite and >= 0 (0: %d)", a.KeypointGain, DefaultKeypointGain))
	}
	if a.SelectorWindow < 0 || a.SelectorHidden < 0 || (a.SelectorWindow > 0) != (a.SelectorHidden > 0) ||
		(a.SelectorWindow > 0 && a.Keypoints == 0) {
		problems = append(problems, fmt.Sprintf("selector_window (%d) and selector_hidden (%d) must both be > 0 (with keypoints, %d), or both 0",
			a.SelectorWindow, a.SelectorHidden, a.Keypoints))
	}
	if a.RelativePoints && (a.SelectorWindow == 0 || a.StateDim != len(scene.RobotStateNames)) {
		problems = append(problems, fmt.Sprintf("relative_points needs the keypoint selector (selector_window %d) and the scene's %d robot-state values (state_dim %d)",
			a.SelectorWindow, len(scene.RobotStateNames), a.StateDim))
	}
	if a.StateDim < 0 || a.StateFrequencies < 0 {
		problems = append(problems, fmt.Sprintf("state_dim (%d) and state_frequencies (%d) must be >= 0", a.StateDim, a.StateFrequencies))
	}
	if a.AdapterRank > a.Hidden {
		problems = append(problems, fmt.Sprintf("adapter_rank (%d) must be <= hidden (%d)", a.AdapterRank, a.Hidden))
	}
	if a.Vocab < 257 {
		problems = append(problems, fmt.Sprintf("vocab (%d) must be >= 257 for byte tokens", a.Vocab))
	}
	if a.RopeTheta <= 1 || a.NormEps <= 0 {
		problems = append(problems, fmt.Sprintf("rope_theta (%g) must be > 1 and norm_eps (%g) > 0", a.RopeTheta, a.NormEps))
	}
	if len(problems) > 0 {
		return fmt.Errorf("modelbuild: architecture: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Preset is a named architecture with its build settings.
type Preset struct {
	Name string
	Arch Arch
	// CalibrationFrames is how many random observations the static-layer choice and the adapter fit use
	// (a quarter more, at least 2, are drawn to measure the adapters on held-out data).
	CalibrationFrames int
	// ExternalData stores large initializers in "<graph>.onnx.data" side files.
	ExternalData bool
}

// presets are the built-in architectures (LookupPreset hands out copies):
//   - tiny: for tests and CI; every file together is well under 5 MB, no external data (onnx-gomlx can
//     import every graph).
//   - small: tiny's width with 12 layers, the least the closed-loop reference needs so that skipping
//     has room (GitHub issue 14), still trainable on a 2-core CPU.
//   - small_state: small with the scene's robot state as a second input next to the camera
//     (scene.RobotStateNames): a gripper's last centimetre of height is invisible from the camera,
//     and a robot knows it from its joint encoders.
//   - small_keypoints: small_state with the image's keypoints (spatial soft-argmax, package doc) added
//     to the action queries: the camera-only and state models did not learn where the block is.
//   - small_selector: small_keypoints with the keypoint selector (package doc): the instruction picks
//     which keypoint channels are the object and the pad.
//   - small_relative: small_selector with the chosen points also as seen from the gripper (package
//     doc): the selector policy saw the block and still missed it by centimetres.
//   - bench: sized so that decoder layers dominate the time of one inference on a 2-core CPU;
//     initializers go to external data files.
//
// tinyArch is the tiny preset's width with the given number of decoder layers; small differs from
// tiny only in depth.
func tinyArch(layers int) Arch {
	return Arch{
		Layers: layers, Hidden: 64, Heads: 4, MLP: 176, ImageSize: 64, PatchSize: 8, InstructionTokens: 48,
		Vocab: 257, Chunk: 8, ActionDim: 7, AdapterRank: 16, ControllerHidden: 16,
		RopeTheta: 10000, NormEps: 1e-5,
	}
}

// selectorArch is the small_selector preset's architecture, which small_relative extends.
func selectorArch() Arch {
	a := tinyArch(12)
	a.StateDim, a.StateFrequencies = len(scene.RobotStateNames), 6
	a.Keypoints, a.KeypointHidden = 16, 32
	a.SelectorWindow, a.SelectorHidden = 5, 64
	a.KeypointGain = 16 // see the package doc
	return a
}

var presets = map[string]Preset{
	"tiny":  {Name: "tiny", Arch: tinyArch(8), CalibrationFrames: 48},
	"small": {Name: "small", Arch: tinyArch(12), CalibrationFrames: 48},
	"small_state": {Name: "small_state", Arch: func() Arch {
		a := tinyArch(12)
		a.StateDim, a.StateFrequencies = len(scene.RobotStateNames), 6
		return a
	}(), CalibrationFrames: 48},
	"small_keypoints": {Name: "small_keypoints", Arch: func() Arch {
		a := tinyArch(12)
		a.StateDim, a.StateFrequencies = len(scene.RobotStateNames), 6
		a.Keypoints, a.KeypointHidden = 16, 32
		return a
	}(), CalibrationFrames: 48},
	"small_selector": {Name: "small_selector", Arch: selectorArch(), CalibrationFrames: 48},
	"small_relative": {Name: "small_relative", Arch: func() Arch {
		a := selectorArch()
		a.RelativePoints = true
		return a
	}(), CalibrationFrames: 48},
	"bench": {
		Name: "bench",
		Arch: Arch{
			Layers: 16, Hidden: 512, Heads: 8, MLP: 1408, ImageSize: 64, PatchSize: 8, InstructionTokens: 24,
			Vocab: 257, Chunk: 8, ActionDim: 7, AdapterRank: 64, ControllerHidden: 32,
			RopeTheta: 10000, NormEps: 1e-5,
		},
		CalibrationFrames: 12,
		ExternalData:      true,
	},
}

// LookupPreset returns the built-in preset of that name; the error lists the names there are.
func LookupPreset(name string) (Preset, error) {
	p, ok := presets[name]
	if !ok {
		return Preset{}, fmt.Errorf("unknown preset %q (want one of %s)", name, strings.Join(PresetNames(), ", "))
	}
	return p, nil
}

// PresetNames lists the presets, sorted.
func PresetNames() []string {
	names := make([]string, 0, len(presets))
	for name := range presets {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
