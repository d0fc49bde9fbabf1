package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"dysl_vla/modelbuild"
	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
	"dysl_vla/policy/ortbackend"
	"dysl_vla/skipping"
)

func newModelCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "model",
		Short: "Build and check DySL model bundles",
	}
	cmd.AddCommand(newModelBuildCmd(), newModelCheckCmd())
	return cmd
}

func newModelBuildCmd() *cobra.Command {
	var (
		opts  modelbuild.Options
		tasks string
	)
	cmd := &cobra.Command{
		Use:   "build --preset tiny|small|small_state|small_keypoints|small_selector|small_relative|bench --out DIR",
		Short: "Build a bundle: backbone (random or --weights), calibrated static layers, closed-form adapters",
		Long: `Build writes a complete DySL bundle: prefix, one graph per decoder layer, adapters and controllers
of the dynamic layers, head, the whole model as one graph (full.onnx), and manifest.yaml. It makes the
reference architecture only; a bundle of another model is written by hand (docs/BUNDLE.md).

The backbone is random (deterministic from --seed) unless --weights names a safetensors file with
these tensors ([in, out] matrices, float32):
  prefix.patch.weight [3*P*P, D]   prefix.patch.position [patches, D]   prefix.token_embedding [vocab, D]
  prefix.action_queries [K, D]
  layers.<i>.attn_norm.weight [D]  layers.<i>.attn.{q,k,v,o}.weight [D, D]
  layers.<i>.mlp_norm.weight [D]   layers.<i>.mlp.{gate,up}.weight [D, MLP]  layers.<i>.mlp.down.weight [MLP, D]
  head.norm.weight [D]  head.proj.weight [D, A]  head.proj.bias [A]
with the robot state (small_state, small_keypoints, small_selector, small_relative):
  prefix.state.weight [state features, D]   prefix.state.bias [D]
with the image keypoints (small_keypoints, small_selector, small_relative; C keypoints, H their pixel network's width):
  prefix.keypoints.pixel.weight [3, H]   prefix.keypoints.pixel.bias [H]
  prefix.keypoints.score.weight [H, C]   prefix.keypoints.score.bias [C]   prefix.keypoints.out.weight [2*C, D]
with the keypoint selector (small_selector, small_relative; W bytes per window, G the window network's width, E = 16):
  prefix.selector.embedding [vocab, E]   prefix.selector.window.weight [W*E, G]   prefix.selector.window.bias [G]
  prefix.selector.choice.weight [G, 2*C]   prefix.selector.choice.bias [2*C]   prefix.selector.out.weight [4, D]
with the chosen points seen from the gripper (small_relative; S robot-state values):
  prefix.relative.gripper.weight [S, 2]   prefix.relative.gripper.bias [2]   prefix.relative.out.weight [4, D]`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Log, opts.Warn = cmd.OutOrStdout(), cmd.ErrOrStderr()
			// The library takes a zero ratio for its default; on the command line 0 is a value.
			if err := modelbuild.CheckStaticRatio(opts.StaticRatio); err != nil {
				return fmt.Errorf("--static-ratio: %w", err)
			}
			var err error
			if opts.Tasks, err = tabletopFor(tasks, 1); err != nil {
				return err
			}
			res, err := modelbuild.Build(opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%s, %d backbone parameters)\n", opts.OutDir, res.Manifest.Name, res.Params)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Preset, "preset", "tiny", "architecture: "+strings.Join(modelbuild.PresetNames(), ", "))
	f.StringVar(&opts.OutDir, "out", "", "bundle directory to write (required): missing, empty, or a bundle dysl model build wrote, which is replaced")
	f.Int64Var(&opts.Seed, "seed", 1, "seed of the random backbone and the calibration observations")
	f.StringVar(&opts.WeightsFile, "weights", "", "safetensors file holding the backbone instead of random weights")
	f.Float64Var(&opts.StaticRatio, "static-ratio", 0.2, "fraction of layers kept static (the last layer always is)")
	f.IntVar(&opts.CalibrationFrames, "calibration", 0, "calibration observations (0: the preset's default, at least 256 with --adapter-context)")
	f.StringVar(&tasks, "tasks", "single", "scenes of the calibration frames, as the backbone was trained: single, tabletop or chain (the chains' scene)")
	f.IntVar(&opts.AdapterRank, "adapter-rank", 0, "bottleneck width of the adapters, at most the hidden width (0: the preset's)")
	f.BoolVar(&opts.AdapterContext, "adapter-context", false, "context adapters: every token also reads the means of the image patches, the instruction and the action queries, standing in for some of the skipped layers' attention")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func newModelCheckCmd() *cobra.Command {
	var (
		ef            engineFlags
		structureOnly bool
		recordDigests bool
	)
	runtime := pflag.NewFlagSet("runtime", pflag.ContinueOnError) // what --structure-only leaves unused
	ef.registerRuntime(runtime)
	cmd := &cobra.Command{
		Use:   "check DIR",
		Short: "Validate a bundle and print its summary, or every problem found; then run every graph once in ONNX Runtime",
		Long: `check reads the manifest and every graph it names: fields, files, the inputs and outputs the
dims imply, the initializers' shapes, sizes and values (NaN, Inf). Then, unless --structure-only,
it opens the bundle in ONNX Runtime and runs every graph once, as the node does at start-up: an op
the runtime does not know, a type or shape the graph itself gets wrong, external data it will not
read, a hidden state or chunk holding NaN or Inf, a controller whose skip probability is outside
[0, 1] (a logit where a sigmoid belongs). Last it runs one test observation through the prefix,
every layer and the head, and through the single graph (files.full), the reference the segmented
run must match, and refuses a difference beyond float error: a layer graph out of order, or a graph
of another model of the same shapes. Without an ONNX Runtime library to load, it says so and checks
the structure alone.

A graph replaced since a tool last wrote the bundle is refused by its SHA-256, which the manifest
records. When the replacement is meant, --record-digests records the files as they are now, once
the bundle passes every other check here, the graphs run included; should a check fail, the
manifest is left as it was. The manifest is then written by the tools' encoder: its comments go.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if structureOnly {
				if err := refuseUnused(cmd.Flags(), "a check that runs the graphs (without --structure-only)", flagNames(runtime)...); err != nil {
					return err
				}
			}
			cfg, err := ef.ortConfig() // its flags refused, if they are, before the summary
			if err != nil {
				return err
			}
			if !recordDigests {
				return checkBundle(cmd, args[0], &ef, cfg, structureOnly)
			}
			// The digests say the graphs are the ones checked: record them only for a check that ran them.
			if structureOnly || cfg.LibraryPath == "" {
				return fmt.Errorf("--record-digests records graphs that ran here and matched the single graph: it needs an ONNX Runtime library (--ort-lib, $%s, make ort) and no --structure-only",
					ortbackend.LibraryEnvVar)
			}
			if ef.provider == ortbackend.ProviderTensorRT && ef.trtFP16 {
				return fmt.Errorf("--record-digests with --provider tensorrt needs --trt-fp16=false: with fp16 kernels the match with the single graph is shown, not judged")
			}
			changed, restore, err := bundle.RecordDigests(args[0])
			if err != nil {
				return invalidBundle(cmd, args[0], err)
			}
			if err := checkBundle(cmd, args[0], &ef, cfg, false); err != nil {
				if len(changed) == 0 {
					return err
				}
				return errors.Join(err, restore(), fmt.Errorf("no digest recorded: %s in %s is as it was", bundle.ManifestFile, args[0]))
			}
			if len(changed) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "digests: %s already records every graph and data file as they are\n", bundle.ManifestFile)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "digests recorded in %s for %d file(s): %s\n", bundle.ManifestFile, len(changed), strings.Join(changed, ", "))
			}
			return nil
		},
	}
	cmd.Flags().AddFlagSet(runtime)
	cmd.Flags().BoolVar(&structureOnly, "structure-only", false, "check the files alone, without running the graphs in ONNX Runtime")
	cmd.Flags().BoolVar(&recordDigests, "record-digests", false, "record the SHA-256 of the graphs and data files as they are now, in the manifest, once every check passes (for a graph replaced on purpose)")
	return cmd
}

// invalidBundle prints each problem of a bundle that does not load, and returns an error counting them.
func invalidBundle(cmd *cobra.Command, dir string, err error) error {
	var invalid *bundle.ValidationError
	if errors.As(err, &invalid) {
		for _, p := range invalid.Problems {
			fmt.Fprintln(cmd.ErrOrStderr(), p)
		}
		return fmt.Errorf("bundle %s is invalid: %d problem(s)", dir, len(invalid.Problems))
	}
	return err
}

// checkBundle is `dysl model check` on dir: Load, the summary, then unless structureOnly the graphs
// run in ONNX Runtime and the segmented run compared with the single graph.
func checkBundle(cmd *cobra.Command, dir string, ef *engineFlags, cfg ortbackend.Config, structureOnly bool) error {
	b, err := bundle.Load(dir)
	if err != nil {
		return invalidBundle(cmd, dir, err)
	}
	for _, left := range bundle.LeftoverStaging(dir) {
		fmt.Fprintf(cmd.ErrOrStderr(), "note: %s was left by a run stopped while it changed this bundle (or is one changing it now); it is not part of the bundle and can be removed\n", left)
	}
	if err := bundle.WriteSummary(cmd.OutOrStdout(), b); err != nil {
		return err
	}
	switch {
	case structureOnly:
	case cfg.LibraryPath == "":
		fmt.Fprintf(cmd.ErrOrStderr(), "note: no ONNX Runtime library (--ort-lib, $%s, make ort): the graphs were checked by structure, not run\n", ortbackend.LibraryEnvVar)
	default:
		e, err := ef.openAt(dir, skipping.DefaultConfig())
		if err != nil {
			return fmt.Errorf("bundle %s does not run in ONNX Runtime (provider %s): %w", dir, ef.provider, err)
		}
		defer e.Close()
		fmt.Fprintf(cmd.OutOrStdout(), "runs in ONNX Runtime (provider %s): every graph ran once, "+
			"its hidden states and actions finite, its controllers' skip probabilities in [0, 1]\n", ef.provider)
		c, err := e.CompareWithSingleGraph(checkObservation(e.Manifest))
		if err != nil {
			return fmt.Errorf("bundle %s: comparing the segmented run with %s: %w", dir, b.Manifest.Files.Full, err)
		}
		switch {
		case ef.provider == ortbackend.ProviderTensorRT && ef.trtFP16:
			// Half-precision kernels part the two runs by an amount no float32 tolerance
			// bounds: the figure is shown, not judged (--trt-fp16=false judges it).
			fmt.Fprintf(cmd.OutOrStdout(), "segmented run with every layer vs %s, fp16 kernels allowed: %v\n", b.Manifest.Files.Full, c)
		case !(c.MaxDiff <= policy.SingleGraphTolerance):
			return fmt.Errorf("bundle %s: the segmented run with every layer (prefix, layers 0 to %d, head) does not match %s, "+
				"the whole model as one graph, on a test observation: %v, tolerance %g. A layer graph is out of order, or a graph "+
				"is another model's; %s gives its actions alone, so which graph parts them cannot be said",
				dir, b.Manifest.Dims.Layers-1, b.Manifest.Files.Full, c, policy.SingleGraphTolerance, b.Manifest.Files.Full)
		default:
			fmt.Fprintf(cmd.OutOrStdout(), "segmented run with every layer matches %s: %v, tolerance %g\n",
				b.Manifest.Files.Full, c, policy.SingleGraphTolerance)
		}
	}
	return nil
}

// checkObservation is the observation `model check` runs the segmented model and the single graph on:
// a frame of the model's input size with a pattern that differs in every channel, row and column, an
// instruction, and for a model that reads the robot's state, the state at its training means.
func checkObservation(m *bundle.Manifest) policy.Observation {
	w, h := m.Image.Width, m.Image.Height
	data := make([]byte, 3*w*h)
	for y := range h {
		for x := range w {
			for c := range 3 {
				data[3*(y*w+x)+c] = byte((7*x + 13*y + 85*c) % 256)
			}
		}
	}
	obs := policy.Observation{
		Image:       policy.Image{Width: w, Height: h, Encoding: "rgb8", Step: 3 * w, Data: data},
		Instruction: "pick up the red block and place it on the blue pad",
	}
	if m.State != nil {
		obs.State = m.State.Mean
	}
	return obs
}
