package modelbuild

import (
	"fmt"
	"math"
	"strconv"

	"dysl_vla/onnxgraph"
	"dysl_vla/policy/bundle"
)

// modelInputs are the graph inputs the prefix reads; state is unset when the model has no state input.
type modelInputs struct{ image, tokens, state onnxgraph.Value }

// graphEmitter writes the model's parts into an onnxgraph.Builder. The per-part graphs and the single
// full graph are made by the same functions, so they compute the same thing by construction.
type graphEmitter struct {
	b     *onnxgraph.Builder
	model *Model
}

func (e graphEmitter) weight(name string, shape []int64, data []float32) onnxgraph.Value {
	return e.b.Weight(name, shape, data)
}

// rmsNorm: x / sqrt(mean(x², last axis) + eps) · gain, with Pow/ReduceMean/Add/Sqrt/Div/Mul.
func (e graphEmitter) rmsNorm(x onnxgraph.Value, gainName string, gain []float32) onnxgraph.Value {
	b := e.b
	defer b.Scope("rmsnorm")()
	meanSquare := b.ReduceMean(b.Pow(x, b.Scalar(2)), true, -1)
	rms := b.Sqrt(b.Add(meanSquare, b.Scalar(float32(e.model.Arch.NormEps))))
	return b.Mul(b.Div(x, rms), e.weight(gainName, []int64{int64(len(gain))}, gain))
}

// sigmoid(x) = 0.5·(1 + tanh(x/2)): onnx-gomlx has no Sigmoid.
func (e graphEmitter) sigmoid(x onnxgraph.Value) onnxgraph.Value {
	b := e.b
	half := b.Scalar(0.5)
	return b.Mul(half, b.Add(b.Scalar(1), b.Tanh(b.Mul(x, half))))
}

// prefix: image [1,3,S,S], tokens [1,Ti] (, state [1,StateDim]) -> hidden [1,T,D].
func (e graphEmitter) prefix(in modelInputs) onnxgraph.Value {
	image, tokens := in.image, in.tokens
	b, a, w := e.b, e.model.Arch, e.model.Weights
	defer b.Scope("prefix")()
	D, P, G := int64(a.Hidden), int64(a.PatchSize), int64(a.ImageSize/a.PatchSize)
	// [1,3,G,P,G,P] -> [1,G,G,3,P,P] -> [1,G·G,3·P·P]: patches row-major, values (channel, row, column).
	grid := b.Reshape(image, 1, 3, G, P, G, P)
	patches := b.Reshape(b.Transpose(grid, 0, 2, 4, 1, 3, 5), 1, G*G, 3*P*P)
	patchEmb := b.Add(
		b.MatMul(patches, e.weight("prefix.patch.weight", []int64{3 * P * P, D}, w.PatchWeight)),
		e.weight("prefix.patch.position", []int64{G * G, D}, w.PatchPosition))
	words := b.Gather(e.weight("prefix.token_embedding", []int64{int64(a.Vocab), D}, w.TokenEmbedding), tokens)
	queries := e.weight("prefix.action_queries", []int64{1, int64(a.Chunk), D}, w.ActionQueries)
	if a.StateDim > 0 {
		S, F := int64(a.StateDim), int64(a.StateFrequencies)
		// features: [1,S,1] · π2^k -> sin, cos [1,S,F]; per value (v, sines, cosines) -> [1, S·(1+2F)]
		values := b.Reshape(in.state, 1, S, 1)
		angles := b.Mul(values, b.Const([]int64{F}, a.StateAngularFrequencies()))
		features := b.Reshape(b.Concat(2, values, b.Op("Sin", []onnxgraph.Value{angles}), b.Op("Cos", []onnxgraph.Value{angles})), 1, S*(1+2*F))
		state := b.Add(
			b.MatMul(features, e.weight("prefix.state.weight", []int64{int64(a.StateFeatures()), D}, w.StateWeight)),
			e.weight("prefix.state.bias", []int64{D}, w.StateBias))
		queries = b.Add(queries, b.Reshape(state, 1, 1, D)) // every action query reads the state
	}
	if a.Keypoints > 0 { // every action query reads where things are
		C := int64(a.Keypoints)
		points := e.keypoints(image)
		queries = b.Add(queries, b.Reshape(b.MatMul(b.Reshape(points, 1, 1, 2*C),
			e.weight("prefix.keypoints.out.weight", []int64{2 * C, D}, w.KeypointOut)), 1, 1, D))
		if a.SelectorWindow > 0 { // and where the things the instruction names are
			picked := e.chosen(tokens, points) // [1,2,2]
			chosen := b.Mul(b.Reshape(picked, 1, 1, 2*SelectorChoices), b.Scalar(SelectorPointGain))
			queries = b.Add(queries, b.MatMul(chosen,
				e.weight("prefix.selector.out.weight", []int64{2 * SelectorChoices, D}, w.SelectorOut)))
			if a.RelativePoints { // and where they are from the gripper
				queries = b.Add(queries, e.relative(in.state, picked))
			}
		}
	}
	return b.Concat(1, patchEmb, words, queries)
}

// relative: the state [1,StateDim] and the chosen points [1,2,2] -> what the points seen from the
// gripper add to every action query [1,1,D] (package doc).
func (e graphEmitter) relative(state, chosen onnxgraph.Value) onnxgraph.Value {
	b, a, w := e.b, e.model.Arch, e.model.Weights
	defer b.Scope("relative")()
	D := int64(a.Hidden)
	gripper := b.Add(b.MatMul(state, e.weight("prefix.relative.gripper.weight", []int64{int64(a.StateDim), 2}, w.GripperWeight)),
		e.weight("prefix.relative.gripper.bias", []int64{2}, w.GripperBias)) // [1,2]
	offsets := b.Sub(chosen, b.Reshape(gripper, 1, 1, 2)) // [1,2,2]
	relative := b.Mul(b.Tanh(b.Mul(offsets, b.Scalar(RelativeScale))), b.Scalar(SelectorPointGain))
	return b.MatMul(b.Reshape(relative, 1, 1, 2*SelectorChoices),
		e.weight("prefix.relative.out.weight", []int64{2 * SelectorChoices, D}, w.RelativeOut))
}

// chosen: tokens [1,Ti] and the keypoints [1,C,2] -> the selector's two points [1,2,2] (package doc).
func (e graphEmitter) chosen(tokens, points onnxgraph.Value) onnxgraph.Value {
	b, a, w := e.b, e.model.Arch, e.model.Weights
	defer b.Scope("selector")()
	E, W, H, C, Ti := int64(SelectorEmbedding), int64(a.SelectorWindow), int64(a.SelectorHidden), int64(a.Keypoints), int64(a.InstructionTokens)
	if W > 1 {
		// Windows past the end read padding (token 0).
		tokens = b.Concat(1, tokens, b.Reshape(b.Ints(make([]int64, W-1)...), 1, W-1))
	}
	embedded := b.Gather(e.weight("prefix.selector.embedding", []int64{int64(a.Vocab), E}, w.SelectorEmbed), tokens) // [1,Ti+W-1,E]
	shifted := make([]onnxgraph.Value, W)
	for o := range W {
		shifted[o] = b.Slice(embedded, 1, o, o+Ti)
	}
	windows := b.Concat(2, shifted...) // [1,Ti,W·E]: window i is bytes i..i+W-1
	hidden := b.Add(b.MatMul(windows, e.weight("prefix.selector.window.weight", []int64{W * E, H}, w.SelectorWindow)),
		e.weight("prefix.selector.window.bias", []int64{H}, w.SelectorWinB))
	hidden = b.Mul(hidden, e.sigmoid(hidden))
	ones := make([]float32, Ti)
	for i := range ones {
		ones[i] = 1
	}
	pooled := b.MatMul(b.Const([]int64{1, 1, Ti}, ones), hidden) // [1,1,H]: the sum over the windows
	choice := b.Add(b.MatMul(pooled, e.weight("prefix.selector.choice.weight", []int64{H, SelectorChoices * C}, w.SelectorChoice)),
		e.weight("prefix.selector.choice.bias", []int64{SelectorChoices * C}, w.SelectorChB))
	weights := b.Softmax(b.Reshape(choice, 1, SelectorChoices, C), -1) // [1,2,C]
	return b.MatMul(weights, points)
}

// keypoints: image [1,3,S,S] -> the spatial soft-argmax's points [1,C,2].
func (e graphEmitter) keypoints(image onnxgraph.Value) onnxgraph.Value {
	b, a, w := e.b, e.model.Arch, e.model.Weights
	defer b.Scope("keypoints")()
	S2, H, C := int64(a.ImageSize*a.ImageSize), int64(a.KeypointHidden), int64(a.Keypoints)
	pixels := b.Transpose(b.Reshape(image, 1, 3, S2), 0, 2, 1) // [1,S²,3]
	hidden := b.Add(b.MatMul(pixels, e.weight("prefix.keypoints.pixel.weight", []int64{3, H}, w.KeypointPixel)),
		e.weight("prefix.keypoints.pixel.bias", []int64{H}, w.KeypointPixelB))
	hidden = b.Mul(hidden, e.sigmoid(hidden))
	scores := b.Add(b.MatMul(hidden, e.weight("prefix.keypoints.score.weight", []int64{H, C}, w.KeypointScore)),
		e.weight("prefix.keypoints.score.bias", []int64{C}, w.KeypointScoreB)) // [1,S²,C]
	attention := b.Softmax(b.Mul(b.Transpose(scores, 0, 2, 1), b.Scalar(float32(a.KeypointScoreGain()))), -1) // [1,C,S²]
	return b.MatMul(attention, b.Const([]int64{S2, 2}, a.KeypointGrid()))                                     // [1,C,2]
}

// layer i: hidden [1,T,D] -> hidden [1,T,D].
func (e graphEmitter) layer(i int, h onnxgraph.Value) onnxgraph.Value {
	b, a, w := e.b, e.model.Arch, &e.model.Weights.Layers[i]
	p := "layers." + strconv.Itoa(i) + "."
	defer b.Scope("layers." + strconv.Itoa(i))()
	T, D, H, hd, F := int64(a.Tokens()), int64(a.Hidden), int64(a.Heads), int64(a.HeadDim()), int64(a.MLP)
	square := []int64{D, D}

	// Attention block.
	endAttn := b.Scope("attn")
	n := e.rmsNorm(h, p+"attn_norm.weight", w.AttnNorm)
	cosTable, sinTable := a.RopeTables()
	cos, sin := b.Const([]int64{T, hd}, cosTable), b.Const([]int64{T, hd}, sinTable)
	splitHeads := func(x onnxgraph.Value) onnxgraph.Value { // [1,T,D] -> [1,H,T,hd]
		return b.Transpose(b.Reshape(x, 1, T, H, hd), 0, 2, 1, 3)
	}
	rotary := func(x onnxgraph.Value) onnxgraph.Value { // x·cos + rotate_half(x)·sin
		rotated := b.Concat(3, b.Neg(b.Slice(x, 3, hd/2, hd)), b.Slice(x, 3, 0, hd/2))
		return b.Add(b.Mul(x, cos), b.Mul(rotated, sin))
	}
	q := rotary(splitHeads(b.MatMul(n, e.weight(p+"attn.q.weight", square, w.Q))))
	k := rotary(splitHeads(b.MatMul(n, e.weight(p+"attn.k.weight", square, w.K))))
	v := splitHeads(b.MatMul(n, e.weight(p+"attn.v.weight", square, w.V)))
	scores := b.Mul(b.MatMul(q, b.Transpose(k, 0, 1, 3, 2)), b.Scalar(float32(1/math.Sqrt(float64(hd)))))
	mixed := b.MatMul(b.Softmax(scores, -1), v)                              // [1,H,T,hd]
	merged := b.Reshape(b.Transpose(mixed, 0, 2, 1, 3), 1, T, D)             // [1,T,D]
	h = b.Add(h, b.MatMul(merged, e.weight(p+"attn.o.weight", square, w.O))) // residual
	endAttn()

	// SwiGLU MLP block.
	defer b.Scope("mlp")()
	n = e.rmsNorm(h, p+"mlp_norm.weight", w.MLPNorm)
	gate := b.MatMul(n, e.weight(p+"mlp.gate.weight", []int64{D, F}, w.Gate))
	up := b.MatMul(n, e.weight(p+"mlp.up.weight", []int64{D, F}, w.Up))
	act := b.Mul(b.Mul(gate, e.sigmoid(gate)), up)
	return b.Add(h, b.MatMul(act, e.weight(p+"mlp.down.weight", []int64{F, D}, w.Down)))
}

// adapter j: hidden [1,T,D] -> estimate of the next static layer's input [1,T,D].
func (e graphEmitter) adapter(j int, h onnxgraph.Value) onnxgraph.Value {
	b, a, w := e.b, e.model.Arch, e.model.Adapters[j]
	p := "adapters." + strconv.Itoa(j) + "."
	defer b.Scope("adapters." + strconv.Itoa(j))()
	D, r := int64(a.Hidden), int64(a.AdapterRank)
	n := e.rmsNorm(h, p+"norm.weight", w.Norm)
	low := b.MatMul(n, e.weight(p+"down.weight", []int64{D, r}, w.Down))
	if a.AdapterContext || w.Context != nil { // the token groups' means, the same for every token: [1,1,G·D] -> [1,1,r]
		var means []onnxgraph.Value
		for _, g := range a.TokenGroups() {
			means = append(means, b.ReduceMean(b.Slice(n, 1, int64(g[0]), int64(g[1])), true, 1))
		}
		context := e.weight(p+"context.weight", []int64{int64(a.AdapterContextWidth()), r}, w.Context)
		low = b.Add(low, b.MatMul(b.Concat(2, means...), context))
	}
	delta := b.Add(b.MatMul(low, e.weight(p+"up.weight", []int64{r, D}, w.Up)), e.weight(p+"up.bias", []int64{D}, w.Bias))
	return b.Add(h, delta)
}

// controller j: hidden [1,T,D] -> skip probability [1,1].
func (e graphEmitter) controller(j int, h onnxgraph.Value) onnxgraph.Value {
	b, a, w := e.b, e.model.Arch, e.model.Controllers[j]
	p := "controllers." + strconv.Itoa(j) + "."
	defer b.Scope("controllers." + strconv.Itoa(j))()
	D, C := int64(a.Hidden), int64(a.ControllerHidden)
	pooled := b.ReduceMean(h, false, 1) // [1,D]
	n := e.rmsNorm(pooled, p+"norm.weight", w.Norm)
	z := b.Tanh(b.Add(b.MatMul(n, e.weight(p+"fc1.weight", []int64{D, C}, w.FC1)), e.weight(p+"fc1.bias", []int64{C}, w.FC1Bias)))
	logit := b.Add(b.MatMul(z, e.weight(p+"fc2.weight", []int64{C, 1}, w.FC2)), e.weight(p+"fc2.bias", []int64{1}, w.FC2Bias))
	return e.sigmoid(logit)
}

// head: hidden [1,T,D] -> actions [1,K,A].
func (e graphEmitter) head(h onnxgraph.Value) onnxgraph.Value {
	b, a, w := e.b, e.model.Arch, e.model.Weights
	defer b.Scope("head")()
	T, K, D, A := int64(a.Tokens()), int64(a.Chunk), int64(a.Hidden), int64(a.ActionDim)
	n := e.rmsNorm(h, "head.norm.weight", w.HeadNorm)
	queries := b.Slice(n, 1, T-K, T)
	return b.Add(b.MatMul(queries, e.weight("head.proj.weight", []int64{D, A}, w.HeadWeight)), e.weight("head.proj.bias", []int64{A}, w.HeadBias))
}

// graphs returns, by file name, a function building each graph of the bundle; dynamic lists the layers
// that get an adapter and a controller. Graphs are built on demand so that a big model holds at most
// one graph's copy of its weights in memory at a time.
func (m *Model) graphs(dynamic []int) map[string]func() *onnxgraph.Builder {
	a := m.Arch
	T, D := int64(a.Tokens()), int64(a.Hidden)
	S, K, A := int64(a.ImageSize), int64(a.Chunk), int64(a.ActionDim)
	hiddenIn := func(b *onnxgraph.Builder) onnxgraph.Value {
		return b.Input(bundle.InputHidden, onnxgraph.Float, 1, T, D)
	}
	inputs := func(b *onnxgraph.Builder) modelInputs {
		in := modelInputs{
			image:  b.Input(bundle.InputImage, onnxgraph.Float, 1, 3, S, S),
			tokens: b.Input(bundle.InputTokens, onnxgraph.Int64, 1, int64(a.InstructionTokens)),
		}
		if a.StateDim > 0 {
			in.state = b.Input(bundle.InputState, onnxgraph.Float, 1, int64(a.StateDim))
		}
		return in
	}
	start := func(name, role string, index int) (*onnxgraph.Builder, graphEmitter) {
		b := onnxgraph.NewBuilder(name)
		b.SetMetadata(bundle.MetaRole, role)
		if index >= 0 {
			b.SetMetadata(bundle.MetaIndex, strconv.Itoa(index))
		}
		return b, graphEmitter{b: b, model: m}
	}
	out := map[string]func() *onnxgraph.Builder{}

	out[prefixFile] = func() *onnxgraph.Builder {
		b, e := start("prefix", "prefix", -1)
		b.Output(bundle.OutputHidden, e.prefix(inputs(b)), onnxgraph.Float, 1, T, D)
		return b
	}
	for i := 0; i < a.Layers; i++ {
		out[layerFile(i)] = func() *onnxgraph.Builder {
			b, e := start(fmt.Sprintf("layer_%d", i), "layer", i)
			b.SetMetadata(bundle.MetaHeads, strconv.Itoa(a.Heads))
			b.Output(bundle.OutputHidden, e.layer(i, hiddenIn(b)), onnxgraph.Float, 1, T, D)
			return b
		}
	}
	for _, j := range dynamic {
		out[adapterFile(j)] = func() *onnxgraph.Builder {
			b, e := start(fmt.Sprintf("adapter_%d", j), "adapter", j)
			b.Output(bundle.OutputHidden, e.adapter(j, hiddenIn(b)), onnxgraph.Float, 1, T, D)
			return b
		}
		out[controllerFile(j)] = func() *onnxgraph.Builder {
			b, e := start(fmt.Sprintf("controller_%d", j), "controller", j)
			b.Output(bundle.OutputSkipProb, e.controller(j, hiddenIn(b)), onnxgraph.Float, 1, 1)
			return b
		}
	}
	out[headFile] = func() *onnxgraph.Builder {
		b, e := start("head", "head", -1)
		b.Output(bundle.OutputActions, e.head(hiddenIn(b)), onnxgraph.Float, 1, K, A)
		return b
	}
	out[fullFile] = func() *onnxgraph.Builder {
		b, e := start("full", "full", -1)
		b.SetMetadata(bundle.MetaHeads, strconv.Itoa(a.Heads))
		h := e.prefix(inputs(b))
		for i := 0; i < a.Layers; i++ {
			h = e.layer(i, h)
		}
		b.Output(bundle.OutputActions, e.head(h), onnxgraph.Float, 1, K, A)
		return b
	}
	return out
}

// File names inside a bundle.
const (
	prefixFile = "prefix.onnx"
	headFile   = "head.onnx"
	fullFile   = "full.onnx"
)

func layerFile(i int) string      { return fmt.Sprintf("layer_%02d.onnx", i) }
func adapterFile(j int) string    { return fmt.Sprintf("adapter_%02d.onnx", j) }
func controllerFile(j int) string { return fmt.Sprintf("controller_%02d.onnx", j) }

// FLOPs counts one inference of each graph: matrix multiplications only (2 per multiply-add);
// normalization, softmax and element-wise ops are a few percent and left out.
func (a Arch) FLOPs() bundle.FLOPs {
	T, D, F, K := int64(a.Tokens()), int64(a.Hidden), int64(a.MLP), int64(a.Chunk)
	return bundle.FLOPs{
		Prefix: 2*int64(a.Patches())*int64(a.PatchValues())*D + 2*int64(a.StateFeatures())*D +
			2*int64(a.ImageSize*a.ImageSize)*(int64(a.KeypointHidden)*(3+int64(a.Keypoints))+2*int64(a.Keypoints)) + // pixel network, soft-argmax
			2*int64(a.KeypointFeatures())*D + a.selectorFLOPs(),
		Layer:      2*T*D*D*4 + 2*T*D*F*3 + 2*2*T*T*D, // q,k,v,o; gate,up,down; scores and mixing
		Adapter:    2*T*D*int64(a.AdapterRank)*2 + 2*int64(a.AdapterContextWidth())*int64(a.AdapterRank),
		Controller: 2*D*int64(a.ControllerHidden) + 2*int64(a.ControllerHidden),
		Head:       2 * K * D * int64(a.ActionDim),
	}
}

// selectorFLOPs counts the keypoint selector: its windows, the sum over them, the choice, the weighted
// keypoints and the output map.
func (a Arch) selectorFLOPs() int64 {
	if a.SelectorWindow == 0 {
		return 0
	}
	Ti, W, H, C, D := int64(a.InstructionTokens), int64(a.SelectorWindow), int64(a.SelectorHidden), int64(a.Keypoints), int64(a.Hidden)
	return 2*Ti*W*SelectorEmbedding*H + 2*Ti*H + 2*H*SelectorChoices*C + 2*SelectorChoices*C*2 + 2*2*SelectorChoices*D
}

// AdapterGraph builds the graph of adapter j with weights w exactly as Build writes it, so that tools
// which refine adapters (training) write them back in the one format.
func AdapterGraph(a Arch, j int, w *AdapterWeights) *onnxgraph.Builder {
	m := &Model{Arch: a, Adapters: map[int]*AdapterWeights{j: w}}
	return m.graphs([]int{j})[adapterFile(j)]()
}

// ControllerGraph builds the graph of controller j with weights w exactly as Build writes it.
func ControllerGraph(a Arch, j int, w *ControllerWeights) *onnxgraph.Builder {
	m := &Model{Arch: a, Controllers: map[int]*ControllerWeights{j: w}}
	return m.graphs([]int{j})[controllerFile(j)]()
}
