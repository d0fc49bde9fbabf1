package modelbuild

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	ort "github.com/yalue/onnxruntime_go"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"dysl_vla/policy/bundle"
	"dysl_vla/policy/ortbackend/orttest"
)

// The ONNX graphs are checked against the Go reference by running them on ONNX Runtime directly; this
// is test-only (the engine's real backend lives in policy/ortbackend).

var (
	ortOnce sync.Once
	ortErr  error
)

// requireORT initializes ONNX Runtime once, from the library orttest.Library finds, and skips the test
// when there is none.
func requireORT(t *testing.T) {
	t.Helper()
	lib := orttest.Library(t)
	ortOnce.Do(func() {
		ort.SetSharedLibraryPath(lib)
		ortErr = ort.InitializeEnvironment(ort.WithLogLevelError())
	})
	require.NoError(t, ortErr)
}

// runGraph runs one graph file with float32/int64 inputs and returns its single float32 output.
func runGraph(t *testing.T, path string, inputs map[string]ort.Value, output string, outShape ...int64) []float32 {
	t.Helper()
	var names []string
	var values []ort.Value
	for name, v := range inputs {
		names = append(names, name)
		values = append(values, v)
	}
	out, err := ort.NewEmptyTensor[float32](ort.NewShape(outShape...))
	require.NoError(t, err)
	defer out.Destroy()
	session, err := ort.NewAdvancedSession(path, names, []string{output}, values, []ort.Value{out}, nil)
	require.NoError(t, err, path)
	defer session.Destroy()
	require.NoError(t, session.Run(), path)
	return append([]float32(nil), out.GetData()...)
}

func tensor[T ort.TensorData](t *testing.T, data []T, shape ...int64) *ort.Tensor[T] {
	t.Helper()
	v, err := ort.NewTensor(ort.NewShape(shape...), data)
	require.NoError(t, err)
	return v
}

func toFloat32(m *mat.Dense) []float32 {
	r, c := m.Dims()
	out := make([]float32, 0, r*c)
	for i := 0; i < r; i++ {
		for _, v := range m.RawRowView(i) {
			out = append(out, float32(v))
		}
	}
	return out
}

// requireClose asserts max |got - want| <= tol·max(1, max |want|).
func requireClose(t *testing.T, want []float64, got []float32, tol float64, what string) {
	t.Helper()
	require.Len(t, got, len(want), what)
	scale, worst := 1.0, 0.0
	for i := range want {
		scale = math.Max(scale, math.Abs(want[i]))
		worst = math.Max(worst, math.Abs(float64(got[i])-want[i]))
	}
	require.LessOrEqual(t, worst, tol*scale, "%s: max abs diff %.3g (scale %.3g)", what, worst, scale)
}

func flat(m *mat.Dense) []float64 {
	r, c := m.Dims()
	out := make([]float64, 0, r*c)
	for i := 0; i < r; i++ {
		out = append(out, m.RawRowView(i)...)
	}
	return out
}

func TestGraphsMatchReference(t *testing.T) {
	requireORT(t)
	dir := t.TempDir()
	res, err := Build(Options{Preset: "tiny", OutDir: dir, Seed: 3})
	require.NoError(t, err)
	b, err := bundle.Load(dir)
	require.NoError(t, err)
	m, model := b.Manifest, res.Model
	T, D, K, A := int64(m.Dims.Tokens), int64(m.Dims.Hidden), int64(m.Dims.Chunk), int64(m.Dims.ActionDim)
	S := int64(m.Image.Width)

	// Observations unlike the calibration ones (another seed), so the check is not about fitted data.
	for i, obs := range CalibrationObservations(model.Arch, 2, 99) {
		hiddens, wantActions, err := model.Forward(obs)
		require.NoError(t, err)
		image := tensor(t, obs.Image, 1, 3, S, S)
		tokens := tensor(t, obs.Tokens, 1, int64(len(obs.Tokens)))
		imageInputs := map[string]ort.Value{bundle.InputImage: image, bundle.InputTokens: tokens}

		t.Run(fmt.Sprintf("observation %d segmented", i), func(t *testing.T) {
			h := runGraph(t, b.Path(m.Files.Prefix), imageInputs, bundle.OutputHidden, 1, T, D)
			requireClose(t, flat(hiddens[0]), h, 1e-4, "prefix")
			for layer, file := range m.Files.Layers {
				// Each layer gets the reference input, so the per-layer error does not accumulate.
				in := tensor(t, toFloat32(hiddens[layer]), 1, T, D)
				h = runGraph(t, b.Path(file), map[string]ort.Value{bundle.InputHidden: in}, bundle.OutputHidden, 1, T, D)
				requireClose(t, flat(hiddens[layer+1]), h, 1e-4, file)
				in.Destroy()
			}
			// And the chain run end to end in float32 through ONNX Runtime alone.
			h = runGraph(t, b.Path(m.Files.Prefix), imageInputs, bundle.OutputHidden, 1, T, D)
			for _, file := range m.Files.Layers {
				in := tensor(t, h, 1, T, D)
				h = runGraph(t, b.Path(file), map[string]ort.Value{bundle.InputHidden: in}, bundle.OutputHidden, 1, T, D)
				in.Destroy()
			}
			in := tensor(t, h, 1, T, D)
			got := runGraph(t, b.Path(m.Files.Head), map[string]ort.Value{bundle.InputHidden: in}, bundle.OutputActions, 1, K, A)
			in.Destroy()
			requireClose(t, wantActions, got, 1e-4, "prefix→layers→head")
		})

		t.Run(fmt.Sprintf("observation %d adapters and controllers", i), func(t *testing.T) {
			for _, j := range m.DynamicLayers() {
				in := tensor(t, toFloat32(hiddens[j]), 1, T, D)
				inputs := map[string]ort.Value{bundle.InputHidden: in}
				got := runGraph(t, b.Path(m.Files.Adapters[j]), inputs, bundle.OutputHidden, 1, T, D)
				requireClose(t, flat(model.Adapter(j, hiddens[j])), got, 1e-4, m.Files.Adapters[j])
				p := runGraph(t, b.Path(m.Files.Controllers[j]), inputs, bundle.OutputSkipProb, 1, 1)
				requireClose(t, []float64{model.Controller(j, hiddens[j])}, p, 1e-4, m.Files.Controllers[j])
				require.True(t, p[0] > 0 && p[0] < 1, "skip_prob %v must be a probability", p[0])
				in.Destroy()
			}
		})

		t.Run(fmt.Sprintf("observation %d full graph", i), func(t *testing.T) {
			got := runGraph(t, b.Path(m.Files.Full), imageInputs, bundle.OutputActions, 1, K, A)
			requireClose(t, wantActions, got, 1e-4, "full.onnx")
		})
		image.Destroy()
		tokens.Destroy()
	}
}

// TestStateInputReachesTheActions builds a bundle whose model reads the robot state, with state weights
// that are not zero, and holds its prefix and full graphs to the reference: the state is an input of
// both, it changes the actions, and the manifest names it.
func TestStateInputReachesTheActions(t *testing.T) {
	requireORT(t)
	a, w := presetWeights(t, "small_state")
	for i := range w.StateWeight {
		w.StateWeight[i] = float32(math.Cos(float64(i)))
	}
	obs := CalibrationObservations(a, 1, 99)[0]
	still := obs
	still.State = make([]float32, a.StateDim)
	requireChanges(t, &Model{Arch: a, Weights: w}, obs, still, "the state must change the actions")
	b := requireGraphsMatchReference(t, "small_state", a, w, obs)
	require.Equal(t, SceneStateSpec(), *b.Manifest.State)
}

// TestKeypointsReachTheActions builds a bundle whose prefix has the image keypoints, with an output map
// that is not zero, and holds its prefix and full graphs to the reference: the keypoints change the
// actions, and where the image shows things moves them.
func TestKeypointsReachTheActions(t *testing.T) {
	requireORT(t)
	a, w := presetWeights(t, "small_keypoints")
	fillWave(w.KeypointOut, math.Cos, 1)
	model := &Model{Arch: a, Weights: w}
	obs := CalibrationObservations(a, 2, 99)
	requireMapMatters(t, model, obs[0], func(w *Weights) { w.KeypointOut = make([]float32, len(w.KeypointOut)) },
		"the keypoints must change the actions")
	other := obs[0]
	other.Image = obs[1].Image // another scene's picture, the same instruction and state
	requireChanges(t, model, obs[0], other, "another picture must move the keypoints")
	requireGraphsMatchReference(t, "small_keypoints", a, w, obs[0])
}

// TestSelectorReachesTheActions builds a bundle whose prefix has the keypoint selector, with choice and
// output maps that are not zero, and holds its prefix and full graphs to the reference: the selector
// changes the actions, and another instruction over the same picture picks other points.
func TestSelectorReachesTheActions(t *testing.T) {
	requireORT(t)
	a, w := presetWeights(t, "small_selector")
	fillWave(w.SelectorChoice, math.Cos, 0.3)
	fillWave(w.SelectorOut, math.Sin, 1)
	model := &Model{Arch: a, Weights: w}
	obs := CalibrationObservations(a, 2, 98)
	requireMapMatters(t, model, obs[0], func(w *Weights) { w.SelectorOut = make([]float32, len(w.SelectorOut)) },
		"the selector must change the actions")
	points := model.Keypoints(obs[0].Image)
	require.Greater(t, maxAbsDiff(model.Chosen(obs[0].Tokens, points), model.Chosen(obs[1].Tokens, points)), 1e-3,
		"another instruction must choose other points")
	for _, weights := range model.Selection(obs[0].Tokens) {
		require.InDelta(t, 1, floats.Sum(weights), 1e-9, "a choice weighs the channels by a softmax")
	}
	requireGraphsMatchReference(t, "small_selector", a, w, obs[0])
}

// TestRelativePointsReachTheActions builds a bundle whose prefix reads the chosen points as seen from
// the gripper, with an output map that is not zero, and holds its prefix and full graphs to the
// reference: the relative points change the actions, and moving only the gripper moves them.
func TestRelativePointsReachTheActions(t *testing.T) {
	requireORT(t)
	a, w := presetWeights(t, "small_relative")
	fillWave(w.SelectorChoice, math.Cos, 0.3)
	fillWave(w.RelativeOut, math.Sin, 1)
	model := &Model{Arch: a, Weights: w}
	obs := CalibrationObservations(a, 1, 97)[0]
	requireMapMatters(t, model, obs, func(w *Weights) { w.RelativeOut = make([]float32, len(w.RelativeOut)) },
		"the relative points must change the actions")
	chosen := model.Chosen(obs.Tokens, model.Keypoints(obs.Image))
	moved := slices.Clone(obs.State)
	moved[0] += 0.5 // the gripper 7.5 cm further along x, the picture the same
	require.Greater(t, maxAbsDiff(model.Relative(obs.State, chosen), model.Relative(moved, chosen)), 0.1,
		"moving the gripper must move the points seen from it")
	requireGraphsMatchReference(t, "small_relative", a, w, obs)
}

// fillWave sets x[i] = scale·wave(i): weights that are not zero and differ from one another.
func fillWave(x []float32, wave func(float64) float64, scale float64) {
	for i := range x {
		x[i] = float32(scale * wave(float64(i)))
	}
}

// requireMapMatters checks that model's actions on obs change when clear zeroes a map of its weights
// (on a copy).
func requireMapMatters(t *testing.T, model *Model, obs Observation, clear func(w *Weights), msg string) {
	t.Helper()
	w := *model.Weights
	clear(&w)
	_, plain, err := (&Model{Arch: model.Arch, Weights: &w}).Forward(obs)
	require.NoError(t, err)
	_, with, err := model.Forward(obs)
	require.NoError(t, err)
	require.Greater(t, maxAbsDiff(with, plain), 1e-2, msg)
}

func presetWeights(t *testing.T, name string) (Arch, *Weights) {
	preset, err := LookupPreset(name)
	require.NoError(t, err)
	return preset.Arch, RandomWeights(preset.Arch, 4)
}

func maxAbsDiff(x, y []float64) float64 {
	out := 0.0
	for i := range x {
		out = math.Max(out, math.Abs(x[i]-y[i]))
	}
	return out
}

// requireChanges asserts that the reference's actions for obs and for changed differ.
func requireChanges(t *testing.T, model *Model, obs, changed Observation, msg string) {
	_, want, err := model.Forward(obs)
	require.NoError(t, err)
	_, got, err := model.Forward(changed)
	require.NoError(t, err)
	require.Greater(t, maxAbsDiff(want, got), 1e-2, msg)
}

// requireGraphsMatchReference builds a bundle of preset from w and holds its prefix and full graphs to
// the reference on obs.
func requireGraphsMatchReference(t *testing.T, preset string, a Arch, w *Weights, obs Observation) *bundle.Bundle {
	dir := t.TempDir()
	weights := dir + "/w.safetensors"
	require.NoError(t, SaveWeights(weights, a, w, nil))
	res, err := Build(Options{Preset: preset, OutDir: dir + "/bundle", Seed: 3, WeightsFile: weights, CalibrationFrames: 8})
	require.NoError(t, err)
	b, err := bundle.Load(dir + "/bundle")
	require.NoError(t, err)
	m := b.Manifest
	T, D, K, A := int64(m.Dims.Tokens), int64(m.Dims.Hidden), int64(m.Dims.Chunk), int64(m.Dims.ActionDim)
	S := int64(m.Image.Width)
	hiddens, wantActions, err := res.Model.Forward(obs)
	require.NoError(t, err)
	inputs := map[string]ort.Value{
		bundle.InputImage:  tensor(t, obs.Image, 1, 3, S, S),
		bundle.InputTokens: tensor(t, obs.Tokens, 1, int64(len(obs.Tokens))),
	}
	if a.StateDim > 0 {
		inputs[bundle.InputState] = tensor(t, obs.State, 1, int64(a.StateDim))
	}
	defer func() {
		for _, v := range inputs {
			v.Destroy()
		}
	}()
	h := runGraph(t, b.Path(m.Files.Prefix), inputs, bundle.OutputHidden, 1, T, D)
	requireClose(t, flat(hiddens[0]), h, 1e-4, "prefix")
	got := runGraph(t, b.Path(m.Files.Full), inputs, bundle.OutputActions, 1, K, A)
	requireClose(t, wantActions, got, 1e-4, "full.onnx")
	return b
}
