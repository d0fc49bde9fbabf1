package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"dysl_vla/modelbuild"
	"dysl_vla/onnxgraph"
	"dysl_vla/policy/bundle"
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
	var opts modelbuild.Options
	cmd := &cobra.Command{
		Use:   "build --preset tiny|small|bench --out DIR",
		Short: "Build a bundle: backbone (random or --weights), calibrated static layers, closed-form adapters",
		Long: `Build writes a complete DySL bundle: prefix, one graph per decoder layer, adapters and controllers
of the dynamic layers, head, the whole model as one graph (full.onnx), and manifest.yaml.

The backbone is random (deterministic from --seed) unless --weights names a safetensors file with
these tensors ([in, out] matrices, float32):
  prefix.patch.weight [3*P*P, D]   prefix.patch.position [patches, D]   prefix.token_embedding [vocab, D]
  prefix.action_queries [K, D]
  layers.<i>.attn_norm.weight [D]  layers.<i>.attn.{q,k,v,o}.weight [D, D]
  layers.<i>.mlp_norm.weight [D]   layers.<i>.mlp.{gate,up}.weight [D, MLP]  layers.<i>.mlp.down.weight [MLP, D]
  head.norm.weight [D]  head.proj.weight [D, A]  head.proj.bias [A]`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Log = cmd.OutOrStdout()
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
	f.StringVar(&opts.OutDir, "out", "", "bundle directory to write (required)")
	f.Int64Var(&opts.Seed, "seed", 1, "seed of the random backbone and the calibration observations")
	f.StringVar(&opts.WeightsFile, "weights", "", "safetensors file holding the backbone instead of random weights")
	f.Float64Var(&opts.StaticRatio, "static-ratio", 0.2, "fraction of layers kept static (the last layer always is)")
	f.IntVar(&opts.CalibrationFrames, "calibration", 0, "calibration observations (0: the preset's default)")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func newModelCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check DIR",
		Short: "Validate a bundle and print its summary, or every problem found",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := bundle.Load(args[0])
			if err != nil {
				var invalid *bundle.ValidationError
				if errors.As(err, &invalid) {
					for _, p := range invalid.Problems {
						fmt.Fprintln(cmd.ErrOrStderr(), p)
					}
					return fmt.Errorf("bundle %s is invalid: %d problem(s)", args[0], len(invalid.Problems))
				}
				return err
			}
			return printSummary(cmd.OutOrStdout(), b)
		},
	}
}

func printSummary(w io.Writer, b *bundle.Bundle) error {
	m := &b.Manifest
	d := m.Dims
	fmt.Fprintf(w, "bundle %s: %s (%s)\n", b.Dir, m.Name, m.Format)
	fmt.Fprintf(w, "dims: %d layers, hidden %d, %d heads, mlp %d, %d tokens (%d instruction), vocab %d, adapter rank %d\n",
		d.Layers, d.Hidden, d.Heads, d.MLP, d.Tokens, d.InstructionTokens, d.Vocab, d.AdapterRank)
	fmt.Fprintf(w, "input: image %dx%d (%s), tokenizer %s; output: %d actions x %d (%s), dt %gs, gripper index %d\n",
		m.Image.Width, m.Image.Height, m.Image.Resize, m.Tokenizer.Kind, d.Chunk, d.ActionDim,
		strings.Join(m.Action.Names, " "), m.Action.DtSeconds, m.Action.GripperIndex)
	fmt.Fprintf(w, "static layers: %v\n", m.StaticLayers)
	for i, s := range m.Segments() {
		fmt.Fprintf(w, "  segment %d: dynamic %v -> static %d\n", i, s.Dynamic, s.Static)
	}
	if len(m.StaticProfile) > 0 {
		var sims []string
		for _, s := range m.StaticProfile {
			sims = append(sims, fmt.Sprintf("%.3f", s))
		}
		fmt.Fprintf(w, "layer input/output cosine similarity: %s\n", strings.Join(sims, " "))
	}

	fmt.Fprintln(w, "files:")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	var total, params int64
	for _, file := range bundleFiles(m) {
		size, p, err := graphSize(b, file)
		if err != nil {
			return err
		}
		total += size
		params += p
		fmt.Fprintf(tw, "  %s\t%s\t%d params\n", file, humanBytes(size), p)
	}
	tw.Flush()
	fmt.Fprintf(w, "total: %s on disk, %d parameters over all graphs (full.onnx repeats the backbone)\n", humanBytes(total), params)
	fl := m.FLOPs
	full := fl.Prefix + int64(d.Layers)*fl.Layer + fl.Head
	fmt.Fprintf(w, "FLOPs per inference: prefix %s, layer %s (x%d), adapter %s, controller %s, head %s; full model %s\n",
		humanCount(fl.Prefix), humanCount(fl.Layer), d.Layers, humanCount(fl.Adapter), humanCount(fl.Controller), humanCount(fl.Head), humanCount(full))
	p := m.Provenance
	fmt.Fprintf(w, "provenance: %s, preset %s, seed %d, created %s\n", p.Builder, p.Preset, p.Seed, p.Created)
	if p.Weights != "" {
		fmt.Fprintf(w, "  weights: %s\n", p.Weights)
	}
	fmt.Fprintf(w, "  adapters: %s\n  controllers: %s\n", p.Adapters, p.Controllers)
	return nil
}

// bundleFiles lists the graph files in execution order, without duplicates.
func bundleFiles(m *bundle.Manifest) []string {
	var files []string
	files = append(files, m.Files.Prefix)
	files = append(files, m.Files.Layers...)
	for _, table := range []map[int]string{m.Files.Adapters, m.Files.Controllers} {
		keys := make([]int, 0, len(table))
		for k := range table {
			keys = append(keys, k)
		}
		sort.Ints(keys)
		for _, k := range keys {
			files = append(files, table[k])
		}
	}
	return append(files, m.Files.Head, m.Files.Full)
}

// graphSize is a graph's bytes on disk, including the external data it owns (files it references
// but another graph also names are counted once, with the first graph), and its parameter count.
func graphSize(b *bundle.Bundle, file string) (size, params int64, err error) {
	st, err := os.Stat(b.Path(file))
	if err != nil {
		return 0, 0, err
	}
	size = st.Size()
	info, err := onnxgraph.ReadInfoFile(b.Path(file))
	if err != nil {
		return 0, 0, err
	}
	for _, init := range info.Initializers {
		n := int64(1)
		for _, dim := range init.Dims {
			n *= dim
		}
		params += n
	}
	if data, err := os.Stat(b.Path(file) + ".data"); err == nil {
		size += data.Size()
	}
	return size, params, nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func humanCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fG", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprintf("%d", n)
}
