package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"dysl_vla/evaluation/closedloop"
	"dysl_vla/evaluation/earlyexit"
	"dysl_vla/nodecore"
	"dysl_vla/skipping"
	"dysl_vla/training"
)

// flagOf names the sweep's flag of each knob's values.
var flagOf = map[string]string{nodecore.ParamControllerThreshold: "tau-values", nodecore.ParamEtaMove: "eta-move-values",
	nodecore.ParamEtaVerify: "eta-verify-values", nodecore.ParamContinuityWindow: "window-values", nodecore.ParamStride: "stride-values"}

func newSweepCmd() *cobra.Command {
	var (
		ef             engineFlags
		episodes       closedLoopFlags
		cfg            closedloop.SweepConfig
		count          int
		seed           int64
		tau            float64
		values         = map[string]*[]string{}
		joint, bundles []string
		plotPath       string
		asJSON, quiet  bool
	)
	cmd := &cobra.Command{
		Use:   "sweep --model DIR [--weights FILE] [--tasks single|tabletop|chain] [--episodes N] [--bundle LABEL:DIR]... [--plot FILE.png] [--json]",
		Short: "Closed-loop speed-success sweep: DySL's thresholds, skip-loss weights and every baseline at several compute levels",
		Long: `sweep plays the same held-out closed-loop episodes (as evaluate --closed-loop) with:

  full         every layer, the reference point
  dysl         DySL at its defaults, then each setting of the grid: one knob at a time from the
               defaults (--tau-values, --eta-move-values, --eta-verify-values, --window-values,
               --stride-values), then the --joint settings
  dysl_bundle  DySL at its defaults on each --bundle LABEL:DIR, a copy of the bundle distilled with
               another skip-loss weight (label it by the weight: --bundle lambda=0.1:DIR)
  static_only  the static layers only
  random_skip, fixed_ratio
               at each --skip-levels share of the dynamic layers skipped
  flexidepth, early_exit
               at each --flexidepth-tau / --exit-eta, or by default at the thresholds that give the
               skip levels on the frames served to dysl

and prints success rate, chain length, executed layers and backbone speedup per point, the Pareto
front (no other point is at least as good on both success and speedup and better on one) marked, and a recommendation: the DySL
point with the highest backbone speedup whose success is at least 99% of full's and, with --tasks
chain, whose chain length is within 0.05 of full's, among those that run fewer layers than full and
are measured faster; or that none meets it. --plot draws success
against backbone speedup, every series and the front, as a PNG.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ef.model == "" {
				return fmt.Errorf("--model is required")
			}
			var err error
			if cfg.Seeds, err = episodeSeeds(seed, count); err != nil {
				return err
			}
			sc, err := episodes.sceneConfig()
			if err != nil {
				return err
			}
			latency, err := episodes.latencyModel()
			if err != nil {
				return err
			}
			if err := errors.Join(checkCounts(countFlag{"exit-every", cfg.ExitEvery, "1 layer between exits"}), episodes.checkMatchFrames()); err != nil {
				return err
			}
			cfg.Model, cfg.MatchFrames, cfg.Journal = ef.model, episodes.matchFrames, episodes.journal
			// Early exit's options change nothing when its backbone cannot be rebuilt: its row only says why.
			if why := (earlyexit.BaselineConfig{Model: cfg.Model, Weights: cfg.Weights}).Unavailable(); why != "" {
				if err := refuseUnused(cmd.Flags(), "an early exit that can run ("+why+")", "exit-every", "exit-eta"); err != nil {
					return err
				}
			}
			expertDims, err := episodes.expertColumns(ef.model)
			if err != nil {
				return err
			}
			convention, err := episodes.gripper.check()
			if err != nil {
				return err
			}
			cfg.Suite = closedloop.Suite{Scene: sc, CameraHz: episodes.cameraHz, Latency: latency, ExpertDims: expertDims, GripperLead: episodes.gripper.lead, Engine: ef.computes(),
				GripperMinHold: episodes.gripper.minHold, Gripper: convention}
			cfg.DySL = skipping.DefaultConfig()
			cfg.DySL.ControllerThreshold = tau
			if err := cfg.DySL.Validate(); err != nil {
				return err
			}
			grid := map[string][]float64{}
			for name, v := range values {
				for _, text := range *v {
					x, err := strconv.ParseFloat(text, 64)
					if err != nil {
						return fmt.Errorf("--%s: %q is not a number", flagOf[name], text)
					}
					grid[name] = append(grid[name], x)
				}
			}
			var settings []closedloop.Setting
			for _, j := range joint {
				if j == "" {
					continue // --joint= clears the default joint settings
				}
				s, err := closedloop.ParseSetting(j)
				if err != nil {
					return fmt.Errorf("--joint: %w", err)
				}
				settings = append(settings, s)
			}
			cfg.Grid = closedloop.OneAtATime(grid, settings)
			for _, s := range cfg.Grid {
				if _, err := s.Apply(cfg.DySL); err != nil {
					return err
				}
			}
			for _, b := range bundles {
				label, dir, err := parseLabelledBundle(b)
				if err != nil {
					return err
				}
				cfg.Bundles = append(cfg.Bundles, closedloop.LabelledBundle{Label: label, Dir: dir})
			}
			if cfg.Machine, err = ef.machine(); err != nil {
				return err
			}
			if cfg.Backend, err = ef.backend(); err != nil {
				return err
			}
			var bar *progressbar.ProgressBar
			if !quiet {
				cfg.Log = cmd.ErrOrStderr()
				bar = newEpisodeBar(cmd.ErrOrStderr(), closedloop.SweepRuns(cfg), "sweep episodes")
				cfg.Suite.Progress = func() { _ = bar.Add(1) }
			}
			// Ctrl-C or SIGTERM: the episodes played so far are reported, marked as stopped.
			ctx, stop := interruptContext(cmd, "reporting the episodes played after this one")
			defer stop()
			start := time.Now()
			rep, err := closedloop.Sweep(ctx, cfg)
			err = episodes.resumable(ctx, err)
			endEpisodeBar(bar, cmd.ErrOrStderr(), err)
			if rep == nil {
				return err
			}
			if !quiet {
				fmt.Fprintf(cmd.ErrOrStderr(), "sweep of %d points took %s\n", len(rep.Points), time.Since(start).Round(time.Second))
			}
			// The report first, so that a plot that cannot be written loses nothing else.
			reported := writeReport(cmd, episodes.jsonOut, asJSON, rep, func(w io.Writer) { closedloop.WriteSweep(w, rep) })
			var plotted error
			if plotPath != "" {
				if perr := closedloop.SaveSweepPlot(plotPath, rep); perr != nil {
					plotted = fmt.Errorf("--plot %s: %w", plotPath, perr)
				}
			}
			return errors.Join(err, reported, plotted)
		},
	}
	ef.register(cmd.Flags())
	episodes.registerEpisodes(cmd.Flags())
	f := cmd.Flags()
	f.IntVar(&count, "episodes", 20, "episodes per point, from --seed")
	f.Int64Var(&seed, "seed", training.HeldOutSeedStart, "seed of the first episode (held out from 1000000 on)")
	f.StringVar(&cfg.Weights, "weights", "", "backbone safetensors, when the bundle was built from one (for the early-exit fit)")
	f.Float64Var(&tau, "tau", skipping.DefaultConfig().ControllerThreshold, "DySL's controller threshold at its defaults, where the grid's other knobs are tried (--tau-values lists the thresholds tried)")
	for _, name := range closedloop.SweptKnobs {
		v := new([]string)
		values[name] = v
		var defaults []string
		for _, x := range closedloop.DefaultSweepValues[name] {
			defaults = append(defaults, strconv.FormatFloat(x, 'g', -1, 64))
		}
		f.StringSliceVar(v, flagOf[name], defaults, fmt.Sprintf("DySL grid: %s values, each tried alone with the others at their defaults (--%s= for none)", name, flagOf[name]))
	}
	var defaultJoint []string
	for _, s := range closedloop.DefaultJoint {
		defaultJoint = append(defaultJoint, s.String())
	}
	f.StringArrayVar(&joint, "joint", defaultJoint, "DySL grid: a setting changing several knobs, NAME=VALUE,... (repeat the flag for more; --joint= for none)")
	f.StringArrayVar(&bundles, "bundle", nil, "another bundle, LABEL:DIR, run with DySL at its defaults (label it by its skip-loss weight: lambda=0.1:DIR); repeat for more")
	f.Float64SliceVar(&cfg.SkipLevels, "skip-levels", closedloop.DefaultSkipLevels, "baselines' compute levels, shares of the dynamic layers skipped")
	f.Float64SliceVar(&cfg.FlexiTau, "flexidepth-tau", nil, "flexidepth's thresholds (default: those giving --skip-levels on frames served to dysl)")
	f.Float64SliceVar(&cfg.ExitEta, "exit-eta", nil, "early exit's thresholds (default: those giving --skip-levels on frames served to dysl)")
	f.IntVar(&cfg.ExitEvery, "exit-every", 2, "early exit: an exit after every this many layers")
	f.StringVar(&plotPath, "plot", "", "write success against backbone speedup to this PNG")
	markPlotFile(f, "plot")
	markInput(f, "weights", inputFile)
	markInput(f, "bundle", inputLabelledBundles)
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.BoolVar(&quiet, "quiet", false, "no progress on stderr")
	return cmd
}
