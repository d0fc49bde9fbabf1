package bundle_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/onnxgraph"
	"dysl_vla/policy/bundle"
)

// The summary lists every graph of the bundle once, in execution order, and its total is the sum of
// the files' sizes on disk.
func TestWriteSummaryListsEveryGraph(t *testing.T) {
	b, err := bundle.Load(goodDir)
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, bundle.WriteSummary(&out, b))
	text := out.String()

	m := &b.Manifest
	require.Contains(t, text, fmt.Sprintf("bundle %s: %s (%s)\n", goodDir, m.Name, m.Format))
	require.Contains(t, text, fmt.Sprintf("dims: %d layers, hidden %d, %d heads", m.Dims.Layers, m.Dims.Hidden, m.Dims.Heads))
	require.Contains(t, text, fmt.Sprintf("static layers: %v\n", m.StaticLayers))
	digest, err := bundle.Digest(goodDir)
	require.NoError(t, err)
	require.Contains(t, text, "\ndigest: sha256 "+digest+" (")

	listed := regexp.MustCompile(`(?m)^  (\S+\.onnx)\s+\S+ \S*B\s+(\d+) params$`).FindAllStringSubmatch(text, -1)
	var files []string
	var params int64
	for _, l := range listed {
		files = append(files, l[1])
		p, err := strconv.ParseInt(l[2], 10, 64)
		require.NoError(t, err)
		params += p
	}
	want := append([]string{m.Files.Prefix}, m.Files.Layers...)
	for _, l := range m.DynamicLayers() {
		want = append(want, m.Files.Adapters[l])
	}
	for _, l := range m.DynamicLayers() {
		want = append(want, m.Files.Controllers[l])
	}
	want = append(want, m.Files.Head, m.Files.Full)
	require.Equal(t, want, files)

	var onDisk int64
	entries, err := os.ReadDir(goodDir)
	require.NoError(t, err)
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".onnx" || filepath.Ext(e.Name()) == ".data" {
			info, err := e.Info()
			require.NoError(t, err)
			onDisk += info.Size()
		}
	}
	require.Contains(t, text, fmt.Sprintf("total: %.1f MiB on disk, %d parameters over all graphs", float64(onDisk)/(1<<20), params))
}

// The summary names the operators every graph uses, and those outside the standard ONNX domain with
// the first graph that uses them: a bundle made elsewhere may use ONNX Runtime's contrib ops, which
// the CPU provider runs and TensorRT does not.
func TestWriteSummaryNamesOperators(t *testing.T) {
	b, err := bundle.Load(goodDir)
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, bundle.WriteSummary(&out, b))
	require.Regexp(t, `(?m)^ops \(opset ai\.onnx 17\): Add .*MatMul .*Softmax`, out.String())
	require.NotContains(t, out.String(), "outside the standard ONNX domain")

	out.Reset()
	bundle.WriteOps(&out, map[string]*onnxgraph.ModelInfo{
		"layer_01.onnx": {
			Opsets: map[string]int64{"": 17, "com.microsoft": 1},
			Ops:    map[onnxgraph.Op]int{{Type: "MatMul"}: 2, {Domain: "com.microsoft", Type: "FusedMatMul"}: 1},
		},
		"layer_02.onnx": {
			Opsets: map[string]int64{"ai.onnx": 17, "com.microsoft": 1},
			Ops:    map[onnxgraph.Op]int{{Domain: "ai.onnx", Type: "Add"}: 1, {Domain: "com.microsoft", Type: "FusedMatMul"}: 1},
		},
	})
	require.Equal(t, "ops (opset ai.onnx 17, com.microsoft 1): Add MatMul\n"+
		"  outside the standard ONNX domain: com.microsoft.FusedMatMul (layer_01.onnx); TensorRT's parser knows the standard domain alone, so with --provider tensorrt ONNX Runtime leaves these nodes to the CUDA provider (the CPU where CUDA has no kernel for them), between TensorRT engines\n",
		out.String())
}

// A graph file that vanished after loading is an error naming it, not a summary with a hole.
func TestWriteSummaryFailsOnAMissingGraph(t *testing.T) {
	dir, _ := copyBundle(t)
	b, err := bundle.Load(dir)
	require.NoError(t, err)
	require.NoError(t, os.Remove(filepath.Join(dir, b.Manifest.Files.Head)))
	err = bundle.WriteSummary(&bytes.Buffer{}, b)
	require.ErrorContains(t, err, b.Manifest.Files.Head)
}
