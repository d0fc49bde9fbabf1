package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"dysl_vla/scene"
	"dysl_vla/training"
)

func newCalibrateCmd() *cobra.Command {
	var (
		dir, data, weights, plot string
		ratio                    float64
		episodes, every          int
		tasks                    string
	)
	cmd := &cobra.Command{
		Use:   "calibrate --model DIR",
		Short: "Choose the static layers from the per-layer similarity of the model's hidden states",
		Long: `Runs the bundle's backbone over calibration frames and measures, per layer, the mean cosine
similarity between the layer's input and output hidden states. The layers that change the
activations most (lowest similarity) become static, --ratio of the stack, the last layer always.
static_layers and static_profile are written into the manifest, the profile is printed and, with
--plot, drawn as a PNG. When the static set changes, the old adapters (fitted for other jump
targets) are replaced by identity adapters and closed controllers until 'dysl distill' trains them.

--data generated uses held-out scene episodes (seeds from 1000000), every --every-th frame.
Bags are not read yet.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tabletop, err := generatedTasks(data, tasks)
			if err != nil {
				return err
			}
			_, _, err = training.CalibrateBundle(training.BundleCalibration{Dir: dir, Weights: weights, Ratio: ratio,
				Episodes: episodes, Every: every, Tasks: tabletop, Plot: plot, Log: cmd.OutOrStdout(), Warn: cmd.ErrOrStderr()})
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "model", "", "bundle directory (required)")
	f.StringVar(&data, "data", "generated", "calibration data: generated")
	f.StringVar(&weights, "weights", "", "backbone safetensors, when the bundle was built from one")
	f.StringVar(&plot, "plot", "", "write the similarity profile to this PNG")
	markPlotFile(f, "plot")
	markInput(f, "model", inputBundle)
	markInput(f, "weights", inputFile)
	f.Float64Var(&ratio, "ratio", 0.2, "fraction of layers kept static (the last layer always is)")
	f.IntVar(&episodes, "episodes", 8, "generated episodes")
	f.StringVar(&tasks, "tasks", "single", "generated episodes: single, tabletop or chain")
	f.IntVar(&every, "every", 4, "use every this many frames")
	_ = cmd.MarkFlagRequired("model")
	return cmd
}

// generatedTasks is the task set of calibrate's and distill's generated episodes, or an error for a
// --data they cannot read yet.
func generatedTasks(data, tasks string) (scene.Tabletop, error) {
	if data != "generated" {
		return scene.Tabletop{}, fmt.Errorf("--data %q: only 'generated' (scene episodes) is supported so far", data)
	}
	return tabletopFor(tasks, 5)
}
