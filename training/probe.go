package training

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's graph DSL is meant to be dot-imported
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train"

	"dysl_vla/modelbuild"
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

// AddProbe makes the probe's variables, at zero. The probe is not saved with the backbone, so every run
// starts a new one; a random one sent its error's gradient into a trained backbone from the first step
// (through the weights it reads the action queries with) and undid it: a restart from the committed
// small_relative weights raised the held-out L1 from 0.067 to 0.114 in 175 steps, and held it at 0.067
// without the probe (GitHub issue 14, attempt 12). At zero, the probe's first steps move only the probe.
func (m *Model) AddProbe() {
	D := m.Arch.Hidden
	m.vars["probe.weight"] = m.Ctx.In(ScopeProbe).VariableWithValue("probe.weight",
		tensors.FromFlatDataAndDimensions(make([]float32, D*ProbeSize), D, ProbeSize))
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
	return m.heldOutMeanSquare(d, indices,
		func(part []int) []*tensors.Tensor { return []*tensors.Tensor{d.ProbeBatch(part)} },
		func(model Inputs, targets []*Node) (sum, count *Node) {
			hiddens, _ := m.Forward(model)
			sum = ReduceAllSum(Square(Sub(m.Probe(hiddens[len(hiddens)-1]), targets[0])))
			return sum, Scalar(sum.Graph(), dtypes.Float32, float64(targets[0].Shape().Size()))
		})
}

// heldOutMeanSquare is sum/count over frames, in evaluation batches: targets gives a batch's extra
// graph inputs (after the model's), fn the batch's squared-error sum and how many values it counts.
func (m *Model) heldOutMeanSquare(d *Dataset, indices []int, targets func(part []int) []*tensors.Tensor,
	fn func(model Inputs, targets []*Node) (sum, count *Node)) (float64, error) {
	exec, err := context.NewExec(m.Backend, m.Ctx, func(ctx *context.Context, inputs []*Node) []*Node {
		sum, count := fn(m.inputsFrom(inputs), inputs[m.inputCount():])
		return []*Node{sum, count}
	})
	if err != nil {
		return 0, err
	}
	defer exec.Finalize()
	var sum, count float64
	err = inEvalBatches(indices, func(part []int) error {
		inputs, _ := d.Batch(part)
		results, err := exec.Exec(execArgs(append(inputs, targets(part)...)...)...)
		if err != nil {
			return err
		}
		sum, count = sum+scalar(results[0]), count+scalar(results[1])
		return nil
	})
	return sum / math.Max(1, count), err
}

// The keypoint loss: a training-only target for the image keypoints (modelbuild's spatial soft-argmax,
// BCConfig.KeypointWeight). Keypoint channel c-1 is asked to sit where the object of colour c (a
// block or a pad) is in the image, in the frames that show one.
//
// Why: trained from the actions and the world-state probe alone, after 1000 steps on 2 cores the
// keypoints followed the pads (correlation 0.96-1.00 with the pad's place for every colour: a pad
// covers four times a block's pixels) and the blocks of only two of the six colours (0.89-1.00; the
// others 0.3-0.7), and the policy did not reach a block (models/closedloop/README.md, attempt 9). In
// simulation where every colour is shown is known, so each channel can be told directly, as the
// probe tells the backbone where things are; the action queries are then left to pick the channel the
// instruction names. Bundles never see this: the loss only shapes the weights.

// KeypointTargets are, per keypoint channel of a, where the object of the channel's colour is in s's
// image (scene.ImagePoint) and 1, or zeros where no object has that colour or the channel has none
// (channels past scene.NumColours): [Keypoints, 3] as (u, v, present).
func KeypointTargets(a modelbuild.Arch, s scene.State) []float32 {
	out := make([]float32, 3*a.Keypoints)
	set := func(c scene.Colour, p scene.Vec3) {
		if k := int(c) - 1; k >= 0 && k < a.Keypoints {
			u, v := scene.ImagePoint(p)
			out[3*k], out[3*k+1], out[3*k+2] = float32(u), float32(v), 1
		}
	}
	for _, p := range s.Pads {
		set(p.Colour, p.Pos)
	}
	for _, b := range s.Blocks { // over the pads: a block on its pad is what the image shows there
		set(b.Colour, b.Pos)
	}
	return out
}

// SelectionTargets are, for a model with a keypoint selector, the channels the task in force in s names,
// one-hot per choice: [SelectorChoices, Keypoints], the object's colour then the pad's (channel c-1 for
// colour c, where KeypointTargets places it). A colour past the channels leaves its row zero.
//
// Why: the selector could learn which channel the instruction names from the actions alone, but the
// actions say it only through the decoder, weakly; in simulation the named colours are known, and a
// cross-entropy on the choice teaches the byte windows directly. Bundles never see this.
func SelectionTargets(a modelbuild.Arch, s scene.State) []float32 {
	C := a.Keypoints
	out := make([]float32, modelbuild.SelectorChoices*C)
	for choice, colour := range []scene.Colour{s.Object().Colour, s.Goal().Colour} {
		if k := int(colour) - 1; k >= 0 && k < C {
			out[choice*C+k] = 1
		}
	}
	return out
}

// KeypointBatch stacks the frames' keypoint targets: places [B, Keypoints, 2] and presence [B, Keypoints],
// then, with a keypoint selector, the named channels [B, SelectorChoices, Keypoints].
func (d *Dataset) KeypointBatch(indices []int) []*tensors.Tensor {
	C := d.Arch.Keypoints
	places, present := make([]float32, 0, len(indices)*2*C), make([]float32, 0, len(indices)*C)
	var named []float32
	for _, i := range indices {
		t := d.Frames[i].Keypoints
		for k := 0; k < C; k++ {
			places, present = append(places, t[3*k], t[3*k+1]), append(present, t[3*k+2])
		}
		named = append(named, d.Frames[i].Selection...)
	}
	out := []*tensors.Tensor{tensors.FromFlatDataAndDimensions(places, len(indices), C, 2),
		tensors.FromFlatDataAndDimensions(present, len(indices), C)}
	if d.Arch.SelectorWindow > 0 {
		out = append(out, tensors.FromFlatDataAndDimensions(named, len(indices), modelbuild.SelectorChoices, C))
	}
	return out
}

// addSelectionLoss adds weight · the selection loss: per choice whose colour has a channel, the
// cross-entropy between the selector's softmax over channels and the channel named (SelectionTargets).
func addSelectionLoss(ctx *context.Context, choice, named *Node, weight float64) {
	crossEntropy := Neg(ReduceAllSum(Mul(named, LogSoftmax(choice, -1))))
	count := ReduceAllSum(named)
	train.AddLoss(ctx, MulScalar(Div(crossEntropy, Max(count, OnesLike(count))), weight))
}

// SelectionError is the share of choices (object, pad) over d's frames at indices whose most weighed
// channel is not the one the instruction names: the held-out figure of the selection loss.
func (m *Model) SelectionError(d *Dataset, indices []int) (float64, error) {
	return m.heldOutMeanSquare(d, indices, d.KeypointBatch, func(model Inputs, targets []*Node) (sum, count *Node) {
		named := targets[2]
		picked, wanted := ArgMax(m.selectorChoice(model.Tokens), -1), ArgMax(named, -1) // [B,2]
		present := ReduceMax(named, -1)
		wrong := Mul(ConvertDType(NotEqual(picked, wanted), dtypes.Float32), present)
		return ReduceAllSum(wrong), ReduceAllSum(present)
	})
}

// keypointSquares is the squared keypoint error summed over the present channels, and their count.
func (m *Model) keypointSquares(images, places, present *Node) (sum, count *Node) {
	return m.pointSquares(m.keypointLogits(images), places, present)
}

// pointSquares: over the present channels, the sum of squared distances from each keypoint read off
// logits to its place, and their count.
func (m *Model) pointSquares(logits, places, present *Node) (sum, count *Node) {
	squares := ReduceSum(Square(Sub(m.keypointPoints(logits), places)), -1) // [B,C]
	return ReduceAllSum(Mul(squares, present)), ReduceAllSum(present)
}

// addKeypointPointLoss adds weight · the mean squared distance, over present channels, from each
// channel's keypoint (its soft-argmax, read at the architecture's gain) to its colour's place: the
// error of what the action queries read. The heatmap loss (addKeypointLoss) trains a channel from
// scratch where this one cannot, but its target is a Gaussian of fixed width, and the committed
// keypoints are read at a gain that makes them sharper than that: a fine-tune on it flattened them
// (the block point's median error 0.4 to 1.6 cm in 300 steps; models/closedloop/README.md, attempt 21).
func (m *Model) addKeypointPointLoss(ctx *context.Context, logits, places, present *Node, weight float64) {
	sum, count := m.pointSquares(logits, places, present)
	train.AddLoss(ctx, MulScalar(Div(sum, Max(count, OnesLike(count))), weight))
}

// keypointSigma is the width of the target heatmap around a colour's place, in image units (a pixel
// is 2/S): 1.6 pixels at 64, under a block's half width (2.1 pixels).
const keypointSigma = 0.05

// addKeypointLoss adds weight · the keypoint loss to the training loss: over present channels, the
// cross-entropy between the channel's softmax over pixels and a Gaussian heatmap at its colour's place
// (the heatmap loss of keypoint detectors). The squared error of the expected coordinates was tried
// first: a softmax peaked on another colour's pad gives the right pixels almost no gradient, and the
// purple and orange channels stayed there for 600 steps (models/closedloop/README.md, attempt 9). The
// cross-entropy's gradient on a pixel is its target weight minus its softmax weight, however the
// softmax is peaked.
//
// logits are the images' keypoint scores (keypointLogits), the ones the prefix reads.
func (m *Model) addKeypointLoss(ctx *context.Context, logits, places, present *Node, weight float64) {
	g := logits.Graph()
	grid := m.keypointGrid(g) // [S²,2]
	// Squared distance of every pixel to every place: |g|² - 2 g·p + |p|², [B,C,S²].
	gridSquares := ReduceSum(Square(grid), -1)                      // [S²]
	placeSquares := ReduceAndKeep(Square(places), ReduceSum, -1)    // [B,C,1]
	cross := DotGeneral(places, []int{2}, nil, grid, []int{1}, nil) // [B,C,S²]
	distances := Add(addTrailing(MulScalar(cross, -2), gridSquares), placeSquares)
	target := Softmax(MulScalar(distances, -1/(2*keypointSigma*keypointSigma)), -1)
	crossEntropy := Neg(ReduceSum(Mul(target, LogSoftmax(logits, -1)), -1)) // [B,C]
	sum, count := ReduceAllSum(Mul(crossEntropy, present)), ReduceAllSum(present)
	train.AddLoss(ctx, MulScalar(Div(sum, Max(count, OnesLike(count))), weight))
}

// KeypointError is the mean squared distance from each present channel's keypoint to its colour's
// place, in image units squared (the image spans 2): the held-out figure, easier to read than the
// cross-entropy the training minimizes.
func (m *Model) KeypointError(d *Dataset, indices []int) (float64, error) {
	return m.heldOutMeanSquare(d, indices, d.KeypointBatch, func(model Inputs, targets []*Node) (sum, count *Node) {
		return m.keypointSquares(model.Images, targets[0], targets[1])
	})
}

// AnchorReport says what AnchorKeypointTargets held and what it left to mend.
type AnchorReport struct {
	Frames int
	// Absent counts the channels held because their colour is not in view; Held the present ones held
	// because the loaded keypoint lies within the mend-beyond distance; Mended the present ones left
	// to be pulled to their places.
	Absent, Held, Mended int
}

func (r AnchorReport) String() string {
	return fmt.Sprintf("keypoint targets of %d frames: %d absent channels held where the loaded keypoints are, %d present ones held (within the mend-beyond distance), %d to mend",
		r.Frames, r.Absent, r.Held, r.Mended)
}

// AnchorKeypointTargets rewrites d's keypoint targets (Frame.Keypoints, whose third value per channel
// becomes a weight) so that a keypoints-only fine-tune mends what is wrong and holds the rest: a
// channel whose colour the frame does not show is held where loaded puts it, with weight absentWeight;
// a present channel whose loaded keypoint lies within mendBeyond metres of its place is held there
// with weight 1 (mendBeyond 0: none is); every other present channel keeps its place. The loss
// (addKeypointPointLoss) averages the squared distances with these weights.
func AnchorKeypointTargets(d *Dataset, loaded *modelbuild.Model, absentWeight, mendBeyond float64) AnchorReport {
	a := d.Arch
	within := mendBeyond / scene.TableHalfSize // image units span the table's half size
	r := AnchorReport{Frames: len(d.Frames)}
	for i := range d.Frames {
		f := &d.Frames[i]
		points := loaded.Keypoints(NormalizedImage(f.RGB, a.ImageSize))
		for k := 0; k < a.Keypoints; k++ {
			t := f.Keypoints[3*k : 3*k+3]
			u, v := float32(points[2*k]), float32(points[2*k+1])
			switch {
			case t[2] == 0:
				t[0], t[1], t[2] = u, v, float32(absentWeight)
				r.Absent++
			case math.Hypot(float64(u-t[0]), float64(v-t[1])) <= within:
				t[0], t[1] = u, v
				r.Held++
			default:
				r.Mended++
			}
		}
	}
	return r
}
