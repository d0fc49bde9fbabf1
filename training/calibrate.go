package training

import (
	"fmt"
	"math"

	"dysl_vla/modelbuild"
	"dysl_vla/plots"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// LayerSimilarity runs the full model over the frames and returns, per layer, the mean over frames and
// tokens of the cosine similarity between the layer's input and output hidden vectors (the paper's
// criterion for static layers: low similarity = the layer changes the activations most).
func (m *Model) LayerSimilarity(d *Dataset, indices []int) ([]float64, error) {
	L := m.Arch.Layers
	total, err := m.sumOverFrames(d, indices, func(in Inputs) *Node {
		hiddens, _ := m.Forward(in)
		sums := make([]*Node, L)
		for i := 0; i < L; i++ {
			x, y := hiddens[i], hiddens[i+1]
			dot := ReduceSum(Mul(x, y), -1)
			norms := Sqrt(Mul(ReduceSum(Square(x), -1), ReduceSum(Square(y), -1)))
			sums[i] = ExpandDims(ReduceAllSum(Div(dot, norms)), 0) // summed over batch and tokens
		}
		return Concatenate(sums, 0)
	})
	if err != nil {
		return nil, err
	}
	count := float64(len(indices) * m.Arch.Tokens())
	for i := range total {
		total[i] /= count
		if math.IsNaN(total[i]) {
			return nil, fmt.Errorf("training: layer %d similarity is not a number (a zero hidden vector?)", i)
		}
	}
	return total, nil
}

// sumOverFrames runs sums (a graph from the model inputs to a vector of sums over the batch) on the
// frames in batches of evalBatch and adds the vectors up.
func (m *Model) sumOverFrames(d *Dataset, indices []int, sums func(in Inputs) *Node) ([]float64, error) {
	exec, err := context.NewExec(m.Backend, m.Ctx, func(ctx *context.Context, inputs []*Node) *Node {
		return sums(m.inputsFrom(inputs))
	})
	if err != nil {
		return nil, err
	}
	defer exec.Finalize()
	var total []float64
	err = inEvalBatches(indices, func(part []int) error {
		inputs, _ := d.Batch(part)
		out, err := exec.Exec(execArgs(inputs...)...)
		if err != nil {
			return err
		}
		values := tensors.MustCopyFlatData[float32](out[0])
		if total == nil {
			total = make([]float64, len(values))
		}
		for i, v := range values {
			total[i] += float64(v)
		}
		return nil
	})
	return total, err
}

// PlotSimilarity writes the per-layer similarity profile with the static layers marked.
func PlotSimilarity(path string, similarity []float64, static []int) error {
	var all, marked plots.Series
	all.Name, marked.Name = "cos(input, output) per layer", "static layers"
	for i, s := range similarity {
		all.X, all.Y = append(all.X, float64(i)), append(all.Y, s)
	}
	for _, s := range static {
		marked.X, marked.Y = append(marked.X, float64(s)), append(marked.Y, similarity[s])
	}
	return plots.SaveLine(path, "layer similarity (calibration)", "layer", "mean cosine similarity", all, marked)
}

// IdentitySkipModules are placeholders for a bundle whose static set changed: every adapter is the
// identity (A(h) = h) and every controller outputs a constant skip probability of 0.05, so that the
// engine skips (almost) nothing until `dysl distill` trains them.
func IdentitySkipModules(a modelbuild.Arch, dynamic []int) SkipModules {
	D, r, C := a.Hidden, a.AdapterRank, a.ControllerHidden
	mods := SkipModules{Adapters: map[int]*modelbuild.AdapterWeights{}, Controllers: map[int]*modelbuild.ControllerWeights{}}
	ones := func(n int) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = 1
		}
		return out
	}
	for _, j := range dynamic {
		mods.Adapters[j] = &modelbuild.AdapterWeights{Norm: ones(D), Down: make([]float32, D*r), Up: make([]float32, r*D), Bias: make([]float32, D)}
		if W := a.AdapterContextWidth(); W > 0 {
			mods.Adapters[j].Context = make([]float32, W*r)
		}
		mods.Controllers[j] = &modelbuild.ControllerWeights{Norm: ones(D), FC1: make([]float32, D*C), FC1Bias: make([]float32, C),
			FC2: make([]float32, C), FC2Bias: []float32{float32(math.Log(0.05 / 0.95))}}
	}
	return mods
}
