package msgs

import (
	"fmt"

	"dysl_vla/msgs/cdr"
)

// ActionChunk is dysl_vla/msg/ActionChunk (msg/ActionChunk.msg): the actions
// the policy predicted from one camera frame, with a summary of the layer
// skipping that produced them.
type ActionChunk struct {
	// Header is the stamp and frame_id of the source image.
	Header Header
	// Sequence counts inferences of this node; SkipStats repeats it.
	Sequence uint64
	// StepDt is the time between consecutive steps.
	StepDt Duration
	// Steps and ActionDim are the shape of Actions.
	Steps     uint32
	ActionDim uint32
	// ActionNames names each of the ActionDim columns, or is empty.
	ActionNames []string
	// Actions holds Steps*ActionDim values, row-major: At(s, j).
	Actions []float32

	LayersExecuted    uint32
	LayersTotal       uint32
	VerificationFired bool
	SkipRatio         float32
	Strategy          string
}

func (*ActionChunk) TypeName() string { return "dysl_vla/msg/ActionChunk" }

// At returns dimension j of step s. It panics when out of range, like a
// slice index; call Validate first on chunks from outside.
func (m *ActionChunk) At(step, dim int) float32 {
	return m.Actions[step*int(m.ActionDim)+dim]
}

// Validate checks that the shape fields agree with the slices: Actions has
// Steps*ActionDim values and ActionNames is empty or has ActionDim names.
// Decoding does not check this; a consumer that indexes actions must.
func (m *ActionChunk) Validate() error {
	if want := uint64(m.Steps) * uint64(m.ActionDim); uint64(len(m.Actions)) != want {
		return fmt.Errorf("msgs: ActionChunk actions has %d values, expected steps %d x action_dim %d = %d", len(m.Actions), m.Steps, m.ActionDim, want)
	}
	if len(m.ActionNames) != 0 && len(m.ActionNames) != int(m.ActionDim) {
		return fmt.Errorf("msgs: ActionChunk action_names has %d names, expected 0 or action_dim %d", len(m.ActionNames), m.ActionDim)
	}
	return nil
}

func (m *ActionChunk) MarshalCDR(e *cdr.Encoder) {
	m.Header.MarshalCDR(e)
	e.Uint64(m.Sequence)
	m.StepDt.MarshalCDR(e)
	e.Uint32(m.Steps)
	e.Uint32(m.ActionDim)
	e.Strings(m.ActionNames)
	e.Float32s(m.Actions)
	e.Uint32(m.LayersExecuted)
	e.Uint32(m.LayersTotal)
	e.Bool(m.VerificationFired)
	e.Float32(m.SkipRatio)
	e.String(m.Strategy)
}

func (m *ActionChunk) UnmarshalCDR(d *cdr.Decoder) {
	unmarshalNested(d, "header", &m.Header)
	m.Sequence = d.Uint64("sequence")
	unmarshalNested(d, "step_dt", &m.StepDt)
	m.Steps = d.Uint32("steps")
	m.ActionDim = d.Uint32("action_dim")
	m.ActionNames = d.Strings("action_names", m.ActionNames)
	m.Actions = d.Float32s("actions", m.Actions)
	m.LayersExecuted = d.Uint32("layers_executed")
	m.LayersTotal = d.Uint32("layers_total")
	m.VerificationFired = d.Bool("verification_fired")
	m.SkipRatio = d.Float32("skip_ratio")
	m.Strategy = d.String("strategy")
}

// SkipStats is dysl_vla/msg/SkipStats (msg/SkipStats.msg): what layer
// skipping did in one inference, for monitoring and offline analysis.
type SkipStats struct {
	Header   Header
	Sequence uint64

	LayersExecuted       uint32
	LayersSkipped        uint32
	LayersTotal          uint32
	AdaptersRun          uint32
	ControllersEvaluated uint32
	// AllowPoints holds each segment's skipping-allow point, in segment order.
	AllowPoints []int32

	// Continuity and ContinuityDelta are NaN while ContinuityDefined is false.
	Continuity        float64
	ContinuityDelta   float64
	ContinuityDefined bool
	VerificationFired bool

	LatencyMs             float64
	PrefixLatencyMs       float64
	LayersLatencyMs       float64
	AdaptersLatencyMs     float64
	ControllersLatencyMs  float64
	HeadLatencyMs         float64
	VerificationLatencyMs float64

	Strategy string
}

func (*SkipStats) TypeName() string { return "dysl_vla/msg/SkipStats" }

func (m *SkipStats) MarshalCDR(e *cdr.Encoder) {
	m.Header.MarshalCDR(e)
	e.Uint64(m.Sequence)
	e.Uint32(m.LayersExecuted)
	e.Uint32(m.LayersSkipped)
	e.Uint32(m.LayersTotal)
	e.Uint32(m.AdaptersRun)
	e.Uint32(m.ControllersEvaluated)
	e.Int32s(m.AllowPoints)
	e.Float64(m.Continuity)
	e.Float64(m.ContinuityDelta)
	e.Bool(m.ContinuityDefined)
	e.Bool(m.VerificationFired)
	e.Float64(m.LatencyMs)
	e.Float64(m.PrefixLatencyMs)
	e.Float64(m.LayersLatencyMs)
	e.Float64(m.AdaptersLatencyMs)
	e.Float64(m.ControllersLatencyMs)
	e.Float64(m.HeadLatencyMs)
	e.Float64(m.VerificationLatencyMs)
	e.String(m.Strategy)
}

func (m *SkipStats) UnmarshalCDR(d *cdr.Decoder) {
	unmarshalNested(d, "header", &m.Header)
	m.Sequence = d.Uint64("sequence")
	m.LayersExecuted = d.Uint32("layers_executed")
	m.LayersSkipped = d.Uint32("layers_skipped")
	m.LayersTotal = d.Uint32("layers_total")
	m.AdaptersRun = d.Uint32("adapters_run")
	m.ControllersEvaluated = d.Uint32("controllers_evaluated")
	m.AllowPoints = d.Int32s("allow_points", m.AllowPoints)
	m.Continuity = d.Float64("continuity")
	m.ContinuityDelta = d.Float64("continuity_delta")
	m.ContinuityDefined = d.Bool("continuity_defined")
	m.VerificationFired = d.Bool("verification_fired")
	m.LatencyMs = d.Float64("latency_ms")
	m.PrefixLatencyMs = d.Float64("prefix_latency_ms")
	m.LayersLatencyMs = d.Float64("layers_latency_ms")
	m.AdaptersLatencyMs = d.Float64("adapters_latency_ms")
	m.ControllersLatencyMs = d.Float64("controllers_latency_ms")
	m.HeadLatencyMs = d.Float64("head_latency_ms")
	m.VerificationLatencyMs = d.Float64("verification_latency_ms")
	m.Strategy = d.String("strategy")
}
