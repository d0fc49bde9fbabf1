package benchmark

import (
	"math/rand"

	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
)

// SyntheticObservations makes n seeded random rgb8 frames of the model's input size, cycling through a
// few instructions: a benchmark measures compute, not behaviour, and random pixels cost what camera
// frames cost.
func SyntheticObservations(img bundle.ImageSpec, n int, seed int64) []policy.Observation {
	rng := rand.New(rand.NewSource(seed))
	w, h := img.Width, img.Height
	instructions := []string{"pick up the red block", "place it on the green pad", "open the gripper"}
	out := make([]policy.Observation, n)
	for i := range out {
		data := make([]byte, w*h*3)
		rng.Read(data)
		out[i] = policy.Observation{
			Image:       policy.Image{Width: w, Height: h, Encoding: "rgb8", Step: 3 * w, Data: data},
			Instruction: instructions[i%len(instructions)],
		}
	}
	return out
}
