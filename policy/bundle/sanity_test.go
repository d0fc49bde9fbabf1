package bundle_test

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/onnxgraph"
	"dysl_vla/policy/bundle"
)

// Values a manifest can hold but no engine can run with.
func TestManifestValuesThatMakeNoSense(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(m *bundle.Manifest)
		want   string
	}{
		{"dt too long for step_dt", func(m *bundle.Manifest) { m.Action.DtSeconds = 1e12 }, "action.dt_seconds: is 1e+12, must be from 1e-06 to 3600"},
		{"dt below a microsecond", func(m *bundle.Manifest) { m.Action.DtSeconds = 1e-12 }, "action.dt_seconds: is 1e-12, must be from 1e-06 to 3600"},
		{"vocab disagrees with the embedding", func(m *bundle.Manifest) { m.Dims.Vocab = 300 }, "prefix.onnx: initializer prefix.token_embedding: shape [257 64] disagrees with dims.vocab = 300"},
		{"mlp disagrees with the layers", func(m *bundle.Manifest) { m.Dims.MLP = 100 }, "layer_00.onnx: initializer layers.0.mlp.gate.weight: shape [64 176] disagrees with dims.mlp = 100"},
		{"adapter rank disagrees", func(m *bundle.Manifest) { m.Dims.AdapterRank = 3 }, "initializer adapters.1.down.weight: shape [64 16] disagrees with dims.adapter_rank = 3"},
		{"heads disagree with the layers", func(m *bundle.Manifest) { m.Dims.Heads = 2 }, "layer_00.onnx: metadata dysl.heads: is 4 but dims.heads is 2"},
		{"NaN in the static profile", func(m *bundle.Manifest) { m.StaticProfile[1] = math.NaN() }, "static_profile[1]: is NaN, must be finite"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, m := copyBundle(t)
			c.mutate(m)
			require.NoError(t, bundle.Write(dir, m))
			requireProblem(t, problems(t, dir), c.want)
		})
	}
}

// The YAML decoder would truncate 8.5 to 8 for an integer field; a fractional integer is refused.
func TestManifestRefusesFractionalIntegers(t *testing.T) {
	dir, _ := copyBundle(t)
	path := filepath.Join(dir, bundle.ManifestFile)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	data = regexp.MustCompile(`(?m)^  layers: 8$`).ReplaceAll(data, []byte("  layers: 8.5"))
	data = regexp.MustCompile(`(?m)^  - 7$`).ReplaceAll(data, []byte("  - 7.0")) // whole: accepted
	data = regexp.MustCompile(`(?m)^(  adapter_rank:) (\d+)$`).ReplaceAll(data, []byte("$1 $2.25"))
	require.NoError(t, os.WriteFile(path, data, 0o644))
	got := problems(t, dir)
	requireProblem(t, got, "manifest.yaml: dims.layers: is 8.5, must be a whole number")
	requireProblem(t, got, "dims.adapter_rank: is 16.25, must be a whole number")
	require.Len(t, got, 2, "7.0 is a whole number: %v", got)
}

// An alias takes its anchor's value, fraction and all; a second YAML document is refused rather than
// ignored.
func TestManifestRefusesAliasedFractionsAndSecondDocuments(t *testing.T) {
	dir, _ := copyBundle(t)
	path := filepath.Join(dir, bundle.ManifestFile)
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	data := regexp.MustCompile(`(?m)^name: (.*)$`).ReplaceAll(good, []byte("name: &x 8.9"))
	data = regexp.MustCompile(`(?m)^  chunk: 8$`).ReplaceAll(data, []byte("  chunk: *x"))
	require.NoError(t, os.WriteFile(path, data, 0o644))
	requireProblem(t, problems(t, dir), "manifest.yaml: dims.chunk: is 8.9, must be a whole number")

	require.NoError(t, os.WriteFile(path, append(append([]byte(nil), good...), "---\nformat: other\n"...), 0o644))
	requireProblem(t, problems(t, dir), "manifest.yaml: holds more than one YAML document (a second '---'): expected one")
	// A bare "---" at the end, or one before a comment, holds nothing: accepted.
	require.NoError(t, os.WriteFile(path, append(append([]byte(nil), good...), "---\n# the end\n"...), 0o644))
	_, err = bundle.Load(dir)
	require.NoError(t, err)
}

// A huge layer count is refused by comparing it with the files actually listed, before anything is
// sized by it: checking must not allocate per claimed layer.
func TestHugeLayerCountIsCheapToRefuse(t *testing.T) {
	for _, layers := range []int{1e9, math.MaxInt64} {
		dir, m := copyBundle(t)
		m.Dims.Layers = layers
		require.NoError(t, bundle.Write(dir, m))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		got := problems(t, dir)
		runtime.ReadMemStats(&after)
		requireProblem(t, got, "files.layers: names 8 graphs, want one per layer")
		require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20), "layers %d: checking allocated %d bytes", layers, after.TotalAlloc-before.TotalAlloc)
	}
}

// A NaN weight would make every chunk NaN (refused frame by frame at run time); the check finds it.
func TestNonFiniteInitializerIsAProblem(t *testing.T) {
	for _, external := range []bool{false, true} {
		dir, m := copyBundle(t)
		b := onnxgraph.NewBuilder("head")
		b.SetMetadata(bundle.MetaRole, "head")
		T := int64(m.Dims.Tokens)
		h := b.Input(bundle.InputHidden, onnxgraph.Float, 1, T, 64)
		weight := make([]float32, 64*7)
		weight[5] = float32(math.NaN())
		weight[9] = float32(math.Inf(1))
		w := b.Weight("head.proj.weight", []int64{64, 7}, weight)
		b.Output(bundle.OutputActions, b.MatMul(b.Slice(h, 1, T-8, T), w), onnxgraph.Float, 1, 8, 7)
		_, err := b.WriteFile(filepath.Join(dir, "head.onnx"), onnxgraph.WriteOptions{ExternalData: external, ExternalThreshold: 1024})
		require.NoError(t, err)
		requireProblem(t, problems(t, dir), "head.onnx: initializer head.proj.weight: 2 of 448 values are not finite (NaN or Inf)")
	}
}

// YAML compares map keys as text: 3 and 0x3 under files.adapters are two keys to it and one adapter
// to the bundle, the last silently winning. The second spelling is refused.
func TestManifestRefusesAnIntegerKeyGivenTwice(t *testing.T) {
	dir, m := copyBundle(t)
	path := filepath.Join(dir, bundle.ManifestFile)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	first := slices.Sorted(maps.Keys(m.Files.Adapters))[0]
	line := regexp.MustCompile(fmt.Sprintf(`(?m)^    %d: (.*)$`, first))
	require.True(t, line.Match(data), "the manifest lists adapter %d", first)
	data = line.ReplaceAll(data, []byte(fmt.Sprintf("    %d: $1\n    0x%x: $1", first, first)))
	require.NoError(t, os.WriteFile(path, data, 0o644))
	requireProblem(t, problems(t, dir), fmt.Sprintf("manifest.yaml: files.adapters: key %d is given twice, as %d and as 0x%x", first, first, first))
}

// A manifest without action.gripper_index would decode it as 0, the x column: that column would then
// drive the gripper's lead, its minimum hold and the MAVLink gripper commands. The field is required.
func TestManifestRequiresTheGripperIndex(t *testing.T) {
	dir, _ := copyBundle(t)
	path := filepath.Join(dir, bundle.ManifestFile)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	line := regexp.MustCompile(`(?m)^  gripper_index: .*\n`)
	require.True(t, line.Match(data), "the tiny bundle's manifest gives gripper_index")
	for _, without := range []string{"", "  gripper_index:\n", "  gripper_index: ~\n"} {
		require.NoError(t, os.WriteFile(path, line.ReplaceAll(data, []byte(without)), 0o644))
		require.Equal(t, []string{"manifest.yaml: action.gripper_index: missing: expected -1 (no gripper) or a column index 0..6"},
			problems(t, dir), "gripper_index given as %q", without)
	}

	// Given as -1 it loads: no gripper is a statement, not an absence.
	require.NoError(t, os.WriteFile(path, line.ReplaceAll(data, []byte("  gripper_index: -1\n")), 0o644))
	b, err := bundle.Load(dir)
	require.NoError(t, err)
	require.Equal(t, -1, b.Manifest.Action.GripperIndex)

	// Given through a YAML merge key it is given: the decoder reads it there, so the check must too.
	merged := line.ReplaceAll(data, nil)
	merged = regexp.MustCompile(`(?m)^action:\n`).ReplaceAll(merged, []byte("action:\n  <<: {gripper_index: 5}\n"))
	require.NoError(t, os.WriteFile(path, merged, 0o644))
	b, err = bundle.Load(dir)
	require.NoError(t, err)
	require.Equal(t, 5, b.Manifest.Action.GripperIndex)
	require.NoError(t, os.WriteFile(path, bytes.Replace(merged, []byte("gripper_index: 5"), []byte("gripper_index: ~"), 1), 0o644))
	require.Equal(t, []string{"manifest.yaml: action.gripper_index: missing: expected -1 (no gripper) or a column index 0..6"},
		problems(t, dir), "gripper_index given as null through a merge key")
}

// An empty manifest (a copy cut short, a file truncated) says so, not just "EOF".
func TestEmptyManifestSaysItIsEmpty(t *testing.T) {
	dir, _ := copyBundle(t)
	for _, content := range []string{"", "\n# nothing\n"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, bundle.ManifestFile), []byte(content), 0o644))
		got := problems(t, dir)
		require.Equal(t, []string{"manifest.yaml: is empty: expected a dysl-bundle/1 manifest (format, dims, files, ...)"}, got)
	}
}
