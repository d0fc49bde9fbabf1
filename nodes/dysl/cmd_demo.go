package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"dysl_vla/replay/demo"
	"dysl_vla/training"
)

func newDemoCmd() *cobra.Command {
	var (
		ef  engineFlags
		cfg demo.Config
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Args:  cobra.NoArgs,
		Short: "Take the tiny reference model, generate a pick-and-place bag, replay it with and without skipping, compare",
		Long: `demo is the whole job on the embedded defaults: it takes the committed reference bundle
(models/reference/tiny: trained backbone, distilled adapters and controllers; looked for under the
working directory, so run it from the repository root) or, with --weights or without that bundle,
builds the tiny bundle (a random backbone without --weights or models/reference/reference_tiny.safetensors); it records scripted pick-and-place episodes as a bag,
replays the bag through the node core once with every layer (strategy full) and once with DySL
skipping (each compared with the single-graph full model on every frame), and prints latency, skip
statistics and action agreement side by side.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			backend, err := ef.backend()
			if err != nil {
				return err
			}
			cfg.Model, cfg.Backend, cfg.Log = ef.model, backend, cmd.OutOrStdout()
			if !demo.BuildsRandomBackbone(cfg) {
				if err := refuseUnused(cmd.Flags(), "a random backbone (no --model, no --weights, and neither "+
					demo.ReferenceBundle+" nor "+demo.ReferenceWeights+" under the working directory)", "seed"); err != nil {
					return err
				}
			}
			// Ctrl-C stops at the next safe point: the bag closes after its frame, a replay writes
			// its output bag and report; the demo then ends with status 1.
			ctx, stop := interruptContext(cmd, "closing the bag or the replay under way")
			defer stop()
			cfg.Context = ctx
			_, err = demo.Run(cfg)
			return err
		},
	}
	ef.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&cfg.Out, "out", "demo-out", "output directory")
	// Three episodes showed DySL slower than full (8.10 layers, 0.93x): every episode starts with
	// every layer until its continuity is defined, and a few short episodes are mostly that start.
	// Ten are the held-out episodes the reference's open-loop figures use (7.23 layers), in about 10 s.
	f.IntVar(&cfg.Episodes, "episodes", 10, "pick-and-place episodes to record and replay")
	f.StringVar(&cfg.Weights, "weights", "", "backbone weights (safetensors) to build the tiny model from; default: the bundle "+demo.ReferenceBundle+" when present, else "+demo.ReferenceWeights+" when present, else random")
	f.Int64Var(&cfg.Seed, "seed", 1, "seed of the model, when one is built without weights")
	f.Int64Var(&cfg.EpisodeSeed, "episode-seed", training.HeldOutSeedStart,
		fmt.Sprintf("seed of the first episode; the default is the first held-out one (the reference trained on seeds below %d)", training.HeldOutSeedStart))
	return cmd
}
