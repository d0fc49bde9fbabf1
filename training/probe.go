package training

import (
	"math"
	"math/rand/v2"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's graph DSL is meant to be dot-imported
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train"

	"dysl_vla/scene"
)

// The world-state probe: a training-only linear read-out, from the action queries' last hidden state,
// of where the gripper, the named block and the named pad are (BCConfig.ProbeWeight).
//
// Why: behaviour cloning alone teaches localization slowly. The expert's free-space action is a
// clipped unit step towards a target, so the action loss says which way to go but hardly how far the
// target is, and the 8-layer reference trained for 2000 steps descended 3 to 34 cm away from the block in
// closed loop (GitHub issue 14). In simulation the world state of every frame is known; regressing it from
// the same hidden state the action head reads gives the backbone a dense localization signal (an
// auxiliary task, as in UNREAL or the privileged-state heads of sim-trained manipulation policies). The
// probe's variables live in their own scope and are never exported: bundles and ONNX graphs do not
// change, and inference does not pay for it.

// ScopeProbe holds the probe's variables.
const ScopeProbe = "probe"

// ProbeSize is the number of values ProbeTargets returns.
const ProbeSize = 12

// probeOffsetScale turns offsets in metres into the probe's units: 10 cm is 1, as far as a few
// normalized action steps.
const probeOffsetScale = 10.0

// ProbeTargets describes s for the probe, in units of order 1: the gripper tip (x, y over the table
// half size, z over the start height), the named block and the named pad (x, y), the block and the pad
// relative to the tip (clipped to ±3, 30 cm), whether the named block is held, and the gripper command.
func ProbeTargets(s scene.State) []float32 {
	object, goal := s.Object().Pos, s.Goal().Pos
	rel := func(v float64) float32 { return float32(math.Max(-3, math.Min(3, v*probeOffsetScale))) }
	held := float32(-1)
	if s.HoldsObject() {
		held = 1
	}
	return []float32{
		float32(s.EE.X / scene.TableHalfSize), float32(s.EE.Y / scene.TableHalfSize), float32(s.EE.Z / scene.StartHeight),
		float32(object.X / scene.TableHalfSize), float32(object.Y / scene.TableHalfSize),
		float32(goal.X / scene.TableHalfSize), float32(goal.Y / scene.TableHalfSize),
		rel(object.X - s.EE.X), rel(object.Y - s.EE.Y), rel(goal.X - s.EE.X), rel(goal.Y - s.EE.Y),
		held,
	}
}

// ProbeBatch stacks the frames' probe targets [B, ProbeSize].
func (d *Dataset) ProbeBatch(indices []int) *tensors.Tensor {
	data := make([]float32, 0, len(indices)*ProbeSize)
	for _, i := range indices {
		data = append(data, d.Frames[i].Probe...)
	}
	return tensors.FromFlatDataAndDimensions(data, len(indices), ProbeSize)
}

// AddProbe makes the probe's variables (seeded, small random weights).
func (m *Model) AddProbe(seed int64) {
	D := m.Arch.Hidden
	rng := rand.New(rand.NewPCG(uint64(seed), 0x70726f6265)) // "probe"
	m.vars["probe.weight"] = m.Ctx.In(ScopeProbe).VariableWithValue("probe.weight",
		tensors.FromFlatDataAndDimensions(randomSlice32(rng, D*ProbeSize, 1/math.Sqrt(float64(D))), D, ProbeSize))
	m.vars["probe.bias"] = m.Ctx.In(ScopeProbe).VariableWithValue("probe.bias",
		tensors.FromFlatDataAndDimensions(make([]float32, ProbeSize), ProbeSize))
}

// Probe reads the world state off the last hidden state h [B,T,D]: the mean of the action queries'
// rows, normalized as the head normalizes them, times the probe's weights -> [B, ProbeSize].
func (m *Model) Probe(h *Node) *Node {
	g := h.Graph()
	pooled := ReduceMean(m.actionQueries(m.rmsNorm(h, m.param(g, "head.norm.weight"))), 1) // [B,D]
	return addTrailing(matmul(pooled, m.param(g, "probe.weight")), m.param(g, "probe.bias"))
}

// addProbeLoss adds weight · mean squared probe error to the training loss of the graph.
func (m *Model) addProbeLoss(ctx *context.Context, h, targets *Node, weight float64) {
	train.AddLoss(ctx, MulScalar(ReduceAllMean(Square(Sub(m.Probe(h), targets))), weight))
}

// ProbeError is the probe's mean squared error on frames (its training loss without the weight).
func (m *Model) ProbeError(d *Dataset, indices []int) (float64, error) {
	exec, err := context.NewExec(m.Backend, m.Ctx, func(ctx *context.Context, inputs []*Node) *Node {
		hiddens, _ := m.Forward(m.inputsFrom(inputs))
		return ReduceAllSum(Square(Sub(m.Probe(hiddens[len(hiddens)-1]), inputs[m.inputCount()])))
	})
	if err != nil {
		return 0, err
	}
	defer exec.Finalize()
	sum := 0.0
	err = inEvalBatches(indices, func(part []int) error {
		inputs, _ := d.Batch(part)
		results, err := exec.Exec(execArgs(append(inputs, d.ProbeBatch(part))...)...)
		if err != nil {
			return err
		}
		sum += scalar(results[0])
		return nil
	})
	return sum / float64(max(1, len(indices)*ProbeSize)), err
}
