// Package training trains the reference VLA of modelbuild with GoMLX on the CPU: behaviour cloning of
// the backbone on scripted scene episodes, calibration of the static layers, and DySL's two-stage
// distillation of adapters and controllers against the frozen backbone.
//
// The architecture is the one modelbuild writes as ONNX and runs in its Go reference (Model.Forward);
// this package restates it as a batched GoMLX graph so that it can be differentiated, and the tests
// hold the two to the same outputs. Tensor names are modelbuild's, so weights move between the two as
// safetensors files (modelbuild.SaveWeights / LoadWeights) and `dysl model build --weights` accepts
// what training writes.
package training

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"dysl_vla/modelbuild"
	"dysl_vla/safetensors"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's graph DSL is meant to be dot-imported
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"dysl_vla/training/fastgrad"
)

// Variable scopes of the GoMLX context. Backbone variables are frozen during distillation.
const (
	ScopeBackbone    = "backbone"
	ScopeAdapters    = "adapters"
	ScopeControllers = "controllers"
)

// pureGoBackend is simplego's name in GOMLX_BACKEND; pureGoOptions are the options NewBackend gives it.
const (
	pureGoBackend = "go"
	pureGoOptions = "parallelism=-1,ops_sequential"
)

// backendConfig is the backend configuration NewBackend uses for GOMLX_BACKEND's value env: unset or a
// bare "go" mean the pure-Go backend with pureGoOptions (a bare "go" would otherwise get simplego's
// default worker pool, which hangs training here: a run of `dysl train bc` waited 10 minutes on it);
// anything else is used as given.
func backendConfig(env string) string {
	if env == "" || env == pureGoBackend {
		return pureGoBackend + ":" + pureGoOptions
	}
	return env
}

// NewBackend returns the pure-Go GoMLX backend configured as docs/notes/gomlx.md explains:
//   - parallelism=-1, because the default worker pool deadlocks on a 2-core machine once several
//     DotGenerals run at once;
//   - ops_sequential, because simplego v0.26.0's parallel executor decides whether an op may overwrite its
//     input buffer in place from execBuf.numUsed read without the lock that guards its increments
//     (exec.go, executeNode): nothing orders the in-place write after the other consumers' reads, and
//     `go test -race` reports it on every training graph (a Mul overwriting what a concurrent Slice
//     reads). Ops then run one after another, each still split across the workers (DotGeneral): on the
//     tiny preset at batch 32 a step took no longer (12 steps 2m16-2m26 against 2m50-3m19 in parallel
//     on a loaded 2-core machine), on a 2-layer model at batch 8 about twice as long;
//   - the fast DotGeneral gradient (fastgrad) installed.
//
// GOMLX_BACKEND, GoMLX's own variable, picks another compiled-in backend instead: a binary built with
// `-tags xla` trains on a GPU through a PJRT plugin, e.g. GOMLX_BACKEND=xla:/abs/path/to/the/cuda/plugin.so
// (docs/notes/gpu.md).
func NewBackend() (backends.Backend, error) {
	fastgrad.Install()
	config := backendConfig(os.Getenv(backends.ConfigEnvVar))
	name, options, _ := strings.Cut(config, ":")
	if name == pureGoBackend {
		return simplego.New(options)
	}
	if !slices.Contains(backends.List(), name) {
		return nil, fmt.Errorf("%s=%q: backend %q is not compiled into this binary (compiled in: %s; XLA needs `go build -tags xla`)",
			backends.ConfigEnvVar, config, name, strings.Join(backends.List(), ", "))
	}
	return backends.NewWithConfig(config)
}

// Model holds the reference VLA's parameters as GoMLX variables and builds its graphs, batched: the
// hidden state is [B, T, D] where modelbuild's graphs use B = 1.
type Model struct {
	Arch    modelbuild.Arch
	Ctx     *context.Context
	Backend backends.Backend
	vars    map[string]*context.Variable // by modelbuild tensor name
}

// NewModel makes the variables of backbone w (trainable) in a new context.
func NewModel(a modelbuild.Arch, w *modelbuild.Weights) (*Model, error) {
	named, err := backboneTensors(a, w)
	if err != nil {
		return nil, err
	}
	backend, err := NewBackend()
	if err != nil {
		return nil, err
	}
	m := &Model{Arch: a, Ctx: context.New(), Backend: backend, vars: map[string]*context.Variable{}}
	for _, name := range sortedKeys(named) {
		t := named[name]
		m.vars[name] = m.Ctx.In(ScopeBackbone).VariableWithValue(name, t)
		m.vars[name].SetTrainable(!isCalibration(name))
	}
	return m, nil
}

// backboneTensors returns w's tensors by name. modelbuild exposes its names and layout through the
// safetensors file it writes, so the weights take that route rather than a second copy of the table.
func backboneTensors(a modelbuild.Arch, w *modelbuild.Weights) (map[string]*tensors.Tensor, error) {
	dir, err := os.MkdirTemp("", "dysl-weights-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "w.safetensors")
	if err := modelbuild.SaveWeights(path, a, w, nil); err != nil {
		return nil, err
	}
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]*tensors.Tensor{}
	for name, t := range f.Tensors {
		values, err := t.Float32s()
		if err != nil {
			return nil, fmt.Errorf("training: %s: %w", name, err)
		}
		out[name] = tensors.FromFlatDataAndDimensions(values, dimsOf(t.Shape)...)
	}
	return out, nil
}

func dimsOf(shape []int64) []int {
	dims := make([]int, len(shape))
	for i, d := range shape {
		dims[i] = int(d)
	}
	return dims
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// BackboneVariables returns the backbone's variables by tensor name.
func (m *Model) BackboneVariables() map[string]*context.Variable {
	out := map[string]*context.Variable{}
	for name, v := range m.vars {
		if v.Scope() == "/"+ScopeBackbone {
			out[name] = v
		}
	}
	return out
}

// SetBackboneTrainable freezes (false) or unfreezes the backbone; the camera's calibration stays frozen.
func (m *Model) SetBackboneTrainable(trainable bool) {
	for name, v := range m.BackboneVariables() {
		v.SetTrainable(trainable && !isCalibration(name))
	}
}

// isCalibration reports whether a backbone tensor is the camera's calibration that the relative points
// read (modelbuild's package doc): geometry, which training leaves as built rather than fitting it to
// actions.
func isCalibration(name string) bool { return strings.HasPrefix(name, "prefix.relative.gripper.") }

// FreezeBelowLayer keeps the prefix (image, instruction, state and keypoints) and decoder layers 0 to
// layer-1 out of training: only the later layers and the head learn.
func (m *Model) FreezeBelowLayer(layer int) {
	for name, v := range m.vars {
		if strings.HasPrefix(name, "prefix.") {
			v.SetTrainable(false)
			continue
		}
		var i int
		if _, err := fmt.Sscanf(name, "layers.%d.", &i); err == nil && i < layer {
			v.SetTrainable(false)
		}
	}
}

// FreezeKeypointScores keeps the keypoints' per-pixel network (prefix.keypoints.pixel.*, score.*) out
// of training; their output map and everything else still train.
func (m *Model) FreezeKeypointScores() {
	for name, v := range m.vars {
		if isKeypointScore(name) {
			v.SetTrainable(false)
		}
	}
}

// TrainKeypointScoresOnly keeps everything but the keypoints' per-pixel network (prefix.keypoints.pixel.*,
// score.*) out of training: FreezeKeypointScores's complement.
func (m *Model) TrainKeypointScoresOnly() {
	for name, v := range m.vars {
		if !isKeypointScore(name) {
			v.SetTrainable(false)
		}
	}
}

func isKeypointScore(name string) bool {
	return strings.HasPrefix(name, "prefix.keypoints.pixel.") || strings.HasPrefix(name, "prefix.keypoints.score.")
}

// Weights copies the backbone variables out as modelbuild weights (via a safetensors file, so names and
// shapes are checked by modelbuild.LoadWeights).
func (m *Model) Weights() (*modelbuild.Weights, error) {
	dir, err := os.MkdirTemp("", "dysl-weights-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "w.safetensors")
	if err := m.SaveBackbone(path, nil); err != nil {
		return nil, err
	}
	return modelbuild.LoadWeights(path, m.Arch)
}

// SaveBackbone writes the backbone variables as a safetensors file that modelbuild.LoadWeights (and so
// `dysl model build --weights`) reads.
func (m *Model) SaveBackbone(path string, metadata map[string]string) error {
	out := map[string]safetensors.Tensor{}
	for name, v := range m.BackboneVariables() {
		t, err := v.Value()
		if err != nil {
			return err
		}
		shape := make([]int64, t.Shape().Rank())
		for i, d := range t.Shape().Dimensions {
			shape[i] = int64(d)
		}
		values := tensors.MustCopyFlatData[float32](t)
		// A run that diverged leaves NaN or infinite weights; a bundle built from them would put NaN
		// in every chunk. Nothing is written.
		if i := slices.IndexFunc(values, func(x float32) bool { return math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) }); i >= 0 {
			return fmt.Errorf("training: weight %s[%d] is %v: the run diverged, %s is not written", name, i, values[i], path)
		}
		out[name] = safetensors.F32(shape, values)
	}
	return safetensors.WriteFile(path, out, metadata)
}

func (m *Model) param(g *Graph, name string) *Node {
	v, ok := m.vars[name]
	if !ok {
		panic(fmt.Sprintf("training: no variable %q", name))
	}
	return v.ValueGraph(g)
}

// matmul is x · w over x's last axis: [..., in] x [in, out] -> [..., out].
func matmul(x, w *Node) *Node {
	return DotGeneral(x, []int{x.Rank() - 1}, nil, w, []int{0}, nil)
}

// addTrailing adds v, whose axes are x's last ones (a bias, a table), broadcasting over x's leading axes.
func addTrailing(x, v *Node) *Node { return Add(x, ExpandLeftToRank(v, x.Rank())) }

// mulTrailing multiplies x by v, broadcasting v over x's leading axes.
func mulTrailing(x, v *Node) *Node { return Mul(x, ExpandLeftToRank(v, x.Rank())) }

// rmsNorm normalizes the last axis to unit root-mean-square and scales by gain, as modelbuild does.
func (m *Model) rmsNorm(x, gain *Node) *Node {
	meanSquare := ReduceAndKeep(Square(x), ReduceMean, -1)
	return mulTrailing(Div(x, Sqrt(AddScalar(meanSquare, m.Arch.NormEps))), gain)
}

// sigmoid through tanh, like the graphs (onnx-gomlx has no Sigmoid).
func sigmoid(x *Node) *Node {
	return MulScalar(OnePlus(Tanh(MulScalar(x, 0.5))), 0.5)
}

// Inputs are a batch's model inputs as graph nodes: images [B,3,S,S] (normalized), tokens [B,Ti]
// (int) and, when the model reads the robot state, state [B,StateDim] (normalized; nil otherwise).
type Inputs struct {
	Images, Tokens, State *Node
	// keypointLogits are the images' keypoint scores (keypointLogits) when the keypoint loss needs
	// them too, so that the per-pixel network runs once per step; nil: Prefix computes them.
	keypointLogits *Node
	// selectorChoice are the keypoint selector's choice scores (selectorChoice) when the selection
	// loss needs them too; nil: Prefix computes them.
	selectorChoice *Node
}

// inputCount is how many graph inputs a batch of model inputs takes (Dataset.Batch's inputs).
func (m *Model) inputCount() int {
	if m.Arch.StateDim > 0 {
		return 3
	}
	return 2
}

// inputsFrom reads the model inputs off the front of a graph's inputs, in Dataset.Batch's order; the
// rest (targets, selectors) follow from index inputCount.
func (m *Model) inputsFrom(nodes []*Node) Inputs {
	in := Inputs{Images: nodes[0], Tokens: nodes[1]}
	if m.Arch.StateDim > 0 {
		in.State = nodes[2]
	}
	return in
}

// Prefix: the model inputs -> hidden [B,T,D]. The state, when there is one, is added to every action
// query (modelbuild's graphs do the same).
func (m *Model) Prefix(in Inputs) *Node {
	images, tokens := in.Images, in.Tokens
	g, a := images.Graph(), m.Arch
	B := images.Shape().Dimensions[0]
	P, G := a.PatchSize, a.ImageSize/a.PatchSize
	grid := Reshape(images, B, 3, G, P, G, P)
	patches := Reshape(TransposeAllAxes(grid, 0, 2, 4, 1, 3, 5), B, G*G, 3*P*P)
	patchEmb := addTrailing(matmul(patches, m.param(g, "prefix.patch.weight")), m.param(g, "prefix.patch.position"))
	// Embedding lookup as one-hot times the table: its gradient is a plain DotGeneral, which simplego
	// differentiates fast (Gather's gradient is a scatter).
	words := matmul(OneHot(tokens, a.Vocab, dtypes.Float32), m.param(g, "prefix.token_embedding"))
	queries := BroadcastPrefix(m.param(g, "prefix.action_queries"), B)
	if a.StateDim > 0 {
		// modelbuild's features: per value v, v then sin(ω_k·v) and cos(ω_k·v).
		S, F := a.StateDim, a.StateFrequencies
		values := Reshape(in.State, B, S, 1)
		angles := Mul(values, Reshape(Const(g, a.StateAngularFrequencies()), 1, 1, F))
		features := Reshape(Concatenate([]*Node{values, Sin(angles), Cos(angles)}, 2), B, a.StateFeatures())
		state := addTrailing(matmul(features, m.param(g, "prefix.state.weight")), m.param(g, "prefix.state.bias")) // [B,D]
		queries = Add(queries, ExpandDims(state, 1))
	}
	if a.Keypoints > 0 {
		logits := in.keypointLogits
		if logits == nil {
			logits = m.keypointLogits(images)
		}
		points := m.keypointPoints(logits) // [B,C,2]
		queries = Add(queries, ExpandDims(matmul(Reshape(points, B, a.KeypointFeatures()), m.param(g, "prefix.keypoints.out.weight")), 1))
		if a.SelectorWindow > 0 {
			choice := in.selectorChoice
			if choice == nil {
				choice = m.selectorChoice(tokens)
			}
			picked := chosenPoints(choice, points) // [B,2,2]
			chosen := MulScalar(Reshape(picked, B, 2*modelbuild.SelectorChoices), modelbuild.SelectorPointGain)
			queries = Add(queries, ExpandDims(matmul(chosen, m.param(g, "prefix.selector.out.weight")), 1))
			if a.RelativePoints {
				queries = Add(queries, ExpandDims(m.relative(in.State, picked), 1))
			}
		}
	}
	return Concatenate([]*Node{patchEmb, words, queries}, 1)
}

// relative: the state [B,StateDim] and the chosen points [B,2,2] -> what the points seen from the
// gripper add to every action query [B,D] (modelbuild's package doc).
func (m *Model) relative(state, chosen *Node) *Node {
	g := state.Graph()
	B := state.Shape().Dimensions[0]
	gripper := addTrailing(matmul(state, m.param(g, "prefix.relative.gripper.weight")), m.param(g, "prefix.relative.gripper.bias")) // [B,2]
	offsets := Sub(chosen, Reshape(gripper, B, 1, 2))
	relative := MulScalar(Tanh(MulScalar(offsets, modelbuild.RelativeScale)), modelbuild.SelectorPointGain)
	return matmul(Reshape(relative, B, 2*modelbuild.SelectorChoices), m.param(g, "prefix.relative.out.weight"))
}

// selectorChoice: tokens [B,Ti] -> the keypoint selector's choice scores [B,2,C], before their softmax
// over the channels (modelbuild's package doc).
func (m *Model) selectorChoice(tokens *Node) *Node {
	g, a := tokens.Graph(), m.Arch
	B, Ti, W := tokens.Shape().Dimensions[0], a.InstructionTokens, a.SelectorWindow
	if W > 1 {
		// Windows past the end read padding (token 0).
		tokens = Concatenate([]*Node{tokens, Zeros(g, shapes.Make(tokens.DType(), B, W-1))}, 1)
	}
	// Shifted copies of the tokens, not of their embeddings: the gradient of a Slice is a Pad, which
	// simplego v0.26.0 lacks, and integer tokens take no gradient.
	table := m.param(g, "prefix.selector.embedding")
	shifted := make([]*Node, W)
	for o := range W {
		shifted[o] = matmul(OneHot(Slice(tokens, AxisRange(), AxisRange(o, o+Ti)), a.Vocab, dtypes.Float32), table) // [B,Ti,E]
	}
	windows := Concatenate(shifted, 2) // [B,Ti,W·E]: window i is bytes i..i+W-1
	hidden := addTrailing(matmul(windows, m.param(g, "prefix.selector.window.weight")), m.param(g, "prefix.selector.window.bias"))
	pooled := ReduceSum(Mul(hidden, sigmoid(hidden)), 1) // [B,H]: the sum over the windows
	choice := addTrailing(matmul(pooled, m.param(g, "prefix.selector.choice.weight")), m.param(g, "prefix.selector.choice.bias"))
	return Reshape(choice, B, modelbuild.SelectorChoices, a.Keypoints)
}

// chosenPoints: choice scores [B,2,C] and keypoints [B,C,2] -> the two chosen points [B,2,2].
func chosenPoints(choice, points *Node) *Node {
	return DotGeneral(Softmax(choice, -1), []int{2}, []int{0}, points, []int{1}, []int{0})
}

// keypointPoints: the keypoint scores [B,C,S²] -> the keypoints [B,C,2], (u, v) in [-1, 1] per channel.
func (m *Model) keypointPoints(logits *Node) *Node {
	return matmul(Softmax(logits, -1), m.keypointGrid(logits.Graph()))
}

// keypointLogits: images [B,3,S,S] -> the gained scores [B,C,S²] whose softmax over pixels weighs
// the pixel grid.
func (m *Model) keypointLogits(images *Node) *Node {
	g, a := images.Graph(), m.Arch
	B, S2 := images.Shape().Dimensions[0], a.ImageSize*a.ImageSize
	pixels := TransposeAllAxes(Reshape(images, B, 3, S2), 0, 2, 1) // [B,S²,3]
	hidden := addTrailing(matmul(pixels, m.param(g, "prefix.keypoints.pixel.weight")), m.param(g, "prefix.keypoints.pixel.bias"))
	hidden = Mul(hidden, sigmoid(hidden))
	scores := addTrailing(matmul(hidden, m.param(g, "prefix.keypoints.score.weight")), m.param(g, "prefix.keypoints.score.bias"))
	return MulScalar(TransposeAllAxes(scores, 0, 2, 1), a.KeypointScoreGain())
}

// keypointGrid is modelbuild's pixel grid [S²,2] as a constant.
func (m *Model) keypointGrid(g *Graph) *Node {
	S2 := m.Arch.ImageSize * m.Arch.ImageSize
	return Const(g, tensors.FromFlatDataAndDimensions(m.Arch.KeypointGrid(), S2, 2))
}

// Layer runs decoder layer i on h [B,T,D].
func (m *Model) Layer(i int, h *Node) *Node {
	g, a := h.Graph(), m.Arch
	B := h.Shape().Dimensions[0]
	T, D, H, hd := a.Tokens(), a.Hidden, a.Heads, a.HeadDim()
	p := fmt.Sprintf("layers.%d.", i)
	cosTable, sinTable := a.RopeTables()
	cos := Const(g, tensors.FromFlatDataAndDimensions(cosTable, T, hd))
	sin := Const(g, tensors.FromFlatDataAndDimensions(sinTable, T, hd))
	splitHeads := func(x *Node) *Node { // [B,T,D] -> [B,H,T,hd]
		return TransposeAllAxes(Reshape(x, B, T, H, hd), 0, 2, 1, 3)
	}
	rotateHalf := Const(g, tensors.FromFlatDataAndDimensions(rotateHalfMatrix(hd), hd, hd))
	rotary := func(x *Node) *Node { // x·cos + rotate_half(x)·sin
		return Add(mulTrailing(x, cos), mulTrailing(matmul(x, rotateHalf), sin))
	}

	n := m.rmsNorm(h, m.param(g, p+"attn_norm.weight"))
	q := rotary(splitHeads(matmul(n, m.param(g, p+"attn.q.weight"))))
	k := rotary(splitHeads(matmul(n, m.param(g, p+"attn.k.weight"))))
	v := splitHeads(matmul(n, m.param(g, p+"attn.v.weight")))
	scores := MulScalar(DotGeneral(q, []int{3}, []int{0, 1}, k, []int{3}, []int{0, 1}), 1/math.Sqrt(float64(hd))) // [B,H,T,T]
	mixed := DotGeneral(Softmax(scores, -1), []int{3}, []int{0, 1}, v, []int{2}, []int{0, 1})                     // [B,H,T,hd]
	merged := Reshape(TransposeAllAxes(mixed, 0, 2, 1, 3), B, T, D)
	h = Add(h, matmul(merged, m.param(g, p+"attn.o.weight")))

	n = m.rmsNorm(h, m.param(g, p+"mlp_norm.weight"))
	gate := matmul(n, m.param(g, p+"mlp.gate.weight"))
	up := matmul(n, m.param(g, p+"mlp.up.weight"))
	return Add(h, matmul(Mul(Mul(gate, sigmoid(gate)), up), m.param(g, p+"mlp.down.weight")))
}

// rotateHalfMatrix is R [hd,hd] with x·R = rotate_half(x) = concat(−x[hd/2:], x[:hd/2]). A constant
// matrix instead of Slice, whose gradient (Pad) simplego does not implement.
func rotateHalfMatrix(hd int) []float32 {
	r := make([]float32, hd*hd)
	half := hd / 2
	for k := 0; k < half; k++ {
		r[(k+half)*hd+k] = -1 // out[k] = −x[k+half]
		r[k*hd+k+half] = 1    // out[k+half] = x[k]
	}
	return r
}

// lastRows is the [T,K] matrix selecting the last K of T rows.
func lastRows(T, K int) []float32 {
	sel := make([]float32, T*K)
	for k := 0; k < K; k++ {
		sel[(T-K+k)*K+k] = 1
	}
	return sel
}

// Head maps h [B,T,D] to normalized action chunks [B,K,A].
func (m *Model) Head(h *Node) *Node {
	g := h.Graph()
	queries := m.actionQueries(m.rmsNorm(h, m.param(g, "head.norm.weight")))
	return addTrailing(matmul(queries, m.param(g, "head.proj.weight")), m.param(g, "head.proj.bias"))
}

// actionQueries picks the last K rows (the action queries) of h [B,T,D] -> [B,K,D], by a constant
// selection matrix [T,K]: Slice's gradient is Pad, which simplego does not implement.
func (m *Model) actionQueries(h *Node) *Node {
	T, K := m.Arch.Tokens(), m.Arch.Chunk
	sel := Const(h.Graph(), tensors.FromFlatDataAndDimensions(lastRows(T, K), T, K))
	return TransposeAllAxes(DotGeneral(h, []int{1}, nil, sel, []int{0}, nil), 0, 2, 1)
}

// Forward runs prefix, every layer and the head. hiddens[i] is the input of layer i, hiddens[L] the
// last layer's output.
func (m *Model) Forward(in Inputs) (hiddens []*Node, actions *Node) {
	return m.ForwardDropping(in, nil)
}

// ForwardDropping is Forward with layers dropped per frame, as LayerDrop trains them: keep is [B, Layers]
// of 0 and 1 (nil keeps every layer), and layer i of frame b outputs h + keep[b,i]·(Layer(i,h) − h), so
// a dropped layer passes its input through. The dropped layer is still computed: this is for training,
// where one graph serves every pattern, not for speed.
func (m *Model) ForwardDropping(in Inputs, keep *Node) (hiddens []*Node, actions *Node) {
	h := m.Prefix(in)
	hiddens = append(hiddens, h)
	for i := 0; i < m.Arch.Layers; i++ {
		out := m.Layer(i, h)
		if keep != nil {
			out = Add(h, Mul(keepColumn(keep, i), Sub(out, h)))
		}
		h = out
		hiddens = append(hiddens, h)
	}
	return hiddens, m.Head(h)
}

// keepColumn is keep[:, i] of keep [B, L] as [B, 1, 1], taken by a constant one-hot product rather
// than Slice, whose gradient (Pad) simplego does not implement.
func keepColumn(keep *Node, i int) *Node {
	B, L := keep.Shape().Dimensions[0], keep.Shape().Dimensions[1]
	oneHot := make([]float32, L)
	oneHot[i] = 1
	column := matmul(keep, Const(keep.Graph(), tensors.FromFlatDataAndDimensions(oneHot, L, 1)))
	return Reshape(column, B, 1, 1)
}
