package bundle

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"dysl_vla/bytesize"
	"dysl_vla/onnxgraph"
)

// WriteSummary writes what `dysl model check` prints for a loaded bundle: its dimensions, input and
// output, static layers and segments, every graph file with its size on disk and parameter count, the
// FLOPs per inference and the provenance.
func WriteSummary(w io.Writer, b *Bundle) error {
	m := &b.Manifest
	d := m.Dims
	fmt.Fprintf(w, "bundle %s: %s (%s)\n", b.Dir, m.Name, m.Format)
	context := ""
	if d.AdapterContext > 0 {
		context = fmt.Sprintf(", context adapters (%d token groups)", d.AdapterContext)
	}
	fmt.Fprintf(w, "dims: %d layers, hidden %d, %d heads, mlp %d, %d tokens (%d instruction), vocab %d, adapter rank %d%s\n",
		d.Layers, d.Hidden, d.Heads, d.MLP, d.Tokens, d.InstructionTokens, d.Vocab, d.AdapterRank, context)
	balance := ""
	if b := m.Image.Balance; len(b) == 3 {
		balance = fmt.Sprintf(", channel medians balanced to %.0f %.0f %.0f", 255*b[0], 255*b[1], 255*b[2])
	}
	fmt.Fprintf(w, "input: image %dx%d (%s%s), tokenizer %s; output: %d actions x %d (%s), dt %gs, gripper index %d\n",
		m.Image.Width, m.Image.Height, m.Image.Resize, balance, m.Tokenizer.Kind, d.Chunk, d.ActionDim,
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
	var ops opTally
	for _, file := range m.graphFiles() {
		size, p, info, err := b.graphSize(file)
		if err != nil {
			return err
		}
		total += size
		params += p
		ops.add(file, info)
		fmt.Fprintf(tw, "  %s\t%s\t%d params\n", file, bytesize.Format(uint64(size)), p)
	}
	tw.Flush()
	fmt.Fprintf(w, "total: %s on disk, %d parameters over all graphs (full.onnx repeats the backbone)\n", bytesize.Format(uint64(total)), params)
	ops.write(w)
	digest, err := Digest(b.Dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "digest: sha256 %s (the manifest, the graphs and their external data; a closed-loop journal records it)\n", digest)
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

// graphFiles lists the graph files in execution order: prefix, layers, adapters and controllers by
// layer, head, and the whole model.
func (m *Manifest) graphFiles() []string {
	var files []string
	files = append(files, m.Files.Prefix)
	files = append(files, m.Files.Layers...)
	for _, table := range []map[int]string{m.Files.Adapters, m.Files.Controllers} {
		for _, k := range sortedKeys(table) {
			files = append(files, table[k])
		}
	}
	return append(files, m.Files.Head, m.Files.Full)
}

// graphSize is a graph's bytes on disk, with its external data files, and its parameter count.
func (b *Bundle) graphSize(file string) (size, params int64, info *onnxgraph.ModelInfo, err error) {
	st, err := os.Stat(b.Path(file))
	if err != nil {
		return 0, 0, nil, err
	}
	size = st.Size()
	info, err = onnxgraph.ReadInfoFile(b.Path(file))
	if err != nil {
		return 0, 0, nil, err
	}
	for _, init := range info.Initializers {
		params += onnxgraph.NumElements(init.Dims)
	}
	for _, data := range externalDataOf(info, file) {
		if st, err := os.Stat(b.Path(data)); err == nil {
			size += st.Size()
		}
	}
	return size, params, info, nil
}

// opTally gathers the operators and opsets of a bundle's graphs, so that model check shows what an
// execution provider on the robot must implement before the bundle is copied there.
type opTally struct {
	types   map[string]bool   // standard-domain operator types
	foreign map[string]string // operator outside the standard domain -> first graph using it
	opsets  map[string]bool   // "domain version" as imported
}

func (t *opTally) add(file string, info *onnxgraph.ModelInfo) {
	if t.types == nil {
		t.types, t.foreign, t.opsets = map[string]bool{}, map[string]string{}, map[string]bool{}
	}
	for op := range info.Ops {
		switch {
		case op.Standard():
			t.types[op.Type] = true
		case t.foreign[op.String()] == "":
			t.foreign[op.String()] = file
		}
	}
	for domain, version := range info.Opsets {
		if domain == "" {
			domain = "ai.onnx"
		}
		t.opsets[fmt.Sprintf("%s %d", domain, version)] = true
	}
}

func (t *opTally) write(w io.Writer) {
	fmt.Fprintf(w, "ops (opset %s): %s\n", strings.Join(sortedKeys(t.opsets), ", "), strings.Join(sortedKeys(t.types), " "))
	if len(t.foreign) == 0 {
		return
	}
	var uses []string
	for _, op := range sortedKeys(t.foreign) {
		uses = append(uses, fmt.Sprintf("%s (%s)", op, t.foreign[op]))
	}
	fmt.Fprintf(w, "  outside the standard ONNX domain: %s; TensorRT's parser knows the standard domain alone, so with --provider tensorrt ONNX Runtime leaves these nodes to the CUDA provider (the CPU where CUDA has no kernel for them), between TensorRT engines\n", strings.Join(uses, ", "))
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
