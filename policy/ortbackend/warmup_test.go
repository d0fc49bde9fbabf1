package ortbackend_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/onnxgraph"
	"dysl_vla/policy/bundle"
	"dysl_vla/policy/ortbackend"
	"dysl_vla/policy/ortbackend/orttest"
)

// copyDir copies the files of the bundle in dir (no subdirectories) into a fresh directory.
func copyDir(t *testing.T, dir string) string {
	t.Helper()
	out := t.TempDir()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(out, e.Name()), data, 0o644))
	}
	return out
}

// writeGraph writes one graph reading hidden_in [1, T, D] in place of file.
func writeGraph(t *testing.T, dir, file string, d bundle.Dims, body func(b *onnxgraph.Builder, h onnxgraph.Value)) {
	t.Helper()
	b := onnxgraph.NewBuilder("broken")
	body(b, b.Input(bundle.InputHidden, onnxgraph.Float, 1, int64(d.Tokens), int64(d.Hidden)))
	_, err := b.WriteFile(filepath.Join(dir, file), onnxgraph.WriteOptions{})
	require.NoError(t, err)
}

// A graph of the right shapes that gives NaN, or a controller that gives a logit, passes every check
// of the files; the warm-up is where the backend first sees what the graphs compute, and it refuses
// them there, naming the graph and the tensor, instead of starting a policy that fails every frame.
func TestWarmUpRefusesOutputsNoFrameCouldUse(t *testing.T) {
	lib := orttest.Library(t)
	good := t.TempDir()
	m := buildTiny(t, good).Manifest
	d := m.Dims
	T, D, K, A := int64(d.Tokens), int64(d.Hidden), int64(d.Chunk), int64(d.ActionDim)
	controller := m.DynamicLayers()[1]
	cases := []struct {
		name  string
		file  string
		body  func(b *onnxgraph.Builder, h onnxgraph.Value)
		wants []string
	}{
		{"a layer that gives NaN", m.Files.Layers[3], func(b *onnxgraph.Builder, h onnxgraph.Value) {
			b.Output(bundle.OutputHidden, b.Div(b.Mul(h, b.Scalar(0)), b.Scalar(0)), onnxgraph.Float, 1, T, D)
		}, []string{"layer 3 (" + m.Files.Layers[3] + "): output hidden_out has 7680 of 7680 values not finite (value 0 is NaN) on the warm-up observation"}},
		{"a head that gives Inf", m.Files.Head, func(b *onnxgraph.Builder, h onnxgraph.Value) {
			w := b.Weight("w", []int64{D, A}, make([]float32, D*A))
			b.Output(bundle.OutputActions, b.Div(b.Add(b.MatMul(b.Slice(h, 1, T-K, T), w), b.Scalar(1)), b.Scalar(0)), onnxgraph.Float, 1, K, A)
		}, []string{"head (" + m.Files.Head + "): output actions has 56 of 56 values not finite (value 0 is +Inf)"}},
		{"a controller that gives a logit", m.Files.Controllers[controller], func(b *onnxgraph.Builder, h onnxgraph.Value) {
			w := b.Weight("w", []int64{D, 1}, make([]float32, D))
			b.Output(bundle.OutputSkipProb, b.Add(b.MatMul(b.ReduceMean(h, false, 1), w), b.Scalar(1.5)), onnxgraph.Float, 1, 1)
		}, []string{"controller 2 (" + m.Files.Controllers[controller] + "): output skip_prob is 1.5 on the warm-up observation, expected a probability in [0, 1]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, good)
			writeGraph(t, dir, c.file, d, c.body)
			b, err := ortbackend.New(dir, &m, ortbackend.Config{LibraryPath: lib})
			if b != nil {
				b.Close()
			}
			require.Error(t, err)
			for _, want := range c.wants {
				require.ErrorContains(t, err, want)
			}
		})
	}
}
