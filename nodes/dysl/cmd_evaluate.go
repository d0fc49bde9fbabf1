package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"dysl_vla/evaluation/closedloop"
	"dysl_vla/evaluation/openloop"
	"dysl_vla/scene"
	"dysl_vla/skipping"
	"dysl_vla/training"
)

func newEvaluateCmd() *cobra.Command {
	var (
		ef            engineFlags
		cfg           openloop.Config
		asJSON, quiet bool
		exitThreshold float64
		tau           float64
		closedLoop    closedLoopFlags
	)
	cmd := &cobra.Command{
		Use:   "evaluate --model DIR [--one-stage DIR] [--weights FILE] [--episodes N] [--seed S] [--json]",
		Short: "Compare DySL, its ablations and the baselines on held-out episodes: layers, speedup, action error",
		Long: `evaluate generates held-out scene episodes (seeds from 1000000, disjoint from training's; a --seed
below that plays training's, and the report says they are not held out) and runs
their frames, open loop (the expert's recorded trajectory; actions are compared, not executed),
through every variant, interleaved frame by frame so timing noise is shared:

  full             every layer, the reference
  dysl             DySL with the bundle's adapters and controllers
  dysl_no_preskip  without pre-skip prediction (allow points stay at the front)
  dysl_no_verify   without post-skip verification
  one_stage        the --one-stage bundle (distilled with --stage1-steps 0) under DySL
  random_skip      random dynamic layers, no adapter, matched to DySL's executed layers
  static_only      only the static layers (its skip ratio is fixed by the layout)
  fixed_ratio      adapters at fixed jump points, controllers ignored, matched executed layers
  flexidepth       a controller before every dynamic layer, one layer at a time, tau matched
  early_exit       DeeR-style exits every --exit-every layers (closed-form exit adapters fitted on
                   training episodes; needs --weights for a bundle built from trained weights),
                   eta matched to DySL's executed layers unless --exit-threshold is given

The baselines are matched to the layers DySL executes per inference, verification re-runs included,
measured on the same frames in an untimed run first.

For each: mean executed layers, skip ratio, verification rate, median latency and speedup over full
in the same run, action MAE vs full and vs the expert (normalized units), gripper agreement, and
MAE on critical (grasp/release) vs free-space frames, and the start heading: on each episode's first
frame, the cosine between where the chunk takes the gripper over the table and where the expert's
does (from the start pose only the image says where the block is).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ef.model == "" {
				return fmt.Errorf("--model is required")
			}
			// Open loop took 0 for the default 4 and closed loop refused it: both refuse it now.
			if err := checkEpisodes(cfg.Episodes); err != nil {
				return err
			}
			// The evaluations take a zero count for its default: given on the command line, it is refused.
			if err := checkCounts(countFlag{"exit-every", cfg.ExitEvery, "1 layer between exits"}, countFlag{"exit-episodes", cfg.ExitEpisodes, "1 episode"},
				countFlag{"exit-stride", cfg.ExitStride, "1 (every frame)"}); err != nil {
				return err
			}
			if !(exitThreshold < 0) { // negative asks for matching; NaN and +Inf are refused by Validate
				cfg.ExitThreshold = &exitThreshold
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			backend, err := ef.backend()
			if err != nil {
				return err
			}
			cfg.Model, cfg.Backend = ef.model, backend
			dysl := skipping.DefaultConfig()
			dysl.ControllerThreshold = tau
			if err := dysl.Validate(); err != nil {
				return err
			}
			cfg.DySL = &dysl
			if closedLoop.enabled {
				// The closed loop matches early exit's eta itself, with the bundle's adapter rank, on
				// --match-frames-closed-loop frames.
				if err := refuseUnused(cmd.Flags(), "open loop (without --closed-loop)", "exit-rank", "exit-threshold", "match-frames"); err != nil {
					return err
				}
				return runClosedLoop(cmd, cfg, &ef, closedLoop, asJSON, quiet)
			}
			if err := refuseUnused(cmd.Flags(), "--closed-loop", closedLoop.only...); err != nil {
				return err
			}
			if !quiet {
				cfg.Log = cmd.ErrOrStderr()
			}
			// Ctrl-C or SIGTERM: the episodes every variant ran are reported, marked as stopped.
			ctx, stop := interruptContext(cmd, "reporting the episodes run after this one")
			defer stop()
			rep, err := openloop.Run(ctx, cfg)
			if rep == nil {
				return err
			}
			rep.Provider = ef.provider
			machine, machineErr := ef.machine() // loaded already: the run ran on it
			if machineErr != nil {
				return errors.Join(err, machineErr)
			}
			rep.Machine = machine
			if asJSON {
				return errors.Join(err, writeJSON(cmd.OutOrStdout(), rep))
			}
			openloop.WriteTable(cmd.OutOrStdout(), rep)
			return err
		},
	}
	ef.register(cmd.Flags())
	closedLoop.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&cfg.OneStage, "one-stage", "", "bundle distilled in one stage from scratch (dysl distill --stage1-steps 0 on a copy)")
	f.StringVar(&cfg.Weights, "weights", "", "backbone safetensors, when the bundle was built from one (for the early-exit fit)")
	markInput(f, "weights", inputFile)
	markInput(f, "one-stage", inputBundle)
	f.IntVar(&cfg.Episodes, "episodes", 4, "episodes, from --seed")
	f.Int64Var(&cfg.Seed, "seed", training.HeldOutSeedStart, "seed of the first episode (held out from 1000000 on)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.BoolVar(&quiet, "quiet", false, "no progress lines on stderr")
	f.Float64Var(&tau, "tau", skipping.DefaultConfig().ControllerThreshold, "DySL controller threshold")
	f.IntVar(&cfg.ExitEvery, "exit-every", 2, "early exit: an exit after every this many layers")
	f.IntVar(&cfg.ExitRank, "exit-rank", 0, "early exit: exit adapter rank (0: the bundle's adapter rank)")
	f.Float64Var(&exitThreshold, "exit-threshold", -1, "early exit: L2 threshold eta on normalized actions (negative: match DySL's executed layers)")
	f.IntVar(&cfg.ExitEpisodes, "exit-episodes", 8, "early exit: training episodes calibrating the exits")
	f.IntVar(&cfg.ExitStride, "exit-stride", 4, "early exit: use every this many frames of them")
	f.IntVar(&cfg.MatchFrames, "match-frames", 0, "held-out frames used to match flexidepth's tau and early exit's eta (0: all)")
	return cmd
}

// runClosedLoop is `dysl evaluate --closed-loop`. It takes the bundle, the backend, the episodes and
// the variants' options from the open-loop configuration the command's flags filled in, and ef's
// runtime options.
func runClosedLoop(cmd *cobra.Command, open openloop.Config, ef *engineFlags, f closedLoopFlags, asJSON, quiet bool) error {
	// With --variants, the options of a variant left out would change nothing.
	for _, v := range []struct {
		variants []string // any of them reads flags
		flags    []string
	}{
		{[]string{"one_stage"}, []string{"one-stage"}},
		{[]string{"early_exit"}, []string{"weights", "exit-every", "exit-episodes", "exit-stride"}},
		{[]string{"flexidepth", "early_exit"}, []string{"match-episodes", "match-runs", "match-tolerance", "match-frames-closed-loop"}},
	} {
		if f.match.Variants != nil && !slices.ContainsFunc(v.variants, func(name string) bool { return slices.Contains(f.match.Variants, name) }) {
			if err := refuseUnused(cmd.Flags(), "--variants naming "+strings.Join(v.variants, " or "), v.flags...); err != nil {
				return err
			}
		}
	}
	sc, err := f.sceneConfig()
	if err != nil {
		return err
	}
	latency, err := f.latencyModel()
	if err != nil {
		return err
	}
	if f.match.MatchEpisodes < 1 || f.match.MatchRuns < 1 || !(f.match.MatchTolerance > 0) || math.IsInf(f.match.MatchTolerance, 0) {
		return fmt.Errorf("--match-episodes %d, --match-runs %d, --match-tolerance %v: expected at least one episode, at least one run and a finite tolerance > 0 layers",
			f.match.MatchEpisodes, f.match.MatchRuns, f.match.MatchTolerance)
	}
	expertDims, err := f.expertColumns(open.Model)
	if err != nil {
		return err
	}
	seeds, err := episodeSeeds(open.Seed, open.Episodes)
	if err != nil {
		return err
	}
	if err := f.checkMatchFrames(); err != nil {
		return err
	}
	convention, err := f.gripper.check()
	if err != nil {
		return err
	}
	machine, err := ef.machine()
	if err != nil {
		return err
	}
	cfg := closedloop.EvaluateConfig{Model: open.Model, Machine: machine, OneStage: open.OneStage, Backend: open.Backend, DySL: *open.DySL,
		Weights: open.Weights, Journal: f.journal, ExitEvery: open.ExitEvery, ExitEpisodes: open.ExitEpisodes, ExitStride: open.ExitStride, Seeds: seeds, MatchFrames: f.matchFrames,
		MatchEpisodes: f.match.MatchEpisodes, MatchRuns: f.match.MatchRuns, MatchTolerance: f.match.MatchTolerance, Variants: f.match.Variants,
		Suite: closedloop.Suite{Scene: sc, CameraHz: f.cameraHz, Latency: latency, ExpertDims: expertDims, GripperLead: f.gripper.lead, Engine: ef.computes(),
			GripperMinHold: f.gripper.minHold, Gripper: convention}}
	var bar *progressbar.ProgressBar
	if !quiet {
		cfg.Log = cmd.ErrOrStderr()
		bar = newEpisodeBar(cmd.ErrOrStderr(), closedloop.EpisodeRuns(cfg), "closed-loop episodes")
		cfg.Suite.Progress = func() { _ = bar.Add(1) }
		cfg.Skipped = func(n int) { bar.ChangeMax(bar.GetMax() - n) }
	}
	// Ctrl-C or SIGTERM: the episodes played so far are reported, marked as stopped.
	ctx, stop := interruptContext(cmd, "reporting the episodes played after this one")
	defer stop()
	start := time.Now()
	rep, err := closedloop.Evaluate(ctx, cfg)
	err = f.resumable(ctx, err)
	endEpisodeBar(bar, cmd.ErrOrStderr(), err)
	if rep == nil {
		return err
	}
	if !quiet {
		fmt.Fprintf(cmd.ErrOrStderr(), "closed-loop evaluation took %s\n", time.Since(start).Round(time.Second))
	}
	return errors.Join(err, writeReport(cmd, f.jsonOut, asJSON, rep, func(w io.Writer) { closedloop.WriteReport(w, rep) }))
}

// writeReport writes a closed-loop report to --json-out when one is named, then prints it: as JSON
// with --json, for people otherwise.
//
// The report is printed first: a --json-out that cannot be written at the end of an hour's run (its
// directory removed meanwhile, a full disk) must not take the printed report down with it.
func writeReport(cmd *cobra.Command, jsonOut string, asJSON bool, rep any, forPeople func(io.Writer)) error {
	var printed error
	if asJSON {
		printed = writeJSON(cmd.OutOrStdout(), rep)
	} else {
		forPeople(cmd.OutOrStdout())
	}
	if err := writeJSONFile(jsonOut, rep); err != nil {
		return errors.Join(printed, fmt.Errorf("--json-out %s: %w", jsonOut, err))
	}
	return printed
}

// episodeSeeds is the seeds of --episodes consecutive episodes from first, refusing fewer than one.
func episodeSeeds(first int64, episodes int) ([]int64, error) {
	if err := checkEpisodes(episodes); err != nil {
		return nil, err
	}
	if err := scene.CheckSeeds("--seed", first, episodes); err != nil {
		return nil, err
	}
	return training.Seeds(first, episodes), nil
}

// countFlag is a count flag's name, value and least value in words ("1 episode").
type countFlag struct {
	flag  string
	value int
	least string
}

// checkCounts refuses every count below 1, naming the flags. The evaluations' configurations take a
// zero count for its default (earlyexit.DefaultEvery, ...), so a 0 given on the command line would run
// the default while saying nothing: the flags have their defaults for that.
func checkCounts(counts ...countFlag) error {
	var problems []string
	for _, c := range counts {
		if c.value < 1 {
			problems = append(problems, fmt.Sprintf("--%s %d: expected at least %s", c.flag, c.value, c.least))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// checkEpisodes refuses an --episodes of fewer than one, or more than scene.MaxEpisodes.
func checkEpisodes(episodes int) error {
	if episodes < 1 {
		return fmt.Errorf("--episodes %d: expected at least one episode", episodes)
	}
	return scene.CheckEpisodeCount("--episodes", episodes)
}

// endEpisodeBar ends the bar's line: full when the run succeeded, where it stopped when it failed.
func endEpisodeBar(bar *progressbar.ProgressBar, w io.Writer, err error) {
	if bar == nil {
		return
	}
	if err == nil {
		_ = bar.Finish()
	} else {
		_ = bar.Exit()
	}
	fmt.Fprintln(w)
}

// newEpisodeBar is the progress bar of the closed-loop commands: episodes played of total, with a
// time estimate.
func newEpisodeBar(w io.Writer, total int, description string) *progressbar.ProgressBar {
	return progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(description),
		progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(500*time.Millisecond))
}
