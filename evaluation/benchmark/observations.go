package benchmark

import (
	"math/rand"

	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
)

// SyntheticObservations makes n seeded random rgb8 frames of the model's input size, cycling through a
// few instructions, and, for a bundle with a state block, a robot state drawn around its statistics
// (mean + std·N(0, 1)): a benchmark measures compute, not behaviour, and random pixels cost what camera
// frames cost. A stateless bundle gets the frames it got before states existed.
func SyntheticObservations(m *bundle.Manifest, n int, seed int64) []policy.Observation {
	rng := rand.New(rand.NewSource(seed))
	w, h := m.Image.Width, m.Image.Height
	instructions := []string{"pick up the red block", "place it on the green pad", "open the gripper"}
	out := make([]policy.Observation, n)
	for i := range out {
		data := make([]byte, w*h*3)
		rng.Read(data)
		out[i] = policy.Observation{
			Image:       policy.Image{Width: w, Height: h, Encoding: "rgb8", Step: 3 * w, Data: data},
			Instruction: instructions[i%len(instructions)],
		}
		if st := m.State; st != nil {
			out[i].State = make([]float64, len(st.Names))
			for k := range out[i].State {
				out[i].State[k] = st.Mean[k] + st.Std[k]*rng.NormFloat64()
			}
		}
	}
	return out
}
