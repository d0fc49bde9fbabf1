package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"dysl_vla/evaluation/closedloop"
	"dysl_vla/modelbuild"
	"dysl_vla/scene"
	"dysl_vla/skipping"
	"dysl_vla/training"
)

func newTrainCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train the reference VLA (GoMLX: the pure-Go CPU backend, or XLA on a GPU in a -tags xla build)",
	}
	cmd.AddCommand(newTrainBCCmd(), newDAggerCmd(), newChosenPointsCmd(), newLabelFitCmd())
	return cmd
}

func newTrainBCCmd() *cobra.Command {
	var (
		preset, out, plot, loss string
		resume                  bool
		checkpointEvery         int
		cfg                     training.BCConfig
		data                    bcDataFlags
	)
	cmd := &cobra.Command{
		Use:   "bc --out FILE.safetensors",
		Short: "Behaviour cloning of the backbone on scripted pick-and-place episodes",
		Long: `Trains a preset's backbone, from a random initialization (seeded) or from --init's weights, and
all of it or the part the data flags say (--train-from-layer, --train-keypoints-only,
--freeze-keypoints), to predict the scene expert's K-step action chunks (--loss on normalized actions, Adam with a linear
warmup and a cosine decay to --final-lr), then writes
the weights as safetensors for 'dysl model build --weights'. Training episodes use seeds 0..N-1,
the held-out loss uses seeds from 1000000. With --checkpoint-every the weights are written to --out
as training goes, with the step in the file's metadata; --resume continues from that file (the
Adam moments restart).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := modelbuild.LookupPreset(preset)
			if err != nil {
				return err
			}
			if resume && data.init != "" {
				return fmt.Errorf("--init and --resume exclude each other")
			}
			// Flags that change nothing without another: refused, not ignored.
			for _, dep := range []struct {
				unused      bool
				needs, flag string
			}{
				{cfg.LayerDrop == 0, "--layer-drop above 0", "drop-tails"},
				{len(data.states) == 0, "--dagger-states", "dagger-expert"},
				{data.init == "", "--init", "init-preset"},
			} {
				if dep.unused {
					if err := refuseUnused(cmd.Flags(), dep.needs, dep.flag); err != nil {
						return err
					}
				}
			}
			cfg.Arch, cfg.Loss, cfg.Log = p.Arch, training.BCLoss(loss), cmd.OutOrStdout()
			start, err := data.apply(&cfg)
			if err != nil {
				return err
			}
			ctx, stop := interruptContext(cmd, "writing the weights after this step")
			defer stop()
			cfg.Interrupted = interrupted(ctx)
			_, err = training.RunBC(training.BCRun{Config: cfg, Out: out, Resume: resume, Start: start,
				CheckpointEvery: checkpointEvery, Plot: plot, Progress: cmd.ErrOrStderr(),
				Metadata: map[string]string{"trainer": "dysl train bc", "preset": preset,
					"tasks": data.tasks, "start_spread": strconv.FormatFloat(data.startSpread, 'g', -1, 64), "dagger_states": strings.Join(data.states, ","),
					"dagger_unlabelled": strings.Join(data.unlabelled, ","), "dagger_expert": data.daggerExpert, "dagger_drop_descents": strconv.FormatBool(data.dropDescents), "recolour_pads": data.recolour, "init": data.init}})
			return err
		},
	}
	f := cmd.Flags()
	data.register(f)
	f.StringVar(&preset, "preset", "tiny", "architecture: "+strings.Join(modelbuild.PresetNames(), ", "))
	f.StringVar(&out, "out", "", "safetensors file to write (required)")
	f.StringVar(&plot, "plot", "", "write the loss curves to this PNG")
	markOutputFile(f, "out", true)
	markPlotFile(f, "plot")
	f.BoolVar(&resume, "resume", false, "continue from the checkpoint in --out")
	f.IntVar(&checkpointEvery, "checkpoint-every", 0, "write --out every this many steps (0: only at the end)")
	f.Int64Var(&cfg.Seed, "seed", 1, "seed of the initial weights and the batch order")
	f.IntVar(&cfg.Episodes, "episodes", 200, "training episodes")
	f.IntVar(&cfg.HeldOut, "held-out", 10, "held-out episodes for the evaluation loss (at least 1)")
	f.IntVar(&cfg.Steps, "steps", 5000, "optimizer steps")
	f.IntVar(&cfg.StopAfter, "stop-after", 0, "end after this step, the schedule still spanning --steps (0: run all --steps)")
	f.IntVar(&cfg.Batch, "batch", 32, "frames per step")
	f.Float64Var(&cfg.LearningRate, "lr", 1e-3, "Adam learning rate (the peak of the schedule)")
	f.IntVar(&cfg.Warmup, "warmup", 100, "steps of linear learning-rate warmup")
	f.Float64Var(&cfg.FinalLearningRate, "final-lr", 1e-4, "learning rate at the last step, reached by cosine decay (0: constant)")
	f.Float64Var(&cfg.ResidualScale, "residual-scale", 0, "factor on every layer's attn.o and mlp.down of the random initial weights (0: 1/√(2·layers); negative: modelbuild's init unchanged)")
	f.Float64Var(&cfg.ProbeWeight, "probe-weight", 0, "weight of the training-only world-state probe loss (gripper, block and pad positions read off the action queries); 0: none. "+
		"The probe is not saved: from --init it starts at zero, and while it learns its error pulls the backbone (a 100-step fine-tune kept 64 of 100 held-out completions with it, 75 without: models/closedloop/README.md, attempt 19)")
	f.Float64Var(&cfg.KeypointWeight, "keypoint-weight", 0, "weight of the training-only keypoint loss (each image keypoint channel told where the object of its colour is, and a keypoint selector which channels the instruction names; presets with keypoints only); 0: none")
	f.BoolVar(&cfg.FreezeKeypoints, "freeze-keypoints", false, "keep the keypoints' per-pixel network as loaded (not trained; the keypoint loss is then left out, the selection loss kept)")
	f.BoolVar(&cfg.KeypointsOnly, "train-keypoints-only", false, "train the keypoints' per-pixel network alone, on the keypoint loss alone (needs --keypoint-weight): "+
		"mends a colour the keypoints confuse and leaves every other weight as loaded (attempt 21)")
	f.Float64Var(&cfg.KeypointAnchor, "keypoint-anchor", 0, "with --train-keypoints-only and --init: hold every channel whose colour a frame does not show where the loaded keypoints put it, "+
		"with this weight against a present channel's 1 (the backbone reads them all); 0: those channels are free")
	f.Float64Var(&cfg.KeypointMendBeyond, "keypoint-mend-beyond", 0, "with --keypoint-anchor: also hold a present channel where the loaded keypoints put it when that is within this many metres of its colour's place, "+
		"so that only the channels off by more are mended; 0: every present channel is pulled to its place")
	f.IntVar(&cfg.TrainFromLayer, "train-from-layer", 0, "train only this decoder layer, the ones after it and the head; the prefix and earlier layers stay as loaded "+
		"(0: all). From trained weights at a bundle's last static layer, its adapters and controllers stay valid")
	f.Float64Var(&cfg.LayerDrop, "layer-drop", 0, "probability that a training frame skips each layer but the first and last (LayerDrop: makes the layers skippable for DySL); 0: none")
	f.BoolVar(&cfg.DropTails, "drop-tails", false, "with --layer-drop, a dropping frame skips every layer from a random one up to the last (the jumps of a bundle whose static layers are the first and last)")
	f.StringVar(&loss, "loss", "mse", "training loss on normalized chunks: mse, huber or l1 (the held-out figure is always L1)")
	f.IntVar(&cfg.EvalEvery, "eval-every", 250, "measure the held-out loss every this many steps (0: only at the end)")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func newDAggerCmd() *cobra.Command {
	var (
		ef       engineFlags
		tasks    taskFlags
		out      string
		episodes int
		seed     int64
		maxSteps int
		cameraHz float64
		grip     playedGripperFlags
		strategy string
		within   float64
		expert   []string
		// approachOnly keeps the states before each instruction's first empty grasp.
		approachOnly bool
		recolour     string
	)
	cmd := &cobra.Command{
		Use:   "dagger --model DIR --out STATES.json",
		Short: "Collect the world states a policy visits in the closed-loop simulator, for the expert to label (DAgger)",
		Long: `Runs the bundle's full model in closed loop on training-range episodes (seeds from --seed, apart from
bc's 0..N-1 and the held-out ones) and writes every world state its camera captured as JSON. 'dysl
train bc --dagger-states' renders them and labels each with the scripted expert's chunk from that
state: the policy learns to recover from the states its own mistakes lead to.
--strategy dysl plays DySL at its default thresholds instead: 'dysl distill --states' then trains
the adapters and controllers on the frames where skipping took the arm.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireValues(cmd.Flags(), "model", "out"); err != nil {
				return err
			}
			seeds, err := episodeSeeds(seed, episodes)
			if err != nil {
				return err
			}
			// Held-out episodes make a fair diagnostic of the policy (the READMEs measure it so), but
			// their states must not be trained on: readStateFiles refuses them there.
			if last := seed + int64(episodes) - 1; training.IsHeldOut(last) {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: --seed %d: episodes %d..%d include held-out ones (seeds from %d on, which evaluate plays): "+
					"their states serve diagnostics (train keypoints, train labels); train bc --dagger-states and distill --states refuse them\n",
					seed, seed, last, training.HeldOutSeedStart)
			}
			// The states go to the scripted expert, which labels them in the scene's convention.
			convention, err := grip.check()
			if err != nil {
				return err
			}
			if err := closedloop.CheckExpertConvention(convention); err != nil {
				return fmt.Errorf("--gripper-open %v, --gripper-closed %v: %w", grip.open, grip.closed, err)
			}
			sc := scene.DefaultConfig()
			if sc.Tabletop, err = tasks.tabletop(); err != nil {
				return err
			}
			sc.MaxSteps = maxSteps
			if err := sc.Validate(); err != nil { // before the harness would take 0 for its default
				return fmt.Errorf("--max-steps: %w", err)
			}
			if sc.PadRecolour, err = recolourPads(recolour, sc.Tabletop); err != nil {
				return err
			}
			play := skipping.DefaultConfig()
			if play.Strategy, err = skipping.ParseStrategy(strategy); err != nil {
				return fmt.Errorf("--strategy: %w", err)
			}
			e, err := ef.open(play)
			if err != nil {
				return err
			}
			defer e.Close()
			expertDims, err := actionIndices(e.Manifest.Action.Names, expert)
			if err != nil {
				return err
			}
			keep := closedloop.KeepAll
			if approachOnly {
				keep = closedloop.KeepApproach
			}
			cfg := closedloop.Config{Engine: e, Skipping: play, Scene: sc, CameraHz: cameraHz, ExpertDims: expertDims, GripperLead: grip.lead, GripperMinHold: grip.minHold, Gripper: convention}
			if within != 0 {
				if play.Strategy == skipping.StrategyFull {
					return fmt.Errorf("--full-within %v: only with a --strategy that skips (with full every layer runs everywhere)", within)
				}
				if cfg.BeforeInference, err = closedloop.FullNearTarget(play, within); err != nil {
					return fmt.Errorf("--full-within: %w", err)
				}
			}
			ctx, stop := interruptContext(cmd, "writing the states of the episodes played after this one")
			defer stop()
			v, err := closedloop.CollectStates(ctx, cfg, seeds, keep, out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d states from %d episodes (%d of %d instructions completed by the policy; "+
				"closest approach to the named block: median %.1f cm, grasp reach %g cm, moving only up and down %.1f cm; "+
				"the first %d steps closed a median %.1f cm of the horizontal distance)\n",
				out, v.States, episodes, v.Completed, v.Tasks, v.MissCm, 100*scene.GraspReach, v.GapCm, closedloop.HeadwaySteps, v.HeadwayCm)
			fmt.Fprintf(cmd.OutOrStdout(), "layers executed per inference: %.2f of %d (%s", v.Layers, e.Manifest.Dims.Layers, play.Strategy)
			if within > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "; every layer within %g cm of the named block, or of its pad once held: a diagnostic", 100*within)
			}
			fmt.Fprintln(cmd.OutOrStdout(), ")")
			fmt.Fprintf(cmd.OutOrStdout(), "low beside the block (gripper open, tip below 5 cm, %g to 5 cm from it): %d states moved on%s\n",
				100*scene.GraspReach, v.Beside, ofSome(v.Beside, ", %.0f%% of them away from the block (median cosine with the way to it %.2f)", 100*v.AwayShare, v.AwayCosine))
			mg := v.Misses
			fmt.Fprintf(cmd.OutOrStdout(), "block never held in %d instructions: %d had the tip in grasp reach with the gripper open at a frame before it closed (closed too late), "+
				"%d closed off the block%s, %d never closed\n", mg.Instructions, mg.InReach, mg.ClosedOff,
				ofSome(mg.ClosedOff, " (median %.1f cm from it the frame before)", mg.ClosedOffCm), mg.NeverClosed)
			hc := v.Carries
			fmt.Fprintf(cmd.OutOrStdout(), "step limit reached with the block held in %d instructions: %d over the named pad, within %g cm of its centre",
				hc.Instructions, hc.OverPad, 100*scene.PadHalfSize)
			if hc.OverPad > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), " (median %.1f cm, %.1f to %.1f)", hc.OverPadCm, hc.MinOverPadCm, hc.MaxOverPadCm)
			}
			fmt.Fprintln(cmd.OutOrStdout())
			ds := v.Descents
			fmt.Fprintf(cmd.OutOrStdout(), "descents (the tip first below %g cm, gripper open): %d then held the block%s; %d did not%s\n", 100*closedloop.DescentHeight,
				ds.Grasped, ofSome(ds.Grasped, ", a median %.1f cm from it (90th percentile %.1f)", ds.GraspedCm, ds.GraspedP90Cm),
				ds.Missed, ofSome(ds.Missed, ", %.1f cm (%.1f)", ds.MissedCm, ds.MissedP90Cm))
			fmt.Fprintf(cmd.OutOrStdout(), "on the way down (tip 5 cm to the hover height, %g cm), gripper open, 1 to 5 cm from the block: %d moves to the next capture%s\n",
				100*scene.HoverHeight, ds.Moves, ofSome(ds.Moves, ", a median %.1f mm sideways and %.1f cm down", ds.SidewaysMm, ds.DownCm))
			if len(ds.MissedPairs) > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "descents that did not hold, by block and pad colour (of the descents with them):")
				for _, p := range ds.MissedPairs {
					fmt.Fprintf(cmd.OutOrStdout(), " %s block, %s pad %d of %d;", p.Block, p.Pad, p.Missed, p.Descents)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "\nby pad colour:")
				for _, p := range ds.MissedPads {
					fmt.Fprintf(cmd.OutOrStdout(), " %s %d of %d;", p.Colour, p.Missed, p.Descents)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "\nwhere they began, from the block: %d towards the named pad, %d away from it (within 30 degrees of the line to it), %d to the side\n",
					ds.MissedTowardsPad, ds.MissedAwayFromPad, ds.Missed-ds.MissedTowardsPad-ds.MissedAwayFromPad)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "legs achieved/attempted:")
			for l, name := range closedloop.LegNames {
				fmt.Fprintf(cmd.OutOrStdout(), " %s %d/%d", name, v.Legs.Achieved[l], v.Legs.Attempts[l])
			}
			fmt.Fprintln(cmd.OutOrStdout())
			if len(expert) > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "(a diagnostic: %s came from the scripted expert, not the policy)\n", strings.Join(expert, ", "))
			}
			return nil
		},
	}
	ef.register(cmd.Flags())
	f := cmd.Flags()
	tasks.register(f, "tabletop", "episodes: single, tabletop or chain")
	f.StringVar(&out, "out", "", "JSON file of the visited states (required)")
	markOutputFile(f, "out", false)
	f.IntVar(&episodes, "episodes", 20, "episodes to play")
	f.Int64Var(&seed, "seed", 500_000, fmt.Sprintf("seed of the first episode (training range, apart from bc's; from %d on, held-out episodes: a diagnostic, their states not for training)", training.HeldOutSeedStart))
	f.IntVar(&maxSteps, "max-steps", 300, "step limit per instruction")
	f.Float64Var(&cameraHz, "camera-hz", 0, "camera rate (0: the control rate of the bundle); play as evaluate --closed-loop will")
	grip.register(f, "", "; refused unless the scene's, in which the scripted expert labels the states")
	f.StringVar(&strategy, "strategy", "full", "skipping strategy the policy plays with, at the default thresholds: "+strings.Join(skipping.StrategyNames(), ", "))
	f.BoolVar(&approachOnly, "approach-only", false, "write only the states before the policy first closed the gripper on nothing, "+
		"in each instruction: its approach, where it missed (the wandering that follows would otherwise make most of the states)")
	f.Float64Var(&within, "full-within", 0, "a diagnostic: run every layer while the gripper tip is within this many metres (horizontally) of the named block, "+
		"or of the named pad once the block is held; elsewhere play --strategy (0: never)")
	registerRecolourPads(f, &recolour, "a diagnostic: FROM=TO (e.g. blue=red) paints the single task's pad TO wherever it would be FROM, "+
		"the scene otherwise the seed's, to tell what a colour does from where things are (attempt 22)")
	f.StringSliceVar(&expert, "expert-dims", nil, "a diagnostic: take these action columns (by the bundle's action names, e.g. x,y,z,yaw) "+
		"from the scripted expert instead of the policy, to see which part of a failing policy fails")
	return cmd
}

// ofSome formats a clause of medians only when n states or instructions went into them: a median of
// nothing is NaN, which says less to the reader than leaving the clause out.
func ofSome(n int, format string, args ...any) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(format, args...)
}

// actionIndices maps action names to their columns in the bundle's chunks (columns names).
func actionIndices(columns, names []string) ([]int, error) {
	var out []int
	for _, n := range names {
		i := slices.Index(columns, n)
		if i < 0 {
			return nil, fmt.Errorf("--expert-dims %q: expected action names of the bundle: %s", n, strings.Join(columns, ", "))
		}
		if slices.Contains(out, i) {
			return nil, fmt.Errorf("--expert-dims %s: %q named twice", strings.Join(names, ","), n)
		}
		out = append(out, i)
	}
	return out, nil
}

func newChosenPointsCmd() *cobra.Command {
	var in weightsOnStates
	cmd := &cobra.Command{
		Use:   "keypoints --preset small_selector --weights FILE.safetensors --states STATES.json",
		Short: "Where a model's keypoint selector puts the named block and pad in the states a policy visited",
		Long: `Renders every world state 'dysl train dagger --out' wrote as the camera saw it, runs the model's
image keypoints and keypoint selector on it (the float64 reference of the bundle's prefix), and prints
how far the chosen points lie from the named block and pad, by the gripper's height, its distance
to the block and whether it carries it, and where descents began how far the block point lay towards
the named pad: whether a policy that misses the block, or does not let it go over the pad, could see
where they were.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, w, visited, err := in.load(cmd.Flags())
			if err != nil {
				return err
			}
			points, err := training.ChosenPoints(&modelbuild.Model{Arch: a, Weights: w}, visited)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "chosen points in %d states of %s: distance from the named block and pad, cm, median (90th percentile)\n", len(points), in.states)
			// Each instruction's first frame on the way down onto the block, and whether the grasp then held.
			descentHeld := map[int]bool{}
			for _, d := range closedloop.DescentStarts(visited) {
				descentHeld[d.Index] = d.Held
			}
			descent := func(i int, held bool) bool {
				h, ok := descentHeld[i]
				return ok && h == held
			}
			bands := []struct {
				name string
				in   func(i int, c training.ChosenPoint) bool
			}{
				{"all states", func(int, training.ChosenPoint) bool { return true }},
				{fmt.Sprintf("tip at or above hover (%g cm)", 100*scene.HoverHeight), func(_ int, c training.ChosenPoint) bool { return c.TipHeight >= scene.HoverHeight }},
				{"tip 5 cm to hover", func(_ int, c training.ChosenPoint) bool {
					return c.TipHeight >= 0.05 && c.TipHeight < scene.HoverHeight
				}},
				{"tip below 5 cm", func(_ int, c training.ChosenPoint) bool { return c.TipHeight < 0.05 }},
				{"tip within 5 cm of the block (horizontally)", func(_ int, c training.ChosenPoint) bool { return c.TipToBlock < 0.05 }},
				{"carrying the named block", func(_ int, c training.ChosenPoint) bool { return c.Holding }},
				{fmt.Sprintf("where a descent began (tip first below %g cm, gripper open), the grasp then held", 100*closedloop.DescentHeight),
					func(i int, _ training.ChosenPoint) bool { return descent(i, true) }},
				{"where a descent began, the grasp then did not hold", func(i int, _ training.ChosenPoint) bool { return descent(i, false) }},
			}
			for _, b := range bands {
				var block, pad []float64
				for i, c := range points {
					if b.in(i, c) {
						block, pad = append(block, 100*c.Block), append(pad, 100*c.Pad)
					}
				}
				if len(block) == 0 {
					fmt.Fprintf(out, "%s: no states\n", b.name)
					continue
				}
				q := closedloop.Percentile
				fmt.Fprintf(out, "%s: %d states, block %.1f (%.1f), pad %.1f (%.1f)\n", b.name, len(block),
					q(block, 0.5), q(block, 0.9), q(pad, 0.5), q(pad, 0.9))
			}
			// Where the block point is off at the failed descents: towards the pad, or not.
			fmt.Fprintf(out, "the block point's offset along the line from the block to the named pad (towards the pad positive), cm, median (10th to 90th percentile), where a descent began:")
			for _, held := range []bool{true, false} {
				var along []float64
				for i, c := range points {
					if descent(i, held) {
						along = append(along, 100*c.BlockTowardsPad)
					}
				}
				name := map[bool]string{true: "the grasp then held", false: "did not hold"}[held]
				if len(along) == 0 {
					fmt.Fprintf(out, " %s: none;", name)
					continue
				}
				q := closedloop.Percentile
				fmt.Fprintf(out, " %s: %d, %.1f (%.1f to %.1f);", name, len(along), q(along, 0.5), q(along, 0.1), q(along, 0.9))
			}
			fmt.Fprintln(out)
			printWorstColourPairs(out, points, 3)
			return nil
		},
	}
	in.register(cmd.Flags(), "small_selector", "architecture of --weights (one with a keypoint selector)")
	return cmd
}

// printWorstColourPairs prints the n pairs of named block and pad colours whose chosen block point lies
// farthest from the block (by the median) on the way to it: where a keypoint channel takes one colour
// for another.
func printWorstColourPairs(out io.Writer, points []training.ChosenPoint, n int) {
	type pair struct{ block, pad scene.Colour }
	offsets := map[pair][]float64{}
	for _, c := range points {
		if !c.Approaching {
			continue
		}
		p := pair{c.BlockColour, c.PadColour}
		offsets[p] = append(offsets[p], 100*c.Block)
	}
	type worst struct {
		pair
		median, p90 float64
		states      int
	}
	var pairs []worst
	for p, v := range offsets {
		pairs = append(pairs, worst{p, closedloop.Percentile(v, 0.5), closedloop.Percentile(v, 0.9), len(v)})
	}
	slices.SortFunc(pairs, func(a, b worst) int {
		return cmp.Or(cmp.Compare(b.median, a.median), cmp.Compare(a.block, b.block), cmp.Compare(a.pad, b.pad))
	})
	fmt.Fprintf(out, "on the way to the block (gripper open), the named block's chosen point by block and pad colour, the %d farthest of %d pairs:", min(n, len(pairs)), len(pairs))
	for _, w := range pairs[:min(n, len(pairs))] {
		fmt.Fprintf(out, " %s block, %s pad: %d states, %.1f (%.1f);", w.block, w.pad, w.states, w.median, w.p90)
	}
	fmt.Fprintln(out)
}

func newLabelFitCmd() *cobra.Command {
	var in weightsOnStates
	var expertName string
	cmd := &cobra.Command{
		Use:   "labels --preset small_relative --weights FILE.safetensors --states STATES.json",
		Short: "How far a model's chunks lie from the expert's labels on the states a policy visited",
		Long: `Labels every world state 'dysl train dagger --out' wrote with the scripted expert's chunk, as
'train bc --dagger-states' would, runs the model on it (GoMLX, every layer) and prints the mean
squared error per action column (normalized units) and the share of wrong gripper signs, by the
expert's phase at the state: what a DAgger round on those states would have to change, and where.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, w, visited, err := in.load(cmd.Flags())
			if err != nil {
				return err
			}
			expert, err := daggerExpert(expertName, scene.ExpertOptions{})
			if err != nil {
				return err
			}
			d, err := training.LabelStates(a, visited, expert)
			if err != nil {
				return err
			}
			m, err := training.NewModel(a, w)
			if err != nil {
				return err
			}
			fits, err := m.FitToLabels(d, visited)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			columns := modelbuild.DefaultActionSpec(a.ActionDim).Names
			fmt.Fprintf(out, "the model's chunks against the %s expert's labels on %d states of %s: mean squared error per column (normalized), gripper sign wrong\n", expertName, len(visited), in.states)
			fmt.Fprintf(out, "%-18s %7s", "expert phase", "frames")
			for _, c := range columns {
				fmt.Fprintf(out, " %8s", c)
			}
			fmt.Fprintf(out, " %14s\n", "gripper wrong")
			for _, f := range fits {
				fmt.Fprintf(out, "%-18s %7d", f.Group, f.Frames)
				for _, v := range f.MSE {
					fmt.Fprintf(out, " %8.3f", v)
				}
				fmt.Fprintf(out, " %5.1f%% (%.1f%%)\n", 100*f.GripperWrong, 100*f.GripperWrongNow)
			}
			fmt.Fprintln(out, "(gripper wrong: of every chunk step, and in brackets of each chunk's first step)")
			return nil
		},
	}
	in.register(cmd.Flags(), "small_relative", "architecture of --weights")
	registerDaggerExpert(cmd.Flags(), &expertName)
	return cmd
}

// weightsOnStates are the flags of the train commands that read a model's weights on the world states
// 'dysl train dagger --out' wrote.
type weightsOnStates struct{ preset, weights, states string }

func (f *weightsOnStates) register(fs *pflag.FlagSet, defaultPreset, presetUsage string) {
	fs.StringVar(&f.preset, "preset", defaultPreset, presetUsage)
	fs.StringVar(&f.weights, "weights", "", "safetensors file of the model (required)")
	fs.StringVar(&f.states, "states", "", "JSON file of world states, as 'dysl train dagger --out' writes them (required)")
}

// load reads the architecture, the weights and the states.
func (f *weightsOnStates) load(fs *pflag.FlagSet) (modelbuild.Arch, *modelbuild.Weights, []scene.State, error) {
	if err := requireValues(fs, "weights", "states"); err != nil {
		return modelbuild.Arch{}, nil, nil, err
	}
	p, err := modelbuild.LookupPreset(f.preset)
	if err != nil {
		return modelbuild.Arch{}, nil, nil, err
	}
	// The states first: a file with none would leave nothing to measure the weights on.
	states, err := readStateFiles("--states", []string{f.states}, false)
	if err != nil {
		return modelbuild.Arch{}, nil, nil, err
	}
	w, _, err := training.LoadCheckpoint(f.weights, p.Arch)
	return p.Arch, w, states, err
}
