package modelbuild

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	ort "github.com/yalue/onnxruntime_go"
	"gonum.org/v1/gonum/mat"

	"dysl_vla/policy/bundle"
)

// TestContextAdapterFitReadsTheTokenGroups fits adapters on hidden states whose skipped-layer effect
// depends on the token groups' means as much as on each token: the context adapter reproduces it on
// held-out states, the plain one cannot, since no map of a token alone sees the other tokens.
func TestContextAdapterFitReadsTheTokenGroups(t *testing.T) {
	plain := presets["tiny"].Arch
	plain.AdapterRank = 8
	withContext := plain
	withContext.AdapterContext = true
	T, D, r, W := withContext.Tokens(), withContext.Hidden, withContext.AdapterRank, withContext.AdapterContextWidth()
	require.Equal(t, 3*D, W)

	rng := rand.New(rand.NewPCG(1, 2))
	random := func(rows, cols int, std float64) *mat.Dense {
		m := mat.NewDense(rows, cols, nil)
		for i := 0; i < rows; i++ {
			for k := 0; k < cols; k++ {
				m.Set(i, k, rng.NormFloat64()*std)
			}
		}
		return m
	}
	// Δ = (n·P + c·M)·Q: rank r, with c the groups' means of n. Each group's tokens share an offset so
	// that the means differ between frames as much as between groups.
	P, M, Q := random(D, r, 0.3), random(W, r, 3), random(r, D, 0.3)
	ref := &Model{Arch: withContext, Adapters: map[int]*AdapterWeights{}}
	ones := make([]float32, D)
	for i := range ones {
		ones[i] = 1
	}
	const j, s = 1, 3
	frames := func(count int) *calibration {
		c := &calibration{}
		for f := 0; f < count; f++ {
			h := random(T, D, 1)
			for _, g := range withContext.TokenGroups() {
				offset := random(1, D, 1).RawRowView(0)
				for i := g[0]; i < g[1]; i++ {
					for k := range offset {
						h.Set(i, k, h.At(i, k)+offset[k])
					}
				}
			}
			n := ref.rmsNorm(h, ones)
			var low, delta mat.Dense
			low.Mul(n, P)
			var lowContext mat.Dense
			lowContext.Mul(mat.NewDense(1, W, withContext.groupMeans(n)), M)
			for i := 0; i < T; i++ {
				row := low.RawRowView(i)
				for k, v := range lowContext.RawRowView(0) {
					row[k] += v
				}
			}
			delta.Mul(&low, Q)
			var next mat.Dense
			next.Add(h, &delta)
			hiddens := make([]*mat.Dense, s+1)
			hiddens[j], hiddens[s] = h, &next
			c.hiddens = append(c.hiddens, hiddens)
		}
		return c
	}
	fit, heldOut := frames(400), frames(10) // more frames than context values (3·D = 192): one context per frame

	_, plainFit, err := (&Model{Arch: plain}).fitAdapter(fit, heldOut, j, s)
	require.NoError(t, err)
	w, contextFit, err := (&Model{Arch: withContext}).fitAdapter(fit, heldOut, j, s)
	require.NoError(t, err)
	t.Logf("held-out unexplained: plain %.4f, context %.4f", plainFit.Unexplained, contextFit.Unexplained)
	require.Greater(t, plainFit.Unexplained, 0.3, "a per-token map cannot see the groups' means")
	require.Less(t, contextFit.Unexplained, 1e-3)
	require.Len(t, w.Context, W*r)

	// The fitted weights, run through the reference adapter, reproduce the held-out next state.
	ref.Adapters[j] = w
	for _, h := range heldOut.hiddens {
		got := ref.Adapter(j, h[j])
		var diff mat.Dense
		diff.Sub(got, h[s])
		var change mat.Dense
		change.Sub(h[s], h[j])
		require.Less(t, mat.Norm(&diff, 2), 0.05*mat.Norm(&change, 2))
	}
}

// TestContextAdapterBundle builds a tiny bundle with context adapters of rank 8: the manifest records
// the form, its adapter graphs compute what the reference does on ONNX Runtime, BundleArch reads the
// form back, and a manifest that hides it is refused.
func TestContextAdapterBundle(t *testing.T) {
	dir, res := buildTiny(t, Options{Seed: 4, AdapterContext: true, AdapterRank: 8, CalibrationFrames: 24})
	b, err := bundle.Load(dir)
	require.NoError(t, err)
	m := b.Manifest
	require.Equal(t, 3, m.Dims.AdapterContext)
	require.Equal(t, 8, m.Dims.AdapterRank)
	require.Contains(t, m.Provenance.Adapters, "c·context")
	plain := presets["tiny"].Arch
	plain.AdapterRank = 8
	require.Equal(t, plain.FLOPs().Adapter+2*3*64*8, m.FLOPs.Adapter, "the context costs one [1, 3·D] x [3·D, r] product")

	a, err := BundleArch(&m)
	require.NoError(t, err)
	require.True(t, a.AdapterContext)
	require.Equal(t, 8, a.AdapterRank)
	// Every dimension the preset fixes must agree: heads and the vocabulary too, which the graphs of
	// older bundles carry no metadata for.
	for _, wrong := range []func(d *bundle.Dims){func(d *bundle.Dims) { d.Heads = 2 }, func(d *bundle.Dims) { d.Vocab = 300 },
		func(d *bundle.Dims) { d.InstructionTokens-- }, func(d *bundle.Dims) { d.MLP++ }} {
		odd := m
		wrong(&odd.Dims)
		_, err := BundleArch(&odd)
		require.ErrorContains(t, err, "provenance.preset is tiny, but the sizes are not its (dims.")
	}

	t.Run("graphs match the reference", func(t *testing.T) {
		requireORT(t)
		T, D := int64(m.Dims.Tokens), int64(m.Dims.Hidden)
		hiddens, _, err := res.Model.Forward(CalibrationObservations(a, 1, 77)[0])
		require.NoError(t, err)
		for _, j := range m.DynamicLayers() {
			require.Len(t, res.Model.Adapters[j].Context, 3*64*8, "adapter %d", j)
			in := tensor(t, toFloat32(hiddens[j]), 1, T, D)
			got := runGraph(t, b.Path(m.Files.Adapters[j]), map[string]ort.Value{bundle.InputHidden: in}, bundle.OutputHidden, 1, T, D)
			requireClose(t, flat(res.Model.Adapter(j, hiddens[j])), got, 1e-4, m.Files.Adapters[j])
			in.Destroy()
		}
	})

	t.Run("a manifest that hides the context is refused", func(t *testing.T) {
		hidden := m
		hidden.Dims.AdapterContext = 0
		require.NoError(t, bundle.Write(dir, &hidden))
		_, err := bundle.Load(dir)
		require.ErrorContains(t, err, "initializer adapters.1.context.weight: shape [192 8] disagrees with dims.adapter_context x dims.hidden = 0")

		odd := m
		odd.Dims.AdapterContext = 2
		_, err = BundleArch(&odd)
		require.ErrorContains(t, err, "dims.adapter_context is 2: preset tiny has 3 token groups (or 0 for plain adapters)")
		odd.Dims.AdapterContext = -1
		require.NoError(t, bundle.Write(dir, &odd))
		_, err = bundle.Load(filepath.Clean(dir))
		require.ErrorContains(t, err, "dims.adapter_context: is -1, must be >= 0 (0: plain adapters)")
	})
}
