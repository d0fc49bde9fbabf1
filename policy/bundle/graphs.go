package bundle

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"dysl_vla/onnxgraph"
)

// tensorSpec is one expected graph input or output.
type tensorSpec struct {
	name  string
	elem  onnxgraph.ElemType
	shape []int64
	dims  string // which manifest fields the shape comes from, for messages
}

// graphSpec is what one graph file of the bundle must look like.
type graphSpec struct {
	field   string // manifest field naming the file
	file    string
	role    string // expected "dysl.role" metadata, when the file has it
	index   int    // expected "dysl.index" metadata; -1 for none
	inputs  []tensorSpec
	outputs []tensorSpec
}

// Graph roles written in metadata_props by the builder; Load checks them when present so that a file
// listed under the wrong layer or role is caught.
const (
	MetaRole  = "dysl.role"
	MetaIndex = "dysl.index"
	// MetaHeads is the attention head count a layer graph was built with: its reshape constants carry
	// it, out of sight of the initializer shapes.
	MetaHeads = "dysl.heads"
)

// dimRule ties an initializer's shape to a manifest dim, by the builder's parameter names: a dim that
// only the graphs' internals use (vocab, mlp, adapter rank) must still agree with them.
type dimRule struct {
	prefix, suffix string // of the initializer name
	axis           int
	field          string
	value          func(Dims) int
}

var dimRules = []dimRule{
	{"", ".token_embedding", 0, "dims.vocab", func(d Dims) int { return d.Vocab }},
	{"layers.", ".mlp.gate.weight", 1, "dims.mlp", func(d Dims) int { return d.MLP }},
	{"layers.", ".mlp.up.weight", 1, "dims.mlp", func(d Dims) int { return d.MLP }},
	{"layers.", ".mlp.down.weight", 0, "dims.mlp", func(d Dims) int { return d.MLP }},
	{"adapters.", ".down.weight", 1, "dims.adapter_rank", func(d Dims) int { return d.AdapterRank }},
	{"adapters.", ".up.weight", 0, "dims.adapter_rank", func(d Dims) int { return d.AdapterRank }},
	{"adapters.", ".context.weight", 0, "dims.adapter_context x dims.hidden", func(d Dims) int { return d.AdapterContext * d.Hidden }},
	{"adapters.", ".context.weight", 1, "dims.adapter_rank", func(d Dims) int { return d.AdapterRank }},
}

// graphSpecs derives every graph's expected interface from the manifest: this is where "shapes chain"
// is defined (prefix out = layer in/out = adapter in/out = controller in = head in = [1, T, D]).
func (m *Manifest) graphSpecs() []graphSpec {
	d := m.Dims
	T, D := int64(d.Tokens), int64(d.Hidden)
	image := tensorSpec{InputImage, onnxgraph.Float, []int64{1, 3, int64(m.Image.Height), int64(m.Image.Width)}, "image.height, image.width"}
	tokens := tensorSpec{InputTokens, onnxgraph.Int64, []int64{1, int64(d.InstructionTokens)}, "dims.instruction_tokens"}
	hiddenIn := tensorSpec{InputHidden, onnxgraph.Float, []int64{1, T, D}, "dims.tokens, dims.hidden"}
	hiddenOut := tensorSpec{OutputHidden, onnxgraph.Float, []int64{1, T, D}, "dims.tokens, dims.hidden"}
	skipProb := tensorSpec{OutputSkipProb, onnxgraph.Float, []int64{1, 1}, "a [1, 1] probability"}
	actions := tensorSpec{OutputActions, onnxgraph.Float, []int64{1, int64(d.Chunk), int64(d.ActionDim)}, "dims.chunk, dims.action_dim"}

	modelInputs := []tensorSpec{image, tokens}
	if m.State != nil {
		modelInputs = append(modelInputs, tensorSpec{InputState, onnxgraph.Float, []int64{1, int64(m.StateDim())}, "the number of state.names"})
	}
	specs := []graphSpec{
		{"files.prefix", m.Files.Prefix, "prefix", -1, modelInputs, []tensorSpec{hiddenOut}},
	}
	for i, f := range m.Files.Layers {
		specs = append(specs, graphSpec{fmt.Sprintf("files.layers[%d]", i), f, "layer", i, []tensorSpec{hiddenIn}, []tensorSpec{hiddenOut}})
	}
	for _, j := range sortedKeys(m.Files.Adapters) {
		specs = append(specs, graphSpec{fmt.Sprintf("files.adapters[%d]", j), m.Files.Adapters[j], "adapter", j, []tensorSpec{hiddenIn}, []tensorSpec{hiddenOut}})
	}
	for _, j := range sortedKeys(m.Files.Controllers) {
		specs = append(specs, graphSpec{fmt.Sprintf("files.controllers[%d]", j), m.Files.Controllers[j], "controller", j, []tensorSpec{hiddenIn}, []tensorSpec{skipProb}})
	}
	specs = append(specs,
		graphSpec{"files.head", m.Files.Head, "head", -1, []tensorSpec{hiddenIn}, []tensorSpec{actions}},
		graphSpec{"files.full", m.Files.Full, "full", -1, modelInputs, []tensorSpec{actions}},
	)
	return specs
}

// checkGraphs opens every graph the manifest names and checks it against its spec.
func checkGraphs(dir string, m *Manifest) []Problem {
	var ps []Problem
	for _, spec := range m.graphSpecs() {
		if spec.file == "" {
			continue // reported by checkFileTable
		}
		ps = append(ps, checkGraph(dir, spec, m.Dims)...)
	}
	return ps
}

// linkOnPath is the first part of the relative path rel, under dir, that is a symbolic link, as a
// path relative to dir; "" when none is (or a part is missing: reported where the file is opened).
func linkOnPath(dir, rel string) string {
	part := ""
	for _, name := range strings.Split(filepath.Clean(rel), string(filepath.Separator)) {
		part = filepath.Join(part, name)
		st, err := os.Lstat(filepath.Join(dir, part))
		if err != nil {
			return ""
		}
		if st.Mode()&os.ModeSymlink != 0 {
			return part
		}
	}
	return ""
}

// insideBundle reports whether a manifest path stays inside the bundle directory.
func insideBundle(file string) bool {
	if filepath.IsAbs(file) {
		return false
	}
	clean := filepath.Clean(file)
	return clean != ".." && !strings.HasPrefix(clean, ".."+string(filepath.Separator))
}

func checkGraph(dir string, spec graphSpec, dims Dims) []Problem {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{File: spec.file, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if !insideBundle(spec.file) {
		return []Problem{{ManifestFile, spec.field, fmt.Sprintf("path %q must be relative and inside the bundle directory", spec.file)}}
	}
	if link := linkOnPath(dir, spec.file); link != "" {
		return []Problem{{ManifestFile, spec.field, fmt.Sprintf("%s is reached through the symbolic link %s: expected the file itself in the bundle (a rebuild writes the graphs in place, and would write through the link into what it points at)", spec.file, link)}}
	}
	path := filepath.Join(dir, spec.file)
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return []Problem{{ManifestFile, spec.field, fmt.Sprintf("file %s does not exist", spec.file)}}
		}
		return []Problem{{spec.file, "", err.Error()}}
	}
	info, err := onnxgraph.ReadInfo(data)
	if err != nil {
		return []Problem{{spec.file, "", fmt.Sprintf("corrupt: %v", err)}}
	}
	// The operators a graph built here uses are checked at one opset, onnxgraph.OpsetVersion, which
	// TensorRT 10, ONNX Runtime and onnx-gomlx all read. A graph declaring another can pass everything
	// here and still be refused at its first run: ReduceMean's axes, an attribute up to opset 17, are
	// an input from 18 (a helper's layer declaring 18, then 23, passed the structure check and failed
	// in ONNX Runtime). The standard domain is spelled "" or "ai.onnx"; every entry is checked.
	declared := 0
	for _, domain := range []string{"", "ai.onnx"} {
		if v, ok := info.Opsets[domain]; ok {
			declared++
			if v != onnxgraph.OpsetVersion {
				add("opset_import", "declares opset %d of the standard domain (%q): expected %d, the opset this package's operators are built and checked at",
					v, domain, onnxgraph.OpsetVersion)
			}
		}
	}
	if declared == 0 {
		add("opset_import", "declares no opset of the standard domain: expected %d", onnxgraph.OpsetVersion)
	}
	// The IR version is held to the one this package writes, as the opset is: opset 17 came with IR 8,
	// and a runtime older than a file's IR version refuses the file at load, on the robot, however
	// well the graph passed here (ONNX Runtime 1.24.1 runs IR 3 to 13 alike, so nothing here would
	// tell).
	if info.IRVersion != onnxgraph.IRVersion {
		add("ir_version", "is %d: expected %d, the IR version of opset %d that this package writes",
			info.IRVersion, onnxgraph.IRVersion, onnxgraph.OpsetVersion)
	}

	checkTensors := func(kind string, want []tensorSpec, got []onnxgraph.TensorInfo) {
		byName := map[string]onnxgraph.TensorInfo{}
		for _, t := range got {
			byName[t.Name] = t
		}
		for _, w := range want {
			t, ok := byName[w.name]
			if !ok {
				add(kind+" "+w.name, "missing (the graph's %ss are %s)", kind, names(got))
				continue
			}
			delete(byName, w.name)
			if t.ElemType != w.elem {
				add(kind+" "+w.name, "element type is %v, want %v", t.ElemType, w.elem)
			}
			if !shapeMatches(t.Shape, w.shape) {
				add(kind+" "+w.name, "shape is %v, want %v (%s)", t.Shape, w.shape, w.dims)
			}
		}
		for name := range byName {
			add(kind+" "+name, "unexpected %s (the bundle passes only %s)", kind, specNames(want))
		}
	}
	checkTensors("input", spec.inputs, info.Inputs)
	checkTensors("output", spec.outputs, info.Outputs)

	if role, ok := info.Metadata[MetaRole]; ok && role != spec.role {
		add("metadata "+MetaRole, "is %q but the manifest lists the file as %s (%s)", role, spec.role, spec.field)
	}
	if index, ok := info.Metadata[MetaIndex]; ok && spec.index >= 0 && index != strconv.Itoa(spec.index) {
		add("metadata "+MetaIndex, "is %s but the manifest lists the file as %s", index, spec.field)
	}
	if heads, ok := info.Metadata[MetaHeads]; ok && heads != strconv.Itoa(dims.Heads) {
		add("metadata "+MetaHeads, "is %s but dims.heads is %d", heads, dims.Heads)
	}
	for _, init := range info.Initializers {
		for _, r := range dimRules {
			if strings.HasPrefix(init.Name, r.prefix) && strings.HasSuffix(init.Name, r.suffix) &&
				len(init.Dims) > r.axis && init.Dims[r.axis] != int64(r.value(dims)) {
				add("initializer "+init.Name, "shape %v disagrees with %s = %d", init.Dims, r.field, r.value(dims))
			}
		}
	}
	nonFinite := map[string]int64{}
	for _, init := range info.Initializers {
		nonFinite[init.Name] += init.NonFinite
		// ONNX Runtime refuses a tensor whose data does not fill its shape exactly; say so here.
		switch want := dataBytes(init); {
		case want < 0 && init.ElemType.Size() > 0:
			add("initializer "+init.Name, "shape %v has a negative dimension or more values than memory holds", init.Dims)
		case init.RawBytes >= 0 && want >= 0 && init.RawBytes != want:
			add("initializer "+init.Name, "holds %d bytes of data; %v %v needs %d", init.RawBytes, init.ElemType, init.Dims, want)
		}
	}

	checked := map[string]int64{} // external data file -> size
	for _, init := range info.Initializers {
		ref := init.External
		if ref == nil {
			continue
		}
		field := "initializer " + init.Name
		if !insideBundle(ref.Location) {
			add(field, "external data location %q must be relative and inside the bundle", ref.Location)
			continue
		}
		size, ok := checked[ref.Location]
		if !ok {
			size = -1 // said once per file, below
			// ONNX Runtime refuses data that escapes the model's directory, through a link on any
			// part of its path; a rebuild would write through it.
			link := linkOnPath(filepath.Dir(path), ref.Location)
			switch st, err := os.Lstat(filepath.Join(filepath.Dir(path), ref.Location)); {
			case link != "":
				add(field, "external data file %s is reached through the symbolic link %s: expected the file itself in the bundle", ref.Location, link)
			case err != nil:
				add(field, "external data file %s is missing", ref.Location)
			case !st.Mode().IsRegular():
				add(field, "external data file %s is not a regular file", ref.Location)
			default:
				size = st.Size()
			}
			checked[ref.Location] = size
		}
		if size < 0 {
			continue
		}
		want, length := dataBytes(init), ref.Length
		if length == 0 { // absent: the tensor's own size, as ONNX Runtime reads it
			length = want
		}
		switch {
		case ref.Offset < 0 || ref.Length < 0:
			add(field, "external data offset %d and length %d must not be negative", ref.Offset, ref.Length)
			continue
		case want >= 0 && length != want:
			add(field, "external data length %d; %v %v needs %d bytes", ref.Length, init.ElemType, init.Dims, want)
			continue
		case length > size || ref.Offset > size-length: // not Offset+Length, which can wrap
			add(field, "external data of %d bytes at offset %d is past the end of %s (%d bytes)", length, ref.Offset, ref.Location, size)
			continue
		}
		n, err := externalNonFinite(filepath.Join(filepath.Dir(path), ref.Location), init.ElemType, ref.Offset, length)
		if err != nil {
			add(field, "external data %s: %v", ref.Location, err)
		}
		nonFinite[init.Name] += n
	}
	for _, init := range info.Initializers {
		if n := nonFinite[init.Name]; n > 0 {
			add("initializer "+init.Name, "%d of %d values are not finite (NaN or Inf)", n, onnxgraph.NumElements(init.Dims))
		}
	}
	return ps
}

// externalNonFinite counts the non-finite values of length bytes of one initializer's external data,
// checked to lie within the file, read a megabyte at a time: a bench-sized layer's data is hundreds.
func externalNonFinite(path string, t onnxgraph.ElemType, offset, length int64) (int64, error) {
	if t != onnxgraph.Float && t != onnxgraph.Double {
		return 0, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n int64
	buf := make([]byte, 1<<20) // a multiple of both element sizes
	for done := int64(0); done < length; {
		part := buf[:min(int64(len(buf)), length-done)]
		if _, err := f.ReadAt(part, offset+done); err != nil {
			return n, err
		}
		n += onnxgraph.CountNonFinite(t, part)
		done += int64(len(part))
	}
	return n, nil
}

// dataBytes is the byte size of an initializer's values by its type and shape, -1 when the type has
// no fixed size or the shape is negative or too large to hold.
func dataBytes(init onnxgraph.InitializerInfo) int64 {
	n := int64(init.ElemType.Size())
	if n == 0 {
		return -1
	}
	for _, d := range init.Dims {
		if d < 0 || (d > 0 && n > math.MaxInt64/d) {
			return -1
		}
		n *= d
	}
	return n
}

// shapeMatches treats a symbolic dimension (-1) in the file as matching any size.
func shapeMatches(got, want []int64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] && got[i] != -1 {
			return false
		}
	}
	return true
}

func names(ts []onnxgraph.TensorInfo) string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

func specNames(ts []tensorSpec) string {
	var out []string
	for _, t := range ts {
		out = append(out, t.name)
	}
	return strings.Join(out, ", ")
}
