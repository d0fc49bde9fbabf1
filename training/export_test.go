package training

import (
	"math/rand/v2"
	"testing"

	"dysl_vla/modelbuild"
	"dysl_vla/policy/bundle"
	"dysl_vla/policy/ortbackend"
	"dysl_vla/policy/ortbackend/orttest"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

func randomSlice(r *rand.Rand, n int, std float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64() * std)
	}
	return out
}

// randomSkipModules gives every dynamic layer an adapter and a controller with random weights, so that
// a wrong node or name in the exported graphs changes their outputs.
func randomSkipModules(a modelbuild.Arch, dynamic []int, seed uint64) SkipModules {
	r := rand.New(rand.NewPCG(seed, 9))
	D, rank, C := a.Hidden, a.AdapterRank, a.ControllerHidden
	mods := SkipModules{Adapters: map[int]*modelbuild.AdapterWeights{}, Controllers: map[int]*modelbuild.ControllerWeights{}}
	for _, j := range dynamic {
		mods.Adapters[j] = &modelbuild.AdapterWeights{Norm: randomSlice(r, D, 1), Down: randomSlice(r, D*rank, 0.2),
			Up: randomSlice(r, rank*D, 0.2), Bias: randomSlice(r, D, 0.1)}
		if W := a.AdapterContextWidth(); W > 0 {
			mods.Adapters[j].Context = randomSlice(r, W*rank, 0.2)
		}
		mods.Controllers[j] = &modelbuild.ControllerWeights{Norm: randomSlice(r, D, 1), FC1: randomSlice(r, D*C, 0.2),
			FC1Bias: randomSlice(r, C, 0.1), FC2: randomSlice(r, C, 1), FC2Bias: randomSlice(r, 1, 0.1)}
	}
	return mods
}

// TestExportedBundleRunsInEngine writes trained-style skip modules into a built tiny bundle, opens it in
// the engine on ONNX Runtime and checks that skipping every dynamic layer through the adapters gives
// the chunk modelbuild's reference computes with the same adapters.
func TestExportedBundleRunsInEngine(t *testing.T) {
	t.Run("plain adapters", func(t *testing.T) { exportedBundleRunsInEngine(t, modelbuild.Options{}) })
	t.Run("context adapters", func(t *testing.T) {
		exportedBundleRunsInEngine(t, contextAdapters)
	})
}

func exportedBundleRunsInEngine(t *testing.T, opts modelbuild.Options) {
	lib := orttest.Library(t)
	dir, res, m, a, w := builtTinyBundleWith(t, opts)
	require.Equal(t, res.Model.Weights.HeadWeight, w.HeadWeight, "the backbone rebuilt from provenance is the bundle's")

	mods := randomSkipModules(a, m.DynamicLayers(), 1)
	require.NoError(t, WriteSkipModules(dir, m, a, mods, "test adapters", "test controllers"))
	b, err := bundle.Load(dir)
	require.NoError(t, err)
	require.Equal(t, "test adapters", b.Manifest.Provenance.Adapters)

	// Reference: static-only, i.e. each segment's first dynamic layer jumps through its adapter.
	ref := &modelbuild.Model{Arch: a, Weights: w, Adapters: mods.Adapters, Controllers: mods.Controllers}
	obs := modelbuild.CalibrationObservations(a, 1, 3)[0]
	h, err := ref.Prefix(obs)
	require.NoError(t, err)
	for _, seg := range m.Segments() {
		if len(seg.Dynamic) > 0 {
			h = ref.Adapter(seg.Dynamic[0], h)
		}
		h = ref.Layer(seg.Static, h)
	}
	want := ref.Head(h)

	backend, err := ortbackend.New(dir, &b.Manifest, ortbackend.Config{LibraryPath: lib})
	require.NoError(t, err)
	defer backend.Close()
	require.NoError(t, backend.RunPrefix(obs.Image, obs.Tokens, nil))
	for _, seg := range m.Segments() {
		if len(seg.Dynamic) > 0 {
			j := seg.Dynamic[0]
			p, err := backend.RunController(j)
			require.NoError(t, err)
			require.InDelta(t, ref.Controller(j, mustPrefixThrough(t, ref, obs, m, j)), float64(p), 1e-4, "controller %d", j)
			require.NoError(t, backend.RunAdapter(j))
		}
		require.NoError(t, backend.RunLayer(seg.Static))
	}
	got := make([]float32, a.Chunk*a.ActionDim)
	require.NoError(t, backend.RunHead(got))
	for i := range want {
		require.InDelta(t, want[i], float64(got[i]), 2e-3, "action value %d", i)
	}
}

// mustPrefixThrough is the static-only hidden state at the input of dynamic layer j (the first of its
// segment), computed by the reference.
func mustPrefixThrough(t *testing.T, ref *modelbuild.Model, obs modelbuild.Observation, m *bundle.Manifest, j int) *mat.Dense {
	h, err := ref.Prefix(obs)
	require.NoError(t, err)
	for _, seg := range m.Segments() {
		if len(seg.Dynamic) > 0 {
			if seg.Dynamic[0] == j {
				return h
			}
			h = ref.Adapter(seg.Dynamic[0], h)
		}
		h = ref.Layer(seg.Static, h)
	}
	t.Fatalf("layer %d is not the first dynamic layer of a segment", j)
	return nil
}
