package skipping

import (
	"fmt"
	"math"
)

// StepKind says what happens at one layer of a Plan. The zero value is invalid.
type StepKind uint8

const (
	// StepRun runs the layer.
	StepRun StepKind = 1 + iota
	// StepGate evaluates the layer's controller; above the threshold the adapter jumps to the segment's
	// static layer (the rest of the segment is skipped), otherwise the layer runs.
	StepGate
	// StepJump runs the layer's adapter unconditionally and jumps to the segment's static layer.
	StepJump
	// StepSkip passes the hidden state through unchanged (no adapter).
	StepSkip
	// StepGateSkip evaluates the controller; above the threshold only this layer is skipped (identity).
	StepGateSkip
)

func (k StepKind) String() string {
	switch k {
	case StepRun:
		return "run"
	case StepGate:
		return "gate"
	case StepJump:
		return "jump"
	case StepSkip:
		return "skip"
	case StepGateSkip:
		return "gate-skip"
	}
	return fmt.Sprintf("StepKind(%d)", uint8(k))
}

// Plan is the decision for one pass over the decoder: one step per layer. Static layers are always
// StepRun. Controllers are evaluated only at gate steps, so no controller before an allow point costs
// anything.
type Plan struct {
	Steps []StepKind
	// Threshold is τ for this pass. A plan that must jump at its gates regardless uses a negative value.
	Threshold float64
	// AllowPoints are the allow points the plan was made from (one per segment), for statistics.
	AllowPoints []int
	layout      *Layout
}

// LayerRunner executes the graphs a plan walks through. The engine implements it on a policy Backend;
// tests implement it in memory.
type LayerRunner interface {
	RunLayer(j int) error
	RunAdapter(j int) error
	RunController(j int) (float32, error)
}

// Trace records what a walk did, for statistics and for the continuity bookkeeping.
type Trace struct {
	Executed    []int     // layers run, in order
	Skipped     []int     // layers not run
	Adapters    []int     // adapters run (by dynamic layer)
	Controllers []int     // controllers evaluated (by dynamic layer)
	SkipProbs   []float32 // controller outputs, aligned with Controllers
}

// SkippedAny reports whether the pass skipped anything, i.e. whether it could have missed a critical
// moment and may need verification.
func (t Trace) SkippedAny() bool { return len(t.Skipped) > 0 }

// Walk executes the plan through r. It stops at the first error, returning what was done so far. A
// controller output that is NaN never exceeds the threshold, so a broken controller means "run",
// except under a negative threshold, which skips whatever the controller says.
func (p Plan) Walk(r LayerRunner) (Trace, error) {
	// Every layer ends up executed or skipped: room for all of them in each list saves the regrowth.
	t := Trace{Executed: make([]int, 0, len(p.Steps)), Skipped: make([]int, 0, len(p.Steps))}
	// jump runs adapter j in place of the rest of j's segment; the walk resumes at its static layer.
	jump := func(j int) error {
		if err := r.RunAdapter(j); err != nil {
			return err
		}
		t.Adapters = append(t.Adapters, j)
		for k := j; k < p.layout.SegmentOf(j).Static; k++ {
			t.Skipped = append(t.Skipped, k)
		}
		return nil
	}
	for j := 0; j < len(p.Steps); {
		switch p.Steps[j] {
		case StepRun:
			if err := r.RunLayer(j); err != nil {
				return t, err
			}
			t.Executed = append(t.Executed, j)
			j++
		case StepSkip:
			t.Skipped = append(t.Skipped, j)
			j++
		case StepJump:
			if err := jump(j); err != nil {
				return t, err
			}
			j = p.layout.SegmentOf(j).Static
		case StepGate, StepGateSkip:
			prob, err := r.RunController(j)
			if err != nil {
				return t, err
			}
			t.Controllers = append(t.Controllers, j)
			t.SkipProbs = append(t.SkipProbs, prob)
			skip := p.Threshold < 0 || float64(prob) > p.Threshold // a NaN is above no threshold
			switch {
			case skip && p.Steps[j] == StepGate:
				if err := jump(j); err != nil {
					return t, err
				}
				j = p.layout.SegmentOf(j).Static
			case skip:
				t.Skipped = append(t.Skipped, j)
				j++
			default:
				if err := r.RunLayer(j); err != nil {
					return t, err
				}
				t.Executed = append(t.Executed, j)
				j++
			}
		default:
			return t, fmt.Errorf("skipping: plan step %d has invalid kind %v", j, p.Steps[j])
		}
	}
	return t, nil
}

// FullPlan runs every layer.
func FullPlan(l *Layout) Plan {
	steps := make([]StepKind, l.Layers)
	for j := range steps {
		steps[j] = StepRun
	}
	return Plan{Steps: steps, layout: l}
}

// FixedRatioSkip is how many of a segment's dynamic layers a fixed-ratio plan skips: the whole number
// nearest to ratio of them, a half rounded up. math.Round, not int(x + 0.5): the sum rounds the share
// just below a half (0.49999999999999994) up to 1, a layer more than the nearest number.
func FixedRatioSkip(dynamic int, ratio float64) int { return int(math.Round(float64(dynamic) * ratio)) }

// SkippedLayers is how many layers an inference of strategy s skips on layout l at SkipRatio ratio, for
// the two strategies that decide it from the ratio alone: random skip rounds ratio·(all dynamic
// layers), fixed ratio rounds it per segment (FixedRatioSkip). ok is false for the other strategies.
// The baselines' compute matching reads it, so it stays the count the plans make.
func SkippedLayers(s Strategy, l Layout, ratio float64) (n int, ok bool) {
	switch s {
	case StrategyRandomSkip:
		return FixedRatioSkip(l.DynamicLayers(), ratio), true
	case StrategyFixedRatio:
		for _, seg := range l.Segments {
			n += FixedRatioSkip(seg.Dynamic(), ratio)
		}
		return n, true
	}
	return 0, false
}

// FixedRatioPlan jumps, in each segment, after running all but the last FixedRatioSkip(d, ratio) of
// its d dynamic layers, evaluating the controller at the jump (as DySL would) but jumping whatever it
// says. The benchmark uses it to measure DySL inferences at known skip ratios.
func FixedRatioPlan(l *Layout, ratio float64) Plan {
	p := FullPlan(l)
	p.Threshold = -1
	for _, s := range l.Segments {
		skip := FixedRatioSkip(s.Dynamic(), ratio)
		if skip == 0 {
			p.AllowPoints = append(p.AllowPoints, s.Static)
			continue
		}
		at := s.Static - skip
		p.Steps[at] = StepGate
		p.AllowPoints = append(p.AllowPoints, at)
	}
	return p
}
