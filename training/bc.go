package training

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"

	"dysl_vla/modelbuild"
	"dysl_vla/plots"
	"dysl_vla/safetensors"
	"dysl_vla/scene"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/losses"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
)

// BCConfig configures behaviour cloning of the backbone on expert episodes.
type BCConfig struct {
	Arch     modelbuild.Arch
	Seed     int64 // initial weights (modelbuild.RandomWeights) and batch order
	Episodes int   // training episodes (seeds TrainSeedStart...)
	HeldOut  int   // held-out episodes for the evaluation loss (seeds HeldOutSeedStart...), at least one
	Steps    int   // optimizer steps, in all
	// Resumed is the number of steps a checkpoint passed as start has already taken: training runs steps
	// Resumed+1..Steps, and the learning-rate schedule continues where it was (Adam's moments restart).
	Resumed      int
	Batch        int     // frames per step
	LearningRate float64 // Adam, the peak of the schedule
	// Warmup is the number of steps over which the learning rate rises linearly from LearningRate/Warmup
	// to LearningRate; 0 starts at LearningRate.
	Warmup int
	// FinalLearningRate is where a cosine decay from LearningRate (starting after Warmup) ends at the
	// last step; 0 keeps the learning rate constant after the warmup.
	FinalLearningRate float64
	// ResidualScale multiplies the output projections of every layer's two residual branches (attn.o and
	// mlp.down) of the random initial weights (not of a start checkpoint): 0 means 1/√(2·Layers)
	// (GPT-2's choice), a negative value leaves modelbuild's initialization as it is. modelbuild
	// initializes every branch at full scale so that no layer of a random backbone is an identity; eight
	// such layers scramble the image patches into the other tokens, and the reference VLA sat at the
	// constant predictor for 1000 steps. Small branches start the stack near the identity, as GPT-2 and
	// Fixup-style inits do, but too small starves the action queries of the image: at 1/(2·Layers) the
	// tiny preset sat at the constant predictor for 500+ steps, at 1/√(2·Layers) = 0.25 it left it by
	// step 200 (models/reference/README.md).
	ResidualScale float64
	// Loss is the training loss on normalized chunks: LossMSE (the default when zero), LossL1 or LossHuber.
	// The held-out figure is always the L1 error.
	Loss BCLoss
	// StopAfter, when > 0, ends the run after this step while the learning-rate schedule still spans
	// Steps: the weights are then exactly those of that step's checkpoint of the full run.
	StopAfter int
	// EvalEvery is how often (in steps) the held-out loss is measured; 0 means only at the end.
	EvalEvery int
	// Log receives one line per evaluation; nil discards.
	Log io.Writer
	// OnStep, if set, is called after every step (progress bars, checkpoints).
	OnStep func(step int, loss float64, m *Model)
	// Interrupted, if set, is asked after every step but the last: true ends the run there, without
	// the final held-out evaluation (Ctrl-C), and BCResult.Interrupted says at which step.
	Interrupted func() bool
	// Tasks makes the training and held-out episodes tabletop scenes (the zero value: the single task).
	Tasks scene.Tabletop
	// StartSpread starts the training episodes' gripper anywhere within this many metres of the table
	// centre (scene.Config.StartSpread); held-out episodes keep the centred start, so held-out figures
	// compare across runs.
	StartSpread float64
	// ActionNoise perturbs the training episodes' way to the block (scene.Config.ActionNoise, metres);
	// held-out episodes stay unperturbed.
	ActionNoise float64
	// PadRecolour paints the training episodes' pads of one colour another (scene.Config.PadRecolour);
	// held-out episodes keep the seed's colours.
	PadRecolour scene.Recolour
	// Expert is the expert of the training and held-out episodes (the zero value: the committed one).
	// The DAgger frames in Extra are labelled before they get here (LabelStates), with the same.
	Expert scene.ExpertOptions
	// Extra frames join the training episodes' (DAgger: states a policy visited, labelled by the expert).
	Extra []*Dataset
	// ProbeWeight, when > 0, adds the world-state probe's loss (probe.go) with this weight: a
	// training-only localization signal that bundles never see.
	ProbeWeight float64
	// KeypointWeight, when > 0, adds the keypoint loss (probe.go) with this weight: each image
	// keypoint channel is told where the object of its colour is, and a keypoint selector which
	// channels the instruction names (the selection loss, same weight). Only for models with keypoints.
	KeypointWeight float64
	// FreezeKeypoints keeps the keypoints' per-pixel network (its score maps) as loaded: no loss trains
	// it, and the keypoint loss, which would train only it, is left out (its held-out error is still
	// printed). Only for models with keypoints.
	FreezeKeypoints bool
	// KeypointsOnly trains the keypoints' per-pixel network alone, on the keypoint loss alone, in the
	// form of the squared error of the points the policy reads (addKeypointPointLoss): every other
	// weight stays as loaded and the action loss passes no gradient. It mends what a colour
	// channel confuses without touching what the backbone learned to do with the keypoints: the
	// committed reference's yellow channel, with an orange pad in view, sits a median 2.5 cm off the
	// yellow block on the held-out episodes' way to it, and 5 of those 7 episodes miss the grasp
	// (models/closedloop/README.md, attempt 21). Needs KeypointWeight > 0.
	KeypointsOnly bool
	// KeypointAnchor, with KeypointsOnly and when > 0, holds every keypoint channel whose colour a
	// training frame does not show where the loaded keypoints put it, with this weight against a
	// present channel's 1 (AnchorKeypointTargets). The backbone reads every channel, the absent ones
	// included: mended on frames where all six colours were in view, those moved by up to 6 cm on the
	// single task's frames (90th percentile), and the policy lost as many grasps elsewhere as the
	// mend saved (models/closedloop/README.md, attempts 21 and 22).
	KeypointAnchor float64
	// KeypointMendBeyond, with KeypointAnchor, also holds a present channel where the loaded keypoints
	// put it when that lies within this many metres of its colour's place: only the channels that
	// are off by more are mended, and the biases the backbone learned to read stay as they were.
	// 0: every present channel is pulled to its place.
	KeypointMendBeyond float64
	// TrainFromLayer, when > 0, trains only decoder layers TrainFromLayer and later and the head; the
	// prefix and the layers before stay as loaded. A fine-tune from trained weights that starts at a
	// DySL bundle's last static layer leaves its adapters and controllers, which end where that layer
	// begins, reading the hidden states they were fitted on, so the bundle need not be distilled again.
	// On 2 cores such a fine-tune on expert episodes kept the policy's completions, one on its DAgger
	// states did not (models/closedloop/README.md, attempt 20).
	TrainFromLayer int
	// LayerDrop, when > 0, is the probability that a training frame passes through each layer between
	// the first and the last unchanged (ForwardDropping), drawn anew for every frame of every step. It
	// trains the backbone to tolerate missing layers, which is what DySL's skipping asks of it: a
	// backbone trained with every layer always present leaves its adapters about half of the skipped
	// layers' work to guess (models/closedloop/README.md, attempt 14). The first and last layers are
	// never dropped, as calibration keeps them static. Held-out figures run every layer.
	LayerDrop float64
	// DropTails makes each dropping frame (probability LayerDrop) drop a run of layers instead: every
	// layer from one drawn uniformly among the droppable ones up to the last, which is never dropped.
	// These are the jumps DySL's adapters make when only the first and last layers are static, long
	// ones included, which independent drops almost never produce.
	DropTails bool
}

// layerDropMasks draws the [Batch, Layers] keep mask of one step: 0 where a frame drops a layer.
func (cfg BCConfig) layerDropMasks(r *rand.Rand) *tensors.Tensor {
	L := cfg.Arch.Layers
	keep := make([]float32, cfg.Batch*L)
	for b := 0; b < cfg.Batch; b++ {
		row := keep[b*L : (b+1)*L]
		for i := range row {
			row[i] = 1
		}
		// Layers 1..L-2 may be dropped: a run of them up to the last, or each on its own.
		if cfg.DropTails {
			if r.Float64() < cfg.LayerDrop {
				for i := 1 + r.IntN(L-2); i < L-1; i++ {
					row[i] = 0
				}
			}
		} else {
			for i := 1; i < L-1; i++ {
				if r.Float64() < cfg.LayerDrop {
					row[i] = 0
				}
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(keep, cfg.Batch, L)
}

// finitePositive says whether x is a number above 0 and below infinity (NaN is not).
func finitePositive(x float64) bool { return x > 0 && !math.IsInf(x, 1) }

// checkLoss stops a run whose loss is no longer a finite number: its weights are NaN or infinite from
// then on, and every step, checkpoint and bundle after would carry them.
func checkLoss(loss float64, at string, learningRate float64) error {
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return fmt.Errorf("training: the loss is %v at %s: the run diverged (learning rate %g); nothing more is written", loss, at, learningRate)
	}
	return nil
}

func (cfg BCConfig) residualScale() float64 {
	switch {
	case cfg.ResidualScale == 0:
		return 1 / math.Sqrt(float64(2*cfg.Arch.Layers))
	case cfg.ResidualScale < 0:
		return 1
	}
	return cfg.ResidualScale
}

// scaleResidualBranches multiplies every layer's attn.o and mlp.down weights by k.
func scaleResidualBranches(w *modelbuild.Weights, k float64) {
	for i := range w.Layers {
		for _, m := range [][]float32{w.Layers[i].O, w.Layers[i].Down} {
			for j := range m {
				m[j] *= float32(k)
			}
		}
	}
}

// BCLoss names a behaviour-cloning loss.
type BCLoss string

// The losses TrainBC knows. L1 is OpenVLA-OFT's chunk loss, but from random initialization it stalls at
// the constant median: its gradient has the same size for every frame, so the frames whose errors
// cancel in sign teach nothing, and the reference VLA could not even memorize 32 frames in 200 steps
// with it, while MSE (whose gradient grows with each frame's error) did. Huber (δ = 1) is MSE near the
// target and L1 far from it.
const (
	LossMSE   BCLoss = "mse"
	LossL1    BCLoss = "l1"
	LossHuber BCLoss = "huber"
)

func (l BCLoss) lossFn() (train.LossFn, error) {
	switch l {
	case LossMSE, "":
		return losses.MeanSquaredError, nil
	case LossL1:
		return losses.MeanAbsoluteError, nil
	case LossHuber:
		return losses.MakeHuberLoss(1), nil
	}
	return nil, fmt.Errorf("training: unknown loss %q (want %s, %s or %s)", string(l), LossMSE, LossL1, LossHuber)
}

// keypointsOnlyLoss is the action loss of a keypoints-only run: none. The keypoint point loss, added
// to the context by the model function, is the whole training loss.
func keypointsOnlyLoss(labels, _ []*Node) *Node { return ScalarZero(labels[0].Graph(), dtypes.Float32) }

// LearningRateAt is the schedule of cfg at step (1-based): linear warmup, then cosine decay to
// FinalLearningRate when that is set.
func (cfg BCConfig) LearningRateAt(step int) float64 {
	if cfg.Warmup > 0 && step <= cfg.Warmup {
		return cfg.LearningRate * float64(step) / float64(cfg.Warmup)
	}
	if cfg.FinalLearningRate <= 0 || cfg.Steps <= cfg.Warmup {
		return cfg.LearningRate
	}
	progress := float64(step-cfg.Warmup) / float64(cfg.Steps-cfg.Warmup)
	return cfg.FinalLearningRate + (cfg.LearningRate-cfg.FinalLearningRate)*0.5*(1+math.Cos(math.Pi*progress))
}

// BCResult reports a training run.
type BCResult struct {
	Model          *Model
	Params         int64
	TrainLoss      []float64      // per step run (Resumed+1..Steps): the batch's training loss (cfg.Loss on normalized actions, plus the weighted probe loss when probing)
	EvalSteps      []int          // absolute step numbers
	EvalLoss       []float64      // held-out mean absolute error at EvalSteps
	Eval           []ChunkMetrics // the held-out metrics at EvalSteps (EvalLoss[i] = Eval[i].L1)
	ProbeError     []float64      // the probe's held-out mean squared error at EvalSteps, when probing
	KeypointError  []float64      // the keypoints' held-out mean squared error at EvalSteps, with the keypoint loss
	SelectionError []float64      // the selector's held-out share of wrong choices at EvalSteps, with the keypoint loss and a selector
	Duration       time.Duration
	TrainFrames    int
	// Interrupted is the step at which BCConfig.Interrupted ended the run; 0 when it ran to its end.
	Interrupted int
	// BaselineL1 is the held-out error of the best constant predictor (each chunk value's median over the
	// training frames): a run whose held-out loss is not clearly below it has learned only the marginal.
	BaselineL1 float64
	// ActionMean and ActionStd are the training actions' own statistics (ActionStatistics); the labels are
	// normalized with the bundles' fixed ActionNormalization all the same.
	ActionMean, ActionStd []float64
}

// TrainBC trains the whole backbone (from start, or from random initialization when start is nil) to
// imitate the expert's action chunks: cfg.Loss on normalized actions, Adam with cfg's schedule.
func TrainBC(cfg BCConfig, start *modelbuild.Weights) (*BCResult, error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.Steps <= 0 || cfg.Batch <= 0 || cfg.Episodes <= 0 || !finitePositive(cfg.LearningRate) {
		return nil, fmt.Errorf("training: steps (%d), batch (%d), episodes (%d) and learning rate (%g) must be > 0",
			cfg.Steps, cfg.Batch, cfg.Episodes, cfg.LearningRate)
	}
	if err := checkBatch(cfg.Batch); err != nil {
		return nil, err
	}
	if err := errors.Join(scene.CheckEpisodeCount("training: episodes", cfg.Episodes), scene.CheckEpisodeCount("training: held-out episodes", cfg.HeldOut)); err != nil {
		return nil, err
	}
	if cfg.Resumed < 0 || cfg.Resumed >= cfg.Steps {
		return nil, fmt.Errorf("training: resumed step (%d) must be in [0, steps (%d))", cfg.Resumed, cfg.Steps)
	}
	// No held-out episode would leave the held-out loss, which every run reports, measured on nothing.
	if cfg.HeldOut < 1 {
		return nil, fmt.Errorf("training: held-out episodes (%d) must be >= 1: the held-out loss is measured on them", cfg.HeldOut)
	}
	if cfg.EvalEvery < 0 || cfg.StopAfter < 0 {
		return nil, fmt.Errorf("training: eval-every (%d) and stop-after (%d) must be >= 0 (0: only at the end, no stop)",
			cfg.EvalEvery, cfg.StopAfter)
	}
	if cfg.StopAfter > cfg.Steps {
		return nil, fmt.Errorf("training: stop-after (%d) must be at most the steps (%d): the run ends at its last step anyway", cfg.StopAfter, cfg.Steps)
	}
	if math.IsNaN(cfg.ResidualScale) || math.IsInf(cfg.ResidualScale, 0) {
		return nil, fmt.Errorf("training: residual scale (%v) must be finite (0: 1/sqrt(2·layers); below 0: none)", cfg.ResidualScale)
	}
	if cfg.Warmup < 0 || !(cfg.FinalLearningRate >= 0) || cfg.FinalLearningRate > cfg.LearningRate {
		return nil, fmt.Errorf("training: warmup (%d) must be >= 0 and final learning rate (%g) in [0, %g]",
			cfg.Warmup, cfg.FinalLearningRate, cfg.LearningRate)
	}
	lossFn, err := cfg.Loss.lossFn()
	if err != nil {
		return nil, err
	}
	if math.IsNaN(cfg.LayerDrop) || cfg.LayerDrop < 0 || cfg.LayerDrop >= 1 || (cfg.LayerDrop > 0 && cfg.Arch.Layers < 3) {
		return nil, fmt.Errorf("training: layer drop (%v) must be in [0, 1), and 0 for a model of fewer than 3 layers (it has %d): the first and last are never dropped",
			cfg.LayerDrop, cfg.Arch.Layers)
	}
	if cfg.KeypointAnchor < 0 || math.IsNaN(cfg.KeypointAnchor) || cfg.KeypointMendBeyond < 0 || math.IsNaN(cfg.KeypointMendBeyond) ||
		((cfg.KeypointAnchor > 0 || cfg.KeypointMendBeyond > 0) && (!cfg.KeypointsOnly || start == nil)) ||
		(cfg.KeypointMendBeyond > 0 && cfg.KeypointAnchor == 0) {
		return nil, fmt.Errorf("training: keypoint anchor (%v) and mend-beyond (%v m) must be >= 0, and need keypoints only, loaded weights to hold the keypoints at, "+
			"and for mend-beyond an anchor above 0", cfg.KeypointAnchor, cfg.KeypointMendBeyond)
	}
	data, err := GeneratePerturbedEpisodes(cfg.Arch, Seeds(TrainSeedStart, cfg.Episodes), cfg.Tasks,
		Perturbations{StartSpread: cfg.StartSpread, ActionNoise: cfg.ActionNoise, Expert: cfg.Expert, PadRecolour: cfg.PadRecolour})
	if err != nil {
		return nil, err
	}
	for _, extra := range cfg.Extra {
		data.Frames = append(data.Frames, extra.Frames...)
	}
	for _, f := range data.Frames {
		for _, c := range f.Unlabelled {
			if c < 0 || c >= cfg.Arch.ActionDim {
				return nil, fmt.Errorf("training: unlabelled action column %d: expected one of the %d columns", c, cfg.Arch.ActionDim)
			}
		}
	}
	masking := data.HasUnlabelled()
	heldOut, err := GeneratePerturbedEpisodes(cfg.Arch, Seeds(HeldOutSeedStart, cfg.HeldOut), cfg.Tasks, Perturbations{Expert: cfg.Expert})
	if err != nil {
		return nil, err
	}
	if cfg.KeypointAnchor > 0 {
		loaded := &modelbuild.Model{Arch: cfg.Arch, Weights: start}
		fmt.Fprintf(cfg.Log, "%s\n", AnchorKeypointTargets(data, loaded, cfg.KeypointAnchor, cfg.KeypointMendBeyond))
	}
	if start == nil {
		start = modelbuild.RandomWeights(cfg.Arch, cfg.Seed)
		scaleResidualBranches(start, cfg.residualScale())
	}
	m, err := NewModel(cfg.Arch, start)
	if err != nil {
		return nil, err
	}
	if cfg.ProbeWeight < 0 || math.IsNaN(cfg.ProbeWeight) {
		return nil, fmt.Errorf("training: probe weight (%v) must be >= 0", cfg.ProbeWeight)
	}
	if cfg.KeypointWeight < 0 || math.IsNaN(cfg.KeypointWeight) || (cfg.KeypointWeight > 0 && cfg.Arch.Keypoints == 0) {
		return nil, fmt.Errorf("training: keypoint weight (%v) must be >= 0, and 0 for a model without keypoints (it has %d)", cfg.KeypointWeight, cfg.Arch.Keypoints)
	}
	if cfg.FreezeKeypoints && cfg.Arch.Keypoints == 0 {
		return nil, fmt.Errorf("training: cannot freeze the keypoints of a model without them")
	}
	if cfg.KeypointsOnly && (cfg.KeypointWeight <= 0 || cfg.FreezeKeypoints || cfg.TrainFromLayer > 0 || cfg.ProbeWeight > 0) {
		return nil, fmt.Errorf("training: keypoints only needs a keypoint weight above 0 and excludes freezing the keypoints, a train-from layer and the probe (it trains the keypoints' per-pixel network and nothing else)")
	}
	if cfg.TrainFromLayer < 0 || cfg.TrainFromLayer > cfg.Arch.Layers {
		return nil, fmt.Errorf("training: train-from layer (%d) must be in [0, %d] (0: every layer; %d: the head alone)", cfg.TrainFromLayer, cfg.Arch.Layers, cfg.Arch.Layers)
	}
	dropping := cfg.LayerDrop > 0
	probing, keypointing := cfg.ProbeWeight > 0, cfg.KeypointWeight > 0
	selecting := keypointing && cfg.Arch.SelectorWindow > 0
	heatmaps := keypointing && !cfg.FreezeKeypoints && !cfg.KeypointsOnly // the heatmap loss trains only the frozen network
	if cfg.FreezeKeypoints {
		m.FreezeKeypointScores()
	}
	if cfg.TrainFromLayer > 0 {
		m.FreezeBelowLayer(cfg.TrainFromLayer)
	}
	if cfg.KeypointsOnly {
		m.TrainKeypointScoresOnly()
	}
	if probing {
		m.AddProbe()
	}
	modelFn := func(ctx *context.Context, _ any, inputs []*Node) []*Node {
		in := m.inputsFrom(inputs)
		if cfg.KeypointsOnly {
			// The backbone trains nothing here, so its forward pass is left out: a step costs the
			// keypoints' per-pixel network alone (about 1.5 s of 1.6 at batch 16 on 2 cores was the
			// backbone). The keypoints' places and presence follow the model inputs (no probe: refused
			// above). The loss (keypointsOnlyLoss) reads no actions; zeros keep the trainer's shape.
			targets := inputs[m.inputCount():]
			m.addKeypointPointLoss(ctx, m.keypointLogits(in.Images), targets[0], targets[1], cfg.KeypointWeight)
			return []*Node{Zeros(in.Images.Graph(), shapes.Make(dtypes.Float32, in.Images.Shape().Dimensions[0], cfg.Arch.Chunk, cfg.Arch.ActionDim))}
		}
		if keypointing {
			in.keypointLogits = m.keypointLogits(in.Images) // the prefix and the keypoint loss share them
			if selecting {
				in.selectorChoice = m.selectorChoice(in.Tokens) // likewise the prefix and the selection loss
			}
		}
		var mask, keep *Node
		if masking {
			mask, inputs = inputs[len(inputs)-1], inputs[:len(inputs)-1] // the loss mask comes last
		}
		if dropping {
			keep, inputs = inputs[len(inputs)-1], inputs[:len(inputs)-1] // then the drop mask
		}
		targets := inputs[m.inputCount():] // the probe's, then the keypoints' places and presence
		hiddens, actions := m.ForwardDropping(in, keep)
		if probing {
			m.addProbeLoss(ctx, hiddens[len(hiddens)-1], targets[0], cfg.ProbeWeight)
			targets = targets[1:]
		}
		if keypointing {
			if heatmaps {
				m.addKeypointLoss(ctx, in.keypointLogits, targets[0], targets[1], cfg.KeypointWeight)
			}
			if selecting {
				addSelectionLoss(ctx, in.selectorChoice, targets[2], cfg.KeypointWeight)
			}
		}
		if masking {
			actions = Mul(actions, mask)
		}
		return []*Node{actions}
	}
	if cfg.KeypointsOnly {
		lossFn = keypointsOnlyLoss
	}
	trainer := train.NewTrainer(m.Backend, m.Ctx, modelFn, lossFn,
		optimizers.Adam().LearningRate(cfg.LearningRate).Done(), nil, nil)
	// The optimizer reads its learning rate from this variable at every step; the schedule sets it.
	learningRate := optimizers.LearningRateVar(m.Ctx, dtypes.Float32, cfg.LearningRate)

	res := &BCResult{Model: m, Params: paramCount(m.BackboneVariables()), TrainFrames: len(data.Frames),
		BaselineL1: constantBaselineL1(data, heldOut)}
	res.ActionMean, res.ActionStd = ActionStatistics(data)
	_, normalizedWith := ActionNormalization()
	fmt.Fprintf(cfg.Log, "%d training frames; their actions have mean %.4g and std %.4g (normalized with std %v)\n",
		len(data.Frames), res.ActionMean, res.ActionStd, normalizedWith)
	if cfg.Warmup > cfg.Steps {
		// Allowed (a short probe run keeps the default warm-up), but the rate it trains at is not --lr.
		fmt.Fprintf(cfg.Log, "note: the warm-up (%d steps) is longer than the run (%d steps): the learning rate rises to %.2g of %g at the last step and never decays\n",
			cfg.Warmup, cfg.Steps, cfg.LearningRateAt(cfg.Steps), cfg.LearningRate)
	}
	lossName := cfg.Loss.name() // what the training loss sums, as the log names it
	if probing {
		lossName += "+probe"
	}
	if heatmaps {
		lossName += "+keypoints"
	}
	if selecting {
		lossName += "+selection"
	}
	if masking {
		lossName += " (some frames' columns unlabelled)"
	}
	if dropping {
		lossName += fmt.Sprintf(", layer drop %g", cfg.LayerDrop)
		if cfg.DropTails {
			lossName += " (tails)"
		}
	}
	if cfg.KeypointsOnly {
		lossName = "keypoint points" // the whole loss: no action, selection or probe loss is added
	}
	r := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x6263))     // "bc"
	drops := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x6c64)) // "ld": apart from the batches, so they stay those of a run without drop
	began := time.Now()
	for step := 1; step <= cfg.Steps; step++ {
		batch := data.SampleIndices(r, cfg.Batch)
		var keep *tensors.Tensor
		if dropping {
			keep = cfg.layerDropMasks(drops)
		}
		if step <= cfg.Resumed {
			continue // the same batches as the run that wrote the checkpoint, without repeating them
		}
		inputs, chunks := data.Batch(batch)
		if probing {
			inputs = append(inputs, data.ProbeBatch(batch))
		}
		if keypointing {
			inputs = append(inputs, data.KeypointBatch(batch)...)
		}
		if dropping {
			inputs = append(inputs, keep)
		}
		if masking {
			inputs = append(inputs, data.LossMask(batch))
		}
		if err := learningRate.SetValue(tensors.FromScalar(float32(cfg.LearningRateAt(step)))); err != nil {
			return nil, err
		}
		metrics, err := trainer.TrainStep(nil, inputs, []*tensors.Tensor{chunks})
		if err != nil {
			return nil, fmt.Errorf("training: step %d: %w", step, err)
		}
		loss := scalar(metrics[0])
		if err := checkLoss(loss, fmt.Sprintf("step %d", step), cfg.LearningRateAt(step)); err != nil {
			return nil, err
		}
		res.TrainLoss = append(res.TrainLoss, loss)
		if cfg.OnStep != nil {
			cfg.OnStep(step, loss, m)
		}
		last := step == cfg.Steps || step == cfg.StopAfter
		if !last && cfg.Interrupted != nil && cfg.Interrupted() {
			res.Interrupted = step
			break
		}
		if last || (cfg.EvalEvery > 0 && step%cfg.EvalEvery == 0) {
			eval, err := m.EvaluateChunks(heldOut, allIndices(heldOut))
			if err != nil {
				return nil, err
			}
			res.EvalSteps, res.EvalLoss, res.Eval = append(res.EvalSteps, step), append(res.EvalLoss, eval.L1), append(res.Eval, eval)
			probed := "" // the training-only targets' held-out figures
			for _, f := range []struct {
				on      bool
				measure func(*Dataset, []int) (float64, error)
				into    *[]float64
				format  string
			}{
				{probing, m.ProbeError, &res.ProbeError, ", probe mse %.4f"},
				{keypointing, m.KeypointError, &res.KeypointError, ", keypoint mse %.4f"},
				{selecting, m.SelectionError, &res.SelectionError, ", selection wrong %.3f"},
			} {
				if !f.on {
					continue
				}
				e, err := f.measure(heldOut, allIndices(heldOut))
				if err != nil {
					return nil, err
				}
				*f.into = append(*f.into, e)
				probed += fmt.Sprintf(f.format, e)
			}
			fmt.Fprintf(cfg.Log, "step %d: lr %.2g, train %s %.4f (mean of last 50 %.4f), held-out %s%s (constant predictor L1 %.4f), %s\n",
				step, cfg.LearningRateAt(step), lossName, loss, mean(res.TrainLoss[max(0, len(res.TrainLoss)-50):]), eval, probed,
				res.BaselineL1, time.Since(began).Round(time.Second))
		}
		if last {
			break
		}
	}
	res.Duration = time.Since(began)
	return res, nil
}

// ChunkMetrics measure predicted chunks against the expert's, in normalized units.
type ChunkMetrics struct {
	L1         float64 // mean absolute error over every value of every chunk
	CriticalL1 float64 // the same over the frames of grasp and release windows (Frame.Critical)
	// Gripper is the fraction of chunk steps whose gripper command has the expert's sign (open or
	// closed); GripperNow counts only each chunk's first step, the command executed next.
	Gripper, GripperNow float64
}

func (c ChunkMetrics) String() string {
	return fmt.Sprintf("L1 %.4f (critical %.4f), gripper right %.1f%% (first step %.1f%%)", c.L1, c.CriticalL1, 100*c.Gripper, 100*c.GripperNow)
}

// EvaluateChunks runs the full model on the frames and measures its chunks against the expert's.
func (m *Model) EvaluateChunks(d *Dataset, indices []int) (ChunkMetrics, error) {
	pred, err := m.PredictChunks(d, indices)
	if err != nil {
		return ChunkMetrics{}, err
	}
	return CompareChunks(d, indices, pred, m.Arch.ActionDim), nil
}

// CompareChunks measures predicted normalized chunks (pred[k] for frame indices[k]) against the
// expert's; the gripper is the last of the actionDim values of each step.
func CompareChunks(d *Dataset, indices []int, pred [][]float32, actionDim int) ChunkMetrics {
	var sum, criticalSum float64
	var n, criticalN, steps, gripperRight, nowRight int
	for k, i := range indices {
		f := d.Frames[i]
		for c, v := range f.Chunk {
			e := abs(float64(v) - float64(pred[k][c]))
			sum += e
			n++
			if f.Critical {
				criticalSum += e
				criticalN++
			}
			if c%actionDim == actionDim-1 {
				right := (v > 0) == (pred[k][c] > 0)
				steps++
				if right {
					gripperRight++
					if c == actionDim-1 {
						nowRight++
					}
				}
			}
		}
	}
	return ChunkMetrics{
		L1: sum / float64(max(1, n)), CriticalL1: criticalSum / float64(max(1, criticalN)),
		Gripper: float64(gripperRight) / float64(max(1, steps)), GripperNow: float64(nowRight) / float64(max(1, len(indices))),
	}
}

// MeanAbsoluteError is the model's mean absolute error against the expert chunks of the given frames
// (normalized units).
func (m *Model) MeanAbsoluteError(d *Dataset, indices []int) (float64, error) {
	metrics, err := m.EvaluateChunks(d, indices)
	return metrics.L1, err
}

// PredictChunks runs the full model on frames and returns each normalized chunk (K·A values).
func (m *Model) PredictChunks(d *Dataset, indices []int) ([][]float32, error) {
	exec, err := context.NewExec(m.Backend, m.Ctx, func(ctx *context.Context, inputs []*Node) *Node {
		_, actions := m.Forward(m.inputsFrom(inputs))
		return actions
	})
	if err != nil {
		return nil, err
	}
	defer exec.Finalize()
	var out [][]float32
	err = inEvalBatches(indices, func(part []int) error {
		inputs, _ := d.Batch(part)
		results, err := exec.Exec(execArgs(inputs...)...)
		if err != nil {
			return err
		}
		flat := tensors.MustCopyFlatData[float32](results[0])
		size := len(flat) / len(part)
		for k := range part {
			out = append(out, flat[k*size:(k+1)*size])
		}
		return nil
	})
	return out, err
}

func (l BCLoss) name() string {
	if l == "" {
		return string(LossMSE)
	}
	return string(l)
}

func allIndices(d *Dataset) []int {
	out := make([]int, len(d.Frames))
	for i := range out {
		out[i] = i
	}
	return out
}

func paramCount(vars map[string]*context.Variable) int64 {
	var n int64
	for _, v := range vars {
		n += int64(v.Shape().Size())
	}
	return n
}

func scalar(t *tensors.Tensor) float64 {
	switch v := t.Value().(type) {
	case float32:
		return float64(v)
	case float64:
		return v
	}
	panic(fmt.Sprintf("training: not a float scalar: %v", t))
}

func mean(values []float64) float64 {
	var sum float64
	for _, v := range values {
		sum += v
	}
	return sum / float64(max(1, len(values)))
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// LoadCheckpoint reads weights written by a BC run and the step they were saved at (metadata "step").
func LoadCheckpoint(path string, a modelbuild.Arch) (*modelbuild.Weights, int, error) {
	w, err := modelbuild.LoadWeights(path, a)
	if err != nil {
		return nil, 0, err
	}
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	step, err := strconv.Atoi(f.Metadata["step"])
	if err != nil {
		return nil, 0, fmt.Errorf("training: %s has no step in its metadata: %w", path, err)
	}
	return w, step, nil
}

// PlotBC writes the training loss (smoothed over 50 steps) and the held-out loss against the step.
// offset is the step the run started from (a resumed run, BCConfig.Resumed).
func PlotBC(path string, res *BCResult, offset int) error {
	steps := make([]float64, len(res.TrainLoss))
	for i := range steps {
		steps[i] = float64(offset + i + 1)
	}
	evalSteps := make([]float64, len(res.EvalSteps))
	for i, s := range res.EvalSteps {
		evalSteps[i] = float64(s)
	}
	return plots.SaveLine(path, "behaviour cloning", "step", "error on normalized actions",
		plots.Series{Name: "train loss (mean of 50 steps)", X: steps, Y: plots.RunningMean(res.TrainLoss, 50)},
		plots.Series{Name: "held-out L1", X: evalSteps, Y: res.EvalLoss},
		plots.Series{Name: "constant predictor L1", X: []float64{float64(offset + 1), float64(offset + len(steps))}, Y: []float64{res.BaselineL1, res.BaselineL1}})
}

// constantBaselineL1 is the held-out L1 of predicting, for every chunk value, its median over the
// training frames (the constant that minimizes L1).
func constantBaselineL1(train, heldOut *Dataset) float64 {
	n := len(train.Frames[0].Chunk)
	median := make([]float64, n)
	column := make([]float64, len(train.Frames))
	for c := 0; c < n; c++ {
		for i, f := range train.Frames {
			column[i] = float64(f.Chunk[c])
		}
		sort.Float64s(column)
		median[c] = column[len(column)/2]
	}
	var sum float64
	for _, f := range heldOut.Frames {
		for c, v := range f.Chunk {
			sum += abs(float64(v) - median[c])
		}
	}
	return sum / float64(len(heldOut.Frames)*n)
}
