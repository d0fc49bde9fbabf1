package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"dysl_vla/bag/samplebag"
	"dysl_vla/modelbuild"
	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
	"dysl_vla/replay"
)

// The trained reference policy (see models/reference): its backbone weights, and the tiny bundle built
// from them with distilled adapters and controllers.
const (
	referenceWeights = "models/reference/reference_tiny.safetensors"
	referenceBundle  = "models/reference/tiny"
)

func newDemoCmd() *cobra.Command {
	var (
		ef       engineFlags
		out      string
		episodes int
		weights  string
		seed     int64
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Build the tiny model, generate a pick-and-place bag, replay it with and without skipping, compare",
		Long: `demo is the whole job on the embedded defaults: it takes the committed reference bundle
(models/reference/tiny: trained backbone, distilled adapters and controllers) or, with --weights or
without that bundle, builds the tiny bundle; it records scripted pick-and-place episodes as a bag,
replays the bag through the node core once with every layer (strategy full) and once with DySL
skipping (each compared with the single-graph full model on every frame), and prints latency, skip
statistics and action agreement side by side.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			model := ef.model
			randomBackbone := false
			if model == "" && weights == "" {
				if _, err := os.Stat(filepath.Join(referenceBundle, "manifest.yaml")); err == nil {
					model = referenceBundle
					fmt.Fprintf(w, "model: %s (trained reference backbone, distilled adapters and controllers)\n", model)
				} else if _, err := os.Stat(referenceWeights); err == nil {
					weights = referenceWeights
				}
			}
			if model == "" {
				if weights != "" {
					fmt.Fprintf(w, "backbone weights: %s\n", weights)
				} else {
					randomBackbone = true
					fmt.Fprintf(w, "backbone weights: random (no %s yet)\n", referenceWeights)
				}
				model = filepath.Join(out, "model")
				fmt.Fprintf(w, "building the tiny model into %s\n", model)
				res, err := modelbuild.Build(modelbuild.Options{Preset: "tiny", OutDir: model, Seed: seed, WeightsFile: weights})
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "  %d backbone parameters, %d layers, static layers %v\n", res.Params, res.Manifest.Dims.Layers, res.Manifest.StaticLayers)
			}
			bagDir := filepath.Join(out, "pick_and_place")
			if err := os.RemoveAll(bagDir); err != nil {
				return err
			}
			sum, err := samplebag.Generate(bagDir, samplebag.Options{Episodes: episodes, Seed: seed})
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "recorded %d episodes, %d frames (%.1f s of bag time) into %s\n", sum.Episodes, sum.Frames, sum.Duration.Seconds(), bagDir)

			runs := []struct{ name, strategy string }{{"full", "full"}, {"dysl", "dysl"}}
			results := make([]replay.Summary, len(runs))
			for i, r := range runs {
				// The demo owns these directories: a second `make demo` replaces the first one's results.
				replayDir := filepath.Join(out, "replay_"+r.name)
				if err := os.RemoveAll(replayDir); err != nil {
					return err
				}
				srv, settings, err := nodecore.NewParamServer(replayNodeName,
					map[string]paramserver.Value{nodecore.ParamStrategy: paramserver.String(r.strategy)}, nil)
				if err != nil {
					return err
				}
				e, err := ef.openAt(model, settings.Live.Skipping)
				if err != nil {
					return err
				}
				res, err := replay.Run(replay.Config{Engine: e, Params: srv, BagPath: bagDir,
					OutDir: replayDir, CompareFull: true})
				e.Close()
				if err != nil {
					return err
				}
				results[i] = res.Summary
				fmt.Fprintf(w, "replayed with strategy %s: report %s\n", r.strategy, res.ReportPath)
			}
			fmt.Fprintln(w)
			fmt.Fprintf(w, "%-6s %8s %8s %8s %8s %7s %8s %11s %9s %9s\n", "run", "mean_ms", "p50_ms", "p95_ms", "layers", "skip%", "verify%", "mae_vs_full", "gripper%", "speedup")
			for i, r := range runs {
				s := results[i]
				fmt.Fprintf(w, "%-6s %8.2f %8.2f %8.2f %8.2f %7.1f %8.1f %11.4f %9.1f %9.2f\n", r.name, s.MeanLatency, s.LatencyP50,
					s.LatencyP95, s.MeanExecutedLayers, 100*s.SkipRatio, 100*s.VerificationRate, s.ActionMAE, 100*s.GripperAgreement, s.Speedup)
			}
			fmt.Fprintf(w, "\nspeedup: mean latency of the single-graph full model on the same frames / this run's.\n")
			if randomBackbone {
				fmt.Fprintf(w, "the backbone is random: its gripper output hovers near zero, so gripper agreement (sign) and\n"+
					"action error measure how closely skipping tracks the full model, not how well a policy works.\n")
			}
			fmt.Fprintf(w, "bag decoding alone: %.0f frames/s (replay is bound by the model, not the bag)\n", results[0].DecodeFramesPerSecond)
			return nil
		},
	}
	ef.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&out, "out", "demo-out", "output directory")
	f.IntVar(&episodes, "episodes", 3, "pick-and-place episodes to record and replay")
	f.StringVar(&weights, "weights", "", "backbone weights (safetensors) to build the tiny model from; default: the bundle "+referenceBundle+" when present, else "+referenceWeights+" when present, else random")
	f.Int64Var(&seed, "seed", 1, "seed of the model and of the episodes")
	return cmd
}
