package bundle_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"gopkg.in/yaml.v3"

	"dysl_vla/modelbuild/modelbuildtest"
	"dysl_vla/onnxgraph"
	"dysl_vla/policy/bundle"
)

// goodDir is a tiny bundle built once for all tests; cases copy it before corrupting it.
var goodDir string

// goodDirEnv hands goodDir to the child process diskfull.Run starts (this test binary again, for one
// test): the child only reads the good bundle, and the parent keeps it until the child is done, so the
// child need not build its own (6 s under -race).
const goodDirEnv = "DYSL_BUNDLE_TEST_GOOD_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(goodDirEnv); dir != "" {
		goodDir = dir
		os.Exit(m.Run())
	}
	os.Exit(modelbuildtest.RunWithTinyBundle(m, 5, &goodDir))
}

// copyBundle returns a fresh copy of the good bundle and its manifest.
func copyBundle(t *testing.T) (string, *bundle.Manifest) {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(goodDir)
	require.NoError(t, err)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(goodDir, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644))
	}
	m, err := bundle.ReadManifest(dir)
	require.NoError(t, err)
	return dir, m
}

func problems(t *testing.T, dir string) []string {
	t.Helper()
	_, err := bundle.Load(dir)
	require.Error(t, err)
	require.ErrorIs(t, err, bundle.ErrInvalid)
	var invalid *bundle.ValidationError
	require.True(t, errors.As(err, &invalid))
	var out []string
	for _, p := range invalid.Problems {
		out = append(out, p.String())
	}
	return out
}

func requireProblem(t *testing.T, got []string, want string) {
	t.Helper()
	for _, p := range got {
		if strings.Contains(p, want) {
			return
		}
	}
	require.Failf(t, "problem not reported", "want a problem containing %q, got:\n%s", want, strings.Join(got, "\n"))
}

func TestLoadGoodBundle(t *testing.T) {
	b, err := bundle.Load(goodDir)
	require.NoError(t, err)
	require.Equal(t, goodDir, b.Dir)
	require.Equal(t, filepath.Join(goodDir, "head.onnx"), b.Path(b.Manifest.Files.Head))
	require.Contains(t, b.Manifest.StaticLayers, b.Manifest.Dims.Layers-1)
}

// manifestCases corrupt one manifest field each; every one must be reported with its field name.
func TestManifestProblems(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(m *bundle.Manifest)
		want   []string
	}{
		{"wrong format", func(m *bundle.Manifest) { m.Format = "dysl-bundle/0" }, []string{`format: is "dysl-bundle/0", want "dysl-bundle/1"`}},
		{"static empty", func(m *bundle.Manifest) { m.StaticLayers = nil }, []string{"static_layers: is empty"}},
		{"static unsorted", func(m *bundle.Manifest) { m.StaticLayers = []int{7, 0} }, []string{"static_layers: is not ascending (0 after 7)"}},
		{"static out of range", func(m *bundle.Manifest) { m.StaticLayers = []int{0, 7, 9} }, []string{"static_layers: layer 9 is out of range [0, 8)"}},
		{"static duplicated", func(m *bundle.Manifest) { m.StaticLayers = []int{0, 0, 7} }, []string{"static_layers: layer 0 is listed twice"}},
		{"static without last layer", func(m *bundle.Manifest) {
			m.StaticLayers = []int{0, 6}
			m.Files.Adapters[7], m.Files.Controllers[7] = "adapter_06.onnx", "controller_06.onnx"
			delete(m.Files.Adapters, 6)
			delete(m.Files.Controllers, 6)
		}, []string{"static_layers: must contain the last layer (7)"}},
		{"adapter missing", func(m *bundle.Manifest) { delete(m.Files.Adapters, 3) }, []string{"files.adapters[3]: missing: every dynamic layer needs one"}},
		{"controller for a static layer", func(m *bundle.Manifest) { m.Files.Controllers[7] = "controller_01.onnx" },
			[]string{"files.controllers[7]: layer 7 is not a dynamic layer"}},
		{"layers missing", func(m *bundle.Manifest) { m.Files.Layers = m.Files.Layers[:7] }, []string{"files.layers: names 7 graphs, want one per layer (8)"}},
		{"action stats length", func(m *bundle.Manifest) { m.Action.Mean = m.Action.Mean[:6] }, []string{"action.mean: has 6 values, want dims.action_dim = 7"}},
		{"action std zero", func(m *bundle.Manifest) { m.Action.Std[2] = 0 }, []string{"action.std[2]: is 0, must be > 0"}},
		// Sizes the engine would allocate buffers from, past any VLA backbone.
		{"huge image", func(m *bundle.Manifest) { m.Image.Width, m.Image.Height = 3_000_000_000, 3_000_000_000 },
			[]string{"image.width: image size 3000000000x3000000000 must be positive and at most 8192 a side"}},
		{"huge dims", func(m *bundle.Manifest) { m.Dims.Chunk, m.Dims.Tokens = 1<<40, 1<<40 },
			[]string{"dims.chunk: is 1099511627776, must be in [1, 4096]", "dims.tokens: is 1099511627776, must be in [1, 65536]"}},
		{"hidden states too large", func(m *bundle.Manifest) { m.Dims.Tokens, m.Dims.Hidden = 60000, 60000 },
			[]string{"dims.tokens: tokens × hidden = 60000 × 60000 values per hidden state, must be at most 268435456 (1 GiB of float32)"}},
		{"action names", func(m *bundle.Manifest) { m.Action.Names = []string{"x"} }, []string{"action.names: has 1 names, want dims.action_dim = 7"}},
		{"gripper index", func(m *bundle.Manifest) { m.Action.GripperIndex = 7 }, []string{"action.gripper_index: is 7"}},
		{"dt", func(m *bundle.Manifest) { m.Action.DtSeconds = 0 }, []string{"action.dt_seconds: is 0, must be from 1e-06 to 3600 seconds"}},
		{"image std", func(m *bundle.Manifest) { m.Image.Std = []float64{0.2, -1, 0.2} }, []string{"image.std[1]: is -1"}},
		{"resize rule", func(m *bundle.Manifest) { m.Image.Resize = "crop" }, []string{`image.resize: is "crop"`}},
		{"balance length", func(m *bundle.Manifest) { m.Image.Balance = []float64{0.5, 0.5} }, []string{"image.balance: has 2 values, want 3 (RGB) or none"}},
		{"balance range", func(m *bundle.Manifest) { m.Image.Balance = []float64{0.5, 1.5, 0.5} }, []string{"image.balance: is [0.5 1.5 0.5], want each channel's median in (0, 1]"}},
		{"tokenizer", func(m *bundle.Manifest) { m.Tokenizer.Kind = "bpe" }, []string{`tokenizer.kind: is "bpe", want bytes`}},
		{"provenance", func(m *bundle.Manifest) { m.Provenance.Controllers = "" }, []string{"provenance.controllers: must say how"}},
		{"static profile", func(m *bundle.Manifest) { m.StaticProfile = m.StaticProfile[:3] }, []string{"static_profile: has 3 values"}},
		{"path escapes the bundle", func(m *bundle.Manifest) { m.Files.Head = "../head.onnx" }, []string{`files.head: path "../head.onnx" must be relative and inside`}},
		{"state stats length", func(m *bundle.Manifest) {
			m.State = &bundle.StateSpec{Names: []string{"ee_x", "ee_y"}, Mean: []float64{0}, Std: []float64{1, 1}}
		}, []string{"state.mean: has 1 values, want one per state name (2)"}},
		{"state names", func(m *bundle.Manifest) {
			m.State = &bundle.StateSpec{Names: []string{"ee_x", "", "ee_x"}, Mean: []float64{0, 0, 0}, Std: []float64{1, 1, 1}}
		}, []string{"state.names[1]: is empty", `state.names[2]: repeats "ee_x"`}},
		{"state empty", func(m *bundle.Manifest) { m.State = &bundle.StateSpec{} }, []string{"state.names: is empty"}},
		{"action names repeated", func(m *bundle.Manifest) { m.Action.Names[1] = m.Action.Names[0] }, []string{fmt.Sprintf("action.names[1]: repeats %q", "x")}},
		{"flops beyond any model", func(m *bundle.Manifest) { m.FLOPs.Layer = 2_000_000_000_000_000_000 },
			[]string{"flops.layer: is 2000000000000000000, must be at most 1125899906842624 (2^50"}},
		{"flops of the layers missing", func(m *bundle.Manifest) { m.FLOPs.Layer = 0 }, []string{"flops.layer: is 0 where the other graphs' are counted"}},
		{"every problem is reported", func(m *bundle.Manifest) {
			m.Action.DtSeconds = -1
			m.StaticLayers = []int{7, 3, 3}
			delete(m.Files.Controllers, 2)
		}, []string{"action.dt_seconds", "static_layers: layer 3 is listed twice", "static_layers: is not ascending (3 after 7)",
			"files.controllers[2]: missing", "files.adapters[3]: layer 3 is not a dynamic layer"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, m := copyBundle(t)
			c.mutate(m)
			require.NoError(t, bundle.Write(dir, m))
			got := problems(t, dir)
			for _, want := range c.want {
				requireProblem(t, got, "manifest.yaml: "+want)
			}
		})
	}
}

func TestDimsMustMatchGraphs(t *testing.T) {
	dir, m := copyBundle(t)
	T := m.Dims.Tokens
	m.Dims.Tokens = T + 1
	require.NoError(t, bundle.Write(dir, m))
	got := problems(t, dir)
	shapes := fmt.Sprintf("shape is [1 %d 64], want [1 %d 64]", T, T+1)
	requireProblem(t, got, "prefix.onnx: output hidden_out: "+shapes+" (dims.tokens, dims.hidden)")
	requireProblem(t, got, "layer_04.onnx: input hidden_in: "+shapes)
	requireProblem(t, got, "head.onnx: input hidden_in: "+shapes)
}

func TestGraphFileProblems(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(t *testing.T, dir string, m *bundle.Manifest)
		want   string
	}{
		{"manifest missing", func(t *testing.T, dir string, _ *bundle.Manifest) {
			require.NoError(t, os.Remove(filepath.Join(dir, bundle.ManifestFile)))
		}, "manifest.yaml: open"},
		{"manifest not yaml", func(t *testing.T, dir string, _ *bundle.Manifest) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, bundle.ManifestFile), []byte("format: [unclosed"), 0o644))
		}, "manifest.yaml: yaml:"},
		{"manifest unknown field", func(t *testing.T, dir string, _ *bundle.Manifest) {
			f, err := os.OpenFile(filepath.Join(dir, bundle.ManifestFile), os.O_APPEND|os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteString("static_layer: [1]\n")
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}, "field static_layer not found"},
		{"layer file missing", func(t *testing.T, dir string, _ *bundle.Manifest) {
			require.NoError(t, os.Remove(filepath.Join(dir, "layer_03.onnx")))
		}, "manifest.yaml: files.layers[3]: file layer_03.onnx does not exist"},
		{"layer file not protobuf", func(t *testing.T, dir string, _ *bundle.Manifest) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "layer_03.onnx"), []byte("\xff\xff\xff garbage"), 0o644))
		}, "layer_03.onnx: corrupt: not an ONNX model"},
		{"layer file truncated", func(t *testing.T, dir string, _ *bundle.Manifest) {
			path := filepath.Join(dir, "layer_05.onnx")
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path, data[:len(data)-100], 0o644))
		}, "layer_05.onnx: corrupt"},
		{"layers swapped", func(t *testing.T, dir string, m *bundle.Manifest) {
			m.Files.Layers[2], m.Files.Layers[3] = m.Files.Layers[3], m.Files.Layers[2]
		}, "layer_03.onnx: metadata dysl.index: is 3 but the manifest lists the file as files.layers[2]"},
		{"controller listed as adapter", func(t *testing.T, dir string, m *bundle.Manifest) {
			m.Files.Adapters[2] = "controller_02.onnx"
		}, "controller_02.onnx: output hidden_out: missing (the graph's outputs are skip_prob)"},
		{"prefix listed as head", func(t *testing.T, dir string, m *bundle.Manifest) {
			m.Files.Head = "prefix.onnx"
		}, "prefix.onnx: input hidden_in: missing (the graph's inputs are image, tokens)"},
		{"wrong element type", func(t *testing.T, dir string, m *bundle.Manifest) {
			b := onnxgraph.NewBuilder("head")
			h := b.Input(bundle.InputHidden, onnxgraph.Double, 1, int64(m.Dims.Tokens), 64)
			b.Output(bundle.OutputActions, b.Slice(b.Slice(h, 1, 0, 8), 2, 0, 7), onnxgraph.Double, 1, 8, 7)
			_, err := b.WriteFile(filepath.Join(dir, "head.onnx"), onnxgraph.WriteOptions{})
			require.NoError(t, err)
		}, "head.onnx: input hidden_in: element type is float64, want float32"},
		{"external data missing", func(t *testing.T, dir string, m *bundle.Manifest) {
			writeHeadWithExternalData(t, dir, m.Dims.Tokens)
			require.NoError(t, os.Remove(filepath.Join(dir, "head.onnx.data")))
		}, "head.onnx: initializer head.proj.weight: external data file head.onnx.data is missing"},
		{"external data truncated", func(t *testing.T, dir string, m *bundle.Manifest) {
			writeHeadWithExternalData(t, dir, m.Dims.Tokens)
			require.NoError(t, os.Truncate(filepath.Join(dir, "head.onnx.data"), 100))
		}, "head.onnx: initializer head.proj.weight: external data of 1792 bytes at offset 0 is past the end of head.onnx.data (100 bytes)"},
		// Offset plus length wraps int64: checked without the sum, and nothing is allocated by it.
		{"external data offset and length that wrap", externalRef("4611686018427387904", "4611686018427387904"),
			"head.onnx: initializer head.proj.weight: external data length 4611686018427387904; float32 [64 7] needs 1792 bytes"},
		{"external data past the end by its offset", externalRef("9223372036854775000", "1792"),
			"head.onnx: initializer head.proj.weight: external data of 1792 bytes at offset 9223372036854775000 is past the end of head.onnx.data (1792 bytes)"},
		{"external data negative", externalRef("-8", "1792"),
			"head.onnx: initializer head.proj.weight: external data offset -8 and length 1792 must not be negative"},
		{"initializer shape past memory", func(t *testing.T, dir string, m *bundle.Manifest) {
			writeHeadWithExternalData(t, dir, m.Dims.Tokens)
			setInitializerDims(t, filepath.Join(dir, "head.onnx"), 1<<40, 1<<40)
		}, "head.onnx: initializer head.proj.weight: shape [1099511627776 1099511627776] has a negative dimension or more values than memory holds"},
		{"raw data short of its shape", func(t *testing.T, dir string, m *bundle.Manifest) {
			setInitializerDims(t, filepath.Join(dir, m.Files.Head), 64, 8)
		}, "holds 1792 bytes of data; float32 [64 8] needs 2048"},
		{"external data through a link", func(t *testing.T, dir string, m *bundle.Manifest) {
			writeHeadWithExternalData(t, dir, m.Dims.Tokens)
			elsewhere := filepath.Join(t.TempDir(), "weights.data")
			require.NoError(t, os.Rename(filepath.Join(dir, "head.onnx.data"), elsewhere))
			require.NoError(t, os.Symlink(elsewhere, filepath.Join(dir, "head.onnx.data")))
		}, "head.onnx: initializer head.proj.weight: external data file head.onnx.data is reached through the symbolic link head.onnx.data: expected the file itself in the bundle"},
		{"another opset", func(t *testing.T, dir string, m *bundle.Manifest) {
			setOpset(t, filepath.Join(dir, m.Files.Layers[0]), "", 18)
		}, `layer_00.onnx: opset_import: declares opset 18 of the standard domain (""): expected 17, the opset this package's operators are built and checked at`},
		{"two spellings of the standard domain", func(t *testing.T, dir string, m *bundle.Manifest) {
			setOpset(t, filepath.Join(dir, m.Files.Layers[0]), "ai.onnx", 17, "", 23)
		}, `layer_00.onnx: opset_import: declares opset 23 of the standard domain (""): expected 17`},
		{"another IR version", func(t *testing.T, dir string, m *bundle.Manifest) {
			setIRVersion(t, filepath.Join(dir, m.Files.Layers[0]), 10)
		}, `layer_00.onnx: ir_version: is 10: expected 8, the IR version of opset 17 that this package writes`},
		// A rebuild writes the graphs in place: through a link, into a file outside the bundle.
		{"graph through a link", func(t *testing.T, dir string, m *bundle.Manifest) {
			elsewhere := filepath.Join(t.TempDir(), "layer.onnx")
			require.NoError(t, os.Rename(filepath.Join(dir, m.Files.Layers[1]), elsewhere))
			require.NoError(t, os.Symlink(elsewhere, filepath.Join(dir, m.Files.Layers[1])))
		}, "files.layers[1]: " + "layer_01.onnx is reached through the symbolic link layer_01.onnx: expected the file itself in the bundle"},
		{"graph in a linked directory", func(t *testing.T, dir string, m *bundle.Manifest) {
			elsewhere := t.TempDir()
			require.NoError(t, os.Rename(filepath.Join(dir, m.Files.Layers[1]), filepath.Join(elsewhere, "layer_01.onnx")))
			require.NoError(t, os.Symlink(elsewhere, filepath.Join(dir, "sub")))
			m.Files.Layers[1] = filepath.Join("sub", "layer_01.onnx")
		}, "sub/layer_01.onnx is reached through the symbolic link sub: expected the file itself"},
		{"manifest through a link", func(t *testing.T, dir string, m *bundle.Manifest) {
			elsewhere := filepath.Join(t.TempDir(), "manifest.yaml")
			require.NoError(t, os.Rename(filepath.Join(dir, bundle.ManifestFile), elsewhere))
			require.NoError(t, os.Symlink(elsewhere, filepath.Join(dir, bundle.ManifestFile)))
		}, "manifest.yaml: is a symbolic link: expected the file itself in the bundle"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, m := copyBundle(t)
			c.mutate(t, dir, m)
			if _, err := os.Stat(filepath.Join(dir, bundle.ManifestFile)); err == nil && !strings.HasPrefix(c.name, "manifest") {
				require.NoError(t, bundle.Write(dir, m))
			}
			requireProblem(t, problems(t, dir), c.want)
		})
	}
}

// writeHeadWithExternalData replaces head.onnx with a graph of the right interface whose weight is
// stored as external data.
func writeHeadWithExternalData(t *testing.T, dir string, tokens int) {
	t.Helper()
	b := onnxgraph.NewBuilder("head")
	b.SetMetadata(bundle.MetaRole, "head")
	T := int64(tokens)
	h := b.Input(bundle.InputHidden, onnxgraph.Float, 1, T, 64)
	w := b.Weight("head.proj.weight", []int64{64, 7}, make([]float32, 64*7))
	b.Output(bundle.OutputActions, b.MatMul(b.Slice(h, 1, T-8, T), w), onnxgraph.Float, 1, 8, 7)
	_, err := b.WriteFile(filepath.Join(dir, "head.onnx"), onnxgraph.WriteOptions{ExternalData: true, ExternalThreshold: 1024})
	require.NoError(t, err)
	_, err = bundle.Load(dir)
	var invalid *bundle.ValidationError
	if errors.As(err, &invalid) {
		for _, p := range invalid.Problems {
			require.Equal(t, "sha256", p.Field, "the replacement head itself must be valid, its digest aside: %v", p)
		}
		return
	}
	require.NoError(t, err, "the replacement head itself must be valid")
}

// externalRef gives the bundle a head whose weights lie in external data at offset and length, as
// setExternalData writes them.
func externalRef(offset, length string) func(*testing.T, string, *bundle.Manifest) {
	return func(t *testing.T, dir string, m *bundle.Manifest) {
		writeHeadWithExternalData(t, dir, m.Dims.Tokens)
		setExternalData(t, filepath.Join(dir, "head.onnx"), map[string]string{"offset": offset, "length": length})
	}
}

// setExternalData rewrites the external-data entries (location, offset, length) of every external
// initializer of the graph at path to values, as a corrupt or hostile file would give them: the
// builder writes only consistent ones.
func setExternalData(t *testing.T, path string, values map[string]string) {
	t.Helper()
	editInitializers(t, path, func(num protowire.Number, tag, value []byte, out []byte) []byte {
		if num != 13 { // TensorProto.external_data: StringStringEntryProto key (1), value (2)
			return append(append(out, tag...), value...)
		}
		entry, _ := protowire.ConsumeBytes(value)
		key := ""
		var rewritten []byte
		eachField(t, entry, func(num protowire.Number, tag, value []byte) {
			inner, _ := protowire.ConsumeBytes(value)
			switch {
			case num == 1:
				key = string(inner)
				rewritten = append(append(rewritten, tag...), value...)
			case num == 2 && values[key] != "":
				rewritten = protowire.AppendString(append(rewritten, tag...), values[key])
			default:
				rewritten = append(append(rewritten, tag...), value...)
			}
		})
		return protowire.AppendBytes(append(out, tag...), rewritten)
	})
}

// setInitializerDims gives every initializer of the graph at path the shape dims.
func setInitializerDims(t *testing.T, path string, dims ...int64) {
	t.Helper()
	editInitializers(t, path, func(num protowire.Number, tag, value []byte, out []byte) []byte {
		if num != 1 { // TensorProto.dims
			return append(append(out, tag...), value...)
		}
		return out // dropped here, written once at the end
	}, func(out []byte) []byte {
		for _, d := range dims {
			out = protowire.AppendVarint(protowire.AppendTag(out, 1, protowire.VarintType), uint64(d))
		}
		return out
	})
}

// setOpset replaces the opsets the graph at path declares (ModelProto.opset_import (8), each an
// OperatorSetIdProto: domain (1), version (2)) with the domain and version pairs given.
func setOpset(t *testing.T, path string, pairs ...any) {
	t.Helper()
	replaceModelField(t, path, 8, func(out []byte) []byte {
		for i := 0; i+1 < len(pairs); i += 2 {
			opset := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), pairs[i].(string))
			opset = protowire.AppendVarint(protowire.AppendTag(opset, 2, protowire.VarintType), uint64(pairs[i+1].(int)))
			out = protowire.AppendBytes(protowire.AppendTag(out, 8, protowire.BytesType), opset)
		}
		return out
	})
}

// setIRVersion replaces the IR version the graph at path declares (ModelProto.ir_version (1)).
func setIRVersion(t *testing.T, path string, version uint64) {
	t.Helper()
	replaceModelField(t, path, 1, func(out []byte) []byte {
		return protowire.AppendVarint(protowire.AppendTag(out, 1, protowire.VarintType), version)
	})
}

// replaceModelField drops every field num of the ModelProto at path and appends what add writes.
func replaceModelField(t *testing.T, path string, num protowire.Number, add func([]byte) []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []byte
	eachField(t, data, func(n protowire.Number, tag, value []byte) {
		if n != num {
			out = append(append(out, tag...), value...)
		}
	})
	require.NoError(t, os.WriteFile(path, add(out), 0o644))
}

// editInitializers rewrites each field of each initializer (ModelProto.graph (7) > GraphProto.
// initializer (5)) of the graph at path with edit, then appends what each of after adds.
func editInitializers(t *testing.T, path string, edit func(num protowire.Number, tag, value, out []byte) []byte, after ...func([]byte) []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var rewrite func(msg []byte, depth int) []byte
	rewrite = func(msg []byte, depth int) []byte {
		var out []byte
		eachField(t, msg, func(num protowire.Number, tag, value []byte) {
			inner, _ := protowire.ConsumeBytes(value)
			switch {
			case depth == 0 && num == 7, depth == 1 && num == 5:
				out = protowire.AppendBytes(append(out, tag...), rewrite(inner, depth+1))
			case depth == 2:
				out = edit(num, tag, value, out)
			default:
				out = append(append(out, tag...), value...)
			}
		})
		if depth == 2 {
			for _, a := range after {
				out = a(out)
			}
		}
		return out
	}
	require.NoError(t, os.WriteFile(path, rewrite(data, 0), 0o644))
}

// eachField calls f with each field of the protobuf message msg: its number, tag and value bytes.
func eachField(t *testing.T, msg []byte, f func(num protowire.Number, tag, value []byte)) {
	t.Helper()
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		require.GreaterOrEqual(t, n, 0)
		m := protowire.ConsumeFieldValue(num, typ, msg[n:])
		require.GreaterOrEqual(t, m, 0)
		f(num, msg[:n], msg[n:n+m])
		msg = msg[n+m:]
	}
}

func TestSegments(t *testing.T) {
	cases := []struct {
		static []int
		layers int
		want   []bundle.Segment
	}{
		{[]int{7}, 8, []bundle.Segment{{Dynamic: []int{0, 1, 2, 3, 4, 5, 6}, Static: 7}}},
		{[]int{0, 7}, 8, []bundle.Segment{{Static: 0}, {Dynamic: []int{1, 2, 3, 4, 5, 6}, Static: 7}}},
		{[]int{2, 5, 7}, 8, []bundle.Segment{{Dynamic: []int{0, 1}, Static: 2}, {Dynamic: []int{3, 4}, Static: 5}, {Dynamic: []int{6}, Static: 7}}},
		{[]int{0, 1, 2}, 3, []bundle.Segment{{Static: 0}, {Static: 1}, {Static: 2}}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.static), func(t *testing.T) {
			m := bundle.Manifest{StaticLayers: c.static, Dims: bundle.Dims{Layers: c.layers}}
			require.Equal(t, c.want, m.Segments())
			var dynamic []int
			for _, s := range c.want {
				dynamic = append(dynamic, s.Dynamic...)
			}
			require.Equal(t, dynamic, m.DynamicLayers())
		})
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	_, m := copyBundle(t)
	dir := t.TempDir()
	require.NoError(t, bundle.Write(dir, m))
	again, err := bundle.ReadManifest(dir)
	require.NoError(t, err)
	require.Equal(t, m, again)
}

// A bundle's digest names what it computes with: a copy elsewhere has the same, an engine cache or
// a report beside the graphs changes nothing, and one byte changed in a graph, or in the
// manifest, changes it.
func TestDigest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a")
	require.NoError(t, os.CopyFS(dir, os.DirFS(goodDir)))
	want, err := bundle.Digest(dir)
	require.NoError(t, err)
	require.Len(t, want, 64)

	other := filepath.Join(t.TempDir(), "b")
	require.NoError(t, os.CopyFS(other, os.DirFS(dir)))
	require.NoError(t, os.MkdirAll(filepath.Join(other, ".trt", "engines"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(other, ".trt", "engines", "e.engine"), []byte("cache"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(other, "closedloop"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(other, "closedloop", "report.md"), []byte("# report"), 0o644))
	got, err := bundle.Digest(other)
	require.NoError(t, err)
	require.Equal(t, want, got, "a copy with an engine cache and a report")

	m, err := bundle.ReadManifest(other)
	require.NoError(t, err)
	head := filepath.Join(other, m.Files.Head)
	graph, err := os.ReadFile(head)
	require.NoError(t, err)
	graph[len(graph)-1] ^= 1
	require.NoError(t, os.WriteFile(head, graph, 0o644))
	got, err = bundle.Digest(other)
	require.NoError(t, err)
	require.NotEqual(t, want, got, "a graph changed")

	graph[len(graph)-1] ^= 1
	require.NoError(t, os.WriteFile(head, graph, 0o644))
	m.Provenance.Created = "2031-01-02T03:04:05Z"
	require.NoError(t, bundle.Write(other, m))
	got, err = bundle.Digest(other)
	require.NoError(t, err)
	require.Equal(t, want, got, "the same model built at another time")

	m.Name += "-renamed"
	require.NoError(t, bundle.Write(other, m))
	got, err = bundle.Digest(other)
	require.NoError(t, err)
	require.NotEqual(t, want, got, "the manifest changed")

	require.NoError(t, os.Remove(head))
	_, err = bundle.Digest(other)
	require.ErrorContains(t, err, "bundle: digest of "+other+": open "+head)
	_, err = bundle.Digest(filepath.Join(t.TempDir(), "missing"))
	require.ErrorContains(t, err, "bundle: digest of ")

	// Weights in an external data file are part of the model.
	ext, m := copyBundle(t)
	writeHeadWithExternalData(t, ext, m.Dims.Tokens)
	before, err := bundle.Digest(ext)
	require.NoError(t, err)
	data := filepath.Join(ext, "head.onnx.data")
	weights, err := os.ReadFile(data)
	require.NoError(t, err)
	weights[1000] ^= 1
	require.NoError(t, os.WriteFile(data, weights, 0o644))
	after, err := bundle.Digest(ext)
	require.NoError(t, err)
	require.NotEqual(t, before, after, "the head's external weights changed")
	require.Contains(t, bundle.OwnFiles(ext), "head.onnx.data")
}

// Only graphs the old manifest names and the new one does not go, with their external data; a name
// that points outside the bundle is never followed.
func TestRemoveStaleGraphs(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "b")
	require.NoError(t, os.Mkdir(dir, 0o755))
	for _, f := range []string{"b/layer_00.onnx", "b/layer_01.onnx", "b/layer_01.onnx.data", "b/report.md", "outside.onnx"} {
		require.NoError(t, os.WriteFile(filepath.Join(root, f), nil, 0o644))
	}
	old := &bundle.Manifest{Files: bundle.Files{Layers: []string{"layer_00.onnx", "layer_01.onnx"}, Head: "../outside.onnx"}}
	current := &bundle.Manifest{Files: bundle.Files{Layers: []string{"layer_00.onnx"}}}
	require.NoError(t, bundle.RemoveStaleGraphs(dir, old, current))
	require.FileExists(t, filepath.Join(dir, "layer_00.onnx"))
	require.NoFileExists(t, filepath.Join(dir, "layer_01.onnx"))
	require.NoFileExists(t, filepath.Join(dir, "layer_01.onnx.data"))
	require.FileExists(t, filepath.Join(dir, "report.md"))
	require.FileExists(t, filepath.Join(root, "outside.onnx"))

	// External data goes by the name its graph gives it, and a file a kept graph reads stays.
	withData, m := copyBundle(t)
	writeHeadWithExternalData(t, withData, m.Dims.Tokens)
	require.NoError(t, os.Rename(filepath.Join(withData, "head.onnx.data"), filepath.Join(withData, "weights.bin")))
	setExternalData(t, filepath.Join(withData, "head.onnx"), map[string]string{"location": "weights.bin"})
	require.NoError(t, bundle.RemoveStaleGraphs(withData, &bundle.Manifest{Files: bundle.Files{Head: "head.onnx"}}, &bundle.Manifest{}))
	require.NoFileExists(t, filepath.Join(withData, "head.onnx"))
	require.NoFileExists(t, filepath.Join(withData, "weights.bin"))

	shared, m := copyBundle(t)
	writeHeadWithExternalData(t, shared, m.Dims.Tokens)
	require.NoError(t, os.Link(filepath.Join(shared, "head.onnx"), filepath.Join(shared, "old_head.onnx")))
	require.NoError(t, bundle.RemoveStaleGraphs(shared, &bundle.Manifest{Files: bundle.Files{Head: "old_head.onnx"}}, &bundle.Manifest{Files: bundle.Files{Head: "head.onnx"}}))
	require.NoFileExists(t, filepath.Join(shared, "old_head.onnx"))
	require.FileExists(t, filepath.Join(shared, "head.onnx.data"), "the kept head reads it")
}

// The manifest records each graph's and external data file's digest when a tool writes it, and
// CheckRecordedFiles names a file replaced since; a manifest written before the record was kept is
// not compared.
func TestCheckRecordedFiles(t *testing.T) {
	dir, m := copyBundle(t)
	require.NotEmpty(t, m.SHA256, "written by dysl model build")
	require.Empty(t, bundle.CheckRecordedFiles(dir, m))

	writeHeadWithExternalData(t, dir, m.Dims.Tokens)
	require.Len(t, bundle.CheckRecordedFiles(dir, m), 2, "the head changed, its data is new")
	older := *m
	older.SHA256 = nil
	require.Empty(t, bundle.CheckRecordedFiles(dir, &older), "a manifest without the record is not compared")
	require.NoError(t, bundle.Write(dir, m))
	m, err := bundle.ReadManifest(dir)
	require.NoError(t, err)
	require.Contains(t, m.SHA256, "head.onnx")
	require.Contains(t, m.SHA256, "head.onnx.data")
	require.Contains(t, m.SHA256, m.Files.Layers[0])
	require.Empty(t, bundle.CheckRecordedFiles(dir, m))

	flip := func(name string) {
		data, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		data[len(data)-1] ^= 1
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
	}
	flip("head.onnx.data")
	problems := bundle.CheckRecordedFiles(dir, m)
	require.Len(t, problems, 1)
	require.Equal(t, "head.onnx.data", problems[0].File)
	require.Contains(t, problems[0].Message, "is not the file the tools wrote")
	flip("head.onnx.data")

	delete(m.SHA256, m.Files.Layers[0])
	problems = bundle.CheckRecordedFiles(dir, m)
	require.Len(t, problems, 1)
	require.Equal(t, m.Files.Layers[0]+": sha256: has no digest in the manifest: it was added after the tools last wrote the bundle. "+
		"If it is meant, run `dysl model check --record-digests "+dir+"`, which records the files once the graphs pass its checks", problems[0].String())
}

// Load compares the files with the manifest's sha256 table, so the node and replay refuse a graph
// replaced since a tool wrote the bundle (one of another bundle, of the same shapes, passes every other
// check), and say how to record it when the replacement is meant.
func TestLoadComparesTheRecordedDigests(t *testing.T) {
	dir, m := copyBundle(t)
	writeHeadWithExternalData(t, dir, m.Dims.Tokens)
	got := problems(t, dir)
	require.Len(t, got, 2, "%v", got)
	head, err := os.ReadFile(filepath.Join(dir, "head.onnx"))
	require.NoError(t, err)
	requireProblem(t, got, "head.onnx: sha256: is not the file the tools wrote")
	requireProblem(t, got, fmt.Sprintf("record it: set sha256[head.onnx] in manifest.yaml to %x (or remove the table)", sha256.Sum256(head)))
	requireProblem(t, got, "head.onnx.data: sha256: has no digest in the manifest")

	// Recorded by hand, as the message says, it loads.
	data, err := os.ReadFile(filepath.Join(dir, "head.onnx.data"))
	require.NoError(t, err)
	m.SHA256["head.onnx"] = fmt.Sprintf("%x", sha256.Sum256(head))
	m.SHA256["head.onnx.data"] = fmt.Sprintf("%x", sha256.Sum256(data))
	text, err := yaml.Marshal(m)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, bundle.ManifestFile), text, 0o644))
	_, err = bundle.Load(dir)
	require.NoError(t, err)
}
