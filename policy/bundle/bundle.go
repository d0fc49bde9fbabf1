package bundle

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/google/renameio/v2"
	"gopkg.in/yaml.v3"
)

// Bundle is a loaded, validated bundle: its directory and manifest.
type Bundle struct {
	Dir      string
	Manifest Manifest
}

// Path returns the path of a file named by the manifest (relative to the bundle directory).
func (b *Bundle) Path(file string) string { return filepath.Join(b.Dir, file) }

// ErrInvalid is matched (errors.Is) by every error Load returns for a bundle that is present but wrong.
var ErrInvalid = errors.New("invalid model bundle")

// Problem is one violation found by Load: the file it is in, the manifest field or graph tensor it is
// about, and what was expected.
type Problem struct {
	File    string // ManifestFile or a graph file
	Field   string // e.g. "static_layers", "files.adapters[3]", "input hidden_in"
	Message string
}

func (p Problem) String() string {
	if p.Field == "" {
		return p.File + ": " + p.Message
	}
	return p.File + ": " + p.Field + ": " + p.Message
}

// ValidationError lists every problem of a bundle, not just the first.
type ValidationError struct {
	Dir      string
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "bundle %s: %d problem(s):", e.Dir, len(e.Problems))
	for _, p := range e.Problems {
		sb.WriteString("\n  - ")
		sb.WriteString(p.String())
	}
	return sb.String()
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Write stores m as dir/manifest.yaml, creating dir if needed, with m.SHA256 set to the digests of
// the graphs and external data files m names that are in dir (write the graphs first). It does not
// validate m (tools write bundles step by step); Load does. The tools change a bundle through
// Replace, which calls Write in its staging directory; the file is replaced whole (renamed over), so
// a symbolic link there is replaced, not written through.
func Write(dir string, m *Manifest) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	sums, err := fileSums(dir, m.computeFiles(dir))
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	return writeManifest(dir, m, sums)
}

// writeManifest stores m as dir/manifest.yaml with sums as its sha256 table (Write).
func writeManifest(dir string, m *Manifest, sums map[string]string) error {
	m.SHA256 = sums
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(m); err != nil {
		return fmt.Errorf("bundle: encoding manifest: %w", err)
	}
	if err := renameio.WriteFile(filepath.Join(dir, ManifestFile), buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	return nil
}

// ReadManifest parses dir/manifest.yaml without validating it. Unknown fields are an error, so a typo
// cannot silently drop a setting; so are a fraction in an integer field and a required field left out
// whose zero would mean something else (missingProblems), which the decoder would not tell.
func ReadManifest(dir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var m Manifest
	if err := dec.Decode(&m); err == io.EOF { // no document: a file cut short, or comments alone
		return nil, &ValidationError{Dir: dir, Problems: []Problem{{File: ManifestFile, Message: "is empty: expected a " + FormatVersion + " manifest (format, dims, files, ...)"}}}
	} else if err != nil {
		return nil, err
	}
	// A second document after "---" would be ignored: whoever wrote it meant something by it. A bare
	// "---" at the end (an empty document, a comment) says nothing and is let be.
	for {
		var more yaml.Node
		err := dec.Decode(&more)
		if err == io.EOF {
			break
		}
		empty := len(more.Content) == 0 || len(more.Content) == 1 && more.Content[0].ShortTag() == "!!null"
		if err != nil || !empty {
			return nil, &ValidationError{Dir: dir, Problems: []Problem{{File: ManifestFile, Message: "holds more than one YAML document (a second '---'): expected one"}}}
		}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) > 0 {
		ps := integerProblems(doc.Content[0], reflect.TypeOf(m), "")
		ps = append(ps, m.missingProblems(doc.Content[0])...)
		if len(ps) > 0 {
			return nil, &ValidationError{Dir: dir, Problems: ps}
		}
	}
	return &m, nil
}

// missingProblems names the required fields that root, the manifest's YAML mapping, leaves out where
// the zero the decoder puts in their place is a valid value with another meaning: a manifest without
// action.gripper_index would read column 0 (x) as the gripper, and drive the gripper's lead, its
// minimum hold and the MAVLink gripper commands from it.
func (m *Manifest) missingProblems(root *yaml.Node) []Problem {
	// Decoded a second time into pointers, which the decoder leaves nil for a key left out or given as
	// null ("gripper_index:", "~"), and fills as it filled m: through aliases and merge keys ("<<").
	var required struct {
		Action struct {
			GripperIndex *int `yaml:"gripper_index"`
		} `yaml:"action"`
	}
	if err := root.Decode(&required); err == nil && required.Action.GripperIndex != nil {
		return nil
	}
	columns := "0..dims.action_dim-1"
	if m.Dims.ActionDim > 0 {
		columns = fmt.Sprintf("0..%d", m.Dims.ActionDim-1)
	}
	return []Problem{{ManifestFile, "action.gripper_index", "missing: expected -1 (no gripper) or a column index " + columns}}
}

// integerProblems lists the integer fields (and int map keys) of t whose YAML value has a fraction (the
// decoder truncates layers: 8.5 to 8 without a word), and the int map keys given twice in two
// spellings (3 and 0x3, 4 and 04: YAML compares keys as text, and the last one would silently win).
func integerProblems(n *yaml.Node, t reflect.Type, path string) []Problem {
	join := func(key string) string {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for n.Kind == yaml.AliasNode && n.Alias != nil { // chunk: *x takes x's value, 8.9 included
		n = n.Alias
	}
	var ps []Problem
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			for f := range t.Fields() {
				if tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); tag == key {
					ps = append(ps, integerProblems(n.Content[i+1], f.Type, join(key))...)
				}
			}
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return nil
		}
		for i, child := range n.Content {
			ps = append(ps, integerProblems(child, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		seen := map[int64]string{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i]
			ps = append(ps, integerProblems(key, t.Key(), path+" key")...)
			var k int64
			if t.Key().Kind() >= reflect.Int && t.Key().Kind() <= reflect.Int64 && key.Decode(&k) == nil {
				if first, twice := seen[k]; twice {
					ps = append(ps, Problem{ManifestFile, path, fmt.Sprintf("key %d is given twice, as %s and as %s", k, first, key.Value)})
				}
				seen[k] = key.Value
			}
			ps = append(ps, integerProblems(n.Content[i+1], t.Elem(), fmt.Sprintf("%s[%s]", path, key.Value))...)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float" {
			if f, err := strconv.ParseFloat(n.Value, 64); err != nil || f != math.Trunc(f) {
				ps = append(ps, Problem{ManifestFile, path, fmt.Sprintf("is %s, must be a whole number", n.Value)})
			}
		}
	}
	return ps
}

// Load reads and validates the bundle in dir: the manifest's fields and every graph it names (present,
// an ONNX model, inputs and outputs with the names, element types and shapes the manifest's dims
// imply, external data present), and each graph's and data file's SHA-256 against the manifest's
// sha256 table when it has one (CheckRecordedFiles). On failure it returns a *ValidationError listing
// every problem.
func Load(dir string) (*Bundle, error) {
	return load(dir, true)
}

// load is Load, comparing the files with the manifest's sha256 table only when checkDigests.
func load(dir string, checkDigests bool) (*Bundle, error) {
	m, err := ReadManifest(dir)
	var invalid *ValidationError
	if errors.As(err, &invalid) {
		return nil, invalid
	}
	if err != nil {
		return nil, &ValidationError{Dir: dir, Problems: []Problem{{File: ManifestFile, Message: err.Error()}}}
	}
	problems := m.Validate()
	if linkOnPath(dir, ManifestFile) != "" {
		problems = append(problems, Problem{File: ManifestFile, Message: "is a symbolic link: expected the file itself in the bundle (a change to the bundle writes it in place, and would write through the link)"})
	}
	if len(problems) == 0 || dimsUsable(problems) {
		problems = append(problems, checkGraphs(dir, m)...)
	}
	if len(problems) == 0 && checkDigests {
		// checkGraphs has read every byte of the graphs and their data already; hashing them too
		// costs ~20 ms on models/closedloop/small_relative (6 MB), against 0.2 to 0.5 s for ONNX
		// Runtime to open them and warm up. A graph of another bundle, of the same shapes, passes every other check.
		problems = CheckRecordedFiles(dir, m)
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Dir: dir, Problems: problems}
	}
	return &Bundle{Dir: dir, Manifest: *m}, nil
}

// dimsUsable says whether graph shapes can be checked: not when the dims themselves are wrong.
func dimsUsable(problems []Problem) bool {
	for _, p := range problems {
		if strings.HasPrefix(p.Field, "dims.") || strings.HasPrefix(p.Field, "image.width") || strings.HasPrefix(p.Field, "image.height") {
			return false
		}
	}
	return true
}

// Validate checks the manifest's own fields (no files) and returns every problem found.
func (m *Manifest) Validate() []Problem {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{File: ManifestFile, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if m.Format != FormatVersion {
		add("format", "is %q, want %q", m.Format, FormatVersion)
	}
	if m.Provenance.Adapters == "" {
		add("provenance.adapters", "must say how the adapters were made")
	}
	if m.Provenance.Controllers == "" {
		add("provenance.controllers", "must say how the controllers were made")
	}

	d := m.Dims
	// The upper bounds are far beyond any VLA backbone (OpenVLA: 32 layers of 4096, 32k vocabulary);
	// past them a graph with symbolic axes would pass its checks and the engine would allocate its
	// buffers from these numbers, gigabytes or more, before anything could say so.
	for _, f := range []struct {
		name       string
		value, max int
	}{
		{"layers", d.Layers, 1024}, {"hidden", d.Hidden, 1 << 16}, {"heads", d.Heads, 1 << 10}, {"mlp", d.MLP, 1 << 20},
		{"tokens", d.Tokens, 1 << 16}, {"instruction_tokens", d.InstructionTokens, 1 << 16}, {"vocab", d.Vocab, 1 << 24},
		{"adapter_rank", d.AdapterRank, 1 << 16}, {"chunk", d.Chunk, 4096}, {"action_dim", d.ActionDim, 1024},
	} {
		if f.value <= 0 || f.value > f.max {
			add("dims."+f.name, "is %d, must be in [1, %d]", f.value, f.max)
		}
	}
	if limit := 1 << 28; d.Tokens > 0 && d.Hidden > 0 && d.Tokens > limit/d.Hidden {
		add("dims.tokens", "tokens × hidden = %d × %d values per hidden state, must be at most %d (1 GiB of float32)", d.Tokens, d.Hidden, limit)
	}
	if d.AdapterContext < 0 {
		add("dims.adapter_context", "is %d, must be >= 0 (0: plain adapters)", d.AdapterContext)
	}
	if d.Heads > 0 && d.Hidden%d.Heads != 0 {
		add("dims.heads", "%d does not divide dims.hidden %d", d.Heads, d.Hidden)
	}
	if d.Tokens > 0 && d.InstructionTokens+d.Chunk > d.Tokens {
		add("dims.tokens", "is %d, less than instruction_tokens + chunk = %d", d.Tokens, d.InstructionTokens+d.Chunk)
	}

	if m.Image.Width <= 0 || m.Image.Height <= 0 || m.Image.Width > MaxImageSide || m.Image.Height > MaxImageSide {
		add("image.width", "image size %dx%d must be positive and at most %d a side", m.Image.Width, m.Image.Height, MaxImageSide)
	}
	if m.Image.Resize != "center_crop_resize" && m.Image.Resize != "stretch" {
		add("image.resize", "is %q, want center_crop_resize or stretch", m.Image.Resize)
	}
	ps = append(ps, checkStats("image", m.Image.Mean, m.Image.Std, 3, "3 (RGB)")...)
	if b := m.Image.Balance; b != nil {
		if len(b) != 3 {
			add("image.balance", "has %d values, want 3 (RGB) or none", len(b))
		} else if !(b[0] > 0 && b[0] <= 1 && b[1] > 0 && b[1] <= 1 && b[2] > 0 && b[2] <= 1) {
			add("image.balance", "is %v, want each channel's median in (0, 1]", b)
		}
	}
	if m.Tokenizer.Kind != "bytes" {
		add("tokenizer.kind", "is %q, want bytes", m.Tokenizer.Kind)
	} else if d.Vocab > 0 && d.Vocab < 257 {
		add("dims.vocab", "is %d, the bytes tokenizer needs at least 257", d.Vocab)
	}

	act := m.Action
	if len(act.Names) != d.ActionDim {
		add("action.names", "has %d names, want dims.action_dim = %d", len(act.Names), d.ActionDim)
	}
	ps = append(ps, checkNames("action", act.Names)...)
	ps = append(ps, checkStats("action", act.Mean, act.Std, d.ActionDim, fmt.Sprintf("dims.action_dim = %d", d.ActionDim))...)
	if act.GripperIndex < -1 || act.GripperIndex >= max(d.ActionDim, 0) {
		add("action.gripper_index", "is %d, want -1 (no gripper) or an index below %d", act.GripperIndex, d.ActionDim)
	}
	if !(act.DtSeconds >= MinDtSeconds && act.DtSeconds <= MaxDtSeconds) {
		add("action.dt_seconds", "is %g, must be from %g to %g seconds", act.DtSeconds, MinDtSeconds, MaxDtSeconds)
	}

	if st := m.State; st != nil {
		if len(st.Names) == 0 {
			add("state.names", "is empty: a model without a state input has no state block")
		}
		ps = append(ps, checkNames("state", st.Names)...)
		ps = append(ps, checkStats("state", st.Mean, st.Std, len(st.Names), fmt.Sprintf("one per state name (%d)", len(st.Names)))...)
	}

	ps = append(ps, m.checkStatic()...)
	if n := len(m.StaticProfile); n != 0 && n != d.Layers {
		add("static_profile", "has %d values, want one per layer (%d) or none", n, d.Layers)
	}
	for i, v := range m.StaticProfile {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			add(fmt.Sprintf("static_profile[%d]", i), "is %g, must be finite (calibration saw non-finite hidden states)", v)
		}
	}
	ps = append(ps, m.checkFileTable()...)
	for _, f := range []struct {
		name  string
		value int64
	}{{"prefix", m.FLOPs.Prefix}, {"layer", m.FLOPs.Layer}, {"adapter", m.FLOPs.Adapter}, {"controller", m.FLOPs.Controller}, {"head", m.FLOPs.Head}} {
		switch {
		case f.value < 0:
			add("flops."+f.name, "is %d, must be >= 0", f.value)
		case f.value > maxGraphFLOPs:
			add("flops."+f.name, "is %d, must be at most %d (2^50: beyond any model a robot runs, and the sums over an inference would overflow)", f.value, int64(maxGraphFLOPs))
		}
	}
	if m.FLOPs.Layer == 0 && m.FLOPs != (FLOPs{}) {
		add("flops.layer", "is 0 where the other graphs' are counted: ideal speedups are ratios of layers' FLOPs")
	}
	return ps
}

// maxGraphFLOPs bounds each graph's FLOPs per inference, so that an inference's total (a few
// thousand graphs at most) stays well inside an int64.
const maxGraphFLOPs = 1 << 50

// checkNames refuses an empty name and a name given twice: the names say which value is which, in
// the chunks the node publishes (action) and in the joint states it reads (state).
func checkNames(section string, names []string) []Problem {
	var ps []Problem
	seen := map[string]bool{}
	for i, name := range names {
		field := fmt.Sprintf("%s.names[%d]", section, i)
		if name == "" {
			ps = append(ps, Problem{ManifestFile, field, "is empty"})
		} else if seen[name] {
			ps = append(ps, Problem{ManifestFile, field, fmt.Sprintf("repeats %q", name)})
		}
		seen[name] = true
	}
	return ps
}

func checkStats(section string, mean, std []float64, want int, wantText string) []Problem {
	var ps []Problem
	if len(mean) != want {
		ps = append(ps, Problem{ManifestFile, section + ".mean", fmt.Sprintf("has %d values, want %s", len(mean), wantText)})
	}
	if len(std) != want {
		ps = append(ps, Problem{ManifestFile, section + ".std", fmt.Sprintf("has %d values, want %s", len(std), wantText)})
	}
	for i, s := range std {
		if !(s > 0) || math.IsInf(s, 0) {
			ps = append(ps, Problem{ManifestFile, fmt.Sprintf("%s.std[%d]", section, i), fmt.Sprintf("is %g, must be > 0 and finite", s)})
		}
	}
	for i, v := range mean {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			ps = append(ps, Problem{ManifestFile, fmt.Sprintf("%s.mean[%d]", section, i), fmt.Sprintf("is %g, must be finite", v)})
		}
	}
	return ps
}

func (m *Manifest) checkStatic() []Problem {
	var ps []Problem
	add := func(format string, args ...any) {
		ps = append(ps, Problem{ManifestFile, "static_layers", fmt.Sprintf(format, args...)})
	}
	L := m.Dims.Layers
	s := m.StaticLayers
	if len(s) == 0 {
		add("is empty; it must hold at least the last layer (%d)", L-1)
		return ps
	}
	seen := map[int]bool{}
	for i, layer := range s {
		if layer < 0 || layer >= L {
			add("layer %d is out of range [0, %d)", layer, L)
		}
		if seen[layer] {
			add("layer %d is listed twice", layer)
		}
		seen[layer] = true
		if i > 0 && layer < s[i-1] {
			add("is not ascending (%d after %d)", layer, s[i-1])
		}
	}
	if L > 0 && !seen[L-1] {
		add("must contain the last layer (%d) so every dynamic layer has a static layer to jump to", L-1)
	}
	return ps
}

func (m *Manifest) checkFileTable() []Problem {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{ManifestFile, field, fmt.Sprintf(format, args...)})
	}
	for _, f := range []struct{ field, value string }{{"files.prefix", m.Files.Prefix}, {"files.head", m.Files.Head}, {"files.full", m.Files.Full}} {
		if f.value == "" {
			add(f.field, "is empty")
		}
	}
	if len(m.Files.Layers) != m.Dims.Layers {
		// Checked before anything is sized by dims.layers: a claimed billion layers must cost nothing.
		add("files.layers", "names %d graphs, want one per layer (%d)", len(m.Files.Layers), m.Dims.Layers)
		return ps
	}
	dynamic := map[int]bool{}
	for _, j := range m.DynamicLayers() {
		dynamic[j] = true
	}
	for _, table := range []struct {
		field string
		files map[int]string
	}{{"files.adapters", m.Files.Adapters}, {"files.controllers", m.Files.Controllers}} {
		for _, j := range m.DynamicLayers() {
			if table.files[j] == "" {
				add(fmt.Sprintf("%s[%d]", table.field, j), "missing: every dynamic layer needs one")
			}
		}
		for _, j := range sortedKeys(table.files) {
			if !dynamic[j] {
				add(fmt.Sprintf("%s[%d]", table.field, j), "layer %d is not a dynamic layer (static or out of range)", j)
			}
		}
	}
	return ps
}

// DynamicLayers are the layers not in StaticLayers, ascending.
func (m *Manifest) DynamicLayers() []int {
	static := map[int]bool{}
	for _, s := range m.StaticLayers {
		static[s] = true
	}
	var out []int
	for j := 0; j < m.Dims.Layers; j++ {
		if !static[j] {
			out = append(out, j)
		}
	}
	return out
}

// Segment is one static layer and the dynamic layers strictly between the previous static layer (or
// the prefix) and it, in order. Skipping inside a segment jumps to Static.
type Segment struct {
	Dynamic []int
	Static  int
}

// Segments splits the layers by the static set, in execution order. Dynamic layers after the last
// static layer cannot occur in a valid bundle (the last layer is static).
func (m *Manifest) Segments() []Segment {
	var out []Segment
	prev := -1
	for _, s := range m.StaticLayers {
		seg := Segment{Static: s}
		for j := prev + 1; j < s; j++ {
			seg.Dynamic = append(seg.Dynamic, j)
		}
		out = append(out, seg)
		prev = s
	}
	return out
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	return slices.Sorted(maps.Keys(m))
}
