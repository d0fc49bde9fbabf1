package ortbackend_test

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/modelbuild"
	"dysl_vla/policy/bundle"
	"dysl_vla/policy/ortbackend"
	"dysl_vla/policy/ortbackend/orttest"
)

// buildWithStateWeights writes a small_state bundle into dir whose state weights are random rather than
// the builder's zeros: with zero weights the state changes nothing, and a backend that never bound it
// would pass.
func buildWithStateWeights(tb testing.TB, dir string) *modelbuild.Result {
	tb.Helper()
	preset, err := modelbuild.LookupPreset("small_state")
	require.NoError(tb, err)
	a := preset.Arch
	require.Positive(tb, a.StateDim)
	w := modelbuild.RandomWeights(a, 11)
	r := rand.New(rand.NewPCG(11, 5))
	for i := range w.StateWeight {
		w.StateWeight[i] = float32(r.NormFloat64())
	}
	for i := range w.StateBias {
		w.StateBias[i] = float32(r.NormFloat64())
	}
	weights := filepath.Join(tb.TempDir(), "backbone.safetensors")
	require.NoError(tb, modelbuild.SaveWeights(weights, a, w, nil))
	res, err := modelbuild.Build(modelbuild.Options{Preset: "small_state", OutDir: dir, Seed: 11, WeightsFile: weights, CalibrationFrames: 8})
	require.NoError(tb, err)
	require.Equal(tb, w.StateWeight, res.Model.Weights.StateWeight, "the bundle carries the random state weights")
	return res
}

func maxAbsDiff(a, b []float64) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(a[i]-b[i]))
	}
	return d
}

// A bundle with a state block: the prefix and the single graph read the state, and both agree with the
// float64 reference model on observations whose states differ.
func TestORTBackendBindsTheState(t *testing.T) {
	lib := orttest.Library(t)
	dir := t.TempDir()
	res := buildWithStateWeights(t, dir)
	m := &res.Manifest
	require.NotNil(t, m.State)
	loaded, err := bundle.Load(dir)
	require.NoError(t, err)
	require.Equal(t, m.State, loaded.Manifest.State, "the state block is written to the manifest")

	b, err := ortbackend.New(dir, m, ortbackend.Config{LibraryPath: lib})
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()

	observations := modelbuild.CalibrationObservations(res.Model.Arch, 2, 3)
	chunkLen := m.Dims.Chunk * m.Dims.ActionDim
	out := make([]float32, chunkLen)
	const tol = 1e-3
	var chunks [][]float64
	for _, obs := range observations {
		require.Len(t, obs.State, m.StateDim())
		// Same image and tokens, different states: only the state can make the outputs differ.
		obs.Image, obs.Tokens = observations[0].Image, observations[0].Tokens
		h, err := res.Model.Prefix(obs)
		require.NoError(t, err)
		require.NoError(t, b.RunPrefix(obs.Image, obs.Tokens, obs.State))
		require.NoError(t, b.RunHead(out))
		requireClose(t, res.Model.Head(h), out, tol)

		_, want, err := res.Model.Forward(obs)
		require.NoError(t, err)
		require.NoError(t, b.RunSingleGraph(obs.Image, obs.Tokens, obs.State, out))
		requireClose(t, want, out, tol)

		require.NoError(t, b.RunPrefix(obs.Image, obs.Tokens, obs.State))
		for j := range m.Dims.Layers {
			require.NoError(t, b.RunLayer(j))
		}
		require.NoError(t, b.RunHead(out))
		requireClose(t, want, out, tol)
		chunks = append(chunks, want)
	}
	require.Greater(t, maxAbsDiff(chunks[0], chunks[1]), 100*tol, "the two states must give chunks the tolerance tells apart")

	t.Run("a state of the wrong length is refused", func(t *testing.T) {
		obs := observations[0]
		require.ErrorContains(t, b.RunPrefix(obs.Image, obs.Tokens, nil), "RunPrefix: state has 0 values, expected 5 (the manifest's state.names)")
		require.ErrorContains(t, b.RunSingleGraph(obs.Image, obs.Tokens, obs.State[:2], out), "RunSingleGraph: state has 2 values, expected 5")
	})

	t.Run("the prefix does not allocate", func(t *testing.T) {
		obs := observations[1]
		require.Zero(t, testing.AllocsPerRun(10, func() { _ = b.RunPrefix(obs.Image, obs.Tokens, obs.State) }))
	})
}

// A stateless bundle refuses a state: the caller believes the model reads one.
func TestORTBackendRefusesAStateTheBundleDoesNotRead(t *testing.T) {
	lib := orttest.Library(t)
	dir := t.TempDir()
	res := buildTiny(t, dir)
	b, err := ortbackend.New(dir, &res.Manifest, ortbackend.Config{LibraryPath: lib, WarmUpRuns: -1})
	require.NoError(t, err)
	defer b.Close()
	obs := modelbuild.CalibrationObservations(res.Model.Arch, 1, 1)[0]
	require.ErrorContains(t, b.RunPrefix(obs.Image, obs.Tokens, []float32{0.5}), "RunPrefix: state has 1 values, expected 0")
}
