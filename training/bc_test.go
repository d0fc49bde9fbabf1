package training

import (
	"testing"

	"dysl_vla/modelbuild"

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
	cfg := BCConfig{Arch: tinyArch(), Seed: 4, Episodes: 1, HeldOut: 1, Steps: 4, Batch: 4, LearningRate: 1e-3, Warmup: 2, FinalLearningRate: 1e-4}
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
