package modelbuild

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"dysl_vla/policy/bundle"
	"dysl_vla/policy/modelinput"
	"dysl_vla/scene"
	"gonum.org/v1/gonum/mat"
)

// Observation is one model input: a normalized image [3,S,S], instruction tokens and, for a model with
// a state input, the normalized robot state (Arch.StateDim values; nil otherwise).
type Observation struct {
	Image  []float32
	Tokens []int64
	State  []float32
}

// CalibrationObservations draws n synthetic observations deterministically from seed: images of
// uniform [0,1] pixels normalized with the bundle's image statistics, and instructions of 4 to
// InstructionTokens lowercase letters and spaces as byte tokens (+1, zero padded), as the "bytes"
// tokenizer makes them.
func CalibrationObservations(a Arch, n int, seed int64) []Observation {
	r := rand.New(rand.NewPCG(uint64(seed), 0x63616c69)) // "cali"
	S := a.ImageSize
	obs := make([]Observation, n)
	for i := range obs {
		img := make([]float32, 3*S*S)
		for c := 0; c < 3; c++ {
			for p := 0; p < S*S; p++ {
				img[c*S*S+p] = float32((r.Float64() - imageMean[c]) / imageStd[c])
			}
		}
		tokens := make([]int64, a.InstructionTokens)
		length := 4 + r.IntN(max(1, a.InstructionTokens-3))
		for t := 0; t < min(length, a.InstructionTokens); t++ {
			ch := byte('a' + r.IntN(27))
			if ch > 'z' {
				ch = ' '
			}
			tokens[t] = int64(ch) + 1
		}
		obs[i] = Observation{Image: img, Tokens: tokens}
		if a.StateDim > 0 {
			obs[i].State = make([]float32, a.StateDim)
			for k := range obs[i].State {
				obs[i].State[k] = float32(r.NormFloat64())
			}
		}
	}
	return obs
}

// Image normalization written into the manifest (ImageNet statistics, as SigLIP/DINO-style encoders use).
var (
	imageMean = []float64{0.485, 0.456, 0.406}
	imageStd  = []float64{0.229, 0.224, 0.225}
)

// calibration holds the hidden states of the full model over the calibration observations.
type calibration struct {
	hiddens [][]*mat.Dense // [observation][i]: input of layer i; [L] = last layer's output
}

func (m *Model) calibrate(obs []Observation) (*calibration, error) {
	c := &calibration{}
	for i, o := range obs {
		h, _, err := m.Forward(o)
		if err != nil {
			return nil, fmt.Errorf("calibration observation %d: %w", i, err)
		}
		for _, x := range h {
			if !finite(x) {
				return nil, fmt.Errorf("modelbuild: calibration observation %d: hidden state is not finite (weights too large?)", i)
			}
		}
		c.hiddens = append(c.hiddens, h)
	}
	return c, nil
}

func finite(x *mat.Dense) bool {
	rows, _ := x.Dims()
	for r := 0; r < rows; r++ {
		for _, v := range x.RawRowView(r) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return false
			}
		}
	}
	return true
}

// layerSimilarity is, for each layer, the mean over observations and tokens of the cosine similarity
// between the layer's input and output hidden vectors. Low similarity = the layer changes a lot.
func (c *calibration) layerSimilarity(layers int) []float64 {
	sim := make([]float64, layers)
	count := 0
	for _, h := range c.hiddens {
		rows, _ := h[0].Dims()
		for i := 0; i < layers; i++ {
			for t := 0; t < rows; t++ {
				sim[i] += cosine(h[i].RawRowView(t), h[i+1].RawRowView(t))
			}
		}
		count += rows
	}
	for i := range sim {
		sim[i] /= float64(count)
	}
	return sim
}

// cosine is the cosine similarity of x and y. Each product is rounded before it is added (the
// float64 conversions): Go may fuse a multiply and an add into one instruction on arm64 and not on
// amd64, and the static layers chosen from these figures must be the same on the Jetson.
func cosine(x, y []float64) float64 {
	var xy, xx, yy float64
	for i := range x {
		xy += float64(x[i] * y[i])
		xx += float64(x[i] * x[i])
		yy += float64(y[i] * y[i])
	}
	if xx == 0 || yy == 0 {
		return 0
	}
	return xy / math.Sqrt(xx*yy)
}

// CheckStaticRatio says whether ratio can choose static layers: a fraction in (0, 1].
func CheckStaticRatio(ratio float64) error {
	if !(ratio > 0 && ratio <= 1) { // NaN too
		return fmt.Errorf("modelbuild: static ratio (%g) must be in (0, 1]", ratio)
	}
	return nil
}

// ChooseStatic picks round(ratio·L) static layers (at least 1): the last layer always, then the layers
// with the lowest input/output similarity. Returned ascending.
func ChooseStatic(similarity []float64, ratio float64) []int {
	L := len(similarity)
	n := max(1, min(L, int(math.Round(ratio*float64(L)))))
	order := make([]int, 0, L-1)
	for i := 0; i < L-1; i++ {
		order = append(order, i)
	}
	sort.SliceStable(order, func(x, y int) bool { return similarity[order[x]] < similarity[order[y]] })
	static := append([]int{L - 1}, order[:n-1]...)
	sort.Ints(static)
	return static
}

// nextStatic returns, for each dynamic layer j, s(j): the first static layer after j.
func nextStatic(layers int, static []int) map[int]int {
	out := map[int]int{}
	isStatic := map[int]bool{}
	for _, s := range static {
		isStatic[s] = true
	}
	for j := 0; j < layers; j++ {
		if isStatic[j] {
			continue
		}
		for _, s := range static {
			if s > j {
				out[j] = s
				break
			}
		}
	}
	return out
}

// adapterRidges are the candidate ridge penalties, relative to the mean diagonal of the normal matrix;
// each adapter uses the one with the lowest held-out error of the full-rank fit.
var adapterRidges = []float64{1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100}

// adapterFit is what fitting one adapter reports.
type adapterFit struct {
	// Unexplained is ‖A_j(h_j) − h_s‖² / ‖h_s − h_j‖² on held-out observations (not the fitted ones,
	// which would flatter a wide adapter fitted on few tokens): 0 = the adapter reproduces the skipped
	// layers, 1 = it does no better than skipping them with no adapter at all.
	Unexplained float64
	Ridge       float64 // the relative ridge penalty chosen
}

// fitAdapter fits adapter j in closed form on the calibration states: with n = RMSNorm(h_j) (gain 1)
// and target Δ = h_s − h_j per token, see FitLowRankResidual. The adapter is therefore a linear low-rank
// residual on the normalized input, the best such map for these calibration states; training may
// refine it.
func (m *Model) fitAdapter(c, heldOut *calibration, j, s int) (*AdapterWeights, adapterFit, error) {
	X, Y := m.adapterProblem(c, j, s)
	Xh, Yh := m.adapterProblem(heldOut, j, s)
	w, ridge, unexplained, err := FitLowRankResidual(X, Y, Xh, Yh, m.Arch.AdapterRank)
	if err != nil {
		return nil, adapterFit{}, fmt.Errorf("modelbuild: adapter %d: %w", j, err)
	}
	return w, adapterFit{Unexplained: unexplained, Ridge: ridge}, nil
}

// FitLowRankResidual fits adapter weights in closed form: X holds rows [n c 1] (n = an RMSNorm-ed hidden
// state, gain 1, D columns; c = a context adapter's context vector, none for a plain adapter) and Y the
// residual to add (D columns). It solves the ridge least squares X·W ≈ Y (bias row unpenalized; the
// penalty, relative to the mean diagonal of XᵀX, is the one of adapterRidges with the lowest error on
// the held-out Xh, Yh), then keeps the best rank-r part (reduced-rank regression: project onto the top r
// right singular vectors V_r of the fitted values), so Down = W_n·V_r, Context = W_c·V_r, Up = V_rᵀ,
// Bias = w_1·V_r·V_rᵀ. It returns the weights, the penalty chosen and the
// held-out unexplained fraction ‖X_h·W_r − Y_h‖² / ‖Y_h‖² (0: the residual is reproduced; 1: no better
// than adding nothing). The builder's adapters and the early-exit baseline's exits are both fitted here.
func FitLowRankResidual(X, Y, Xh, Yh *mat.Dense, r int) (*AdapterWeights, float64, float64, error) {
	_, D := Y.Dims()
	_, F := X.Dims()
	F-- // features: every column but the bias
	if F < D {
		return nil, 0, 0, fmt.Errorf("%d feature columns, want at least the hidden width %d", F, D)
	}
	var gram, xty mat.Dense
	gram.Mul(X.T(), X)
	xty.Mul(X.T(), Y)
	trace := 0.0
	for i := 0; i < F; i++ {
		trace += gram.At(i, i)
	}
	var W mat.Dense
	bestErr, bestRidge := math.Inf(1), 0.0
	for _, ridge := range adapterRidges {
		penalized := mat.DenseCopyOf(&gram)
		for i := 0; i < F; i++ { // the bias row is not penalized
			penalized.Set(i, i, penalized.At(i, i)+ridge*trace/float64(F))
		}
		var candidate, resid mat.Dense
		if err := candidate.Solve(penalized, &xty); err != nil {
			continue // singular at this penalty; a larger one will do
		}
		resid.Mul(Xh, &candidate)
		resid.Sub(&resid, Yh)
		if e := sumSquares(&resid); e < bestErr {
			bestErr, bestRidge = e, ridge
			W.CloneFrom(&candidate)
		}
	}
	if math.IsInf(bestErr, 1) {
		return nil, 0, 0, fmt.Errorf("least squares is singular at every ridge penalty")
	}

	// Reduced rank: eigenvectors of Ŷᵀ Ŷ (= right singular vectors of Ŷ) with the r largest eigenvalues.
	var fitted, cov mat.Dense
	fitted.Mul(X, &W)
	cov.Mul(fitted.T(), &fitted)
	var eig mat.EigenSym
	if !eig.Factorize(mat.NewSymDense(D, cov.RawMatrix().Data), true) {
		return nil, 0, 0, fmt.Errorf("eigendecomposition failed")
	}
	var vectors mat.Dense
	eig.VectorsTo(&vectors) // ascending eigenvalues: the last r columns are the top r
	Vr := mat.DenseCopyOf(vectors.Slice(0, D, D-r, D))
	var WVr, WVrVt mat.Dense
	WVr.Mul(&W, Vr)         // [(F+1), r]: rows 0..D-1 = Down, D..F-1 = Context, row F = bias in the rank-r basis
	WVrVt.Mul(&WVr, Vr.T()) // [(F+1), D]

	w := &AdapterWeights{Norm: make([]float32, D), Down: make([]float32, D*r), Up: make([]float32, r*D), Bias: make([]float32, D)}
	for i := 0; i < D; i++ {
		w.Norm[i] = 1
		for k := 0; k < r; k++ {
			w.Down[i*r+k] = float32(WVr.At(i, k))
			w.Up[k*D+i] = float32(Vr.At(i, k))
		}
		w.Bias[i] = float32(WVrVt.At(F, i))
	}
	if F > D {
		w.Context = make([]float32, (F-D)*r)
		for i := D; i < F; i++ {
			for k := 0; k < r; k++ {
				w.Context[(i-D)*r+k] = float32(WVr.At(i, k))
			}
		}
	}

	var pred, resid mat.Dense
	pred.Mul(Xh, &WVrVt)
	resid.Sub(&pred, Yh)
	return w, bestRidge, sumSquares(&resid) / sumSquares(Yh), nil
}

func sumSquares(x *mat.Dense) float64 {
	n := mat.Norm(x, 2)
	return n * n
}

// The stand-in controllers' constant skip probabilities span this range.
const (
	minSkipProb = 0.1
	maxSkipProb = 0.9
)

// standInSkipProbs gives each dynamic layer the constant skip probability its stand-in controller
// outputs until distillation trains real ones. It ranks the adapters by held-out fit: the best adapter
// (lowest unexplained fraction) gets maxSkipProb, the worst minSkipProb, linear in between (all 0.5
// when they are equal). So with the default threshold 0.5 the better half of the adapters can be used
// and skipping is possible, while an absolute rule (e.g. 1 − unexplained) would forbid it whenever the
// linear adapters are weak, as they are on a random backbone.
func standInSkipProbs(fits map[int]adapterFit) map[int]float64 {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, f := range fits {
		lo, hi = math.Min(lo, f.Unexplained), math.Max(hi, f.Unexplained)
	}
	out := map[int]float64{}
	for j, f := range fits {
		quality := 0.5
		if hi > lo {
			quality = (hi - f.Unexplained) / (hi - lo)
		}
		out[j] = minSkipProb + quality*(maxSkipProb-minSkipProb)
	}
	return out
}

// initController makes the stand-in controller of dynamic layer j: fc2 is zero, so its output is the
// constant sigmoid(fc2.bias) = skipProb. fc1 is random (N(0, 1/D)) so that training starts from a
// non-degenerate point.
func initController(a Arch, j int, skipProb float64, seed int64) *ControllerWeights {
	D, C := a.Hidden, a.ControllerHidden
	r := rand.New(rand.NewPCG(uint64(seed), uint64(0x6374726c00+j))) // "ctrl" + layer
	w := &ControllerWeights{
		Norm:    make([]float32, D),
		FC1:     normal(1/math.Sqrt(float64(D)))(r, D*C),
		FC1Bias: make([]float32, C),
		FC2:     make([]float32, C),
		FC2Bias: []float32{float32(math.Log(skipProb / (1 - skipProb)))},
	}
	for i := range w.Norm {
		w.Norm[i] = 1
	}
	return w
}

// adapterProblem stacks, over the observations of c, the regression inputs [n c 1] (n = RMSNorm(h_j);
// c = the token groups' means of n for a context adapter, nothing otherwise) and targets h_s − h_j, one
// row per token.
func (m *Model) adapterProblem(c *calibration, j, s int) (X, Y *mat.Dense) {
	D := m.Arch.Hidden
	ones := make([]float32, D)
	for i := range ones {
		ones[i] = 1
	}
	var xs, ys []*mat.Dense
	rowsTotal := 0
	C := m.Arch.AdapterContextWidth()
	for _, h := range c.hiddens {
		n := m.rmsNorm(h[j], ones)
		rows, _ := n.Dims()
		x := mat.NewDense(rows, D+C+1, nil)
		x.Slice(0, rows, 0, D).(*mat.Dense).Copy(n)
		var context []float64
		if C > 0 {
			context = m.Arch.groupMeans(n)
		}
		for t := 0; t < rows; t++ {
			copy(x.RawRowView(t)[D:D+C], context)
			x.Set(t, D+C, 1)
		}
		var y mat.Dense
		y.Sub(h[s], h[j])
		xs, ys = append(xs, x), append(ys, &y)
		rowsTotal += rows
	}
	X = mat.NewDense(rowsTotal, D+C+1, nil)
	Y = mat.NewDense(rowsTotal, D, nil)
	row := 0
	for i := range xs {
		rows, _ := xs[i].Dims()
		X.Slice(row, row+rows, 0, D+C+1).(*mat.Dense).Copy(xs[i])
		Y.Slice(row, row+rows, 0, D).(*mat.Dense).Copy(ys[i])
		row += rows
	}
	return X, Y
}

// ImageSpec and the tokenizer are the input rules every bundle of this builder declares; training normalizes its
// images with the same statistics. Every model here learns from the simulated scene, lit evenly, so
// each balances its camera to the scene's table: a frame lit brighter or dimmer than the training
// frames is brought back to their light (on the training frames themselves the gain is 1).
func (a Arch) ImageSpec() bundle.ImageSpec {
	table := scene.TableRGB()
	return bundle.ImageSpec{
		Width: a.ImageSize, Height: a.ImageSize, Resize: "center_crop_resize",
		Mean: append([]float64(nil), imageMean...), Std: append([]float64(nil), imageStd...),
		Balance: []float64{float64(table[0]) / 255, float64(table[1]) / 255, float64(table[2]) / 255},
	}
}

var bytesTokenizer = bundle.Tokenizer{Kind: "bytes"}

// SceneStateSpec is the state block of a bundle whose model reads the scene's robot state
// (scene.RobotState): the statistics bring the table's ±0.3 m, the 2-50 cm of height, the yaw and the
// gripper's ±1 to about unit scale. Training normalizes with the same numbers: this is their one
// definition.
func SceneStateSpec() bundle.StateSpec {
	return bundle.StateSpec{
		Names: slices.Clone(scene.RobotStateNames),
		Mean:  []float64{0, 0, 0.15, 0, 0},
		Std:   []float64{0.15, 0.15, 0.1, 1, 1},
	}
}

// NormalizedRobotState is s's robot state as a model of architecture a reads it, normalized by the
// engine's own code (modelinput): nil when a has no state input.
func NormalizedRobotState(a Arch, s scene.State) ([]float32, error) {
	if a.StateDim == 0 {
		return nil, nil
	}
	return modelinput.StateInput(s.RobotState(), SceneStateSpec())
}

// SceneCalibrationObservations are n frames of scripted pick-and-place episodes (package scene), rendered
// at the model's input size and converted exactly as the engine converts camera frames. Adapters and the
// static set are fitted on the distribution the robot will see: adapters fitted on random pixels explain
// little of what happens on real scenes. Frames are spread over episodes seed, seed+1, ... so that every
// phase (free-space moves, grasps, releases) is represented. tasks picks the scenes (scene.Config.Tabletop:
// zero for the single task).
func SceneCalibrationObservations(a Arch, n int, seed int64, tasks scene.Tabletop) ([]Observation, error) {
	const stride = 7 // frames apart within an episode: consecutive frames are nearly identical
	cfg := scene.DefaultConfig()
	cfg.Width, cfg.Height = a.ImageSize, a.ImageSize
	cfg.Tabletop = tasks
	spec := a.ImageSpec()
	var obs []Observation
	for ep := seed; len(obs) < n; ep++ {
		steps, err := scene.Episode(ep, cfg)
		if err != nil {
			return nil, fmt.Errorf("modelbuild: calibration episode %d: %w", ep, err)
		}
		for i := int((ep%stride + stride) % stride); i < len(steps) && len(obs) < n; i += stride { // seeds may be negative
			st := steps[i]
			img, err := modelinput.ImageInput(modelinput.Image{Width: st.Image.Width, Height: st.Image.Height,
				Encoding: "rgb8", Step: 3 * st.Image.Width, Data: st.Image.RGB}, spec)
			if err != nil {
				return nil, err
			}
			tokens, err := modelinput.InstructionTokens(bytesTokenizer, st.Instruction, a.InstructionTokens)
			if err != nil {
				return nil, err
			}
			state, err := NormalizedRobotState(a, st.State)
			if err != nil {
				return nil, err
			}
			obs = append(obs, Observation{Image: img, Tokens: tokens, State: state})
		}
	}
	return obs, nil
}
