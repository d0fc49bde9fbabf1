package modelbuild

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"dysl_vla/policy/bundle"
	"dysl_vla/safetensors"
	"dysl_vla/scene"
	"dysl_vla/test/diskfull"
)

var epoch = func() time.Time { return time.Unix(0, 0) }

// buildTiny builds a tiny bundle with few calibration frames (fast) into a fresh directory.
func buildTiny(t *testing.T, opts Options) (string, *Result) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	opts.Preset, opts.OutDir, opts.Now = "tiny", dir, epoch
	if opts.CalibrationFrames == 0 {
		opts.CalibrationFrames = 8
	}
	res, err := Build(opts)
	require.NoError(t, err)
	return dir, res
}

func readFile(t *testing.T, dir, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	require.NoError(t, err)
	return data
}

func TestTinyBundle(t *testing.T) {
	dir, res := buildTiny(t, Options{Seed: 1})
	b, err := bundle.Load(dir)
	require.NoError(t, err)
	m := b.Manifest

	t.Run("is small", func(t *testing.T) {
		var total int64
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, e := range entries {
			info, err := e.Info()
			require.NoError(t, err)
			total += info.Size()
		}
		require.Less(t, total, int64(5<<20))
	})
	t.Run("static layers: about 20 percent, last included", func(t *testing.T) {
		require.Len(t, m.StaticLayers, 2) // round(0.2 * 8)
		require.Equal(t, 7, m.StaticLayers[len(m.StaticLayers)-1])
		require.Len(t, m.StaticProfile, 8)
		for i, sim := range m.StaticProfile {
			// Init scale: every layer changes the hidden state (not an identity) without blowing it up.
			require.True(t, sim > 0.5 && sim < 0.99, "layer %d input/output similarity %v", i, sim)
		}
	})
	t.Run("manifest describes the architecture", func(t *testing.T) {
		require.Equal(t, bundle.Dims{Layers: 8, Hidden: 64, Heads: 4, MLP: 176, Tokens: 64 + 48 + 8, InstructionTokens: 48,
			Vocab: 257, AdapterRank: 16, Chunk: 8, ActionDim: 7}, m.Dims)
		require.Equal(t, []string{"x", "y", "z", "roll", "pitch", "yaw", "gripper"}, m.Action.Names)
		require.Equal(t, 6, m.Action.GripperIndex)
		require.Equal(t, presets["tiny"].Arch.FLOPs(), m.FLOPs)
		require.Equal(t, "1970-01-01T00:00:00Z", m.Provenance.Created)
		require.Contains(t, m.Provenance.Adapters, "closed form, not trained")
		require.Contains(t, m.Provenance.Controllers, "not trained")
	})
	t.Run("adapters beat skipping without one on held-out scene frames", func(t *testing.T) {
		heldOut, err := SceneCalibrationObservations(res.Model.Arch, 3, 1234, scene.Tabletop{}) // episodes not calibrated on
		require.NoError(t, err)
		for _, obs := range heldOut {
			hiddens, _, err := res.Model.Forward(obs)
			require.NoError(t, err)
			for _, seg := range m.Segments() {
				for _, j := range seg.Dynamic {
					target := hiddens[seg.Static]
					var withAdapter, without mat.Dense
					withAdapter.Sub(res.Model.Adapter(j, hiddens[j]), target)
					without.Sub(hiddens[j], target)
					require.Less(t, mat.Norm(&withAdapter, 2), mat.Norm(&without, 2), "adapter %d", j)
				}
			}
		}
	})
	t.Run("controllers are constant probabilities ranking the adapters", func(t *testing.T) {
		obs := CalibrationObservations(res.Model.Arch, 2, 77)
		h0, err := res.Model.Prefix(obs[0])
		require.NoError(t, err)
		h1, err := res.Model.Prefix(obs[1])
		require.NoError(t, err)
		var probs []float64
		for _, j := range m.DynamicLayers() {
			p0, p1 := res.Model.Controller(j, h0), res.Model.Controller(j, h1)
			require.InDelta(t, p0, p1, 1e-12, "controller %d must not depend on its input", j)
			probs = append(probs, p0)
		}
		require.InDelta(t, minSkipProb, slices.Min(probs), 1e-6)
		require.InDelta(t, maxSkipProb, slices.Max(probs), 1e-6)
	})
}

func TestBuildIsDeterministic(t *testing.T) {
	first, _ := buildTiny(t, Options{Seed: 2})
	second, _ := buildTiny(t, Options{Seed: 2})
	other, _ := buildTiny(t, Options{Seed: 3})
	for _, name := range []string{"manifest.yaml", "prefix.onnx", "layer_03.onnx", "head.onnx", "full.onnx"} {
		require.Equal(t, readFile(t, first, name), readFile(t, second, name), name)
	}
	require.NotEqual(t, readFile(t, first, "layer_03.onnx"), readFile(t, other, "layer_03.onnx"))
}

func TestWeightsFile(t *testing.T) {
	a := presets["tiny"].Arch
	path := filepath.Join(t.TempDir(), "backbone.safetensors")
	require.NoError(t, SaveWeights(path, a, RandomWeights(a, 11), map[string]string{"note": "test"}))

	t.Run("loaded backbone equals the one saved", func(t *testing.T) {
		random, _ := buildTiny(t, Options{Seed: 11})
		loaded, res := buildTiny(t, Options{Seed: 99, WeightsFile: path})
		require.Equal(t, "backbone.safetensors", res.Manifest.Provenance.Weights)
		for _, name := range []string{"prefix.onnx", "layer_00.onnx", "layer_07.onnx", "head.onnx"} {
			require.Equal(t, readFile(t, random, name), readFile(t, loaded, name), name)
		}
	})

	t.Run("every problem of a bad file is reported", func(t *testing.T) {
		f, err := safetensors.ReadFile(path)
		require.NoError(t, err)
		delete(f.Tensors, "layers.2.attn.q.weight")
		f.Tensors["head.proj.weight"] = safetensors.F32([]int64{7, 64}, make([]float32, 7*64))
		bad := filepath.Join(t.TempDir(), "bad.safetensors")
		require.NoError(t, safetensors.WriteFile(bad, f.Tensors, nil))
		_, err = LoadWeights(bad, a)
		require.ErrorContains(t, err, `missing tensor "layers.2.attn.q.weight" (want shape [64 64])`)
		require.ErrorContains(t, err, `tensor "head.proj.weight" has shape [7 64], want [64 7]`)
	})

	t.Run("a deeper backbone is refused, not cut short", func(t *testing.T) {
		deeper := a
		deeper.Layers = a.Layers + 4
		path := filepath.Join(t.TempDir(), "deeper.safetensors")
		require.NoError(t, SaveWeights(path, deeper, RandomWeights(deeper, 11), nil))
		_, err := LoadWeights(path, a)
		require.ErrorContains(t, err, "it holds decoder layers up to layers.11: a backbone of 12 layers, where this one has 8")
		_, err = LoadWeights(path, deeper)
		require.NoError(t, err)
	})

	t.Run("another preset's weights are named as such, briefly, either way", func(t *testing.T) {
		save := func(arch Arch) string {
			p := filepath.Join(t.TempDir(), "w.safetensors")
			require.NoError(t, SaveWeights(p, arch, RandomWeights(arch, 11), nil))
			return p
		}
		small, selector, wide := presets["small"].Arch, presets["small_selector"].Arch, a
		wide.Hidden, wide.MLP = 128, 352
		smallPath := save(small)
		hint := func(arch Arch) string {
			return fmt.Sprintf("(weights of another preset? this architecture has %d layers of width %d)", arch.Layers, arch.Hidden)
		}
		for _, tc := range []struct {
			file     string
			into     Arch
			contains []string
		}{
			{path, small, []string{"modelbuild: weights " + path + ": it holds decoder layers up to layers.7: a backbone of 8 layers, where this one has 12; ",
				fmt.Sprintf("36 of its tensors do not fit (36 of the %d this architecture has are missing, 0 have other shapes), the first 3: ", len(WeightNames(small))),
				`missing tensor "layers.10.attn.k.weight" (want shape [64 64]); `, hint(small)}},
			{smallPath, a, []string{"it holds decoder layers up to layers.11: a backbone of 12 layers, where this one has 8 " + hint(a)}},
			{save(wide), a, []string{"have other shapes), the first 3: tensor ", hint(a)}},
			{smallPath, selector, []string{"are missing, 0 have other shapes), the first 3: missing tensor ", hint(selector)}},
		} {
			_, err := LoadWeights(tc.file, tc.into)
			require.Error(t, err)
			for _, c := range tc.contains {
				require.Contains(t, err.Error(), c)
			}
			require.Less(t, len(err.Error()), 700, err.Error())
			require.Equal(t, 1, strings.Count(err.Error(), "another preset"), err.Error())
		}
	})

	t.Run("a checkpoint of a run that did not finish is built with a warning", func(t *testing.T) {
		for _, tc := range []struct {
			step, steps, stopAfter string
			warned                 bool
		}{
			{"56", "500", "0", true},   // interrupted (Ctrl-C, or a --checkpoint-every file)
			{"500", "500", "0", false}, // finished
			{"56", "500", "56", false}, // ended where --stop-after said
			{"40", "500", "56", true},  // interrupted before its --stop-after
		} {
			file := filepath.Join(t.TempDir(), "wi.safetensors")
			require.NoError(t, SaveWeights(file, a, RandomWeights(a, 11), map[string]string{"trainer": "dysl train bc",
				"step": tc.step, "steps": tc.steps, "stop_after": tc.stopAfter}))
			var log, warn strings.Builder
			buildTiny(t, Options{Seed: 1, WeightsFile: file, Log: &log, Warn: &warn})
			if !tc.warned {
				require.Empty(t, warn.String(), tc)
				continue
			}
			end := tc.steps
			if tc.stopAfter != "0" {
				end = tc.stopAfter
			}
			require.Equal(t, "warning: weights "+file+": written at step "+tc.step+" of "+end+", a checkpoint of a training run that did not finish (interrupted, or stopped early): "+
				"the bundle runs it as if trained; 'dysl train bc --resume' with the run's flags finishes it\n", warn.String(), tc)
			require.NotContains(t, log.String(), "warning", tc)
		}
		// Without a warning writer the warning goes with the progress lines; a file without the metadata is let be.
		file := filepath.Join(t.TempDir(), "wi.safetensors")
		require.NoError(t, SaveWeights(file, a, RandomWeights(a, 11), map[string]string{"step": "56", "steps": "500"}))
		var log strings.Builder
		buildTiny(t, Options{Seed: 1, WeightsFile: file, Log: &log})
		require.Contains(t, log.String(), "warning: weights "+file+": written at step 56 of 500, a checkpoint of a training run that did not finish (interrupted, or stopped early): the bundle runs it as if trained\n")
		log.Reset()
		buildTiny(t, Options{Seed: 1, WeightsFile: path, Log: &log})
		require.NotContains(t, log.String(), "warning")
	})

	t.Run("names cover every backbone parameter", func(t *testing.T) {
		names := WeightNames(a)
		require.Len(t, names, 4+9*a.Layers+3)
		require.Equal(t, []int64{int64(a.MLP), int64(a.Hidden)}, names["layers.5.mlp.down.weight"])
	})
}

func TestBuildRejectsBadOptions(t *testing.T) {
	file := filepath.Join(t.TempDir(), "afile")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	cases := []struct {
		name string
		opts Options
		want string
	}{
		{"unknown preset", Options{Preset: "huge", OutDir: t.TempDir()}, `unknown preset "huge" (want one of bench, small, small_keypoints, small_relative, small_selector, small_state, tiny)`},
		{"no output", Options{Preset: "tiny"}, "no output directory"},
		{"static ratio", Options{Preset: "tiny", OutDir: t.TempDir(), StaticRatio: 1.5}, "static ratio (1.5) must be in (0, 1]"},
		{"static ratio NaN", Options{Preset: "tiny", OutDir: t.TempDir(), StaticRatio: math.NaN()}, "static ratio (NaN) must be in (0, 1]"},
		{"static ratio negative", Options{Preset: "tiny", OutDir: t.TempDir(), StaticRatio: -0.5}, "static ratio (-0.5) must be in (0, 1]"},
		{"missing weights", Options{Preset: "tiny", OutDir: t.TempDir(), WeightsFile: "/nonexistent.safetensors"}, "no such file"},
		{"calibration negative", Options{Preset: "tiny", OutDir: t.TempDir(), CalibrationFrames: -3}, "calibration observations (-3) must be in [1, 1000000], or 0 for the preset's"},
		{"calibration beyond its bound", Options{Preset: "tiny", OutDir: t.TempDir(), CalibrationFrames: 9_000_000_000_000_000_000}, "calibration observations (9000000000000000000) must be in [1, 1000000]"},
		{"calibration beyond memory", Options{Preset: "tiny", OutDir: t.TempDir(), CalibrationFrames: 900_000}, "1125000 calibration observations need about"},
		{"adapter rank negative", Options{Preset: "tiny", OutDir: t.TempDir(), AdapterRank: -2}, "adapter rank (-2) must be > 0, or 0 for the preset's 16"},
		{"adapter rank over the width", Options{Preset: "tiny", OutDir: t.TempDir(), AdapterRank: 65}, "adapter_rank (65) must be <= hidden (64)"},
		// Refused before the calibration, not when the bundle is put in place after it.
		{"output is a file", Options{Preset: "tiny", OutDir: file}, "modelbuild: output " + file + " is not a directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Build(c.opts)
			require.ErrorContains(t, err, c.want)
		})
	}
}

func TestChooseStatic(t *testing.T) {
	cases := []struct {
		similarity []float64
		ratio      float64
		want       []int
	}{
		{[]float64{0.9, 0.5, 0.8, 0.95}, 0.25, []int{3}},                                   // one static: the last
		{[]float64{0.9, 0.5, 0.8, 0.95}, 0.5, []int{1, 3}},                                 // plus the lowest
		{[]float64{0.9, 0.5, 0.8, 0.1}, 0.5, []int{1, 3}},                                  // last is low anyway: not counted twice
		{[]float64{0.9, 0.5, 0.8, 0.95, 0.7, 0.6, 0.99, 0.9, 0.92, 0.4}, 0.2, []int{1, 9}}, // 20% of 10
		{[]float64{0.9, 0.5, 0.8, 0.95}, 0.01, []int{3}},                                   // at least one
		{[]float64{0.9, 0.5, 0.8, 0.95}, 1, []int{0, 1, 2, 3}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.similarity, c.ratio), func(t *testing.T) {
			require.Equal(t, c.want, ChooseStatic(c.similarity, c.ratio))
		})
	}
}

func TestStaticRatioOption(t *testing.T) {
	dir, _ := buildTiny(t, Options{Seed: 4, StaticRatio: 0.5})
	b, err := bundle.Load(dir)
	require.NoError(t, err)
	require.Len(t, b.Manifest.StaticLayers, 4)
	require.Len(t, b.Manifest.Files.Adapters, 4)
}

// Reference: RoFormer (Su et al. 2021), section 3.4.2: rotary embedding makes the attention score of
// positions m and n depend only on m - n, and preserves each vector's norm.
func TestRopeIsRelative(t *testing.T) {
	a := presets["tiny"].Arch
	cos, sin := a.RopeTables()
	hd := a.HeadDim()
	q, k := make([]float64, hd), make([]float64, hd)
	for i := range q {
		q[i], k[i] = math.Sin(float64(i)+1), math.Cos(3*float64(i))
	}
	rotated := func(v []float64, pos int) []float64 {
		x := mat.NewDense(a.Tokens(), hd, nil)
		copy(x.RawRowView(pos), v)
		rope(x, cos, sin)
		return x.RawRowView(pos)
	}
	score := func(m, n int) float64 {
		return mat.Dot(mat.NewVecDense(hd, rotated(q, m)), mat.NewVecDense(hd, rotated(k, n)))
	}
	for _, c := range [][4]int{{5, 2, 10, 7}, {0, 3, 20, 23}, {12, 12, 1, 1}} {
		require.InDelta(t, score(c[0], c[1]), score(c[2], c[3]), 1e-5, "positions %v", c)
	}
	require.InDelta(t, mat.Norm(mat.NewVecDense(hd, q), 2), mat.Norm(mat.NewVecDense(hd, rotated(q, 17)), 2), 1e-5)
	require.NotEqual(t, score(5, 2), score(5, 3), "scores must depend on the offset")
}

func TestReferenceRejectsBadInput(t *testing.T) {
	a := presets["tiny"].Arch
	m := &Model{Arch: a, Weights: RandomWeights(a, 1)}
	obs := CalibrationObservations(a, 1, 1)[0]
	_, err := m.Prefix(Observation{Image: obs.Image[:10], Tokens: obs.Tokens})
	require.ErrorContains(t, err, "image has 10 values, want 3x64x64 = 12288")
	bad := append([]int64(nil), obs.Tokens...)
	bad[3] = 300
	_, err = m.Prefix(Observation{Image: obs.Image, Tokens: bad})
	require.ErrorContains(t, err, "token 300 at position 3 is outside the vocabulary [0, 257)")
	_, err = m.Prefix(Observation{Image: obs.Image, Tokens: obs.Tokens, State: []float32{1}})
	require.ErrorContains(t, err, "1 robot-state values, want 0")
}

func TestArchValidate(t *testing.T) {
	a := presets["tiny"].Arch
	require.NoError(t, a.Validate())
	a.Heads, a.PatchSize, a.AdapterRank, a.Keypoints = 5, 7, 100, 16
	a.KeypointGain, a.SelectorWindow = math.NaN(), 3
	err := a.Validate()
	require.ErrorContains(t, err, "keypoint_gain (NaN) must be finite and >= 0 (0: 4)")
	require.ErrorContains(t, err, "selector_window (3) and selector_hidden (0) must both be > 0 (with keypoints, 16), or both 0")
	require.ErrorContains(t, err, "keypoints (16) and keypoint_hidden (0) must both be > 0, or both 0")
	require.ErrorContains(t, err, "hidden (64) must be heads (5) times an even head width")
	require.ErrorContains(t, err, "patch_size (7) must divide image_size (64)")
	require.ErrorContains(t, err, "adapter_rank (100) must be <= hidden (64)")
}

func TestStandInSkipProbs(t *testing.T) {
	cases := []struct {
		name string
		fits map[int]adapterFit
		want map[int]float64
	}{
		{"ranked linearly", map[int]adapterFit{1: {Unexplained: 0.8}, 2: {Unexplained: 0.6}, 3: {Unexplained: 0.4}},
			map[int]float64{1: 0.1, 2: 0.5, 3: 0.9}},
		{"all equal", map[int]adapterFit{4: {Unexplained: 0.3}, 5: {Unexplained: 0.3}}, map[int]float64{4: 0.5, 5: 0.5}},
		{"one adapter", map[int]adapterFit{2: {Unexplained: 0.9}}, map[int]float64{2: 0.5}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := standInSkipProbs(c.fits)
			require.Len(t, got, len(c.want))
			for j, p := range c.want {
				require.InDelta(t, p, got[j], 1e-12, "layer %d", j)
			}
		})
	}
}

func TestAdapterAndControllerGraphsMatchBuild(t *testing.T) {
	dir, res := buildTiny(t, Options{Seed: 8})
	j := res.Manifest.DynamicLayers()[1]
	adapter, err := AdapterGraph(res.Model.Arch, j, res.Model.Adapters[j]).Marshal()
	require.NoError(t, err)
	require.Equal(t, readFile(t, dir, adapterFile(j)), adapter)
	controller, err := ControllerGraph(res.Model.Arch, j, res.Model.Controllers[j]).Marshal()
	require.NoError(t, err)
	require.Equal(t, readFile(t, dir, controllerFile(j)), controller)
}

func TestSceneCalibrationObservations(t *testing.T) {
	a := presets["tiny"].Arch
	obs, err := SceneCalibrationObservations(a, 40, 3, scene.Tabletop{})
	require.NoError(t, err)
	require.Len(t, obs, 40)
	again, err := SceneCalibrationObservations(a, 40, 3, scene.Tabletop{})
	require.NoError(t, err)
	require.Equal(t, obs, again, "deterministic by seed")
	distinctImages := map[float32]bool{}
	for _, o := range obs {
		require.Len(t, o.Image, 3*a.ImageSize*a.ImageSize)
		require.Len(t, o.Tokens, a.InstructionTokens)
		require.NotZero(t, o.Tokens[0], "an instruction is present")
		var sum float32
		for _, v := range o.Image {
			sum += v
		}
		distinctImages[sum] = true
	}
	require.Greater(t, len(distinctImages), 30, "frames are spread over episodes and phases, not repeated")

	negative, err := SceneCalibrationObservations(a, 5, -3, scene.Tabletop{})
	require.NoError(t, err, "a negative seed is a seed like any other")
	require.Len(t, negative, 5)
}

// The tiny model must read whole instructions: with 16 tokens every scene instruction was cut before
// the goal colour ("pick up the red "), so no policy could learn where to place the block.
func TestTinyReadsWholeSceneInstructions(t *testing.T) {
	longest := 0
	for seed := int64(0); seed < 200; seed++ {
		longest = max(longest, len(scene.Instruction(scene.Reset(seed))))
	}
	require.LessOrEqual(t, longest, presets["tiny"].Arch.InstructionTokens)
}

// A build over an older bundle leaves none of its graphs that the new manifest does not name (fewer
// dynamic layers: fewer adapters and controllers), and keeps the files no manifest names.
func TestBuildOverABundleRemovesItsStaleGraphs(t *testing.T) {
	dir, first := buildTiny(t, Options{Seed: 1, StaticRatio: 0.2})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644))
	res, err := Build(Options{Preset: "tiny", OutDir: dir, Now: epoch, CalibrationFrames: 8, Seed: 1, StaticRatio: 0.5})
	require.NoError(t, err)
	require.Less(t, len(res.Manifest.Files.Adapters), len(first.Manifest.Files.Adapters), "the second build has fewer dynamic layers")

	named := map[string]bool{res.Manifest.Files.Prefix: true, res.Manifest.Files.Head: true, res.Manifest.Files.Full: true}
	for _, f := range res.Manifest.Files.Layers {
		named[f] = true
	}
	for _, table := range []map[int]string{res.Manifest.Files.Adapters, res.Manifest.Files.Controllers} {
		for _, f := range table {
			named[f] = true
		}
	}
	graphs, err := filepath.Glob(filepath.Join(dir, "*.onnx"))
	require.NoError(t, err)
	for _, g := range graphs {
		require.True(t, named[filepath.Base(g)], "%s is left from the first build", filepath.Base(g))
	}
	require.Len(t, graphs, len(named))
	require.Equal(t, []byte("mine"), readFile(t, dir, "notes.txt"))
}

// The committed weights are the ends of their runs (the small reference stopped on purpose at step
// 1000 of its 2000-step schedule, as its script says): building a documented bundle from them warns
// of nothing.
func TestCommittedWeightsAreFinishedRuns(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "models", "*", "*.safetensors"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, path := range files {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		f, err := safetensors.Decode(data)
		require.NoError(t, err, path)
		require.Empty(t, unfinishedTraining(f.Metadata), path)
	}
}

// A build refuses an output directory holding anything but a bundle dysl model build wrote, before
// any work, and leaves it as it was: a model author's own bundle (found by one who brought their own
// VLA: provenance.builder "hand" came out "dysl model build", its graphs replaced), or other files.
// A rebuild of its own bundle goes on (TestBuildOverABundleRemovesItsStaleGraphs).
func TestBuildRefusesAnOutputItDidNotWrite(t *testing.T) {
	own, _ := buildTiny(t, Options{Seed: 1})
	m, err := bundle.ReadManifest(own)
	require.NoError(t, err)
	m.Provenance.Builder = "hand"
	require.NoError(t, bundle.Write(own, m))

	other := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(other, "thesis.tex"), []byte("mine"), 0o644))

	unreadable := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(unreadable, bundle.ManifestFile), []byte("format: [\n"), 0o644))

	for _, c := range []struct {
		name, dir, want string
	}{
		{"a hand-made bundle", own, `holds a bundle that dysl model build did not write (provenance.builder is "hand", not "dysl model build")`},
		{"files that are no bundle", other, "is not a bundle (no manifest.yaml; it holds thesis.tex)"},
		{"a manifest that does not read", unreadable, "its manifest.yaml does not read"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := diskfull.Snapshot(t, c.dir)
			_, err := Build(Options{Preset: "tiny", OutDir: c.dir, Seed: 2, CalibrationFrames: 8, Now: epoch})
			require.ErrorContains(t, err, "modelbuild: output "+c.dir)
			require.ErrorContains(t, err, c.want)
			require.ErrorContains(t, err, "give another --out, or remove "+c.dir+" first")
			require.Equal(t, before, diskfull.Snapshot(t, c.dir), "left as it was")
		})
	}
}

// A bundle of another model (provenance.preset "own", or a preset's name over other sizes) is refused
// by what rebuilds the reference backbone with a message saying so in words: which commands these
// are, what such a bundle brings instead, and each size that differs as bundle value and preset
// value, not a Go struct dump (it said "dims {Layers:4 Hidden:16 ...} do not match preset tiny").
func TestBundleArchRefusesAnotherModelInWords(t *testing.T) {
	m := bundle.Manifest{
		Provenance: bundle.Provenance{Preset: "own"},
		Dims: bundle.Dims{Layers: 4, Hidden: 16, Heads: 2, MLP: 176, Tokens: 120, InstructionTokens: 48, Vocab: 257,
			AdapterRank: 8, Chunk: 8, ActionDim: 7},
		Image: bundle.ImageSpec{Width: 64, Height: 48},
	}
	const why = "calibrate, distill and the open-loop evaluate (and the early-exit baseline) rebuild the backbone of dysl model build's " +
		"reference architecture in Go, so they run only on a bundle built from one of its presets " +
		"(bench, small, small_keypoints, small_relative, small_selector, small_state, tiny); " +
		"a bundle of another model brings its static layers, adapters and controllers from its own training (docs/BUNDLE.md)"

	_, err := BundleArch(&m)
	require.EqualError(t, err, `provenance.preset is "own", not a preset of the reference architecture: `+why)

	m.Provenance.Preset = "tiny"
	_, err = BundleArch(&m)
	require.EqualError(t, err, "provenance.preset is tiny, but the sizes are not its (dims.layers is 4, the preset's 8; dims.hidden is 16, the preset's 64; "+
		"dims.heads is 2, the preset's 4; image.height is 48, the preset's 64): "+why)
}
