package training

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's graph DSL is meant to be dot-imported
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
	"github.com/stretchr/testify/require"

	"dysl_vla/modelbuild"
	"dysl_vla/scene"
)

// The probe's targets on a hand-built state: positions over the table half size, offsets in tenths of
// a metre clipped at ±3, held only for the named block.
func TestProbeTargetsDescribeTheWorld(t *testing.T) {
	s := scene.State{
		EE:     scene.Vec3{X: 0.15, Y: -0.3, Z: 0.125},
		Blocks: []scene.Block{{Pos: scene.Vec3{X: 0.15, Y: 0.06}}, {Pos: scene.Vec3{X: -0.3}}},
		Pads:   []scene.Pad{{Pos: scene.Vec3{Y: 0.3}}, {Pos: scene.Vec3{X: 0.3}}},
		Task:   scene.Task{Block: 1, Pad: 1},
		Held:   true, HeldBlock: 0, // holding the other block
	}
	got := ProbeTargets(s)
	want := []float32{0.5, -1, 0.5, -1, 0, 1, 0, -3, 3, 1.5, 3, -1}
	require.Len(t, got, ProbeSize)
	require.InDeltaSlice(t, want, got, 1e-6)
	s.HeldBlock = 1
	require.Equal(t, float32(1), ProbeTargets(s)[ProbeSize-1], "the named block held")
}

// A run with the probe trains it (its held-out error falls) and leaves it out of the weights: bundles
// never see it.
func TestProbeTrainsAndStaysOutOfTheWeights(t *testing.T) {
	// Runs are reproducible (TestBehaviourCloningIsReproducible), so the margin is not a matter of luck;
	// this run's errors were 0.831, 0.785, 0.777: localization is slow to start from random weights, and
	// the probe starts at zero (AddProbe).
	cfg := BCConfig{Arch: tinyArch(), Seed: 5, Episodes: 2, HeldOut: 1, Steps: 60, Batch: 8, LearningRate: 3e-3,
		EvalEvery: 20, ProbeWeight: 1}
	res, err := TrainBC(cfg, nil)
	require.NoError(t, err)
	require.Len(t, res.ProbeError, 3)
	require.Less(t, res.ProbeError[2], 0.95*res.ProbeError[0], "probe error should fall: %v", res.ProbeError)
	for name := range res.Model.BackboneVariables() {
		require.NotContains(t, name, "probe")
	}
	path := t.TempDir() + "/bc.safetensors"
	require.NoError(t, res.Model.SaveBackbone(path, nil))
	_, err = modelbuild.LoadWeights(path, tinyArch())
	require.NoError(t, err, "the probe adds nothing modelbuild does not know")

	cfg.ProbeWeight = -1
	_, err = TrainBC(cfg, nil)
	require.ErrorContains(t, err, "probe weight")
}

// The keypoint targets on a hand-built state: channel c-1 sits where colour c is shown (scene.ImagePoint),
// a block over a pad of its colour, nothing for absent colours or channels past the colours.
func TestKeypointTargetsPlaceEachColour(t *testing.T) {
	a := tinyArch()
	a.Keypoints, a.KeypointHidden = scene.NumColours+1, 4
	s := scene.State{
		Blocks: []scene.Block{{Pos: scene.Vec3{X: 0.15, Y: 0.06, Z: 0.02}, Colour: scene.Red}},
		Pads:   []scene.Pad{{Pos: scene.Vec3{X: -0.3}, Colour: scene.Blue}, {Pos: scene.Vec3{Y: 0.3}, Colour: scene.Red}},
	}
	got := KeypointTargets(a, s)
	want := make([]float32, 3*a.Keypoints)
	copy(want[0:3], []float32{-0.2, -0.5, 1}) // red: the block, not the red pad
	copy(want[6:9], []float32{0, 1, 1})       // blue pad
	require.InDeltaSlice(t, want, got, 1e-6)
}

// A run with the keypoint loss moves the keypoints towards the objects of their colours (the held-out
// error falls) and adds nothing to the weights; a model without keypoints refuses the loss.
func TestKeypointLossTrainsTheKeypoints(t *testing.T) {
	a := tinyArch()
	a.Keypoints, a.KeypointHidden = scene.NumColours, 8
	cfg := BCConfig{Arch: a, Seed: 5, Episodes: 2, HeldOut: 1, Steps: 40, Batch: 8, LearningRate: 3e-3,
		EvalEvery: 20, KeypointWeight: 1}
	res, err := TrainBC(cfg, nil)
	require.NoError(t, err)
	require.Len(t, res.KeypointError, 2)
	require.Less(t, res.KeypointError[1], 0.8*res.KeypointError[0], "keypoint error should fall: %v", res.KeypointError)
	path := t.TempDir() + "/bc.safetensors"
	require.NoError(t, res.Model.SaveBackbone(path, nil))
	_, err = modelbuild.LoadWeights(path, a)
	require.NoError(t, err)

	cfg.Arch = tinyArch()
	_, err = TrainBC(cfg, nil)
	require.ErrorContains(t, err, "0 for a model without keypoints")
}

// The keypoint loss is a cross-entropy against a Gaussian heatmap at the colour's place: lower where
// the channel's softmax sits than anywhere else.
func TestKeypointLossPrefersTheRightPlace(t *testing.T) {
	a := tinyArch()
	a.Keypoints, a.KeypointHidden = 1, 2
	w := modelbuild.RandomWeights(a, 3)
	// The channel's score is the pixel's brightness: silu(5·mean(r,g,b)) through hidden unit 0.
	w.KeypointPixel = []float32{5.0 / 3, 0, 5.0 / 3, 0, 5.0 / 3, 0}
	w.KeypointPixelB, w.KeypointScore, w.KeypointScoreB = []float32{0, 0}, []float32{1, 0}, []float32{0}
	m, err := NewModel(a, w)
	require.NoError(t, err)
	S := a.ImageSize
	image := make([]float32, 3*S*S) // dark but for one bright pixel at row 10, column 40
	for i := range image {
		image[i] = -1
	}
	for c := 0; c < 3; c++ {
		image[c*S*S+10*S+40] = 1
	}
	loss := func(u, v float32) float64 {
		out, err := context.ExecOnce(m.Backend, m.Ctx, func(ctx *context.Context, images, places, present *Node) *Node {
			m.addKeypointLoss(ctx, m.keypointLogits(images), places, present, 1)
			return train.GetLosses(ctx, images.Graph())
		}, tensors.FromFlatDataAndDimensions(image, 1, 3, S, S), tensors.FromFlatDataAndDimensions([]float32{u, v}, 1, 1, 2),
			tensors.FromFlatDataAndDimensions([]float32{1}, 1, 1))
		require.NoError(t, err)
		return scalar(out)
	}
	u, v := float32(2*40+1)/float32(S)-1, float32(2*10+1)/float32(S)-1
	at := loss(u, v)
	for _, far := range [][2]float32{{u + 0.1, v}, {u, v - 0.1}, {-0.5, 0.5}} {
		require.Less(t, at, loss(far[0], far[1]), "a place %v away", far)
	}
}

// The selection targets name the task's object and pad colours as channels, and the selection loss
// alone teaches a selector to read them off instructions it never saw (its share of wrong choices on
// 200 other episodes' instructions falls from chance). TrainBC reports the figure with the keypoint loss.
func TestSelectionLossTeachesTheNamedColours(t *testing.T) {
	a := tinyArch()
	a.Keypoints, a.KeypointHidden, a.SelectorWindow, a.SelectorHidden = scene.NumColours, 8, 5, 32
	s := scene.Reset(11)
	want := make([]float32, 2*a.Keypoints)
	want[int(s.Object().Colour)-1], want[a.Keypoints+int(s.Goal().Colour)-1] = 1, 1
	require.Equal(t, want, SelectionTargets(a, s))

	m, err := NewModel(a, modelbuild.RandomWeights(a, 1))
	require.NoError(t, err)
	instructions := func(seed0, n int) []*tensors.Tensor {
		var tokens []int64
		var named []float32
		for i := range n {
			s := scene.Reset(int64(seed0 + i))
			tokens = append(tokens, Tokenize(scene.Instruction(s), a.InstructionTokens)...)
			named = append(named, SelectionTargets(a, s)...)
		}
		return []*tensors.Tensor{tensors.FromFlatDataAndDimensions(tokens, n, a.InstructionTokens),
			tensors.FromFlatDataAndDimensions(named, n, modelbuild.SelectorChoices, a.Keypoints)}
	}
	modelFn := func(ctx *context.Context, _ any, inputs []*Node) []*Node {
		choice := m.selectorChoice(inputs[0])
		addSelectionLoss(ctx, choice, inputs[1], 1)
		return []*Node{choice}
	}
	noActionLoss := func(_, predictions []*Node) *Node { return ScalarZero(predictions[0].Graph(), dtypes.Float32) }
	trainer := train.NewTrainer(m.Backend, m.Ctx, modelFn, noActionLoss, optimizers.Adam().LearningRate(3e-3).Done(), nil, nil)
	unseen := instructions(900000, 200)
	wrong := func() float64 {
		out, err := context.ExecOnce(m.Backend, m.Ctx, func(ctx *context.Context, tokens, named *Node) *Node {
			picked, wanted := ArgMax(m.selectorChoice(tokens), -1), ArgMax(named, -1)
			return ReduceAllMean(ConvertDType(NotEqual(picked, wanted), dtypes.Float32))
		}, unseen[0], unseen[1])
		require.NoError(t, err)
		return scalar(out)
	}
	before := wrong()
	for step := range 150 {
		batch := instructions(16*step, 16)
		_, err := trainer.TrainStep(nil, batch, batch[1:])
		require.NoError(t, err)
	}
	after := wrong()
	require.Greater(t, before, 0.6, "an untrained selector chooses at chance")
	require.Less(t, after, 0.25, "the selection error should fall from %.3f", before)

	res, err := TrainBC(BCConfig{Arch: a, Seed: 5, Episodes: 2, HeldOut: 1, Steps: 2, Batch: 4, LearningRate: 1e-3,
		EvalEvery: 1, KeypointWeight: 1}, nil)
	require.NoError(t, err)
	require.Len(t, res.SelectionError, 2)
	for _, e := range res.SelectionError {
		require.True(t, e >= 0 && e <= 1, "a share of wrong choices: %v", res.SelectionError)
	}
}

// Frozen keypoints: the per-pixel network leaves training as it came in, while the keypoints' output
// map and the selector train; the keypoint loss is left out of what the log names.
func TestFreezeKeypointsKeepsThePixelNetwork(t *testing.T) {
	a := tinyArch()
	a.Keypoints, a.KeypointHidden, a.SelectorWindow, a.SelectorHidden = scene.NumColours, 8, 3, 8
	var log strings.Builder
	res, err := TrainBC(BCConfig{Arch: a, Seed: 5, Episodes: 2, HeldOut: 1, Steps: 3, Batch: 4, LearningRate: 1e-2,
		EvalEvery: 3, KeypointWeight: 1, FreezeKeypoints: true, Log: &log}, nil)
	require.NoError(t, err)
	before := modelbuild.RandomWeights(a, 5)
	after, err := res.Model.Weights()
	require.NoError(t, err)
	require.Equal(t, before.KeypointPixel, after.KeypointPixel)
	require.Equal(t, before.KeypointScore, after.KeypointScore)
	require.Equal(t, before.KeypointScoreB, after.KeypointScoreB)
	require.NotEqual(t, before.KeypointOut, after.KeypointOut, "the keypoints' output map trains")
	require.NotEqual(t, before.SelectorChoice, after.SelectorChoice, "the selector trains")
	require.Contains(t, log.String(), "train mse+selection ")
	require.Len(t, res.KeypointError, 1, "the keypoints' held-out error is still measured")

	_, err = TrainBC(BCConfig{Arch: tinyArch(), Seed: 5, Episodes: 2, HeldOut: 1, Steps: 3, Batch: 4, LearningRate: 1e-2,
		FreezeKeypoints: true}, nil)
	require.ErrorContains(t, err, "cannot freeze the keypoints of a model without them")
}

// Keypoints only: the per-pixel network trains on the keypoint loss, everything else (the keypoints'
// output map, the selector, the layers, the head) leaves as it came in; without a keypoint loss to
// train on, or with the options that freeze or add other parts, it is refused.
func TestKeypointsOnlyTrainsThePixelNetworkAlone(t *testing.T) {
	a := tinyArch()
	a.Keypoints, a.KeypointHidden, a.SelectorWindow, a.SelectorHidden = scene.NumColours, 8, 3, 8
	res, err := TrainBC(BCConfig{Arch: a, Seed: 5, Episodes: 2, HeldOut: 1, Steps: 3, Batch: 4, LearningRate: 1e-2,
		KeypointWeight: 1, KeypointsOnly: true}, nil)
	require.NoError(t, err)
	before := modelbuild.RandomWeights(a, 5)
	scaleResidualBranches(before, BCConfig{Arch: a}.residualScale())
	after, err := res.Model.Weights()
	require.NoError(t, err)
	require.NotEqual(t, before.KeypointPixel, after.KeypointPixel, "the per-pixel network trains")
	require.NotEqual(t, before.KeypointScore, after.KeypointScore)
	require.Equal(t, before.KeypointOut, after.KeypointOut)
	require.Equal(t, before.SelectorChoice, after.SelectorChoice)
	require.Equal(t, before.PatchWeight, after.PatchWeight)
	require.Equal(t, before.Layers, after.Layers)
	require.Equal(t, before.HeadWeight, after.HeadWeight)

	for _, bad := range []BCConfig{{KeypointsOnly: true}, {KeypointsOnly: true, KeypointWeight: 1, FreezeKeypoints: true},
		{KeypointsOnly: true, KeypointWeight: 1, TrainFromLayer: 1}, {KeypointsOnly: true, KeypointWeight: 1, ProbeWeight: 1}} {
		bad.Arch, bad.Seed, bad.Episodes, bad.HeldOut, bad.Steps, bad.Batch, bad.LearningRate = a, 5, 2, 1, 3, 4, 1e-2
		_, err := TrainBC(bad, nil)
		require.ErrorContains(t, err, "keypoints only needs a keypoint weight above 0", "%+v", bad)
	}
}

// Relative points: their output map trains, the camera's calibration they read the gripper's image
// point through does not.
func TestRelativePointsTrainButNotTheCalibration(t *testing.T) {
	a := tinyArch()
	a.StateDim, a.StateFrequencies = len(scene.RobotStateNames), 2
	a.Keypoints, a.KeypointHidden, a.SelectorWindow, a.SelectorHidden, a.RelativePoints = scene.NumColours, 8, 3, 8, true
	res, err := TrainBC(BCConfig{Arch: a, Seed: 5, Episodes: 2, HeldOut: 1, Steps: 3, Batch: 4, LearningRate: 1e-2}, nil)
	require.NoError(t, err)
	before := modelbuild.RandomWeights(a, 5)
	after, err := res.Model.Weights()
	require.NoError(t, err)
	require.NotEqual(t, before.RelativeOut, after.RelativeOut, "the relative points' output map trains")
	require.Equal(t, before.GripperWeight, after.GripperWeight, "the camera's calibration stays")
	require.Equal(t, before.GripperBias, after.GripperBias)
}

// A new probe on a trained backbone sends nothing into it on its first step: one step with the probe
// leaves the backbone exactly where one step without it does. (A random probe undid trained weights on
// every restart: AddProbe.)
func TestNewProbeLeavesTheBackboneAlone(t *testing.T) {
	cfg := BCConfig{Arch: tinyArch(), Seed: 5, Episodes: 2, HeldOut: 1, Steps: 1, Batch: 4, LearningRate: 1e-2}
	plain, err := TrainBC(cfg, nil)
	require.NoError(t, err)
	cfg.ProbeWeight = 1
	probed, err := TrainBC(cfg, nil)
	require.NoError(t, err)
	want, err := plain.Model.Weights()
	require.NoError(t, err)
	got, err := probed.Model.Weights()
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.NotEqual(t, modelbuild.RandomWeights(cfg.Arch, cfg.Seed).Layers[0].Q, got.Layers[0].Q, "the step moved the backbone")
}

// The anchor holds what the loaded keypoints already get right: a channel whose colour is not in view
// is held where they put it (with the anchor's weight), a present one within the mend-beyond distance
// of its place likewise (weight 1), and only the rest keep their places as targets.
func TestAnchorKeypointTargetsHoldsAbsentAndNearChannels(t *testing.T) {
	a := tinyArch()
	a.Keypoints, a.KeypointHidden = scene.NumColours+2, 8
	d, err := GenerateEpisodes(a, Seeds(TrainSeedStart, 1))
	require.NoError(t, err)
	loaded := &modelbuild.Model{Arch: a, Weights: modelbuild.RandomWeights(a, 3)}
	places := slices.Clone(d.Frames[0].Keypoints)
	points := loaded.Keypoints(NormalizedImage(d.Frames[0].RGB, a.ImageSize))

	r := AnchorKeypointTargets(d, loaded, 0.25, 0)
	got := d.Frames[0].Keypoints
	present := 0
	for k := 0; k < a.Keypoints; k++ {
		if places[3*k+2] == 0 {
			require.Equal(t, []float32{float32(points[2*k]), float32(points[2*k+1]), 0.25}, got[3*k:3*k+3], "absent channel %d", k)
			continue
		}
		present++
		require.Equal(t, places[3*k:3*k+3], got[3*k:3*k+3], "present channel %d keeps its place", k)
	}
	require.Equal(t, 2, present, "the single task shows one block and one pad")
	require.Equal(t, AnchorReport{Frames: len(d.Frames), Absent: len(d.Frames) * (a.Keypoints - 2), Mended: 2 * len(d.Frames)}, r)

	// Within a whole table's reach every present channel is already "right": all are held.
	d, err = GenerateEpisodes(a, Seeds(TrainSeedStart, 1))
	require.NoError(t, err)
	r = AnchorKeypointTargets(d, loaded, 1, 2*scene.TableHalfSize*math.Sqrt2)
	require.Equal(t, 2*len(d.Frames), r.Held)
	require.Zero(t, r.Mended)
	for k := 0; k < a.Keypoints; k++ {
		require.Equal(t, []float32{float32(points[2*k]), float32(points[2*k+1]), 1}, d.Frames[0].Keypoints[3*k:3*k+3], "channel %d", k)
	}
}

// A keypoints-only run's loss is the point loss alone: with every channel held where the loaded
// keypoints are, its first step starts at zero (an action loss on the skipped backbone would not).
// The anchor needs loaded weights and keypoints only.
func TestKeypointsOnlyLossIsThePointLoss(t *testing.T) {
	a := tinyArch()
	a.Keypoints, a.KeypointHidden, a.SelectorWindow, a.SelectorHidden = scene.NumColours, 8, 3, 8
	start := modelbuild.RandomWeights(a, 5)
	cfg := BCConfig{Arch: a, Seed: 5, Episodes: 1, HeldOut: 1, Steps: 2, Batch: 4, LearningRate: 1e-3,
		KeypointWeight: 1, KeypointsOnly: true, KeypointAnchor: 1, KeypointMendBeyond: 1}
	res, err := TrainBC(cfg, start)
	require.NoError(t, err)
	require.Less(t, res.TrainLoss[0], 1e-9)

	for name, spoil := range map[string]func(*BCConfig){
		"negative anchor":               func(c *BCConfig) { c.KeypointAnchor = -1 },
		"NaN anchor":                    func(c *BCConfig) { c.KeypointAnchor = math.NaN() },
		"mend-beyond without anchor":    func(c *BCConfig) { c.KeypointAnchor = 0 },
		"anchor without keypoints only": func(c *BCConfig) { c.KeypointsOnly = false },
	} {
		c := cfg
		spoil(&c)
		_, err := TrainBC(c, start)
		require.ErrorContains(t, err, "keypoint anchor", name)
	}
	_, err = TrainBC(cfg, nil)
	require.ErrorContains(t, err, "loaded weights to hold the keypoints at")
}
