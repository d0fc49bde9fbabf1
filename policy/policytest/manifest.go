package policytest

import "dysl_vla/policy/bundle"

// Manifest is a small bundle manifest for tests on the Fake backend: 8 layers with static layers 3 and
// 7, hidden 4, a 4x4 model input, and chunks of 2 actions (x, gripper) 100 ms apart. Each call returns
// a fresh value the test may change.
func Manifest() *bundle.Manifest {
	return &bundle.Manifest{
		Format: bundle.FormatVersion, Name: "fake-bundle",
		Dims: bundle.Dims{Layers: 8, Hidden: 4, Heads: 1, Tokens: 4, InstructionTokens: 8, Chunk: 2, ActionDim: 2},
		Image: bundle.ImageSpec{Width: 4, Height: 4, Resize: "center_crop_resize",
			Mean: []float64{0, 0, 0}, Std: []float64{1, 1, 1}},
		Tokenizer: bundle.Tokenizer{Kind: "bytes"},
		Action: bundle.ActionSpec{Names: []string{"x", "gripper"}, Mean: []float64{0, 0}, Std: []float64{1, 1},
			GripperIndex: 1, DtSeconds: 0.1},
		StaticLayers: []int{3, 7},
	}
}
