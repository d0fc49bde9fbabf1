package training

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"dysl_vla/modelbuild"
	"dysl_vla/plots"
	"dysl_vla/policy/bundle"
	"dysl_vla/scene"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/losses"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
)

// AddSkipModules creates trainable adapter and controller variables for the dynamic layers. Adapters
// start as the identity (up = 0), so stage 1 begins from "the skipped layers do nothing"; controllers
// start undecided (skip probability near 0.5).
func (m *Model) AddSkipModules(dynamic []int, seed int64) {
	a := m.Arch
	D, r, C := a.Hidden, a.AdapterRank, a.ControllerHidden
	rng := rand.New(rand.NewPCG(uint64(seed), 0x736b6970)) // "skip"
	ones := func(n int) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = 1
		}
		return out
	}
	add := func(scope, name string, data []float32, dims ...int) {
		m.vars[name] = m.Ctx.In(scope).VariableWithValue(name, tensors.FromFlatDataAndDimensions(data, dims...))
	}
	for _, j := range dynamic {
		p := fmt.Sprintf("adapters.%d.", j)
		add(ScopeAdapters, p+"norm.weight", ones(D), D)
		add(ScopeAdapters, p+"down.weight", randomSlice32(rng, D*r, 1/math.Sqrt(float64(D))), D, r)
		add(ScopeAdapters, p+"up.weight", make([]float32, r*D), r, D)
		add(ScopeAdapters, p+"up.bias", make([]float32, D), D)
		if W := a.AdapterContextWidth(); W > 0 {
			add(ScopeAdapters, p+"context.weight", randomSlice32(rng, W*r, 1/math.Sqrt(float64(W))), W, r)
		}
		p = fmt.Sprintf("controllers.%d.", j)
		add(ScopeControllers, p+"norm.weight", ones(D), D)
		add(ScopeControllers, p+"fc1.weight", randomSlice32(rng, D*C, 1/math.Sqrt(float64(D))), D, C)
		add(ScopeControllers, p+"fc1.bias", make([]float32, C), C)
		add(ScopeControllers, p+"fc2.weight", randomSlice32(rng, C, 0.1), C, 1)
		add(ScopeControllers, p+"fc2.bias", make([]float32, 1), 1)
	}
}

func randomSlice32(r *rand.Rand, n int, std float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64() * std)
	}
	return out
}

// Adapter is A_j(h) = h + (n·down + c·context)·up + bias on h [B,T,D], with n = RMSNorm(h)·g and c the
// token groups' means of n for a context adapter (modelbuild.AdapterWeights), no c term otherwise.
func (m *Model) Adapter(j int, h *Node) *Node {
	g, p := h.Graph(), fmt.Sprintf("adapters.%d.", j)
	n := m.rmsNorm(h, m.param(g, p+"norm.weight"))
	low := matmul(n, m.param(g, p+"down.weight"))
	if m.Arch.AdapterContext {
		// The groups' means as one product with a pooling matrix: the gradient of Slice (Pad) is
		// missing from the SimpleGo backend.
		T, G := m.Arch.Tokens(), len(m.Arch.TokenGroups())
		pool := make([]float32, T*G) // [T,G]: 1/|group| where the token is in the group
		for k, group := range m.Arch.TokenGroups() {
			for i := group[0]; i < group[1]; i++ {
				pool[i*G+k] = 1 / float32(group[1]-group[0])
			}
		}
		B := n.Shape().Dimensions[0]
		means := DotGeneral(n, []int{1}, nil, Const(g, tensors.FromFlatDataAndDimensions(pool, T, G)), []int{0}, nil) // [B,D,G]
		means = Reshape(TransposeAllDims(means, 0, 2, 1), B, 1, G*m.Arch.Hidden)                                      // [B,1,G·D]
		context := matmul(means, m.param(g, p+"context.weight"))                                                      // [B,1,r]
		low = Add(low, BroadcastToShape(context, low.Shape()))
	}
	delta := addTrailing(matmul(low, m.param(g, p+"up.weight")), m.param(g, p+"up.bias"))
	return Add(h, delta)
}

// Controller is g_j(h) = sigmoid(tanh(RMSNorm(mean_t h)·g · fc1 + b1) · fc2 + b2), on h [B,T,D] -> [B].
func (m *Model) Controller(j int, h *Node) *Node {
	g, p := h.Graph(), fmt.Sprintf("controllers.%d.", j)
	n := m.rmsNorm(ReduceMean(h, 1), m.param(g, p+"norm.weight"))
	z := Tanh(addTrailing(matmul(n, m.param(g, p+"fc1.weight")), m.param(g, p+"fc1.bias")))
	logit := addTrailing(matmul(z, m.param(g, p+"fc2.weight")), m.param(g, p+"fc2.bias"))
	return Reshape(sigmoid(logit), h.Shape().Dimensions[0])
}

// SkipModules copies the adapter and controller variables out as modelbuild weights.
func (m *Model) SkipModules(dynamic []int) (SkipModules, error) {
	mods := SkipModules{Adapters: map[int]*modelbuild.AdapterWeights{}, Controllers: map[int]*modelbuild.ControllerWeights{}}
	get := func(name string) []float32 {
		t, err := m.vars[name].Value()
		if err != nil {
			panic(err)
		}
		return tensors.MustCopyFlatData[float32](t)
	}
	for _, j := range dynamic {
		if _, ok := m.vars[fmt.Sprintf("adapters.%d.up.weight", j)]; !ok {
			return mods, fmt.Errorf("training: no adapter for dynamic layer %d", j)
		}
		p := fmt.Sprintf("adapters.%d.", j)
		mods.Adapters[j] = &modelbuild.AdapterWeights{Norm: get(p + "norm.weight"), Down: get(p + "down.weight"), Up: get(p + "up.weight"), Bias: get(p + "up.bias")}
		if m.Arch.AdapterContext {
			mods.Adapters[j].Context = get(p + "context.weight")
		}
		p = fmt.Sprintf("controllers.%d.", j)
		mods.Controllers[j] = &modelbuild.ControllerWeights{Norm: get(p + "norm.weight"), FC1: get(p + "fc1.weight"),
			FC1Bias: get(p + "fc1.bias"), FC2: get(p + "fc2.weight"), FC2Bias: get(p + "fc2.bias")}
	}
	return mods, nil
}

// SetSkipModules overwrites the variables (AddSkipModules made them) of the adapters and controllers
// in mods, e.g. with the closed-form adapters of the bundle (ReadSkipModules) so that stage 1 refines
// them instead of starting from the identity, or with a checkpoint's adapters and controllers.
func (m *Model) SetSkipModules(mods SkipModules) error {
	type tensor struct {
		name string
		data []float32
	}
	set := map[int][]tensor{} // by layer; adapters' and controllers' names differ
	for j, w := range mods.Adapters {
		p := fmt.Sprintf("adapters.%d.", j)
		set[j] = append(set[j], tensor{p + "norm.weight", w.Norm}, tensor{p + "down.weight", w.Down}, tensor{p + "up.weight", w.Up}, tensor{p + "up.bias", w.Bias})
		if m.Arch.AdapterContext || w.Context != nil {
			set[j] = append(set[j], tensor{p + "context.weight", w.Context})
		}
	}
	for j, w := range mods.Controllers {
		p := fmt.Sprintf("controllers.%d.", j)
		set[j] = append(set[j], tensor{p + "norm.weight", w.Norm}, tensor{p + "fc1.weight", w.FC1}, tensor{p + "fc1.bias", w.FC1Bias},
			tensor{p + "fc2.weight", w.FC2}, tensor{p + "fc2.bias", w.FC2Bias})
	}
	layers := make([]int, 0, len(set))
	for j := range set {
		layers = append(layers, j)
	}
	sort.Ints(layers) // errors name the first bad layer, reproducibly
	for _, j := range layers {
		for _, t := range set[j] {
			v, ok := m.vars[t.name]
			if !ok {
				return fmt.Errorf("training: no variable %s (AddSkipModules first)", t.name)
			}
			if v.Shape().Size() != len(t.data) {
				return fmt.Errorf("training: %s has %d values, the variable %d", t.name, len(t.data), v.Shape().Size())
			}
			if err := v.SetValue(tensors.FromFlatDataAndDimensions(append([]float32(nil), t.data...), v.Shape().Dimensions...)); err != nil {
				return err
			}
		}
	}
	return nil
}

// DistillConfig configures the two-stage skip-aware distillation (docs/ALGORITHM.md, Eqs. 4-6).
type DistillConfig struct {
	Segments []bundle.Segment
	Seed     int64
	Episodes int // training episodes (seeds from TrainSeedStart)
	// Tasks makes the episodes tabletop scenes (the zero value: the single task).
	Tasks scene.Tabletop
	// Visited are world states a policy reached in closed loop ('dysl train dagger --strategy dysl'):
	// their camera frames join the episodes' so that the adapters and controllers also learn the frames
	// skipping takes the arm to, which expert episodes never show. The teacher there is the frozen full
	// model, as everywhere in distillation; the expert is not asked.
	Visited      []scene.State
	Stage1Steps  int     // adapters only; 0 skips stage 1 (the "one stage from scratch" ablation)
	Stage2Steps  int     // controllers and adapters with the soft mixture
	Batch        int     // frames per step
	LearningRate float64 // Adam, both stages
	Lambda       float64 // weight of the skip-encouraging loss mean (1 − g)²
	// Stage2Fit keeps stage 1's loss in stage 2 with this weight. Stage 2 alone trades the adapters' fit
	// of the skipped layers for the chunk loss of its soft mixture (models/closedloop/README.md, attempt
	// 16: the context adapters' mean unexplained fraction rose from 0.31 to 0.45). Keeping the fit did
	// not keep more grasps there, so 0, the paper's stage 2, is the default.
	Stage2Fit float64
	// NearWeight, when > 0, weighs stage 2's chunk L1 on the frames whose gripper tip is within
	// NearRadius metres of the task's target (Frame.TargetDistance) NearWeight times (the others 1);
	// the skip term is left as it is, so the controllers pay that much more for a skip there. The
	// chunk L1 is small where the motions are small, yet an error near the block costs the grasp
	// (models/closedloop/README.md, attempt 17). 0 weighs every frame alike, as the paper does.
	NearWeight, NearRadius float64
	// AdapterStart says, for the provenance, where the adapters started: "" means AddSkipModules' identity;
	// the distill command sets it when it loads the bundle's closed-form adapters (SetSkipModules).
	AdapterStart string
	Log          io.Writer
	OnStep       func(stage, step int, loss float64)
	// CheckpointEvery, when > 0, calls Checkpoint after every CheckpointEvery-th step of each stage and
	// after its last step, with the adapters and controllers as they are then (SkipModules).
	CheckpointEvery int
	Checkpoint      func(p DistillProgress) error
	// Interrupted, if set, is asked after every step: true ends the run there (Ctrl-C), with a call
	// of Checkpoint (whatever CheckpointEvery says) and an error that is ErrInterrupted.
	Interrupted func() bool
	// Resume is the progress of the checkpoint the adapters and controllers were loaded from: the steps
	// up to it are not run again (their batches and layer draws are still drawn, so the rest of the run
	// sees the ones it would have seen; Adam's moments restart). The zero value starts from the beginning.
	Resume DistillProgress
}

// DistillProgress is how far a distillation got: the last step done of stage 1 or 2.
type DistillProgress struct {
	Stage, Step int
}

// doneIn is how many steps of stage the progress covers, out of steps.
func (p DistillProgress) doneIn(stage, steps int) int {
	switch {
	case p.Stage > stage:
		return steps
	case p.Stage == stage:
		return min(p.Step, steps)
	}
	return 0
}

// DistillResult reports a distillation run.
type DistillResult struct {
	// Stage1Loss is per step the mean over adapters of ‖A_j(h_j) − h_s(j)‖² / ‖h_s(j) − h_j‖² on the batch:
	// the fraction of what the skipped layers do that adapter j misses (1 = no better than the identity).
	// Stage2Loss is per step the chunk L1 to the teacher (normalized action units) plus the skip term
	// (plus Stage2Fit times stage 1's loss).
	Stage1Loss, Stage2Loss []float64
	// The same fraction per dynamic layer on held-out frames, before stage 1, after it and after stage 2
	// (nil for a stage that did not run).
	UnexplainedBefore, UnexplainedStage1, UnexplainedAfter map[int]float64
	Trainable, Backbone                                    int64 // parameter counts
	Duration                                               time.Duration
}

// dynamicLayers lists the segments' dynamic layers in order.
func dynamicLayers(segments []bundle.Segment) []int {
	var out []int
	for _, s := range segments {
		out = append(out, s.Dynamic...)
	}
	return out
}

// Validate checks the counts, the learning rate and the weights, the settings a caller can get wrong
// before a model is loaded (DistillBundle checks them first).
func (cfg DistillConfig) Validate() error {
	if cfg.Episodes < 0 || cfg.Stage1Steps < 0 || cfg.Stage2Steps < 0 || cfg.Stage1Steps+cfg.Stage2Steps == 0 ||
		cfg.Batch < 1 || cfg.CheckpointEvery < 0 {
		return fmt.Errorf("training: episodes (%d), stage 1 steps (%d), stage 2 steps (%d) and checkpoint-every (%d) must be >= 0 with at least one step, and batch (%d) >= 1",
			cfg.Episodes, cfg.Stage1Steps, cfg.Stage2Steps, cfg.CheckpointEvery, cfg.Batch)
	}
	if err := checkBatch(cfg.Batch); err != nil {
		return err
	}
	if err := scene.CheckEpisodeCount("training: episodes", cfg.Episodes); err != nil {
		return err
	}
	if !finitePositive(cfg.LearningRate) {
		return fmt.Errorf("training: learning rate is %v, expected a finite rate > 0", cfg.LearningRate)
	}
	for _, w := range []struct {
		name, what string
		value      float64
	}{{"lambda", "weight", cfg.Lambda}, {"stage-2 fit weight", "weight", cfg.Stage2Fit}, {"near-target weight", "weight", cfg.NearWeight},
		{"near-target radius", "distance in metres", cfg.NearRadius}} {
		if !(w.value >= 0) || math.IsInf(w.value, 0) {
			return fmt.Errorf("training: %s is %v, expected a finite %s >= 0", w.name, w.value, w.what)
		}
	}
	return nil
}

// Distill trains the adapters and controllers of m (AddSkipModules first) against the frozen backbone.
//
// Stage 1 (Eq. 4): L1 = mean over j of ‖A_j(h_j) − h_{s(j)}‖² / ‖h_{s(j)} − h_j‖², teacher hidden states
// from the full model; each adapter's error is divided by its target's own change so that every term
// reads as the fraction of the skipped layers' work the adapter misses (1 = the identity).
//
// Stage 2 (Eqs. 5-6): in every segment one dynamic layer j is drawn per frame with harmonic decay
// (p(k) ∝ 1/k for the segment's k-th dynamic layer, so long jumps train most). The segment's output
// becomes the soft mixture g_j·A_j(h_j) + (1 − g_j)·F(h_j), where F(h_j) is the frozen layers j..s−1
// run from h_j — which is the ordinary forward pass through the segment, so one pass serves every
// choice of j and the choice is an input (a one-hot selector) rather than a different graph. Loss = L1
// between the chunk and the frozen full model's chunk + λ · mean over segments of (1 − g_j)²; with
// NearWeight, the L1 of frames near the task's target counts NearWeight times.
func Distill(m *Model, cfg DistillConfig) (*DistillResult, error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	dynamic := dynamicLayers(cfg.Segments)
	if len(dynamic) == 0 {
		return nil, fmt.Errorf("training: no dynamic layers to distill")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	data, err := GenerateSceneEpisodes(m.Arch, Seeds(TrainSeedStart, cfg.Episodes), cfg.Tasks)
	if err != nil {
		return nil, err
	}
	if len(cfg.Visited) > 0 {
		visited, err := LabelStates(m.Arch, cfg.Visited, scene.ExpertOptions{})
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(cfg.Log, "training frames: %d from %d expert episodes, %d from visited states\n",
			len(data.Frames), cfg.Episodes, len(visited.Frames))
		data.Frames = append(data.Frames, visited.Frames...)
	}
	if len(data.Frames) == 0 {
		return nil, fmt.Errorf("training: no frames to distill on (%d episodes, no visited states)", cfg.Episodes)
	}
	if cfg.NearWeight > 0 && cfg.NearRadius == 0 {
		return nil, fmt.Errorf("training: a near-target weight (%g) needs a near-target radius > 0, metres", cfg.NearWeight)
	}
	// weightOf is a frame's weight in stage 2's chunk L1.
	weightOf := func(f Frame) float32 {
		if cfg.NearWeight > 0 && f.TargetDistance < cfg.NearRadius {
			return float32(cfg.NearWeight)
		}
		return 1
	}
	if cfg.NearWeight > 0 {
		near := 0
		for _, f := range data.Frames {
			if weightOf(f) != 1 {
				near++
			}
		}
		fmt.Fprintf(cfg.Log, "stage 2 weighs the chunk L1 of the %d of %d frames within %g cm of the target %g times\n",
			near, len(data.Frames), 100*cfg.NearRadius, cfg.NearWeight)
	}
	m.SetBackboneTrainable(false)
	res := &DistillResult{Backbone: paramCount(m.BackboneVariables())}
	for _, v := range m.vars {
		if v.Scope() != "/"+ScopeBackbone {
			res.Trainable += int64(v.Shape().Size())
		}
	}
	r := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x64697374)) // "dist"
	began := time.Now()

	probe, err := GenerateSceneEpisodes(m.Arch, Seeds(HeldOutSeedStart, 2), cfg.Tasks)
	if err != nil {
		return nil, err
	}
	probeFrames := everyNth(probe, 4)
	unexplained := func(when string) (map[int]float64, error) {
		u, err := m.AdapterUnexplained(probe, probeFrames, cfg.Segments)
		if err == nil {
			fmt.Fprintf(cfg.Log, "adapters %s: unexplained fraction on %d held-out frames (1 = no better than the identity) %s\n",
				when, len(probeFrames), describeByLayer(u))
		}
		return u, err
	}
	if res.UnexplainedBefore, err = unexplained("at the start"); err != nil {
		return nil, err
	}

	if cfg.Stage1Steps > 0 {
		stage1 := func(ctx *context.Context, _ any, inputs []*Node) []*Node {
			hiddens, _ := m.Forward(m.inputsFrom(inputs))
			return []*Node{ReduceAllMean(m.adapterUnexplained(hiddens, cfg.Segments))}
		}
		trainer := train.NewTrainer(m.Backend, m.Ctx, stage1, func(_, predictions []*Node) *Node { return predictions[0] },
			optimizers.Adam().LearningRate(cfg.LearningRate).Done(), nil, nil)
		res.Stage1Loss, err = runStage(trainer, 1, cfg.Stage1Steps, cfg, func(skip bool) ([]*tensors.Tensor, []*tensors.Tensor) {
			indices := data.SampleIndices(r, cfg.Batch)
			if skip {
				return nil, nil
			}
			inputs, _ := data.Batch(indices)
			return inputs, inputs[:1] // the loss is the graph's output: the label is not read
		})
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(cfg.Log, "stage 1: %d steps, mean unexplained fraction of the adapters' targets %.4f -> %.4f\n", cfg.Stage1Steps,
			mean(res.Stage1Loss[:min(10, len(res.Stage1Loss))]), mean(res.Stage1Loss[max(0, len(res.Stage1Loss)-10):]))
		if res.UnexplainedStage1, err = unexplained("after stage 1"); err != nil {
			return nil, err
		}
	}

	if cfg.Stage2Steps > 0 {
		teacher, err := m.PredictChunks(data, allIndices(data))
		if err != nil {
			return nil, err
		}
		position := map[int]int{} // dynamic layer -> column of the selector
		for i, j := range dynamic {
			position[j] = i
		}
		stage2 := func(ctx *context.Context, _ any, inputs []*Node) []*Node {
			selector := StopGradient(inputs[m.inputCount()]) // [B, len(dynamic)], one-hot within each segment
			column := func(j int) *Node {
				return Reshape(Slice(selector, AxisRange(), AxisRange(position[j], position[j]+1)), selector.Shape().Dimensions[0])
			}
			h := m.Prefix(m.inputsFrom(inputs))
			var skipLoss *Node
			segments := 0
			hiddens := make([]*Node, m.Arch.Layers+1) // what the fit term reads: each h_j and h_s(j)
			for _, seg := range cfg.Segments {
				var inputsOf []*Node
				for _, j := range seg.Dynamic {
					inputsOf = append(inputsOf, h)
					hiddens[j] = h
					h = m.Layer(j, h)
				}
				hiddens[seg.Static] = h
				if len(seg.Dynamic) > 0 {
					segments++
					full := h
					for k, j := range seg.Dynamic {
						drawn := column(j)                          // 1 where j was drawn for the frame, else 0
						skip := m.Controller(j, inputsOf[k])        // g_j, [B]
						gate := Reshape(Mul(skip, drawn), -1, 1, 1) // the mixture weight, 0 where j was not drawn
						h = Add(h, Mul(gate, Sub(m.Adapter(j, inputsOf[k]), full)))
						miss := Mul(Square(OneMinus(skip)), drawn)
						if skipLoss == nil {
							skipLoss = miss
						} else {
							skipLoss = Add(skipLoss, miss)
						}
					}
				}
				h = m.Layer(seg.Static, h)
			}
			train.AddLoss(ctx, MulScalar(ReduceAllMean(skipLoss), cfg.Lambda/float64(segments)))
			if cfg.Stage2Fit > 0 {
				train.AddLoss(ctx, MulScalar(ReduceAllMean(m.adapterUnexplained(hiddens, cfg.Segments)), cfg.Stage2Fit))
			}
			return []*Node{m.Head(h)}
		}
		trainer := train.NewTrainer(m.Backend, m.Ctx, stage2, losses.MeanAbsoluteError,
			optimizers.Adam().LearningRate(cfg.LearningRate).Done(), nil, nil)
		res.Stage2Loss, err = runStage(trainer, 2, cfg.Stage2Steps, cfg, func(skip bool) ([]*tensors.Tensor, []*tensors.Tensor) {
			indices := data.SampleIndices(r, cfg.Batch)
			selector := HarmonicSelector(r, cfg.Segments, len(indices))
			if skip {
				return nil, nil
			}
			inputs, _ := data.Batch(indices)
			perFrame := m.Arch.Chunk * m.Arch.ActionDim
			labels := make([]float32, 0, len(indices)*perFrame)
			for _, i := range indices {
				labels = append(labels, teacher[i]...)
			}
			out := []*tensors.Tensor{tensors.FromFlatDataAndDimensions(labels, len(indices), m.Arch.Chunk, m.Arch.ActionDim)}
			if cfg.NearWeight > 0 { // losses.MeanAbsoluteError multiplies each value by its weight
				weights := make([]float32, 0, len(indices)*perFrame)
				for _, i := range indices {
					w := weightOf(data.Frames[i])
					for range perFrame {
						weights = append(weights, w)
					}
				}
				out = append(out, tensors.FromFlatDataAndDimensions(weights, len(indices), m.Arch.Chunk, m.Arch.ActionDim))
			}
			return append(inputs, selector), out
		})
		if err != nil {
			return nil, err
		}
		terms := "chunk L1 to the teacher in normalized action units + skip term"
		if cfg.Stage2Fit > 0 {
			terms += fmt.Sprintf(" + %g x stage 1's loss", cfg.Stage2Fit)
		}
		fmt.Fprintf(cfg.Log, "stage 2: %d steps, loss (%s) %.4f -> %.4f\n", cfg.Stage2Steps, terms,
			mean(res.Stage2Loss[:min(10, len(res.Stage2Loss))]), mean(res.Stage2Loss[max(0, len(res.Stage2Loss)-10):]))
		if res.UnexplainedAfter, err = unexplained("after stage 2"); err != nil {
			return nil, err
		}
	}
	res.Duration = time.Since(began)
	return res, nil
}

// HarmonicSelector draws, for each of n frames and each segment, one dynamic layer with probability
// ∝ 1/k for the segment's k-th dynamic layer, and returns the one-hot choices [n, dynamic layers].
func HarmonicSelector(r *rand.Rand, segments []bundle.Segment, n int) *tensors.Tensor {
	width := len(dynamicLayers(segments))
	data := make([]float32, n*width)
	for b := 0; b < n; b++ {
		offset := 0
		for _, seg := range segments {
			K := len(seg.Dynamic)
			if K == 0 {
				continue
			}
			var total float64
			for k := 1; k <= K; k++ {
				total += 1 / float64(k)
			}
			u := r.Float64() * total
			pick := K - 1
			for k := 1; k <= K; k++ {
				if u < 1/float64(k) {
					pick = k - 1
					break
				}
				u -= 1 / float64(k)
			}
			data[b*width+offset+pick] = 1
			offset += K
		}
	}
	return tensors.FromFlatDataAndDimensions(data, n, width)
}

// DistillNotes are the provenance lines a distilled bundle records.
func DistillNotes(cfg DistillConfig, res *DistillResult) (adapters, controllers string) {
	start := cfg.AdapterStart
	if start == "" {
		start = "the identity"
	}
	adapters = fmt.Sprintf("trained (dysl distill, GoMLX) from %s: stage 1 %d steps of mean_j ‖A_j(h_j) − h_s(j)‖²/‖h_s(j) − h_j‖² against the frozen backbone, "+
		"then stage 2 %d steps jointly with the controllers; batch %d, Adam lr %s, %d episodes, seed %d",
		start, cfg.Stage1Steps, cfg.Stage2Steps, cfg.Batch, strconv.FormatFloat(cfg.LearningRate, 'g', -1, 64), cfg.Episodes, cfg.Seed)
	if len(cfg.Visited) > 0 {
		adapters += fmt.Sprintf(", and the frames of %d world states a policy visited in closed loop", len(cfg.Visited))
	}
	near := ""
	if cfg.NearWeight > 0 {
		near = fmt.Sprintf(", chunk L1 weighed %g times within %g cm of the target", cfg.NearWeight, 100*cfg.NearRadius)
	}
	if res.UnexplainedAfter != nil || res.UnexplainedStage1 != nil {
		final := res.UnexplainedAfter
		if final == nil {
			final = res.UnexplainedStage1
		}
		adapters += fmt.Sprintf("; unexplained fraction on held-out frames %.3f at the start, %.3f at the end",
			meanOf(res.UnexplainedBefore), meanOf(final))
	}
	fit := ""
	if cfg.Stage2Fit > 0 {
		fit = fmt.Sprintf(" + %g·stage 1's loss", cfg.Stage2Fit)
		adapters += fmt.Sprintf("; stage 2 kept stage 1's loss at weight %g", cfg.Stage2Fit)
	}
	controllers = fmt.Sprintf("trained (dysl distill stage 2, %d steps): soft mixture at one harmonic-decay-drawn dynamic layer per segment, "+
		"loss L1 to the frozen full model's chunk + %g·mean(1−g)²%s%s; %d trainable vs %d backbone parameters",
		cfg.Stage2Steps, cfg.Lambda, fit, near, res.Trainable, res.Backbone)
	return adapters, controllers
}

// PlotDistill writes both stages' loss curves (each smoothed over 20 steps) against the step.
func PlotDistill(path string, res *DistillResult) error {
	var series []plots.Series
	for _, stage := range []struct {
		name   string
		losses []float64
	}{{"stage 1: adapters' unexplained fraction", res.Stage1Loss}, {"stage 2: chunk L1 to teacher + skip term", res.Stage2Loss}} {
		if len(stage.losses) == 0 {
			continue
		}
		s := plots.Series{Name: stage.name, Y: plots.RunningMean(stage.losses, 20)}
		for i := range stage.losses {
			s.X = append(s.X, float64(i+1))
		}
		series = append(series, s)
	}
	return plots.SaveLine(path, "distillation", "step", "loss", series...)
}

// adapterUnexplained is, per dynamic layer of the segments in order, ‖A_j(h_j) − h_s‖² / ‖h_s − h_j‖²
// over the batch ([dynamic layers]): the part of what the skipped layers do that adapter j misses.
// Normalizing by each target's own change keeps every adapter's term on the same scale (modelbuild
// reports its closed-form fit the same way), so the sum does not favour the long jumps.
func (m *Model) adapterUnexplained(hiddens []*Node, segments []bundle.Segment) *Node {
	var terms []*Node
	for _, seg := range segments {
		target := StopGradient(hiddens[seg.Static])
		for _, j := range seg.Dynamic {
			h := StopGradient(hiddens[j])
			miss := ReduceAllSum(Square(Sub(m.Adapter(j, h), target)))
			terms = append(terms, ExpandDims(Div(miss, ReduceAllSum(Square(Sub(target, h)))), 0))
		}
	}
	return Concatenate(terms, 0)
}

// AdapterUnexplained measures each adapter of the segments' dynamic layers on frames: the fraction
// ‖A_j(h_j) − h_s‖² / ‖h_s − h_j‖² summed over the frames (0 = the adapter reproduces the skipped layers,
// 1 = no better than skipping them with no adapter).
func (m *Model) AdapterUnexplained(d *Dataset, indices []int, segments []bundle.Segment) (map[int]float64, error) {
	dynamic := dynamicLayers(segments)
	sums, err := m.sumOverFrames(d, indices, func(in Inputs) *Node {
		hiddens, _ := m.Forward(in)
		var miss, change []*Node
		for _, seg := range segments {
			for _, j := range seg.Dynamic {
				miss = append(miss, ExpandDims(ReduceAllSum(Square(Sub(m.Adapter(j, hiddens[j]), hiddens[seg.Static]))), 0))
				change = append(change, ExpandDims(ReduceAllSum(Square(Sub(hiddens[seg.Static], hiddens[j]))), 0))
			}
		}
		return Concatenate(append(miss, change...), 0)
	})
	if err != nil {
		return nil, err
	}
	u := map[int]float64{}
	for i, j := range dynamic {
		u[j] = sums[i] / sums[len(dynamic)+i]
	}
	return u, nil
}

// runStage runs the steps of one distillation stage, each on the inputs and labels next draws, and
// returns the loss of every step it ran. Steps that cfg.Resume covers only draw (next(true)).
func runStage(trainer *train.Trainer, stage, steps int, cfg DistillConfig,
	next func(skip bool) (inputs, labels []*tensors.Tensor)) ([]float64, error) {
	done := cfg.Resume.doneIn(stage, steps)
	var out []float64
	for step := 1; step <= steps; step++ {
		if step <= done {
			next(true)
			continue
		}
		inputs, labels := next(false)
		metrics, err := trainer.TrainStep(nil, inputs, labels)
		if err != nil {
			return nil, fmt.Errorf("training: stage %d step %d: %w", stage, step, err)
		}
		loss := scalar(metrics[0])
		if err := checkLoss(loss, fmt.Sprintf("stage %d step %d", stage, step), cfg.LearningRate); err != nil {
			return nil, err
		}
		out = append(out, loss)
		if cfg.OnStep != nil {
			cfg.OnStep(stage, step, loss)
		}
		due := cfg.CheckpointEvery > 0 && (step%cfg.CheckpointEvery == 0 || step == steps)
		interrupted := cfg.Interrupted != nil && cfg.Interrupted()
		if cfg.Checkpoint != nil && (due || interrupted) {
			if err := cfg.Checkpoint(DistillProgress{Stage: stage, Step: step}); err != nil {
				return nil, fmt.Errorf("training: checkpoint at stage %d step %d: %w", stage, step, err)
			}
		}
		if interrupted {
			return nil, fmt.Errorf("training: %w at stage %d step %d", ErrInterrupted, stage, step)
		}
	}
	return out, nil
}

// everyNth is every n-th frame index of d.
func everyNth(d *Dataset, n int) []int {
	var out []int
	for i := 0; i < len(d.Frames); i += max(1, n) {
		out = append(out, i)
	}
	return out
}

func meanOf(values map[int]float64) float64 {
	var sum float64
	for _, v := range values {
		sum += v
	}
	return sum / float64(max(1, len(values)))
}

// describeByLayer formats per-layer values in layer order: "3:0.412 5:0.388 ... (mean 0.401)".
func describeByLayer(values map[int]float64) string {
	layers := make([]int, 0, len(values))
	for j := range values {
		layers = append(layers, j)
	}
	sort.Ints(layers)
	var b strings.Builder
	for _, j := range layers {
		fmt.Fprintf(&b, "%d:%.3f ", j, values[j])
	}
	fmt.Fprintf(&b, "(mean %.3f)", meanOf(values))
	return b.String()
}
