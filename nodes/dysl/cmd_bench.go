package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"dysl_vla/evaluation/benchmark"
	"dysl_vla/skipping"
)

func newBenchCmd() *cobra.Command {
	var (
		ef         engineFlags
		asJSON     bool
		iterations int
		warmup     int
		ratios     []float64
		seed       int64
	)
	cmd := &cobra.Command{
		Use:   "bench --model DIR [--json]",
		Args:  cobra.NoArgs,
		Short: "Measure the single graph, the segmented full run, static-only and DySL plans side by side",
		Long: `bench runs every plan on the same observations, interleaved round-robin in one run, and prints
per-inference latency (median, p95), the measured speedup over the single-graph model, the ideal
speedup (ratio of executed FLOPs) and their quotient, the efficiency.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if ef.model == "" {
				return fmt.Errorf("--model is required")
			}
			// Checked before the bundle opens (seconds on a robot), and named as the flags they are.
			var problems []error
			if iterations < 1 {
				problems = append(problems, fmt.Errorf("--iterations %d: expected at least 1 timed inference per plan", iterations))
			}
			if warmup < 0 {
				problems = append(problems, fmt.Errorf("--warmup %d: expected 0 or more untimed rounds", warmup))
			}
			for _, r := range ratios {
				if !(r >= 0 && r <= 1) {
					problems = append(problems, fmt.Errorf("--ratios %v: expected skip ratios in [0, 1], shares of the dynamic layers", r))
				}
			}
			if len(problems) > 0 {
				return errors.Join(problems...)
			}
			e, err := ef.open(skipping.DefaultConfig())
			if err != nil {
				return err
			}
			defer e.Close()
			plans, err := benchmark.DefaultPlans(e.Layout(), ratios...)
			if err != nil {
				return err
			}
			bar := newProgress(cmd.ErrOrStderr(), warmup+iterations, "bench")
			rep, err := benchmark.Run(benchmark.Config{
				Engine:       e,
				Observations: benchmark.SyntheticObservations(e.Manifest, 8, seed),
				Plans:        plans,
				Iterations:   iterations,
				Warmup:       warmup,
				Progress:     func(done, _ int) { bar.set(done) },
			})
			if err != nil {
				return err
			}
			rep.Provider = ef.provider
			if rep.Machine, err = ef.machine(); err != nil { // loaded already: the engine runs on it
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), rep)
			}
			benchmark.WriteTable(cmd.OutOrStdout(), rep)
			return nil
		},
	}
	ef.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"plans": [...]} as JSON`)
	cmd.Flags().IntVar(&iterations, "iterations", 30, "timed inferences per plan")
	cmd.Flags().IntVar(&warmup, "warmup", 3, "untimed rounds of every plan first")
	cmd.Flags().Float64SliceVar(&ratios, "ratios", []float64{0.25, 0.5, 0.75}, "skip ratios of the fixed DySL plans (each plan named after the share it skips, which whole layers per segment allow; ratios giving the same plan are measured once)")
	cmd.Flags().Int64Var(&seed, "seed", 1, "seed of the synthetic observations")
	return cmd
}
