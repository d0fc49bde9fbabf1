package matching

import (
	"context"
	"fmt"
	"math"

	"dysl_vla/policy"
	"dysl_vla/skipping"
)

// FlexiDepthThreshold searches (Search) FlexiDepth's controller threshold τ (c's strategy is FlexiDepth) so
// that engine e, run over episodes with its state reset before each, executes target layers per
// inference, verification re-runs included: the compute DySL spent. It returns τ and the layers per
// inference at τ. Executed layers rise with τ; τ = 1 never skips. A done ctx stops it between frames
// with an *Interrupted error.
func FlexiDepthThreshold(ctx context.Context, e *policy.Engine, c skipping.Config, episodes [][]policy.Observation, target float64) (tau, got float64, err error) {
	measure := func(t float64) (float64, error) {
		c.ControllerThreshold = t
		if err := e.SetSkipping(c); err != nil {
			return 0, err
		}
		return EngineLayers(ctx, e, episodes) // up to 12 passes over hundreds of frames: tens of seconds
	}
	res, err := Search{Measure: measure, Target: target, Rising: true, Bracket: [2]float64{0, 1},
		Known: []Probe{{Knob: 1, Got: float64(e.Manifest.Dims.Layers)}}, Start: math.NaN(), MaxRuns: 12}.Run()
	return res.Knob, res.Got, err
}

// EngineLayers runs e over episodes, its state reset before each and after the last, and returns
// the mean layers it executed per inference, verification re-runs included. A done ctx stops it
// between frames with an *Interrupted error.
func EngineLayers(ctx context.Context, e *policy.Engine, episodes [][]policy.Observation) (float64, error) {
	frames := 0
	for _, ep := range episodes {
		frames += len(ep)
	}
	defer e.Reset()
	var layers float64
	done := 0
	for _, ep := range episodes {
		e.Reset()
		for _, o := range ep {
			if ctx.Err() != nil {
				return 0, &Interrupted{Frame: done, Frames: frames, Cause: context.Cause(ctx)}
			}
			res, err := e.Infer(o)
			if err != nil {
				return 0, err
			}
			layers += float64(res.Stats.LayersExecuted)
			done++
		}
	}
	return layers / float64(max(frames, 1)), nil
}

// Interrupted is a threshold's match stopped by its context after Frame of Frames frames of a pass.
type Interrupted struct {
	Frame, Frames int
	Cause         error
}

func (e *Interrupted) Error() string {
	return fmt.Sprintf("matching: stopped after %d of %d frames: %v", e.Frame, e.Frames, e.Cause)
}

func (e *Interrupted) Unwrap() error { return e.Cause }
