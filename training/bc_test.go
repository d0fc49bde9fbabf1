package training

import (
	"testing"

	"dysl_vla/modelbuild"

	"github.com/stretchr/testify/require"
)

// tinyArch is the smallest model the tests train: the tiny preset cut to 2 layers so that a few
// dozen steps take seconds.
func tinyArch() modelbuild.Arch {
	a := modelbuild.Presets["tiny"].Arch
	a.Layers = 2
	return a
}

func TestBehaviourCloningLearns(t *testing.T) {
	res, err := TrainBC(BCConfig{Arch: tinyArch(), Seed: 3, Episodes: 2, HeldOut: 1, Steps: 40, Batch: 8,
		LearningRate: 3e-3, EvalEvery: 40}, nil)
	require.NoError(t, err)
	require.Len(t, res.TrainLoss, 40)
	first, last := mean(res.TrainLoss[:5]), mean(res.TrainLoss[35:])
	require.Less(t, last, 0.7*first, "training loss should fall: first steps %.3f, last steps %.3f", first, last)
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
