package modelbuild

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"

	"dysl_vla/onnxgraph"
	"dysl_vla/safetensors"
	"dysl_vla/scene"
)

// Weights are the backbone parameters (everything except adapters and controllers), float32, row-major.
// Matrices are stored [in, out] so that y = x · W, as the ONNX MatMul nodes use them (PyTorch
// nn.Linear stores [out, in]: transpose when converting).
type Weights struct {
	PatchWeight    []float32 // prefix.patch.weight   [3·P·P, D], patch values ordered (channel, row, column)
	PatchPosition  []float32 // prefix.patch.position [Np, D], a learned embedding per patch (its place in the image)
	TokenEmbedding []float32 // prefix.token_embedding [Vocab, D]
	ActionQueries  []float32 // prefix.action_queries  [K, D]
	StateWeight    []float32 // prefix.state.weight    [StateFeatures, D], only when the model reads the robot state
	StateBias      []float32 // prefix.state.bias      [D], likewise
	KeypointPixel  []float32 // prefix.keypoints.pixel.weight [3, KeypointHidden], only with keypoints
	KeypointPixelB []float32 // prefix.keypoints.pixel.bias   [KeypointHidden]
	KeypointScore  []float32 // prefix.keypoints.score.weight [KeypointHidden, Keypoints]
	KeypointScoreB []float32 // prefix.keypoints.score.bias   [Keypoints]
	KeypointOut    []float32 // prefix.keypoints.out.weight   [2·Keypoints, D]
	SelectorEmbed  []float32 // prefix.selector.embedding     [Vocab, SelectorEmbedding], only with the selector
	SelectorWindow []float32 // prefix.selector.window.weight [SelectorWindow·SelectorEmbedding, SelectorHidden]
	SelectorWinB   []float32 // prefix.selector.window.bias   [SelectorHidden]
	SelectorChoice []float32 // prefix.selector.choice.weight [SelectorHidden, 2·Keypoints]
	SelectorChB    []float32 // prefix.selector.choice.bias   [2·Keypoints]
	SelectorOut    []float32 // prefix.selector.out.weight    [4, D]
	GripperWeight  []float32 // prefix.relative.gripper.weight [StateDim, 2], only with relative points: the camera's calibration
	GripperBias    []float32 // prefix.relative.gripper.bias   [2]
	RelativeOut    []float32 // prefix.relative.out.weight     [4, D]
	Layers         []LayerWeights
	HeadNorm       []float32 // head.norm.weight [D]
	HeadWeight     []float32 // head.proj.weight [D, A]
	HeadBias       []float32 // head.proj.bias   [A]
}

// LayerWeights are one decoder layer's parameters; names are "layers.<i>.<field name below>".
type LayerWeights struct {
	AttnNorm []float32 // attn_norm.weight [D]
	Q        []float32 // attn.q.weight    [D, D]
	K        []float32 // attn.k.weight    [D, D]
	V        []float32 // attn.v.weight    [D, D]
	O        []float32 // attn.o.weight    [D, D]
	MLPNorm  []float32 // mlp_norm.weight  [D]
	Gate     []float32 // mlp.gate.weight  [D, MLP]
	Up       []float32 // mlp.up.weight    [D, MLP]
	Down     []float32 // mlp.down.weight  [MLP, D]
}

// AdapterWeights are the parameters of adapter j: out = h + (n·Down + c·Context) · Up + Bias, with
// n = RMSNorm(h)·g per token and c the means of n over each token group side by side (Arch.TokenGroups,
// the same for every token). A plain adapter has no Context and leaves the c term out.
// Names are "adapters.<j>.<field>".
type AdapterWeights struct {
	Norm []float32 // norm.weight [D]
	Down []float32 // down.weight [D, r]
	Up   []float32 // up.weight   [r, D]
	Bias []float32 // up.bias     [D]
	// Context is context.weight [G·D, r] for a context adapter (Arch.AdapterContext), nil otherwise.
	Context []float32
}

// ControllerWeights are the parameters of controller j:
// skip_prob = sigmoid(tanh(RMSNorm(mean_t h)·g · FC1 + FC1Bias) · FC2 + FC2Bias). Names "controllers.<j>.<field>".
type ControllerWeights struct {
	Norm    []float32 // norm.weight [D]
	FC1     []float32 // fc1.weight  [D, C]
	FC1Bias []float32 // fc1.bias    [C]
	FC2     []float32 // fc2.weight  [C, 1]
	FC2Bias []float32 // fc2.bias    [1]
}

// param is one named backbone tensor: where it lives in Weights, its shape, and its random init.
type param struct {
	name  string
	shape []int64
	data  *[]float32
	init  func(r *rand.Rand, n int) []float32
}

func normal(std float64) func(r *rand.Rand, n int) []float32 {
	return func(r *rand.Rand, n int) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = float32(r.NormFloat64() * std)
		}
		return out
	}
}

func fixed(values []float32) func(r *rand.Rand, n int) []float32 {
	return func(_ *rand.Rand, _ int) []float32 { return slices.Clone(values) }
}

func constant(v float32) func(r *rand.Rand, n int) []float32 {
	return func(_ *rand.Rand, n int) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = v
		}
		return out
	}
}

// params lists the backbone tensors in a fixed order (the order random init draws them in).
//
// Init scale: matrices N(0, 1/fan_in) keep every projection's output at unit scale; norm gains are 1.
// With pre-norm residual blocks the hidden state then grows slowly (about sqrt of the depth) and stays
// finite, while each layer changes it by a comparable amount, so no layer is an identity.
func (w *Weights) params(a Arch) []param {
	D, F, A := int64(a.Hidden), int64(a.MLP), int64(a.ActionDim)
	if len(w.Layers) != a.Layers {
		w.Layers = make([]LayerWeights, a.Layers)
	}
	fanIn := func(n int64) func(r *rand.Rand, n int) []float32 { return normal(1 / math.Sqrt(float64(n))) }
	ps := []param{
		{"prefix.patch.weight", []int64{int64(a.PatchValues()), D}, &w.PatchWeight, fanIn(int64(a.PatchValues()))},
		{"prefix.patch.position", []int64{int64(a.Patches()), D}, &w.PatchPosition, normal(1)},
		{"prefix.token_embedding", []int64{int64(a.Vocab), D}, &w.TokenEmbedding, normal(1)},
		{"prefix.action_queries", []int64{int64(a.Chunk), D}, &w.ActionQueries, normal(1)},
	}
	if a.StateDim > 0 {
		// Zero: the state starts out ignored, so it can be added to a backbone trained without it.
		ps = append(ps,
			param{"prefix.state.weight", []int64{int64(a.StateFeatures()), D}, &w.StateWeight, constant(0)},
			param{"prefix.state.bias", []int64{D}, &w.StateBias, constant(0)})
	}
	if a.Keypoints > 0 {
		// The output map is zero, like the state's: keypoints can be added to a trained backbone. The
		// pixel network is random so that its scores differ between pixels from the first step on.
		H, C := int64(a.KeypointHidden), int64(a.Keypoints)
		ps = append(ps,
			param{"prefix.keypoints.pixel.weight", []int64{3, H}, &w.KeypointPixel, fanIn(3)},
			param{"prefix.keypoints.pixel.bias", []int64{H}, &w.KeypointPixelB, constant(0)},
			param{"prefix.keypoints.score.weight", []int64{H, C}, &w.KeypointScore, fanIn(H)},
			param{"prefix.keypoints.score.bias", []int64{C}, &w.KeypointScoreB, constant(0)},
			param{"prefix.keypoints.out.weight", []int64{2 * C, D}, &w.KeypointOut, constant(0)})
	}
	if a.SelectorWindow > 0 {
		// The output map is zero, like the keypoints': the selector can be added to a trained backbone.
		// The choice map is zero too: the sum over 48 windows of a random window network would score
		// the channels tens apart and saturate the softmax; from zero every channel weighs the same and
		// the gradient reaches all of them.
		E, H, C := int64(SelectorEmbedding), int64(a.SelectorHidden), int64(a.Keypoints)
		window := int64(a.SelectorWindow) * E
		ps = append(ps,
			param{"prefix.selector.embedding", []int64{int64(a.Vocab), E}, &w.SelectorEmbed, normal(1)},
			param{"prefix.selector.window.weight", []int64{window, H}, &w.SelectorWindow, fanIn(window)},
			param{"prefix.selector.window.bias", []int64{H}, &w.SelectorWinB, constant(0)},
			param{"prefix.selector.choice.weight", []int64{H, SelectorChoices * C}, &w.SelectorChoice, constant(0)},
			param{"prefix.selector.choice.bias", []int64{SelectorChoices * C}, &w.SelectorChB, constant(0)},
			param{"prefix.selector.out.weight", []int64{2 * SelectorChoices, D}, &w.SelectorOut, constant(0)})
	}
	if a.RelativePoints {
		// The gripper's image point starts as the scene camera's (and training keeps it there); the
		// output map is zero, like the selector's: relative points can be added to a trained backbone.
		grip, gripBias := GripperImagePoint()
		ps = append(ps,
			param{"prefix.relative.gripper.weight", []int64{int64(a.StateDim), 2}, &w.GripperWeight, fixed(grip)},
			param{"prefix.relative.gripper.bias", []int64{2}, &w.GripperBias, fixed(gripBias)},
			param{"prefix.relative.out.weight", []int64{2 * SelectorChoices, D}, &w.RelativeOut, constant(0)})
	}
	for i := range w.Layers {
		l := &w.Layers[i]
		p := fmt.Sprintf("layers.%d.", i)
		ps = append(ps,
			param{p + "attn_norm.weight", []int64{D}, &l.AttnNorm, constant(1)},
			param{p + "attn.q.weight", []int64{D, D}, &l.Q, fanIn(D)},
			param{p + "attn.k.weight", []int64{D, D}, &l.K, fanIn(D)},
			param{p + "attn.v.weight", []int64{D, D}, &l.V, fanIn(D)},
			param{p + "attn.o.weight", []int64{D, D}, &l.O, fanIn(D)},
			param{p + "mlp_norm.weight", []int64{D}, &l.MLPNorm, constant(1)},
			param{p + "mlp.gate.weight", []int64{D, F}, &l.Gate, fanIn(D)},
			param{p + "mlp.up.weight", []int64{D, F}, &l.Up, fanIn(D)},
			param{p + "mlp.down.weight", []int64{F, D}, &l.Down, fanIn(F)},
		)
	}
	ps = append(ps,
		param{"head.norm.weight", []int64{D}, &w.HeadNorm, constant(1)},
		param{"head.proj.weight", []int64{D, A}, &w.HeadWeight, normal(0.5 / math.Sqrt(float64(D)))},
		param{"head.proj.bias", []int64{A}, &w.HeadBias, constant(0)},
	)
	return ps
}

// GripperImagePoint is the scene camera's calibration as the relative points read it (package doc):
// W_grip [StateDim, 2] and b_grip [2] such that state · W_grip + b_grip is scene.ImagePoint of the
// gripper tip for a robot state normalized by SceneStateSpec. The projection is linear in the tip's
// place, so row i is how far one standard deviation of value i moves the image point, and the bias is
// the image point of the means.
func GripperImagePoint() (weight, bias []float32) {
	spec := SceneStateSpec()
	along := func(name string, v float64) scene.Vec3 { // the tip's place that value name = v stands for
		switch name {
		case "ee_x":
			return scene.Vec3{X: v}
		case "ee_y":
			return scene.Vec3{Y: v}
		case "ee_z":
			return scene.Vec3{Z: v}
		}
		return scene.Vec3{} // yaw and gripper do not move the tip
	}
	u0, v0 := scene.ImagePoint(scene.Vec3{})
	var mean scene.Vec3
	for i, name := range spec.Names {
		u, v := scene.ImagePoint(along(name, spec.Std[i]))
		weight = append(weight, float32(u-u0), float32(v-v0))
		mean = mean.Add(along(name, spec.Mean[i]))
	}
	u, v := scene.ImagePoint(mean)
	return weight, []float32{float32(u), float32(v)}
}

// RandomWeights initializes the backbone deterministically from seed.
func RandomWeights(a Arch, seed int64) *Weights {
	r := rand.New(rand.NewPCG(uint64(seed), 0x64797331)) // "dys1": a fixed stream id
	w := &Weights{}
	for _, p := range w.params(a) {
		*p.data = p.init(r, int(onnxgraph.NumElements(p.shape)))
	}
	return w
}

// Tensors returns the backbone's tensors by their safetensors names (WeightNames'), sharing w's
// storage.
func (w *Weights) Tensors(a Arch) map[string][]float32 {
	out := map[string][]float32{}
	for _, p := range w.params(a) {
		out[p.name] = *p.data
	}
	return out
}

// WeightNames returns the safetensors tensor names and shapes a backbone of this architecture has.
func WeightNames(a Arch) map[string][]int64 {
	out := map[string][]int64{}
	for _, p := range (&Weights{}).params(a) {
		out[p.name] = p.shape
	}
	return out
}

// SaveWeights writes the backbone as a safetensors file (F32, the names of WeightNames).
func SaveWeights(path string, a Arch, w *Weights, metadata map[string]string) error {
	tensors := map[string]safetensors.Tensor{}
	for _, p := range w.params(a) {
		tensors[p.name] = safetensors.F32(p.shape, *p.data)
	}
	return safetensors.WriteFile(path, tensors, metadata)
}

// LoadWeights reads a backbone from a safetensors file. Every tensor of WeightNames must be present with
// its exact shape (F32 or F64); extra tensors (e.g. adapters saved by training) are ignored. All
// problems are reported together.
func LoadWeights(path string, a Arch) (*Weights, error) {
	w, _, err := loadWeights(path, a)
	return w, err
}

// loadWeights is LoadWeights, also returning the file's metadata.
func loadWeights(path string, a Arch) (*Weights, map[string]string, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	w := &Weights{}
	var problems []string
	missing, reshaped := 0, 0
	for _, p := range w.params(a) {
		t, ok := f.Tensors[p.name]
		if !ok {
			problems = append(problems, fmt.Sprintf("missing tensor %q (want shape %v)", p.name, p.shape))
			missing++
			continue
		}
		if !equalShape(t.Shape, p.shape) {
			problems = append(problems, fmt.Sprintf("tensor %q has shape %v, want %v", p.name, t.Shape, p.shape))
			reshaped++
			continue
		}
		values, err := t.Float32s()
		if err != nil {
			problems = append(problems, fmt.Sprintf("tensor %q: %v", p.name, err))
			continue
		}
		for _, v := range values {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				problems = append(problems, fmt.Sprintf("tensor %q holds a non-finite value", p.name))
				break
			}
		}
		*p.data = values
	}
	sort.Strings(problems)
	// Weights of another preset miss, or reshape, most of the tensors: the first few and the counts
	// say so; every one of them listed ran to thousands of characters.
	const listed = 3
	if len(problems) > listed {
		problems = []string{fmt.Sprintf("%d of its tensors do not fit (%d of the %d this architecture has are missing, %d have other shapes), the first %d: %s",
			len(problems), missing, len(w.params(a)), reshaped, listed, strings.Join(problems[:listed], "; "))}
	}
	// Loading the first layers alone of a deeper file would build another model than the one trained,
	// silently; a shallower one misses layers. Either way the layer counts say more than the names.
	otherDepth := false
	if deepest := deepestLayer(f.Tensors); deepest >= 0 && deepest+1 != a.Layers {
		otherDepth = true
		problems = append([]string{fmt.Sprintf("it holds decoder layers up to layers.%d: a backbone of %d layers, where this one has %d",
			deepest, deepest+1, a.Layers)}, problems...)
	}
	if len(problems) > 0 {
		hint := ""
		if otherDepth || missing+reshaped > 0 {
			hint = fmt.Sprintf(" (weights of another preset? this architecture has %d layers of width %d)", a.Layers, a.Hidden)
		}
		return nil, nil, fmt.Errorf("modelbuild: weights %s: %s%s", path, strings.Join(problems, "; "), hint)
	}
	return w, f.Metadata, nil
}

// unfinishedTraining says when weights whose file has this metadata are a checkpoint of a training
// run that had not reached its end, or "" when it had or the metadata does not say. 'dysl train bc'
// records in every file it writes the step it was written at ("step"), the schedule's length
// ("steps") and the step the run was told to end after ("stop_after", 0: none): a file written at a
// --checkpoint-every or at Ctrl-C holds a backbone part way through its learning-rate schedule, which
// a bundle built from it would run as if trained.
func unfinishedTraining(metadata map[string]string) string {
	step, err1 := strconv.Atoi(metadata["step"])
	steps, err2 := strconv.Atoi(metadata["steps"])
	if err1 != nil || err2 != nil {
		return ""
	}
	end := steps
	if stop, err := strconv.Atoi(metadata["stop_after"]); err == nil && stop > 0 {
		end = min(stop, steps)
	}
	if step >= end {
		return ""
	}
	why := fmt.Sprintf("written at step %d of %d, a checkpoint of a training run that did not finish (interrupted, or stopped early): "+
		"the bundle runs it as if trained", step, end)
	if trainer := metadata["trainer"]; trainer != "" {
		why += fmt.Sprintf("; '%s --resume' with the run's flags finishes it", trainer)
	}
	return why
}

// deepestLayer is the highest N of the tensors named layers.N.*, or -1 when there are none.
func deepestLayer(tensors map[string]safetensors.Tensor) int {
	deepest := -1
	for name := range tensors {
		rest, ok := strings.CutPrefix(name, "layers.")
		if !ok {
			continue
		}
		index, _, _ := strings.Cut(rest, ".")
		if n, err := strconv.Atoi(index); err == nil && n > deepest {
			deepest = n
		}
	}
	return deepest
}

func equalShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
