package modelbuild

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Model is the Go reference implementation of the architecture, in float64 with gonum matrices. It is
// the oracle the ONNX graphs are tested against and what calibration runs. The hidden state of one
// observation is a T×D matrix (batch 1 is implicit).
type Model struct {
	Arch        Arch
	Weights     *Weights
	Adapters    map[int]*AdapterWeights    // by dynamic layer
	Controllers map[int]*ControllerWeights // by dynamic layer
}

// dense wraps float32 row-major data as a float64 matrix (a copy).
func dense(rows, cols int, data []float32) *mat.Dense {
	f := make([]float64, len(data))
	for i, v := range data {
		f[i] = float64(v)
	}
	return mat.NewDense(rows, cols, f)
}

// Prefix computes the initial hidden state from an observation: a normalized image [3, S, S]
// (row-major), the instruction tokens and, when the model reads it, the normalized robot state.
func (m *Model) Prefix(obs Observation) (*mat.Dense, error) {
	image, tokens := obs.Image, obs.Tokens
	a := m.Arch
	S, P, D := a.ImageSize, a.PatchSize, a.Hidden
	if len(image) != 3*S*S {
		return nil, fmt.Errorf("modelbuild: image has %d values, want 3x%dx%d = %d", len(image), S, S, 3*S*S)
	}
	if len(tokens) != a.InstructionTokens {
		return nil, fmt.Errorf("modelbuild: %d instruction tokens, want %d", len(tokens), a.InstructionTokens)
	}
	if len(obs.State) != a.StateDim {
		return nil, fmt.Errorf("modelbuild: %d robot-state values, want %d", len(obs.State), a.StateDim)
	}
	for i, tok := range tokens {
		if tok < 0 || tok >= int64(a.Vocab) {
			return nil, fmt.Errorf("modelbuild: token %d at position %d is outside the vocabulary [0, %d)", tok, i, a.Vocab)
		}
	}
	state := make([]float64, D) // state · W_state + b_state, added to every action query
	if a.StateDim > 0 {
		features := a.stateFeatures(obs.State)
		for d := range state {
			state[d] = float64(m.Weights.StateBias[d])
			for i, v := range features {
				state[d] += v * float64(m.Weights.StateWeight[i*D+d])
			}
		}
	}
	if a.Keypoints > 0 {
		points := m.Keypoints(image)
		addLinear(state, points, m.Weights.KeypointOut)
		if a.SelectorWindow > 0 {
			chosen := m.Chosen(tokens, points)
			if a.RelativePoints {
				addLinear(state, m.Relative(obs.State, chosen), m.Weights.RelativeOut)
			}
			for i := range chosen {
				chosen[i] *= SelectorPointGain
			}
			addLinear(state, chosen, m.Weights.SelectorOut)
		}
	}
	grid := S / P
	patches := mat.NewDense(a.Patches(), a.PatchValues(), nil)
	for gy := 0; gy < grid; gy++ {
		for gx := 0; gx < grid; gx++ {
			row := patches.RawRowView(gy*grid + gx)
			k := 0
			for c := 0; c < 3; c++ {
				for py := 0; py < P; py++ {
					for px := 0; px < P; px++ {
						row[k] = float64(image[c*S*S+(gy*P+py)*S+gx*P+px])
						k++
					}
				}
			}
		}
	}
	var patchOut mat.Dense
	patchOut.Mul(patches, dense(a.PatchValues(), D, m.Weights.PatchWeight))
	h := mat.NewDense(a.Tokens(), D, nil)
	for t := 0; t < a.Patches(); t++ {
		row := h.RawRowView(t)
		for d := range row {
			row[d] = patchOut.At(t, d) + float64(m.Weights.PatchPosition[t*D+d])
		}
	}
	for i, tok := range tokens {
		row := h.RawRowView(a.Patches() + i)
		for d := range row {
			row[d] = float64(m.Weights.TokenEmbedding[int(tok)*D+d])
		}
	}
	for q := 0; q < a.Chunk; q++ {
		row := h.RawRowView(a.Patches() + a.InstructionTokens + q)
		for d := range row {
			row[d] = float64(m.Weights.ActionQueries[q*D+d]) + state[d]
		}
	}
	return h, nil
}

// addLinear adds x · w to out, w row-major [len(x), len(out)].
func addLinear(out, x []float64, w []float32) {
	D := len(out)
	for i, v := range x {
		for d := range out {
			out[d] += v * float64(w[i*D+d])
		}
	}
}

// Selection is the keypoint selector's choice for an instruction (tokens already checked against the
// vocabulary): per choice (the object, then the pad), the softmax weight of every keypoint channel.
func (m *Model) Selection(tokens []int64) [SelectorChoices][]float64 {
	a, w := m.Arch, m.Weights
	E, W, H, C := SelectorEmbedding, a.SelectorWindow, a.SelectorHidden, a.Keypoints
	pooled := make([]float64, H) // Σ over windows of silu(window · W_s1 + b_s1)
	window := make([]float64, W*E)
	for i := range tokens {
		for o := 0; o < W; o++ {
			tok := 0 // windows past the end read padding
			if i+o < len(tokens) {
				tok = int(tokens[i+o])
			}
			for e := 0; e < E; e++ {
				window[o*E+e] = float64(w.SelectorEmbed[tok*E+e])
			}
		}
		hidden := make([]float64, H)
		for h := range hidden {
			hidden[h] = float64(w.SelectorWinB[h])
		}
		addLinear(hidden, window, w.SelectorWindow)
		for h, v := range hidden {
			pooled[h] += silu(v)
		}
	}
	choice := make([]float64, SelectorChoices*C)
	for k := range choice {
		choice[k] = float64(w.SelectorChB[k])
	}
	addLinear(choice, pooled, w.SelectorChoice)
	var out [SelectorChoices][]float64
	for c := range out {
		out[c] = choice[c*C : (c+1)*C]
		softmaxScaled(out[c], 1)
	}
	return out
}

// Chosen are the selector's two points, (x, y) of the object then of the pad: each choice's softmax
// over channels weighing the keypoints (points, channel-major as Keypoints returns them).
func (m *Model) Chosen(tokens []int64, points []float64) []float64 {
	out := make([]float64, 0, 2*SelectorChoices)
	for _, weights := range m.Selection(tokens) {
		var x, y float64
		for k, p := range weights {
			x += p * points[2*k]
			y += p * points[2*k+1]
		}
		out = append(out, x, y)
	}
	return out
}

// GripperPoint is where the model takes the gripper to be in the image, (u, v) from its normalized
// robot state through the camera's calibration (W_grip, b_grip; package doc).
func (m *Model) GripperPoint(state []float32) (u, v float64) {
	w := m.Weights
	u, v = float64(w.GripperBias[0]), float64(w.GripperBias[1])
	for i, s := range state {
		u += float64(s) * float64(w.GripperWeight[2*i])
		v += float64(s) * float64(w.GripperWeight[2*i+1])
	}
	return u, v
}

// Relative are the chosen points (Chosen) as seen from the gripper, as the action queries read them:
// 8 · tanh(3 · (chosen − gripper)), the object's (u, v) then the pad's (package doc).
func (m *Model) Relative(state []float32, chosen []float64) []float64 {
	u, v := m.GripperPoint(state)
	out := make([]float64, len(chosen))
	for i, c := range chosen {
		gripper := u
		if i%2 == 1 {
			gripper = v
		}
		out[i] = SelectorPointGain * math.Tanh(RelativeScale*(c-gripper))
	}
	return out
}

// Keypoints are the image's keypoints (the package doc's spatial soft-argmax) for a normalized image
// [3,S,S]: x and y in [-1, 1] per channel, channel-major (x0, y0, x1, y1, ...).
func (m *Model) Keypoints(image []float32) []float64 {
	a, w := m.Arch, m.Weights
	S, H, C := a.ImageSize, a.KeypointHidden, a.Keypoints
	pixels := mat.NewDense(S*S, 3, nil)
	for c := 0; c < 3; c++ {
		for p := 0; p < S*S; p++ {
			pixels.Set(p, c, float64(image[c*S*S+p]))
		}
	}
	var hidden, scores mat.Dense
	hidden.Mul(pixels, dense(3, H, w.KeypointPixel))
	hidden.Apply(func(_, j int, v float64) float64 { return silu(v + float64(w.KeypointPixelB[j])) }, &hidden)
	scores.Mul(&hidden, dense(H, C, w.KeypointScore))
	grid := a.KeypointGrid()
	points := make([]float64, 2*C) // channel-major: x0, y0, x1, y1, ...
	column := make([]float64, S*S)
	for k := 0; k < C; k++ {
		for p := range column {
			column[p] = a.KeypointScoreGain() * (scores.At(p, k) + float64(w.KeypointScoreB[k]))
		}
		softmaxScaled(column, 1)
		for p, weight := range column {
			points[2*k] += weight * float64(grid[2*p])
			points[2*k+1] += weight * float64(grid[2*p+1])
		}
	}
	return points
}

// rmsNorm normalizes each row to unit root-mean-square, then scales by gain.
func (m *Model) rmsNorm(x *mat.Dense, gain []float32) *mat.Dense {
	rows, cols := x.Dims()
	out := mat.NewDense(rows, cols, nil)
	for r := 0; r < rows; r++ {
		in, o := x.RawRowView(r), out.RawRowView(r)
		var ss float64
		for _, v := range in {
			ss += v * v
		}
		inv := 1 / math.Sqrt(ss/float64(cols)+m.Arch.NormEps)
		for c, v := range in {
			o[c] = v * inv * float64(gain[c])
		}
	}
	return out
}

// RopeTables are the rotary cos and sin tables [T, HeadDim] (rotate-half layout: column k and
// k+HeadDim/2 share the frequency theta^(-2k/HeadDim)).
func (a Arch) RopeTables() (cos, sin []float32) {
	T, hd := a.Tokens(), a.HeadDim()
	cos, sin = make([]float32, T*hd), make([]float32, T*hd)
	for t := 0; t < T; t++ {
		for k := 0; k < hd/2; k++ {
			angle := float64(t) * math.Pow(a.RopeTheta, -2*float64(k)/float64(hd))
			c, s := float32(math.Cos(angle)), float32(math.Sin(angle))
			cos[t*hd+k], cos[t*hd+k+hd/2] = c, c
			sin[t*hd+k], sin[t*hd+k+hd/2] = s, s
		}
	}
	return cos, sin
}

// rope applies the rotary embedding to one head's T×hd block in place.
func rope(x *mat.Dense, cos, sin []float32) {
	T, hd := x.Dims()
	half := hd / 2
	for t := 0; t < T; t++ {
		row := x.RawRowView(t)
		rotated := make([]float64, hd)
		for k := 0; k < half; k++ {
			rotated[k] = -row[k+half]
			rotated[k+half] = row[k]
		}
		for k := range row {
			row[k] = row[k]*float64(cos[t*hd+k]) + rotated[k]*float64(sin[t*hd+k])
		}
	}
}

// silu is x·sigmoid(x) with sigmoid written through tanh, as in the graphs.
func silu(x float64) float64 { return x * 0.5 * (1 + math.Tanh(x/2)) }

// Layer runs decoder layer i on h and returns the new hidden state.
func (m *Model) Layer(i int, h *mat.Dense) *mat.Dense {
	a, w := m.Arch, &m.Weights.Layers[i]
	T, D, H, hd := a.Tokens(), a.Hidden, a.Heads, a.HeadDim()
	cos, sin := a.RopeTables()

	n := m.rmsNorm(h, w.AttnNorm)
	var q, k, v mat.Dense
	q.Mul(n, dense(D, D, w.Q))
	k.Mul(n, dense(D, D, w.K))
	v.Mul(n, dense(D, D, w.V))
	heads := mat.NewDense(T, D, nil)
	scale := 1 / math.Sqrt(float64(hd))
	for head := 0; head < H; head++ {
		cols := func(x *mat.Dense) *mat.Dense {
			return mat.DenseCopyOf(x.Slice(0, T, head*hd, (head+1)*hd))
		}
		qh, kh, vh := cols(&q), cols(&k), cols(&v)
		rope(qh, cos, sin)
		rope(kh, cos, sin)
		var scores mat.Dense
		scores.Mul(qh, kh.T())
		for t := 0; t < T; t++ {
			softmaxScaled(scores.RawRowView(t), scale)
		}
		var out mat.Dense
		out.Mul(&scores, vh)
		heads.Slice(0, T, head*hd, (head+1)*hd).(*mat.Dense).Copy(&out)
	}
	var attn mat.Dense
	attn.Mul(heads, dense(D, D, w.O))
	var x mat.Dense
	x.Add(h, &attn)

	n = m.rmsNorm(&x, w.MLPNorm)
	var gate, up mat.Dense
	gate.Mul(n, dense(D, a.MLP, w.Gate))
	up.Mul(n, dense(D, a.MLP, w.Up))
	gate.Apply(func(r, c int, g float64) float64 { return silu(g) * up.At(r, c) }, &gate)
	var mlp mat.Dense
	mlp.Mul(&gate, dense(a.MLP, D, w.Down))
	out := mat.NewDense(T, D, nil)
	out.Add(&x, &mlp)
	return out
}

// softmaxScaled replaces row by softmax(scale·row), subtracting the max first for stability.
func softmaxScaled(row []float64, scale float64) {
	maxV := math.Inf(-1)
	for _, v := range row {
		maxV = math.Max(maxV, v*scale)
	}
	var sum float64
	for i, v := range row {
		row[i] = math.Exp(v*scale - maxV)
		sum += row[i]
	}
	for i := range row {
		row[i] /= sum
	}
}

// Adapter runs the adapter of dynamic layer j on h.
func (m *Model) Adapter(j int, h *mat.Dense) *mat.Dense {
	a, w := m.Arch, m.Adapters[j]
	D, r := a.Hidden, a.AdapterRank
	n := m.rmsNorm(h, w.Norm)
	var low, delta mat.Dense
	low.Mul(n, dense(D, r, w.Down))
	if a.AdapterContext || w.Context != nil { // as the graph decides: weights and arch that disagree fail
		c := mat.NewDense(1, a.AdapterContextWidth(), a.groupMeans(n))
		var lowContext mat.Dense
		lowContext.Mul(c, dense(a.AdapterContextWidth(), r, w.Context))
		rows, _ := low.Dims()
		for t := 0; t < rows; t++ {
			row := low.RawRowView(t)
			for k, v := range lowContext.RawRowView(0) {
				row[k] += v
			}
		}
	}
	delta.Mul(&low, dense(r, D, w.Up))
	out := mat.DenseCopyOf(h)
	out.Add(out, &delta)
	rows, _ := out.Dims()
	for t := 0; t < rows; t++ {
		row := out.RawRowView(t)
		for d := range row {
			row[d] += float64(w.Bias[d])
		}
	}
	return out
}

// groupMeans is a context adapter's context vector: the mean of x's rows over each token group, side
// by side ([G·D]).
func (a Arch) groupMeans(x *mat.Dense) []float64 {
	_, D := x.Dims()
	out := make([]float64, 0, len(a.TokenGroups())*D)
	for _, g := range a.TokenGroups() {
		out = append(out, meanRows(x.Slice(g[0], g[1], 0, D).(*mat.Dense))...)
	}
	return out
}

// Controller returns the skip probability of dynamic layer j for hidden state h.
func (m *Model) Controller(j int, h *mat.Dense) float64 {
	a, w := m.Arch, m.Controllers[j]
	D, C := a.Hidden, a.ControllerHidden
	pooled := mat.NewDense(1, D, meanRows(h))
	n := m.rmsNorm(pooled, w.Norm)
	var z mat.Dense
	z.Mul(n, dense(D, C, w.FC1))
	logit := float64(w.FC2Bias[0])
	for c := 0; c < C; c++ {
		logit += math.Tanh(z.At(0, c)+float64(w.FC1Bias[c])) * float64(w.FC2[c])
	}
	return 0.5 * (1 + math.Tanh(logit/2))
}

func meanRows(h *mat.Dense) []float64 {
	rows, cols := h.Dims()
	mean := make([]float64, cols)
	for t := 0; t < rows; t++ {
		for d, v := range h.RawRowView(t) {
			mean[d] += v / float64(rows)
		}
	}
	return mean
}

// Head maps the final hidden state to the normalized action chunk, K·A values row-major.
func (m *Model) Head(h *mat.Dense) []float64 {
	a := m.Arch
	T, D, K, A := a.Tokens(), a.Hidden, a.Chunk, a.ActionDim
	n := m.rmsNorm(h, m.Weights.HeadNorm)
	var actions mat.Dense
	actions.Mul(n.Slice(T-K, T, 0, D), dense(D, A, m.Weights.HeadWeight))
	out := make([]float64, 0, K*A)
	for k := 0; k < K; k++ {
		for c := 0; c < A; c++ {
			out = append(out, actions.At(k, c)+float64(m.Weights.HeadBias[c]))
		}
	}
	return out
}

// stateFeatures is features(state) of the package doc: per value v, v then sin(ω_k·v) and cos(ω_k·v).
func (a Arch) stateFeatures(state []float32) []float64 {
	omegas := a.StateAngularFrequencies()
	out := make([]float64, 0, a.StateFeatures())
	for _, v := range state {
		out = append(out, float64(v))
		for _, w := range omegas {
			out = append(out, math.Sin(float64(w*v)))
		}
		for _, w := range omegas {
			out = append(out, math.Cos(float64(w*v)))
		}
	}
	return out
}

// Forward runs the whole model without skipping. hiddens[i] is the input of layer i; hiddens[L] is the
// output of the last layer.
func (m *Model) Forward(obs Observation) (hiddens []*mat.Dense, actions []float64, err error) {
	h, err := m.Prefix(obs)
	if err != nil {
		return nil, nil, err
	}
	hiddens = append(hiddens, h)
	for i := 0; i < m.Arch.Layers; i++ {
		h = m.Layer(i, h)
		hiddens = append(hiddens, h)
	}
	return hiddens, m.Head(h), nil
}
