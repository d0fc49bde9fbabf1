// Command engine uses the DySL engine from Go: it opens a model bundle on ONNX Runtime and runs it on
// the frames of a scripted pick-and-place episode, printing each action chunk's first step and what
// the skipping did.
//
//	export DYSL_ORT_LIB=$(scripts/fetch-ort.sh)
//	go run ./examples/engine [BUNDLE_DIR]        # default: models/reference/tiny
package main

import (
	"fmt"
	"math"
	"os"

	"dysl_vla/policy"
	"dysl_vla/policy/ortbackend"
	"dysl_vla/scene"
	"dysl_vla/skipping"
)

func main() {
	model := "models/reference/tiny"
	if len(os.Args) > 1 {
		model = os.Args[1]
	}
	const frames, seed = 20, 1
	if err := run(model, frames, seed); err != nil {
		fmt.Fprintln(os.Stderr, "engine:", err)
		os.Exit(1)
	}
}

func run(model string, frames int, seed int64) error {
	// The caller chooses the backend: ONNX Runtime here, with the library from $DYSL_ORT_LIB
	// (Config.LibraryPath names it explicitly). The skipping configuration is the paper's method with
	// this package's defaults (docs/ALGORITHM.md).
	engine, err := policy.Open(model, ortbackend.Opener(ortbackend.Config{}), skipping.DefaultConfig())
	if err != nil {
		return err
	}
	defer engine.Close()
	m := engine.Manifest

	steps, err := scene.Episode(seed, scene.Config{Width: m.Image.Width, Height: m.Image.Height, CameraNoise: 2})
	if err != nil {
		return err
	}
	fmt.Printf("bundle %s: %d layers, static %v; instruction %q\n", m.Name, m.Dims.Layers, m.StaticLayers, steps[0].Instruction)
	for i, st := range steps[:min(frames, len(steps))] {
		obs := policy.Observation{
			Image: policy.Image{Width: st.Image.Width, Height: st.Image.Height, Encoding: "rgb8",
				Step: 3 * st.Image.Width, Data: st.Image.RGB},
			Instruction: st.Instruction,
		}
		if m.State != nil {
			// A bundle with a state block reads the arm's state too, in robot units and in the
			// manifest's order; the engine normalizes it.
			obs.State = robotState(m.State.Names, st.State)
		}
		res, err := engine.Infer(obs)
		if err != nil {
			return fmt.Errorf("frame %d: %w", i, err)
		}
		fmt.Printf("%3d %-9v first action %v\n    %s (%v)\n", i, st.Phase, fmtRow(res.Chunk[0]),
			skipping.Describe(res.Stats.Stats), res.Stats.Timing.Total.Round(1000))
	}
	return nil
}

// robotState picks the named values out of the scene's robot state, as the ROS node picks them out of
// a sensor_msgs/JointState; a name the scene does not have is left NaN, which the engine refuses.
func robotState(names []string, s scene.State) []float64 {
	values := s.RobotState()
	out := make([]float64, len(names))
	for i, name := range names {
		out[i] = math.NaN()
		for j, n := range scene.RobotStateNames {
			if n == name {
				out[i] = values[j]
			}
		}
	}
	return out
}

func fmtRow(row []float32) string {
	s := "["
	for i, v := range row {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%+.3f", v)
	}
	return s + "]"
}
