package training

import (
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"

	"dysl_vla/modelbuild"
	"dysl_vla/safetensors"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/losses"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
)

// BCConfig configures behaviour cloning of the backbone on expert episodes.
type BCConfig struct {
	Arch         modelbuild.Arch
	Seed         int64   // initial weights (modelbuild.RandomWeights) and batch order
	Episodes     int     // training episodes (seeds TrainSeedStart...)
	HeldOut      int     // held-out episodes for the evaluation loss (seeds HeldOutSeedStart...)
	Steps        int     // optimizer steps
	Batch        int     // frames per step
	LearningRate float64 // Adam
	// EvalEvery is how often (in steps) the held-out loss is measured; 0 means only at the end.
	EvalEvery int
	// Log receives one line per evaluation; nil discards.
	Log io.Writer
	// OnStep, if set, is called after every step (progress bars, checkpoints).
	OnStep func(step int, loss float64, m *Model)
}

// BCResult reports a training run.
type BCResult struct {
	Model       *Model
	Params      int64
	TrainLoss   []float64 // per step: the batch's mean absolute error on normalized actions
	EvalSteps   []int
	EvalLoss    []float64 // held-out mean absolute error at EvalSteps
	Duration    time.Duration
	TrainFrames int
	// BaselineL1 is the held-out error of the best constant predictor (each chunk value's median over the
	// training frames): a run whose held-out loss is not clearly below it has learned only the marginal.
	BaselineL1 float64
}

// TrainBC trains the whole backbone from random initialization to imitate the expert's action
// chunks: loss = mean absolute error on normalized actions (OpenVLA-OFT's L1 chunk loss), Adam.
func TrainBC(cfg BCConfig, start *modelbuild.Weights) (*BCResult, error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.Steps <= 0 || cfg.Batch <= 0 || cfg.Episodes <= 0 || cfg.LearningRate <= 0 {
		return nil, fmt.Errorf("training: steps (%d), batch (%d), episodes (%d) and learning rate (%g) must be > 0",
			cfg.Steps, cfg.Batch, cfg.Episodes, cfg.LearningRate)
	}
	data, err := GenerateEpisodes(cfg.Arch, Seeds(TrainSeedStart, cfg.Episodes))
	if err != nil {
		return nil, err
	}
	heldOut, err := GenerateEpisodes(cfg.Arch, Seeds(HeldOutSeedStart, max(1, cfg.HeldOut)))
	if err != nil {
		return nil, err
	}
	if start == nil {
		start = modelbuild.RandomWeights(cfg.Arch, cfg.Seed)
	}
	m, err := NewModel(cfg.Arch, start)
	if err != nil {
		return nil, err
	}
	modelFn := func(ctx *context.Context, _ any, inputs []*Node) []*Node {
		_, actions := m.Forward(inputs[0], inputs[1])
		return []*Node{actions}
	}
	trainer := train.NewTrainer(m.Backend, m.Ctx, modelFn, losses.MeanAbsoluteError,
		optimizers.Adam().LearningRate(cfg.LearningRate).Done(), nil, nil)
	evaluate := func() (float64, error) { return m.MeanAbsoluteError(heldOut, allIndices(heldOut)) }

	res := &BCResult{Model: m, Params: paramCount(m.BackboneVariables()), TrainFrames: len(data.Frames),
		BaselineL1: constantBaselineL1(data, heldOut)}
	r := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x6263)) // "bc"
	began := time.Now()
	for step := 1; step <= cfg.Steps; step++ {
		images, tokens, chunks := data.Batch(data.SampleIndices(r, cfg.Batch))
		metrics, err := trainer.TrainStep(nil, []*tensors.Tensor{images, tokens}, []*tensors.Tensor{chunks})
		if err != nil {
			return nil, fmt.Errorf("training: step %d: %w", step, err)
		}
		loss := scalar(metrics[0])
		res.TrainLoss = append(res.TrainLoss, loss)
		if cfg.OnStep != nil {
			cfg.OnStep(step, loss, m)
		}
		if step == cfg.Steps || (cfg.EvalEvery > 0 && step%cfg.EvalEvery == 0) {
			eval, err := evaluate()
			if err != nil {
				return nil, err
			}
			res.EvalSteps, res.EvalLoss = append(res.EvalSteps, step), append(res.EvalLoss, eval)
			fmt.Fprintf(cfg.Log, "step %d: train L1 %.4f (mean of last 50 %.4f), held-out L1 %.4f (constant predictor %.4f), %s\n",
				step, loss, mean(res.TrainLoss[max(0, len(res.TrainLoss)-50):]), eval, res.BaselineL1, time.Since(began).Round(time.Second))
		}
	}
	res.Duration = time.Since(began)
	return res, nil
}

// MeanAbsoluteError is the model's mean absolute error against the expert chunks of the given frames
// (normalized units), evaluated in batches of 64.
func (m *Model) MeanAbsoluteError(d *Dataset, indices []int) (float64, error) {
	pred, err := m.PredictChunks(d, indices)
	if err != nil {
		return 0, err
	}
	var sum float64
	n := 0
	for k, i := range indices {
		for c, v := range d.Frames[i].Chunk {
			sum += abs(float64(v) - float64(pred[k][c]))
			n++
		}
	}
	return sum / float64(n), nil
}

// PredictChunks runs the full model on frames and returns each normalized chunk (K·A values).
func (m *Model) PredictChunks(d *Dataset, indices []int) ([][]float32, error) {
	exec, err := context.NewExec(m.Backend, m.Ctx, func(ctx *context.Context, images, tokens *Node) *Node {
		_, actions := m.Forward(images, tokens)
		return actions
	})
	if err != nil {
		return nil, err
	}
	defer exec.Finalize()
	const batch = 64
	var out [][]float32
	for lo := 0; lo < len(indices); lo += batch {
		part := indices[lo:min(lo+batch, len(indices))]
		images, tokens, _ := d.Batch(part)
		results, err := exec.Exec(images, tokens)
		if err != nil {
			return nil, err
		}
		flat := tensors.MustCopyFlatData[float32](results[0])
		size := len(flat) / len(part)
		for k := range part {
			out = append(out, flat[k*size:(k+1)*size])
		}
	}
	return out, nil
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
// offset is the step the run started from (a resumed run).
func PlotBC(path string, res *BCResult, offset int) error {
	steps := make([]float64, len(res.TrainLoss))
	for i := range steps {
		steps[i] = float64(offset + i + 1)
	}
	evalSteps := make([]float64, len(res.EvalSteps))
	for i, s := range res.EvalSteps {
		evalSteps[i] = float64(offset + s)
	}
	return SaveLinePlot(path, "behaviour cloning", "step", "L1 on normalized actions",
		Series{Name: "train (mean of 50 steps)", X: steps, Y: smooth(res.TrainLoss, 50)},
		Series{Name: "held-out", X: evalSteps, Y: res.EvalLoss})
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
