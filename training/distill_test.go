package training

import (
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"dysl_vla/modelbuild"
	"dysl_vla/policy/bundle"
	"dysl_vla/policy/ortbackend"
	"dysl_vla/policy/ortbackend/orttest"
	"dysl_vla/scene"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/require"
)

func backboneSnapshot(t *testing.T, m *Model) map[string][]float32 {
	out := map[string][]float32{}
	for name, v := range m.BackboneVariables() {
		value, err := v.Value()
		require.NoError(t, err)
		out[name] = tensors.MustCopyFlatData[float32](value)
	}
	return out
}

// TestDistillTrainsSkipModulesOnly runs both stages briefly on the tiny model: each stage's loss falls,
// the backbone is bit-for-bit unchanged, and the exported adapters and controllers, run on ONNX
// Runtime, give what the training graph gives.
func TestDistillTrainsSkipModulesOnly(t *testing.T) {
	t.Run("plain adapters", func(t *testing.T) { distillTrainsSkipModulesOnly(t, modelbuild.Options{}) })
	t.Run("context adapters", func(t *testing.T) {
		distillTrainsSkipModulesOnly(t, contextAdapters)
	})
}

func distillTrainsSkipModulesOnly(t *testing.T, opts modelbuild.Options) {
	dir, _, manifest, a, w := builtTinyBundleWith(t, opts)
	require.Equal(t, opts.AdapterContext, a.AdapterContext, "the bundle's adapter form reaches training")
	m, err := NewModel(a, w)
	require.NoError(t, err)
	dynamic := manifest.DynamicLayers()
	m.AddSkipModules(dynamic, 1)
	before := backboneSnapshot(t, m)

	cfg := DistillConfig{Segments: manifest.Segments(), Seed: 2, Episodes: 1, Stage1Steps: 30, Stage2Steps: 20,
		Batch: 4, LearningRate: 3e-3, Lambda: 0.05}
	res, err := Distill(m, cfg)
	require.NoError(t, err)
	require.Less(t, mean(res.Stage1Loss[25:]), 0.8*mean(res.Stage1Loss[:5]), "stage 1 loss should fall")
	require.Len(t, res.Stage2Loss, 20)
	require.Equal(t, before, backboneSnapshot(t, m), "the backbone must stay frozen")
	require.Less(t, res.Trainable, res.Backbone)

	mods, err := m.SkipModules(dynamic)
	require.NoError(t, err)
	adaptersNote, controllersNote := DistillNotes(cfg, res)
	require.NoError(t, WriteSkipModules(dir, manifest, a, mods, adaptersNote, controllersNote))

	// One observation through prefix, the layers before j, controller j and adapter j, then the rest of
	// j's segment skipped: once in the training graph, once on ONNX Runtime from the written bundle.
	j := dynamic[0]
	next := 0
	for _, seg := range manifest.Segments() {
		for _, d := range seg.Dynamic {
			if d == j {
				next = seg.Static
			}
		}
	}
	obs := modelbuild.CalibrationObservations(a, 1, 8)
	outs, err := context.ExecOnceN(m.Backend, m.Ctx, func(ctx *context.Context, inputs []*Node) []*Node {
		h := m.Prefix(m.inputsFrom(inputs))
		for i := 0; i < j; i++ {
			h = m.Layer(i, h)
		}
		skip := m.Controller(j, h)
		h = m.Adapter(j, h)
		for i := next; i < a.Layers; i++ {
			h = m.Layer(i, h)
		}
		return []*Node{skip, m.Head(h)}
	}, observationTensors(a, obs)...)
	require.NoError(t, err)
	wantSkip := tensors.MustCopyFlatData[float32](outs[0])[0]
	wantChunk := tensors.MustCopyFlatData[float32](outs[1])

	b, err := bundle.Load(dir)
	require.NoError(t, err)
	backend, err := ortbackend.New(dir, &b.Manifest, ortbackend.Config{LibraryPath: orttest.Library(t)})
	require.NoError(t, err)
	defer backend.Close()
	require.NoError(t, backend.RunPrefix(obs[0].Image, obs[0].Tokens, obs[0].State))
	for i := 0; i < j; i++ {
		require.NoError(t, backend.RunLayer(i))
	}
	skip, err := backend.RunController(j)
	require.NoError(t, err)
	require.InDelta(t, wantSkip, skip, 1e-4)
	require.NoError(t, backend.RunAdapter(j))
	for i := next; i < a.Layers; i++ {
		require.NoError(t, backend.RunLayer(i))
	}
	chunk := make([]float32, a.Chunk*a.ActionDim)
	require.NoError(t, backend.RunHead(chunk))
	require.InDeltaSlice(t, wantChunk, chunk, 2e-3)
}

// TestDistillStartsFromTheBundlesAdapters: the adapters read back from a built bundle are the ones the
// builder fitted on scene frames, and loaded into the model they explain part of the skipped layers'
// work on held-out scene frames.
func TestDistillStartsFromTheBundlesAdapters(t *testing.T) {
	t.Run("plain adapters", func(t *testing.T) { distillStartsFromTheBundlesAdapters(t, modelbuild.Options{}) })
	t.Run("context adapters", func(t *testing.T) {
		distillStartsFromTheBundlesAdapters(t, contextAdapters)
	})
}

func distillStartsFromTheBundlesAdapters(t *testing.T, opts modelbuild.Options) {
	dir, built, manifest, a, w := builtTinyBundleWith(t, opts)
	mods, err := ReadSkipModules(dir, manifest, a)
	require.NoError(t, err)
	dynamic := manifest.DynamicLayers()
	require.Len(t, mods.Adapters, len(dynamic))
	for _, j := range dynamic {
		require.Equal(t, built.Model.Adapters[j], mods.Adapters[j], "adapter %d", j)
		require.Equal(t, built.Model.Controllers[j], mods.Controllers[j], "controller %d", j)
	}

	m, err := NewModel(a, w)
	require.NoError(t, err)
	m.AddSkipModules(dynamic, 1)
	frames, err := GenerateEpisodes(a, Seeds(HeldOutSeedStart, 1))
	require.NoError(t, err)
	probe := everyNth(frames, 8)
	identity, err := m.AdapterUnexplained(frames, probe, manifest.Segments())
	require.NoError(t, err)
	for j, u := range identity {
		require.InDelta(t, 1, u, 1e-4, "the identity adapter %d explains nothing", j)
	}
	require.NoError(t, m.SetSkipModules(SkipModules{Adapters: mods.Adapters}))

	// The training graph's adapter computes what the builder's reference (the ONNX graphs' oracle) does.
	j := dynamic[0]
	hiddens, _, err := built.Model.Forward(modelbuild.CalibrationObservations(a, 1, 11)[0])
	require.NoError(t, err)
	T, D := a.Tokens(), a.Hidden
	in := make([]float32, 0, T*D)
	for i := 0; i < T; i++ {
		for _, v := range hiddens[j].RawRowView(i) {
			in = append(in, float32(v))
		}
	}
	out, err := context.ExecOnceN(m.Backend, m.Ctx, func(ctx *context.Context, inputs []*Node) []*Node {
		return []*Node{m.Adapter(j, inputs[0])}
	}, tensors.FromFlatDataAndDimensions(in, 1, T, D))
	require.NoError(t, err)
	want := built.Model.Adapter(j, hiddens[j])
	for i, v := range tensors.MustCopyFlatData[float32](out[0]) {
		require.InDelta(t, want.At(i/D, i%D), float64(v), 2e-3, "adapter %d, value %d", j, i)
	}

	fitted, err := m.AdapterUnexplained(frames, probe, manifest.Segments())
	require.NoError(t, err)
	t.Logf("unexplained fraction on scene frames, closed-form adapters: %s", describeByLayer(fitted))
	// The builder fits its adapters on scene frames, so on held-out scene frames they explain part of
	// the skipped layers' work: distillation starts from there, not from nothing.
	for j, u := range fitted {
		require.Less(t, u, 0.9, "adapter %d", j)
	}
}

// TestStage2FitKeepsTheAdaptersFit runs stage 2 alone from a micro model's identity adapters, with and
// without stage 1's loss kept: with it the adapters end closer to the skipped layers, and the notes
// say so. Bad weights are refused.
func TestStage2FitKeepsTheAdaptersFit(t *testing.T) {
	run := func(fit float64) (*DistillResult, DistillConfig) {
		m, segments := microDistillModel(t)
		cfg := DistillConfig{Segments: segments, Seed: 3, Episodes: 1, Stage2Steps: 12, Batch: 4,
			LearningRate: 1e-2, Lambda: 0.2, Stage2Fit: fit}
		res, err := Distill(m, cfg)
		require.NoError(t, err)
		return res, cfg
	}
	plain, _ := run(0)
	kept, cfg := run(5)
	t.Logf("mean unexplained after stage 2: %.3f without the fit term, %.3f with it (%.3f before)",
		meanOf(plain.UnexplainedAfter), meanOf(kept.UnexplainedAfter), meanOf(kept.UnexplainedBefore))
	require.Less(t, meanOf(kept.UnexplainedAfter), meanOf(plain.UnexplainedAfter))
	adapters, controllers := DistillNotes(cfg, kept)
	require.Contains(t, adapters, "stage 2 kept stage 1's loss at weight 5")
	require.Contains(t, controllers, "+ 5·stage 1's loss")

	m, segments := microDistillModel(t)
	for _, bad := range []DistillConfig{{Stage2Fit: -1}, {Lambda: math.NaN()}, {Stage2Fit: math.Inf(1)}} {
		bad.Segments, bad.Stage2Steps, bad.Batch, bad.Episodes, bad.LearningRate = segments, 1, 1, 1, 1e-3
		_, err := Distill(m, bad)
		require.ErrorContains(t, err, "expected a finite weight >= 0")
	}
	radius := DistillConfig{Segments: segments, Stage2Steps: 1, Batch: 1, Episodes: 1, LearningRate: 1e-3, NearRadius: math.NaN()}
	_, err := Distill(m, radius)
	require.ErrorContains(t, err, "near-target radius is NaN, expected a finite distance in metres >= 0")
}

// Counts and rates out of range are refused before any episode is generated, each named with its value.
func TestDistillRejectsBadCountsAndRates(t *testing.T) {
	m, segments := microDistillModel(t)
	good := DistillConfig{Segments: segments, Episodes: 1, Stage1Steps: 1, Stage2Steps: 1, Batch: 2, LearningRate: 1e-3}
	for _, c := range []struct {
		change func(*DistillConfig)
		want   string
	}{
		{func(c *DistillConfig) { c.Episodes = -3 }, "episodes (-3)"},
		{func(c *DistillConfig) { c.Stage1Steps = -3 }, "stage 1 steps (-3)"},
		{func(c *DistillConfig) { c.Stage2Steps = -1 }, "stage 2 steps (-1)"},
		{func(c *DistillConfig) { c.Stage1Steps, c.Stage2Steps = 0, 0 }, "with at least one step"},
		{func(c *DistillConfig) { c.Batch = 0 }, "batch (0) >= 1"},
		{func(c *DistillConfig) { c.CheckpointEvery = -2 }, "checkpoint-every (-2)"},
		{func(c *DistillConfig) { c.LearningRate = math.NaN() }, "learning rate is NaN, expected a finite rate > 0"},
		{func(c *DistillConfig) { c.LearningRate = -3 }, "learning rate is -3"},
		{func(c *DistillConfig) { c.LearningRate = math.Inf(1) }, "learning rate is +Inf"},
	} {
		cfg := good
		c.change(&cfg)
		_, err := Distill(m, cfg)
		require.ErrorContains(t, err, c.want)
	}
}

// Ctrl-C in a run without checkpoints: the step in progress finishes, a checkpoint of it is written
// all the same, and the error says the run was interrupted.
func TestDistillInterruptedWritesACheckpoint(t *testing.T) {
	m, segments := microDistillModel(t)
	var checkpoints []DistillProgress
	steps := 0
	cfg := DistillConfig{Segments: segments, Seed: 2, Episodes: 1, Stage1Steps: 4, Stage2Steps: 2,
		Batch: 2, LearningRate: 1e-3, Lambda: 0.05,
		OnStep:      func(int, int, float64) { steps++ },
		Interrupted: func() bool { return steps == 2 },
		Checkpoint:  func(p DistillProgress) error { checkpoints = append(checkpoints, p); return nil }}
	_, err := Distill(m, cfg)
	require.ErrorIs(t, err, ErrInterrupted)
	require.ErrorContains(t, err, "interrupted at stage 1 step 2")
	require.Equal(t, []DistillProgress{{Stage: 1, Step: 2}}, checkpoints, "one checkpoint, of the step it stopped at")
	require.Equal(t, 2, steps)
}

// TestDistillResumesFromItsCheckpoint stops a distillation at its first checkpoint and resumes it from
// the bundle: the resumed run starts from the checkpointed adapters and controllers, runs only the
// steps left, refuses other settings, and the checkpoint file goes once the run is finished.
func TestDistillResumesFromItsCheckpoint(t *testing.T) {
	dir, _, manifest, a, w := builtTinyBundle(t)
	newModel := func() *Model {
		m, err := NewModel(a, w)
		require.NoError(t, err)
		m.AddSkipModules(manifest.DynamicLayers(), 1)
		return m
	}
	cfg := DistillConfig{Segments: manifest.Segments(), Seed: 2, Episodes: 1, Stage1Steps: 4, Stage2Steps: 2,
		Batch: 2, LearningRate: 1e-3, Lambda: 0.05, CheckpointEvery: 3}
	first := newModel()
	stop := errors.New("stop")
	cfg.Checkpoint = func(p DistillProgress) error {
		require.NoError(t, WriteDistillCheckpoint(dir, manifest, first, cfg, p))
		return stop
	}
	_, err := Distill(first, cfg)
	require.ErrorIs(t, err, stop)
	saved, err := first.SkipModules(manifest.DynamicLayers())
	require.NoError(t, err)

	other := cfg
	other.Batch = 3
	other.Tasks = scene.Tabletop{Blocks: 3, Pads: 4}
	_, err = ResumeDistill(dir, manifest, newModel(), other)
	require.ErrorContains(t, err, "was made with other settings: it differs in batch (2 in the checkpoint, 3 here), tasks (", "a resumed run must draw the same batches, from the same scenes")

	recalibrated := *manifest
	recalibrated.StaticLayers = []int{0, 2, 6, 7}
	_, err = ResumeDistill(dir, &recalibrated, newModel(), cfg)
	require.ErrorContains(t, err, "it differs in static_layers (", "adapters trained for other dynamic layers")

	second := newModel()
	resumed, err := ResumeDistill(dir, manifest, second, cfg)
	require.NoError(t, err)
	require.Equal(t, DistillProgress{Stage: 1, Step: 3}, resumed.Resume)
	loaded, err := second.SkipModules(manifest.DynamicLayers())
	require.NoError(t, err)
	require.Equal(t, saved, loaded)
	resumed.Checkpoint = nil
	res, err := Distill(second, resumed)
	require.NoError(t, err)
	require.Len(t, res.Stage1Loss, 1)
	require.Len(t, res.Stage2Loss, 2)
	mods, err := second.SkipModules(manifest.DynamicLayers())
	require.NoError(t, err)
	require.NoError(t, FinishDistill(dir, manifest, second.Arch, mods, "distilled", "distilled"))
	_, err = ResumeDistill(dir, manifest, newModel(), cfg)
	require.Error(t, err)
}

// TestDistillTrainsOnVisitedStates: world states a policy visited are frames of the distillation like
// the expert episodes' (here the only ones), and the provenance says they were there.
func TestDistillTrainsOnVisitedStates(t *testing.T) {
	m, segments := microDistillModel(t)
	var visited []scene.State
	s, _ := scene.Start(TrainSeedStart+77, sceneConfig(m.Arch))
	for range 12 {
		visited = append(visited, s)
		action, _ := scene.ExpertOptions{}.Next(s)
		s = scene.Step(s, action)
	}
	var log strings.Builder
	cfg := DistillConfig{Segments: segments, Seed: 2, Stage1Steps: 30, Batch: 4, LearningRate: 3e-3,
		Visited: visited, Log: &log}
	res, err := Distill(m, cfg)
	require.NoError(t, err)
	require.Contains(t, log.String(), "training frames: 0 from 0 expert episodes, 12 from visited states")
	require.Less(t, mean(res.Stage1Loss[25:]), 0.8*mean(res.Stage1Loss[:5]), "stage 1 loss should fall on the visited frames")
	adapters, _ := DistillNotes(cfg, res)
	require.Contains(t, adapters, "the frames of 12 world states a policy visited in closed loop")

	cfg.Visited = nil
	_, err = Distill(m, cfg)
	require.ErrorContains(t, err, "no frames to distill on (0 episodes, no visited states)")
}

// NearWeight weighs stage 2's chunk L1 on the frames near the task's target: the same run with the
// weight sees a larger loss (every other frame and the skip term alike), and the provenance says so.
func TestNearTargetWeightWeighsTheChunkLossNearTheTarget(t *testing.T) {
	run := func(weight float64) (*DistillResult, DistillConfig, string) {
		m, segments := microDistillModel(t)
		var log strings.Builder
		cfg := DistillConfig{Segments: segments, Seed: 4, Episodes: 1, Stage2Steps: 1, Batch: 16,
			LearningRate: 1e-3, Lambda: 0.2, NearWeight: weight, NearRadius: 0.06, Log: &log}
		res, err := Distill(m, cfg)
		require.NoError(t, err)
		return res, cfg, log.String()
	}
	plain, _, _ := run(0)
	weighted, cfg, log := run(5)
	require.Contains(t, log, "within 6 cm of the target 5 times")
	require.Greater(t, weighted.Stage2Loss[0], plain.Stage2Loss[0], "the same first batch, its near frames' L1 counted 5 times")
	_, controllers := DistillNotes(cfg, weighted)
	require.Contains(t, controllers, "chunk L1 weighed 5 times within 6 cm of the target")

	m, segments := microDistillModel(t)
	_, err := Distill(m, DistillConfig{Segments: segments, Episodes: 1, Stage2Steps: 1, Batch: 1, LearningRate: 1e-3, NearWeight: 2})
	require.ErrorContains(t, err, "needs a near-target radius > 0")
	_, err = Distill(m, DistillConfig{Segments: segments, Episodes: 1, Stage2Steps: 1, Batch: 1, LearningRate: 1e-3, NearWeight: -2})
	require.ErrorContains(t, err, "near-target weight is -2, expected a finite weight >= 0")
}

// Weights given for a bundle must be its backbone: the same preset's weights of another run (another
// seed here) are refused, naming a tensor that differs, before anything is fitted to them; the bundle's
// own weights pass.
func TestBundleBackboneRefusesAnotherBackbone(t *testing.T) {
	dir, _, _, a, own := builtTinyBundle(t) // seed 5
	ownFile := filepath.Join(t.TempDir(), "own.safetensors")
	require.NoError(t, modelbuild.SaveWeights(ownFile, a, own, nil))
	_, _, _, err := OpenBundleBackbone(dir, ownFile)
	require.NoError(t, err)

	otherFile := filepath.Join(t.TempDir(), "other.safetensors")
	require.NoError(t, modelbuild.SaveWeights(otherFile, a, modelbuild.RandomWeights(a, 6), nil))
	_, _, _, err = OpenBundleBackbone(dir, otherFile)
	require.ErrorContains(t, err, "training: "+otherFile+" is not the backbone of bundle "+dir+": its tensor ")
	require.ErrorContains(t, err, "differs from the one in prefix.onnx")
}
