package ortbackend_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"dysl_vla/modelbuild"
	"dysl_vla/modelbuild/modelbuildtest"
	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
	"dysl_vla/policy/ortbackend"
	"dysl_vla/policy/ortbackend/orttest"
	"dysl_vla/skipping"
)

// buildTiny writes the tiny bundle of seed 7 into dir through the builder's API. The build calibrates
// on the default frames (seconds on 2 cores, several times that under -race), so it runs once per test
// binary (tinyBundles) and each caller gets its own copy of the files to change as it likes. The
// Result is shared by every caller: read it, do not change it.
func buildTiny(tb testing.TB, dir string) *modelbuild.Result {
	tb.Helper()
	return tinyBundles.Copy(tb, modelbuild.Options{Preset: "tiny", Seed: 7}, dir)
}

var tinyBundles modelbuildtest.Cache

func TestMain(m *testing.M) {
	code := m.Run()
	tinyBundles.Remove()
	os.Exit(code)
}

// step is one hidden-state update of a segmented run: a layer, or an adapter standing in for the layers
// up to the next static layer.
type step struct {
	adapter bool
	layer   int
}

func (s step) runORT(b *ortbackend.Backend) error {
	if s.adapter {
		return b.RunAdapter(s.layer)
	}
	return b.RunLayer(s.layer)
}

func (s step) runReference(m *modelbuild.Model, h *mat.Dense) *mat.Dense {
	if s.adapter {
		return m.Adapter(s.layer, h)
	}
	return m.Layer(s.layer, h)
}

func allLayers(n int) []step {
	steps := make([]step, n)
	for i := range steps {
		steps[i] = step{layer: i}
	}
	return steps
}

func requireClose(t *testing.T, want []float64, got []float32, tol float64) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		require.InDelta(t, want[i], float64(got[i]), tol, "value %d", i)
	}
}

// TestORTBackend builds the tiny bundle once and checks the backend against its own single graph and
// against the builder's float64 reference model.
func TestORTBackend(t *testing.T) {
	lib := orttest.Library(t)
	dir := t.TempDir()
	res := buildTiny(t, dir)
	m := &res.Manifest
	require.Equal(t, []int{0, 7}, m.StaticLayers, "the plans below assume the tiny bundle's static layers")
	b, err := ortbackend.New(dir, m, ortbackend.Config{LibraryPath: lib})
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()
	require.Equal(t, ortbackend.RunCounts{}, b.RunCounts(), "warm-up runs are not counted")

	observations := modelbuild.CalibrationObservations(res.Model.Arch, 3, 99)
	chunkLen := m.Dims.Chunk * m.Dims.ActionDim
	segmented := make([]float32, chunkLen)
	single := make([]float32, chunkLen)

	t.Run("segmented run equals the single graph", func(t *testing.T) {
		for _, obs := range observations {
			require.NoError(t, b.RunPrefix(obs.Image, obs.Tokens, obs.State))
			for _, s := range allLayers(m.Dims.Layers) {
				require.NoError(t, s.runORT(b))
			}
			require.NoError(t, b.RunHead(segmented))
			require.NoError(t, b.RunSingleGraph(obs.Image, obs.Tokens, obs.State, single))
			for k := range single {
				require.InDelta(t, single[k], segmented[k], 1e-4, "action value %d", k)
			}
		}
	})

	t.Run("inputs bound again before every run, as on a GPU provider, give the same chunks", func(t *testing.T) {
		rebound, err := ortbackend.New(dir, m, ortbackend.Config{LibraryPath: lib})
		require.NoError(t, err)
		defer func() { require.NoError(t, rebound.Close()) }()
		ortbackend.RebindInputsForTest(rebound)
		plan := []step{{layer: 0}, {layer: 1}, {adapter: true, layer: 2}, {layer: 7}} // both parities of the hidden state
		got := make([]float32, chunkLen)
		var first []float32
		for i, obs := range observations {
			for _, run := range []struct {
				b   *ortbackend.Backend
				out []float32
			}{{b, segmented}, {rebound, got}} {
				require.NoError(t, run.b.RunPrefix(obs.Image, obs.Tokens, obs.State))
				for _, s := range plan {
					require.NoError(t, s.runORT(run.b))
				}
				require.NoError(t, run.b.RunHead(run.out))
			}
			require.Equal(t, segmented, got, "observation %d", i)
			require.NoError(t, rebound.RunSingleGraph(obs.Image, obs.Tokens, obs.State, single))
			require.NoError(t, b.RunSingleGraph(obs.Image, obs.Tokens, obs.State, got))
			require.Equal(t, got, single, "single graph, observation %d", i)
			if i == 0 {
				first = slices.Clone(single)
			} else {
				require.NotEqual(t, first, single, "another observation must give another chunk")
			}
		}
	})

	t.Run("a provider that does not see the inputs is refused", func(t *testing.T) {
		require.NoError(t, ortbackend.CheckInputsForTest(b))
		stale, err := ortbackend.New(dir, m, ortbackend.Config{LibraryPath: lib})
		require.NoError(t, err)
		defer func() { require.NoError(t, stale.Close()) }()
		require.NoError(t, ortbackend.StaleInputsForTest(stale))
		err = ortbackend.CheckInputsForTest(stale)
		require.ErrorContains(t, err, "two different observations gave the same hidden state")
		require.ErrorContains(t, err, m.Files.Prefix, "the error names the graph")
	})

	t.Run("skipping plans match the reference model", func(t *testing.T) {
		plans := []struct {
			name  string
			steps []step
		}{
			{"full depth", allLayers(m.Dims.Layers)},
			{"adapter right after the first static layer", []step{{layer: 0}, {adapter: true, layer: 1}, {layer: 7}}},
			// An odd number of hidden-state flips, so both bindings of layer 7 and the head are used.
			{"adapter mid-way", []step{{layer: 0}, {layer: 1}, {layer: 2}, {adapter: true, layer: 3}, {layer: 7}}},
			{"static layers only", []step{{layer: 0}, {layer: 7}}},
		}
		obs := observations[0]
		for _, plan := range plans {
			t.Run(plan.name, func(t *testing.T) {
				h, err := res.Model.Prefix(obs)
				require.NoError(t, err)
				require.NoError(t, b.RunPrefix(obs.Image, obs.Tokens, obs.State))
				for _, s := range plan.steps {
					require.NoError(t, s.runORT(b))
					h = s.runReference(res.Model, h)
				}
				require.NoError(t, b.RunHead(segmented))
				requireClose(t, res.Model.Head(h), segmented, 1e-3)
			})
		}
	})

	t.Run("controllers read the hidden state without changing it", func(t *testing.T) {
		obs := observations[1]
		h, err := res.Model.Prefix(obs)
		require.NoError(t, err)
		h = res.Model.Layer(0, h)
		require.NoError(t, b.RunPrefix(obs.Image, obs.Tokens, obs.State))
		require.NoError(t, b.RunLayer(0))
		require.NoError(t, b.RunHead(single))
		for j := range m.Files.Controllers {
			p, err := b.RunController(j)
			require.NoError(t, err)
			require.InDelta(t, res.Model.Controller(j, h), float64(p), 1e-4, "controller %d", j)
		}
		require.NoError(t, b.RunHead(segmented))
		require.Equal(t, single, segmented)
	})

	t.Run("restore puts the saved hidden state back", func(t *testing.T) {
		obs := observations[2]
		require.NoError(t, b.RunPrefix(obs.Image, obs.Tokens, obs.State))
		b.SaveHidden()
		require.NoError(t, b.RunLayer(0))
		require.NoError(t, b.RunLayer(7))
		require.NoError(t, b.RunHead(single))

		b.RestoreHidden()
		require.NoError(t, b.RunLayer(0))
		require.NoError(t, b.RunLayer(1)) // a different path must give a different chunk...
		require.NoError(t, b.RunHead(segmented))
		require.NotEqual(t, single, segmented)

		b.RestoreHidden()
		require.NoError(t, b.RunLayer(0))
		require.NoError(t, b.RunLayer(7)) // ...and the same path the same chunk
		require.NoError(t, b.RunHead(segmented))
		require.Equal(t, single, segmented)
	})

	t.Run("runs are counted by kind", func(t *testing.T) {
		before := b.RunCounts()
		obs := observations[0]
		require.NoError(t, b.RunPrefix(obs.Image, obs.Tokens, obs.State))
		require.NoError(t, b.RunLayer(0))
		_, err := b.RunController(1)
		require.NoError(t, err)
		require.NoError(t, b.RunAdapter(1))
		require.NoError(t, b.RunLayer(7))
		require.NoError(t, b.RunHead(segmented))
		require.NoError(t, b.RunSingleGraph(obs.Image, obs.Tokens, obs.State, single))
		require.Error(t, b.RunLayer(99), "failed calls are not counted")
		after := b.RunCounts()
		require.Equal(t, ortbackend.RunCounts{Prefix: 1, Layer: 2, Adapter: 1, Controller: 1, Head: 1, SingleGraph: 1}, ortbackend.RunCounts{
			Prefix: after.Prefix - before.Prefix, Layer: after.Layer - before.Layer, Adapter: after.Adapter - before.Adapter,
			Controller: after.Controller - before.Controller, Head: after.Head - before.Head,
			SingleGraph: after.SingleGraph - before.SingleGraph,
		})
	})

	t.Run("graph runs do not allocate", func(t *testing.T) {
		obs := observations[0]
		require.NoError(t, b.RunPrefix(obs.Image, obs.Tokens, obs.State))
		calls := map[string]func(){
			"layer":      func() { _ = b.RunLayer(3) },
			"adapter":    func() { _ = b.RunAdapter(3) },
			"controller": func() { _, _ = b.RunController(3) },
			"head":       func() { _ = b.RunHead(segmented) },
			"save":       func() { b.SaveHidden(); b.RestoreHidden() },
		}
		for name, call := range calls {
			require.Zero(t, testing.AllocsPerRun(20, call), "%s allocates", name)
		}
	})

	t.Run("bad calls name what is wrong", func(t *testing.T) {
		obs := observations[0]
		cases := []struct {
			name    string
			call    func() error
			wantErr string
		}{
			{"layer out of range", func() error { return b.RunLayer(8) }, "layer 8: layer index out of range 0..7"},
			{"no adapter at a static layer", func() error { return b.RunAdapter(0) }, "adapter 0: the bundle has no adapter for this layer"},
			{"no controller at a static layer", func() error { _, err := b.RunController(7); return err }, "controller 7: the bundle has no controller"},
			{"image size", func() error { return b.RunPrefix(obs.Image[:10], obs.Tokens, nil) }, "RunPrefix: image has 10 values, expected 12288"},
			{"tokens size", func() error { return b.RunPrefix(obs.Image, obs.Tokens[:3], nil) }, "RunPrefix: tokens has 3 values, expected 48"},
			{"head output size", func() error { return b.RunHead(make([]float32, 5)) }, "RunHead: out has 5 values, expected 56"},
			{"single graph output size", func() error { return b.RunSingleGraph(obs.Image, obs.Tokens, obs.State, nil) }, "RunSingleGraph: out has 0 values, expected 56"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				require.ErrorContains(t, c.call(), c.wantErr)
			})
		}
	})

	t.Run("a second backend shares the environment", func(t *testing.T) {
		second, err := ortbackend.New(dir, m, ortbackend.Config{LibraryPath: lib, WarmUpRuns: -1})
		require.NoError(t, err)
		require.NoError(t, second.Close())
		require.NoError(t, second.Close(), "Close twice is harmless")
		obs := observations[0]
		require.ErrorContains(t, second.RunPrefix(obs.Image, obs.Tokens, obs.State), "used after Close")
		require.ErrorContains(t, second.RunLayer(0), "used after Close")
		require.ErrorContains(t, second.RunHead(segmented), "used after Close")
		second.SaveHidden()
		second.RestoreHidden()
	})

	// Warm-up proves each graph's tensor names: a head that is really a layer graph (hidden_out, not
	// actions) fails at construction, naming the head.
	t.Run("a graph with the wrong tensor names is named in the error", func(t *testing.T) {
		wrong := *m
		wrong.Files.Head = m.Files.Layers[3]
		_, err := ortbackend.New(dir, &wrong, ortbackend.Config{LibraryPath: lib})
		require.ErrorContains(t, err, "head ("+m.Files.Layers[3]+"): ")
	})

	t.Run("a corrupt graph is named in the error", func(t *testing.T) {
		corrupt := t.TempDir()
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(corrupt, e.Name()), data, 0o644))
		}
		layer5 := m.Files.Layers[5]
		require.NoError(t, os.WriteFile(filepath.Join(corrupt, layer5), []byte("not a protobuf"), 0o644))

		_, err = ortbackend.New(corrupt, m, ortbackend.Config{LibraryPath: lib})
		require.ErrorContains(t, err, "layer 5 ("+layer5+"): ")
		var graphErr *policy.GraphError
		require.True(t, errors.As(err, &graphErr))
		require.Equal(t, policy.GraphLayer, graphErr.Kind)
		require.Equal(t, 5, graphErr.Layer)
	})
}

func newBenchBackend(b *testing.B) (*ortbackend.Backend, *bundle.Manifest, modelbuild.Observation) {
	lib := orttest.Library(b)
	dir := b.TempDir()
	res := buildTiny(b, dir)
	backend, err := ortbackend.New(dir, &res.Manifest, ortbackend.Config{LibraryPath: lib})
	require.NoError(b, err)
	b.Cleanup(func() { backend.Close() })
	return backend, &res.Manifest, modelbuild.CalibrationObservations(res.Model.Arch, 1, 5)[0]
}

// BenchmarkLayerRun is one decoder layer of the tiny bundle; it must report 0 allocs/op.
func BenchmarkLayerRun(b *testing.B) {
	backend, _, obs := newBenchBackend(b)
	require.NoError(b, backend.RunPrefix(obs.Image, obs.Tokens, obs.State))
	b.ReportAllocs()
	for b.Loop() {
		if err := backend.RunLayer(3); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkForward compares one inference as a single graph with the same inference as prefix, every
// layer and head in separate sessions: the price of segmenting the model.
func BenchmarkForward(b *testing.B) {
	backend, m, obs := newBenchBackend(b)
	out := make([]float32, m.Dims.Chunk*m.Dims.ActionDim)
	b.Run("single_graph", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := backend.RunSingleGraph(obs.Image, obs.Tokens, obs.State, out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("segmented", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := backend.RunPrefix(obs.Image, obs.Tokens, obs.State); err != nil {
				b.Fatal(err)
			}
			for j := range m.Dims.Layers {
				if err := backend.RunLayer(j); err != nil {
					b.Fatal(err)
				}
			}
			if err := backend.RunHead(out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEngineInfer is one inference of the committed tiny reference through the engine on ONNX
// Runtime, from a 640x480 camera frame: the graph runs and the Go around them (preprocessing, the
// plan), with every layer and with a fixed plan that skips half the dynamic layers. (DySL itself, on
// one frame repeated, verifies nearly every pass: its row would measure the re-runs, not the path.)
func BenchmarkEngineInfer(b *testing.B) {
	lib := orttest.Library(b)
	img := policy.Image{Width: 640, Height: 480, Encoding: "rgb8", Step: 3 * 640, Data: make([]byte, 3*640*480)}
	for i := range img.Data {
		img.Data[i] = byte(i * 7)
	}
	obs := policy.Observation{Image: img, Instruction: "put the red block on the blue pad"}
	for _, strategy := range []skipping.Strategy{skipping.StrategyFull, skipping.StrategyFixedRatio} {
		b.Run(strategy.String(), func(b *testing.B) {
			cfg := skipping.DefaultConfig()
			cfg.Strategy = strategy
			e, err := policy.Open(filepath.Join("..", "..", "models", "reference", "tiny"), ortbackend.Opener(ortbackend.Config{LibraryPath: lib}), cfg)
			require.NoError(b, err)
			b.Cleanup(func() { e.Close() })
			b.ReportAllocs()
			layers := 0
			for b.Loop() {
				res, err := e.Infer(obs)
				if err != nil {
					b.Fatal(err)
				}
				layers += res.Stats.LayersExecuted
			}
			b.ReportMetric(float64(layers)/float64(b.N), "layers/op")
		})
	}
}
