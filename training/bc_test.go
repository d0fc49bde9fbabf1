package training

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"dysl_vla/modelbuild"
	"dysl_vla/scene"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"
)

// tinyPreset is the tiny preset's architecture.
func tinyPreset() modelbuild.Arch {
	p, err := modelbuild.LookupPreset("tiny")
	if err != nil {
		panic(err) // the preset is built in
	}
	return p.Arch
}

// tinyArch is the smallest model the tests train: the tiny preset cut to 2 layers so that a few
// dozen steps take seconds.
func tinyArch() modelbuild.Arch {
	a := tinyPreset()
	a.Layers = 2
	return a
}

// TestBehaviourCloningLearns checks the plumbing of a short run: the loss falls (in 40 steps only to
// about the constant predictor's level; TestReferenceWeightsHaveLearned holds a full run to more) and
// the weights leave in modelbuild's format.
func TestBehaviourCloningLearns(t *testing.T) {
	res, err := TrainBC(BCConfig{Arch: tinyArch(), Seed: 3, Episodes: 2, HeldOut: 1, Steps: 40, Batch: 8,
		LearningRate: 3e-3, EvalEvery: 40}, nil)
	require.NoError(t, err)
	require.Len(t, res.TrainLoss, 40)
	first, last := mean(res.TrainLoss[:5]), mean(res.TrainLoss[35:])
	require.Less(t, last, 0.8*first, "training loss should fall: first steps %.3f, last steps %.3f", first, last)
	require.Greater(t, res.BaselineL1, 0.0)

	// The trained weights leave as a safetensors file that modelbuild (and so `dysl model build
	// --weights`) loads, and they are the trained values, not the initial ones.
	path := t.TempDir() + "/bc.safetensors"
	require.NoError(t, res.Model.SaveBackbone(path, map[string]string{"steps": "40"}))
	loaded, err := modelbuild.LoadWeights(path, tinyArch())
	require.NoError(t, err)
	initial := modelbuild.RandomWeights(tinyArch(), 3)
	require.NotEqual(t, initial.HeadWeight, loaded.HeadWeight)
	back, err := res.Model.Weights()
	require.NoError(t, err)
	require.Equal(t, back.HeadWeight, loaded.HeadWeight)
}

func TestLearningRateSchedule(t *testing.T) {
	cfg := BCConfig{Steps: 1100, LearningRate: 1e-3, Warmup: 100, FinalLearningRate: 1e-4}
	require.InDelta(t, 1e-5, cfg.LearningRateAt(1), 1e-12, "warmup starts at LearningRate/Warmup")
	require.InDelta(t, 1e-3, cfg.LearningRateAt(100), 1e-12, "and reaches the peak at Warmup")
	require.InDelta(t, 5.5e-4, cfg.LearningRateAt(600), 1e-9, "halfway through the decay: the mean of peak and end")
	require.InDelta(t, 1e-4, cfg.LearningRateAt(1100), 1e-12, "the last step is at FinalLearningRate")
	cfg.FinalLearningRate = 0
	require.InDelta(t, 1e-3, cfg.LearningRateAt(1100), 1e-12, "no final rate: constant after the warmup")
}

func TestCompareChunksCountsGripperSigns(t *testing.T) {
	a := tinyArch()
	d, err := GenerateEpisodes(a, Seeds(0, 1))
	require.NoError(t, err)
	indices := []int{0, len(d.Frames) / 2}
	exact := [][]float32{d.Frames[indices[0]].Chunk, d.Frames[indices[1]].Chunk}
	m := CompareChunks(d, indices, exact, a.ActionDim)
	require.Equal(t, ChunkMetrics{L1: 0, CriticalL1: 0, Gripper: 1, GripperNow: 1}, m)

	flipped := [][]float32{append([]float32(nil), exact[0]...), exact[1]}
	flipped[0][a.ActionDim-1] *= -1 // the first step's gripper of the first frame
	m = CompareChunks(d, indices, flipped, a.ActionDim)
	require.InDelta(t, 0.5, m.GripperNow, 1e-12)
	require.InDelta(t, 1-1.0/float64(2*a.Chunk), m.Gripper, 1e-12)
	require.InDelta(t, 2.0/float64(2*a.Chunk*a.ActionDim), m.L1, 1e-6, "one value off by 2")
}

// TestBehaviourCloningIsReproducible: the same config and seed give the same weights, which is what lets
// `dysl train bc` stand for the committed reference weights.
func TestBehaviourCloningIsReproducible(t *testing.T) {
	trainTwice(t, BCConfig{Arch: tinyArch(), Seed: 4, Episodes: 1, HeldOut: 1, Steps: 4, Batch: 4, LearningRate: 1e-3, Warmup: 2, FinalLearningRate: 1e-4})
}

// trainTwice runs cfg twice from random weights, requires the same losses and weights both times, and
// returns the first run.
func trainTwice(t *testing.T, cfg BCConfig) *BCResult {
	t.Helper()
	first, err := TrainBC(cfg, nil)
	require.NoError(t, err)
	second, err := TrainBC(cfg, nil)
	require.NoError(t, err)
	require.Equal(t, first.TrainLoss, second.TrainLoss)
	a, err := first.Model.Weights()
	require.NoError(t, err)
	b, err := second.Model.Weights()
	require.NoError(t, err)
	require.Equal(t, a, b)
	return first
}

// A run stopped early with StopAfter is the full run's state at that step: same losses so far, same
// schedule (the learning rate at each step depends on Steps, not on where the run stops).
func TestBehaviourCloningStopAfter(t *testing.T) {
	cfg := BCConfig{Arch: tinyArch(), Seed: 4, Episodes: 1, HeldOut: 1, Steps: 4, Batch: 4, LearningRate: 1e-3, Warmup: 2, FinalLearningRate: 1e-4}
	full, err := TrainBC(cfg, nil)
	require.NoError(t, err)
	cfg.StopAfter = 2
	stopped, err := TrainBC(cfg, nil)
	require.NoError(t, err)
	require.Equal(t, full.TrainLoss[:2], stopped.TrainLoss)
	require.Equal(t, []int{2}, stopped.EvalSteps, "the stopping step is evaluated")
}

// LayerDrop's masks never drop the first or last layer and drop the others at about the asked rate.
func TestLayerDropMasks(t *testing.T) {
	a := tinyPreset()
	a.Layers = 6
	cfg := BCConfig{Arch: a, Batch: 500, LayerDrop: 0.3}
	keep := tensors.MustCopyFlatData[float32](cfg.layerDropMasks(rand.New(rand.NewPCG(1, 2))))
	dropped := make([]int, a.Layers)
	for b := 0; b < cfg.Batch; b++ {
		for i := 0; i < a.Layers; i++ {
			require.Contains(t, []float32{0, 1}, keep[b*a.Layers+i])
			if keep[b*a.Layers+i] == 0 {
				dropped[i]++
			}
		}
	}
	require.Zero(t, dropped[0], "the first layer is never dropped")
	require.Zero(t, dropped[a.Layers-1], "the last layer is never dropped")
	for i := 1; i < a.Layers-1; i++ {
		require.InDelta(t, 0.3, float64(dropped[i])/float64(cfg.Batch), 0.07, "layer %d", i)
	}

	// With DropTails a frame drops nothing or a run of layers ending just before the last; about
	// LayerDrop of the frames drop, and every run length occurs.
	cfg.DropTails = true
	keep = tensors.MustCopyFlatData[float32](cfg.layerDropMasks(rand.New(rand.NewPCG(1, 2))))
	dropping, lengths := 0, map[int]int{}
	for b := 0; b < cfg.Batch; b++ {
		row := keep[b*a.Layers : (b+1)*a.Layers]
		require.Equal(t, float32(1), row[0])
		require.Equal(t, float32(1), row[a.Layers-1])
		n := 0
		for i := a.Layers - 2; i > 0 && row[i] == 0; i-- {
			n++
		}
		for i := 1; i < a.Layers-1-n; i++ {
			require.Equal(t, float32(1), row[i], "frame %d keeps every layer before its dropped run: %v", b, row)
		}
		if n > 0 {
			dropping++
			lengths[n]++
		}
	}
	require.InDelta(t, 0.3, float64(dropping)/float64(cfg.Batch), 0.07)
	require.Len(t, lengths, a.Layers-2, "runs of every length 1..%d: %v", a.Layers-2, lengths)
}

// Training with LayerDrop runs, is reproducible and differs from the run without it; bad rates are
// refused.
func TestBehaviourCloningWithLayerDrop(t *testing.T) {
	a := tinyPreset()
	a.Layers = 3
	cfg := BCConfig{Arch: a, Seed: 4, Episodes: 1, HeldOut: 1, Steps: 3, Batch: 4, LearningRate: 1e-3, LayerDrop: 0.5}
	first := trainTwice(t, cfg)
	cfg.LayerDrop = 0
	plain, err := TrainBC(cfg, nil)
	require.NoError(t, err)
	require.NotEqual(t, plain.TrainLoss, first.TrainLoss, "the masks reach the training graph")

	for _, bad := range []struct {
		drop   float64
		layers int
	}{{-0.1, 3}, {1, 3}, {math.NaN(), 3}, {0.2, 2}} {
		cfg.LayerDrop, cfg.Arch.Layers = bad.drop, bad.layers
		_, err := TrainBC(cfg, nil)
		require.ErrorContains(t, err, "layer drop", "%+v", bad)
	}
}

// Counts and rates out of range are refused before any episode is generated, each named with its value.
func TestBehaviourCloningRejectsBadCountsAndRates(t *testing.T) {
	good := BCConfig{Arch: tinyArch(), Seed: 5, Episodes: 1, HeldOut: 1, Steps: 1, Batch: 2, LearningRate: 1e-3}
	for _, c := range []struct {
		change func(*BCConfig)
		want   string
	}{
		{func(c *BCConfig) { c.LearningRate = math.NaN() }, "learning rate (NaN) must be > 0"},
		{func(c *BCConfig) { c.LearningRate = math.Inf(1) }, "learning rate (+Inf) must be > 0"},
		{func(c *BCConfig) { c.FinalLearningRate = math.NaN() }, "final learning rate (NaN) in [0, 0.001]"},
		{func(c *BCConfig) { c.HeldOut = -3 }, "held-out episodes (-3)"},
		{func(c *BCConfig) { c.HeldOut = 0 }, "training: held-out episodes (0) must be >= 1: the held-out loss is measured on them"},
		{func(c *BCConfig) { c.EvalEvery = -3 }, "eval-every (-3)"},
		{func(c *BCConfig) { c.StopAfter = -3 }, "stop-after (-3)"},
		{func(c *BCConfig) { c.ResidualScale = math.NaN() }, "residual scale (NaN) must be finite"},
		{func(c *BCConfig) { c.Steps = -3 }, "steps (-3)"},
	} {
		cfg := good
		c.change(&cfg)
		_, err := TrainBC(cfg, nil)
		require.ErrorContains(t, err, c.want)
	}
}

// Training from a layer on: the prefix and the layers before it leave as they came in, the later
// layers and the head learn; a layer beyond the head is refused.
func TestTrainFromLayerKeepsTheEarlierLayers(t *testing.T) {
	a := tinyArch()
	res, err := TrainBC(BCConfig{Arch: a, Seed: 5, Episodes: 2, HeldOut: 1, Steps: 3, Batch: 4, LearningRate: 1e-2,
		TrainFromLayer: 1}, nil)
	require.NoError(t, err)
	before := modelbuild.RandomWeights(a, 5)
	scaleResidualBranches(before, BCConfig{Arch: a}.residualScale())
	after, err := res.Model.Weights()
	require.NoError(t, err)
	require.Equal(t, before.PatchWeight, after.PatchWeight)
	require.Equal(t, before.TokenEmbedding, after.TokenEmbedding)
	require.Equal(t, before.Layers[0], after.Layers[0])
	require.NotEqual(t, before.Layers[1], after.Layers[1], "layer 1 trains")
	require.NotEqual(t, before.HeadWeight, after.HeadWeight, "the head trains")

	_, err = TrainBC(BCConfig{Arch: a, Seed: 5, Episodes: 2, HeldOut: 1, Steps: 3, Batch: 4, LearningRate: 1e-2, TrainFromLayer: 3}, nil)
	require.ErrorContains(t, err, "train-from layer (3) must be in [0, 2]")
}

// Unlabelled columns of the extra frames add nothing to the loss: a yaw label changed out of all
// reason trains the same weights as the true one, while the same change in a labelled column does not.
func TestUnlabelledColumnsAreNotTrained(t *testing.T) {
	a := tinyArch()
	var states []scene.State // enough of them that every batch draws some
	for seed := range int64(60) {
		states = append(states, scene.Reset(seed))
	}
	const yaw = 5
	train := func(shift float32, unlabelled []int) *modelbuild.Weights {
		extra, err := LabelStates(a, states, scene.ExpertOptions{})
		require.NoError(t, err)
		for i := range extra.Frames {
			f := &extra.Frames[i]
			f.Chunk = slices.Clone(f.Chunk)
			for k := 0; k < a.Chunk; k++ {
				f.Chunk[k*a.ActionDim+yaw] += shift
			}
			f.Unlabelled = unlabelled
		}
		res, err := TrainBC(BCConfig{Arch: a, Seed: 5, Episodes: 1, HeldOut: 1, Steps: 3, Batch: 4, LearningRate: 1e-2,
			Extra: []*Dataset{extra}}, nil)
		require.NoError(t, err)
		w, err := res.Model.Weights()
		require.NoError(t, err)
		return w
	}
	require.True(t, reflect.DeepEqual(train(0, []int{yaw}), train(50, []int{yaw})), "an unlabelled column trains nothing")
	require.False(t, reflect.DeepEqual(train(0, nil), train(50, nil)), "the shift changes what a labelled column trains")

	bad, err := LabelStates(a, states, scene.ExpertOptions{})
	require.NoError(t, err)
	bad.Frames[0].Unlabelled = []int{a.ActionDim}
	_, err = TrainBC(BCConfig{Arch: a, Seed: 5, Episodes: 1, HeldOut: 1, Steps: 3, Batch: 4, LearningRate: 1e-2, Extra: []*Dataset{bad}}, nil)
	require.ErrorContains(t, err, "unlabelled action column 7: expected one of the 7 columns")
}
