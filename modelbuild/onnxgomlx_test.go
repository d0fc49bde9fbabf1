package modelbuild

import (
	"testing"

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/onnx-gomlx/onnx"
	"github.com/stretchr/testify/require"

	"dysl_vla/policy/bundle"
)

// The training imports bundle graphs with onnx-gomlx, which supports fewer ops than ONNX Runtime and no
// external data. This checks that every kind of tiny-bundle graph imports and computes what the
// reference computes, in pure Go (no ONNX Runtime needed).
func TestGraphsImportIntoGoMLX(t *testing.T) {
	dir, res := buildTiny(t, Options{Seed: 6})
	b, err := bundle.Load(dir)
	require.NoError(t, err)
	m, model := b.Manifest, res.Model
	// ops_sequential, not parallelism=-1: under -race, simplego v0.26.0's parallel executor shows an
	// in-place Mul writing a buffer that a concurrent Slice is still reading (the rotary pattern: x feeds
	// both Mul(x, cos) and the rotate-half Slices), which can corrupt results.
	backend, err := simplego.New("ops_sequential")
	require.NoError(t, err)
	defer backend.Finalize()

	obs := CalibrationObservations(model.Arch, 1, 42)[0]
	hiddens, actions, err := model.Forward(obs)
	require.NoError(t, err)
	S, T, D := model.Arch.ImageSize, model.Arch.Tokens(), model.Arch.Hidden
	image := tensors.FromFlatDataAndDimensions(obs.Image, 1, 3, S, S)
	tokens := tensors.FromFlatDataAndDimensions(obs.Tokens, 1, len(obs.Tokens))
	hidden := func(i int) *tensors.Tensor { return tensors.FromFlatDataAndDimensions(toFloat32(hiddens[i]), 1, T, D) }
	j := m.DynamicLayers()[0]

	run := func(t *testing.T, file string, inputs map[string]*tensors.Tensor) []float32 {
		t.Helper()
		g, err := onnx.ReadFile(b.Path(file))
		require.NoError(t, err)
		ctx := context.New()
		require.NoError(t, g.VariablesToContext(ctx))
		names := make([]string, 0, len(inputs))
		args := make([]any, 0, len(inputs))
		for name, v := range inputs {
			names = append(names, name)
			args = append(args, v)
		}
		exec, err := context.NewExecAny(backend, ctx, func(ctx *context.Context, in []*graph.Node) *graph.Node {
			feeds := map[string]*graph.Node{}
			for i, name := range names {
				feeds[name] = in[i]
			}
			return g.CallGraph(ctx, in[0].Graph(), feeds)[0]
		})
		require.NoError(t, err)
		out, err := exec.Exec(args...)
		require.NoError(t, err)
		return tensors.MustCopyFlatData[float32](out[0])
	}

	cases := []struct {
		file   string
		inputs map[string]*tensors.Tensor
		want   []float64
	}{
		{m.Files.Prefix, map[string]*tensors.Tensor{bundle.InputImage: image, bundle.InputTokens: tokens}, flat(hiddens[0])},
		{m.Files.Layers[j], map[string]*tensors.Tensor{bundle.InputHidden: hidden(j)}, flat(hiddens[j+1])},
		{m.Files.Adapters[j], map[string]*tensors.Tensor{bundle.InputHidden: hidden(j)}, flat(model.Adapter(j, hiddens[j]))},
		{m.Files.Controllers[j], map[string]*tensors.Tensor{bundle.InputHidden: hidden(j)}, []float64{model.Controller(j, hiddens[j])}},
		{m.Files.Head, map[string]*tensors.Tensor{bundle.InputHidden: hidden(model.Arch.Layers)}, actions},
		{m.Files.Full, map[string]*tensors.Tensor{bundle.InputImage: image, bundle.InputTokens: tokens}, actions},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			requireClose(t, c.want, run(t, c.file, c.inputs), 1e-4, c.file)
		})
	}
}
