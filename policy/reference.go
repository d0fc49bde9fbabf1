package policy

import (
	"fmt"
	"math"
)

// SingleGraphTolerance is the largest difference, in normalized action units (the head's output, in
// standard deviations of the training actions), that CompareWithSingleGraph's caller should take for
// agreement between the segmented run and the single graph on a float32 provider. The two may compute
// the same sums in another order or with other fusions, which moves a float32 result by a few units in
// its last place (on the CPU the committed bundles' chunks are identical: `dysl model check`); a layer
// graph out of order or a graph of another model moves it by orders of magnitude more.
const SingleGraphTolerance = 1e-3

// SingleGraphComparison is how far the segmented run with every layer is from the single graph on one
// observation: the largest difference of their normalized chunks, and where it is.
type SingleGraphComparison struct {
	MaxDiff   float64 // largest |segmented − single| over the chunk's normalized values
	Step, Dim int     // where MaxDiff is
	Name      string  // the dimension's name in action.names
	// Segmented and Single are the two normalized values at (Step, Dim).
	Segmented, Single float64
}

func (c SingleGraphComparison) String() string {
	if c.MaxDiff == 0 {
		return "identical chunks"
	}
	if math.IsInf(c.MaxDiff, 1) {
		side := "both runs'"
		switch {
		case !math.IsNaN(c.Segmented) && !math.IsInf(c.Segmented, 0):
			side = "the single graph's"
		case !math.IsNaN(c.Single) && !math.IsInf(c.Single, 0):
			side = "the segmented run's"
		}
		return fmt.Sprintf("%s value is not finite at step %d, dimension %q (segmented %v, single graph %v; normalized units)",
			side, c.Step, c.Name, c.Segmented, c.Single)
	}
	return fmt.Sprintf("largest difference %.3g at step %d, dimension %q (segmented %.6g, single graph %.6g; normalized units)",
		c.MaxDiff, c.Step, c.Name, c.Segmented, c.Single)
}

// CompareWithSingleGraph runs obs through the segmented model with every layer (the prefix, each layer
// graph in order, the head: no adapter, no controller) and through the single graph (full.onnx), the
// reference the segmented run must match, and says how far apart their chunks are. Graphs of the right
// shapes that are not this model's (two layers swapped, another model's head) pass every check of the
// files and every run; this is where they show. The skipping configuration and its episode state are
// neither read nor changed.
func (e *Engine) CompareWithSingleGraph(obs Observation) (SingleGraphComparison, error) {
	var segmented [][]float64 // normalized, as the head gave it: the result's chunk is in robot units
	_, err := e.InferStepwise(obs, func(p *Pass) ([][]float64, error) {
		for j := range e.Manifest.Dims.Layers {
			if err := p.RunLayer(j); err != nil {
				return nil, err
			}
		}
		var err error
		segmented, err = p.Peek(NoAdapter)
		return segmented, err
	})
	if err != nil {
		return SingleGraphComparison{}, fmt.Errorf("policy: the segmented run: %w", err)
	}
	single, err := e.inferSingleGraphNormalized(obs)
	if err != nil {
		return SingleGraphComparison{}, err
	}
	return e.compareChunks(segmented, single), nil
}

// compareChunks finds the largest difference of two normalized chunks of the same shape. A value that
// is not finite on either side is a difference of +Inf, the first such one kept: NaN compares false
// with everything, and skipped it would let a chunk of NaN pass any tolerance as agreeing. Both runs'
// chunks are refused before this when not finite (readChunk); the comparison does not lean on that.
func (e *Engine) compareChunks(segmented, single [][]float64) SingleGraphComparison {
	c := SingleGraphComparison{MaxDiff: -1}
	for i, row := range single {
		for d, v := range row {
			diff := math.Abs(segmented[i][d] - v)
			if math.IsNaN(diff) || math.IsInf(diff, 0) {
				diff = math.Inf(1)
			}
			if diff > c.MaxDiff {
				c = SingleGraphComparison{MaxDiff: diff, Step: i, Dim: d, Name: e.actionName(d), Segmented: segmented[i][d], Single: v}
			}
		}
	}
	return c
}
