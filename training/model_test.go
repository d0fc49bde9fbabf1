package training

import (
	"math"
	"testing"

	"dysl_vla/modelbuild"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/require"
)

// observationTensors stacks observations into the batched inputs of the GoMLX graphs.
func observationTensors(a modelbuild.Arch, obs []modelbuild.Observation) []any {
	S := a.ImageSize
	var images, state []float32
	var tokens []int64
	for _, o := range obs {
		images = append(images, o.Image...)
		tokens = append(tokens, o.Tokens...)
		state = append(state, o.State...)
	}
	out := []any{tensors.FromFlatDataAndDimensions(images, len(obs), 3, S, S),
		tensors.FromFlatDataAndDimensions(tokens, len(obs), a.InstructionTokens)}
	if a.StateDim > 0 {
		out = append(out, tensors.FromFlatDataAndDimensions(state, len(obs), a.StateDim))
	}
	return out
}

// TestForwardMatchesReference holds the GoMLX graph to modelbuild's float64 reference, the oracle of
// the ONNX graphs: same hidden states after every layer and the same action chunk.
func TestForwardMatchesReference(t *testing.T) {
	t.Run("camera and instruction", func(t *testing.T) { testForwardMatchesReference(t, tinyPreset()) })
	t.Run("with the robot state", func(t *testing.T) {
		a := tinyPreset()
		a.StateDim, a.StateFrequencies = 5, 6
		testForwardMatchesReference(t, a)
	})
	t.Run("with the robot state and keypoints", func(t *testing.T) {
		a := tinyPreset()
		a.StateDim, a.StateFrequencies = 5, 6
		a.Keypoints, a.KeypointHidden = 4, 8
		testForwardMatchesReference(t, a)
	})
	t.Run("with the keypoints and their selector", func(t *testing.T) {
		a := tinyPreset()
		a.Keypoints, a.KeypointHidden, a.SelectorWindow, a.SelectorHidden = 4, 8, 3, 8
		a.KeypointGain = 16 // not the default: every implementation must read it
		testForwardMatchesReference(t, a)
	})
	t.Run("with the relative points", func(t *testing.T) {
		a := tinyPreset()
		a.StateDim, a.StateFrequencies = 5, 6
		a.Keypoints, a.KeypointHidden, a.SelectorWindow, a.SelectorHidden, a.RelativePoints = 4, 8, 3, 8, true
		testForwardMatchesReference(t, a)
	})
}

func testForwardMatchesReference(t *testing.T, a modelbuild.Arch) {
	w := modelbuild.RandomWeights(a, 7)
	for i := range w.StateWeight { // not zero, as initialized: the state must reach the actions
		w.StateWeight[i] = float32(math.Sin(float64(i)))
	}
	for i := range w.KeypointOut { // likewise the keypoints
		w.KeypointOut[i] = float32(math.Cos(float64(i)))
	}
	for i := range w.SelectorChoice { // and the selector's choice and output
		w.SelectorChoice[i] = float32(0.3 * math.Sin(float64(i)))
	}
	for i := range w.SelectorOut {
		w.SelectorOut[i] = float32(math.Cos(float64(i)))
	}
	for i := range w.RelativeOut { // and the relative points'
		w.RelativeOut[i] = float32(math.Sin(float64(2 * i)))
	}
	ref := &modelbuild.Model{Arch: a, Weights: w}
	obs := modelbuild.CalibrationObservations(a, 2, 7)

	m, err := NewModel(a, w)
	require.NoError(t, err)
	outs, err := context.ExecOnceN(m.Backend, m.Ctx, func(ctx *context.Context, inputs []*Node) []*Node {
		hiddens, actions := m.Forward(m.inputsFrom(inputs))
		return []*Node{hiddens[len(hiddens)/2], hiddens[len(hiddens)-1], actions}
	}, observationTensors(a, obs)...)
	require.NoError(t, err)

	T, D := a.Tokens(), a.Hidden
	for b, o := range obs {
		hiddens, actions, err := ref.Forward(o)
		require.NoError(t, err)
		for k, want := range []int{a.Layers / 2, a.Layers} {
			got := tensors.MustCopyFlatData[float32](outs[k])[b*T*D : (b+1)*T*D]
			for i, v := range got {
				require.InDelta(t, hiddens[want].At(i/D, i%D), float64(v), 2e-3, "observation %d, hidden %d, value %d", b, want, i)
			}
		}
		K, A := a.Chunk, a.ActionDim
		got := tensors.MustCopyFlatData[float32](outs[2])[b*K*A : (b+1)*K*A]
		for i, v := range got {
			require.InDelta(t, actions[i], float64(v), 1e-3, "observation %d, action value %d", b, i)
		}
	}
}

func TestBackendConfigKeepsThePureGoBackendSafe(t *testing.T) {
	for env, want := range map[string]string{
		"":                                   "go:parallelism=-1,ops_sequential",
		"go":                                 "go:parallelism=-1,ops_sequential",
		"go:parallelism=2":                   "go:parallelism=2",
		"xla:/opt/plugin/xla_cuda_plugin.so": "xla:/opt/plugin/xla_cuda_plugin.so",
	} {
		require.Equal(t, want, backendConfig(env), "GOMLX_BACKEND=%q", env)
	}
	t.Setenv("GOMLX_BACKEND", "go")
	b, err := NewBackend()
	require.NoError(t, err)
	require.Equal(t, "SimpleGo (go)", b.Name())
	t.Setenv("GOMLX_BACKEND", "nosuch:thing")
	_, err = NewBackend()
	require.ErrorContains(t, err, `backend "nosuch" is not compiled into this binary`)
}

// A dropped layer passes its frame's hidden state through: per frame, ForwardDropping equals the
// model run without the layers its mask drops, and a frame that keeps every layer equals Forward.
func TestForwardDroppingSkipsTheMaskedLayersPerFrame(t *testing.T) {
	a := tinyPreset()
	a.Layers = 3
	m, err := NewModel(a, modelbuild.RandomWeights(a, 5))
	require.NoError(t, err)
	obs := modelbuild.CalibrationObservations(a, 2, 7)
	keep := tensors.FromFlatDataAndDimensions([]float32{1, 1, 1, 1, 0, 1}, 2, 3) // frame 1 drops layer 1
	outs, err := context.ExecOnceN(m.Backend, m.Ctx, func(ctx *context.Context, inputs []*Node) []*Node {
		in := m.inputsFrom(inputs[:len(inputs)-1])
		_, dropping := m.ForwardDropping(in, inputs[len(inputs)-1])
		_, full := m.Forward(in)
		h := m.Layer(2, m.Layer(0, m.Prefix(in)))
		return []*Node{dropping, full, m.Head(h)}
	}, append(observationTensors(a, obs), keep)...)
	require.NoError(t, err)
	n := a.Chunk * a.ActionDim
	dropping, full, without1 := tensors.MustCopyFlatData[float32](outs[0]), tensors.MustCopyFlatData[float32](outs[1]), tensors.MustCopyFlatData[float32](outs[2])
	require.InDeltaSlice(t, full[:n], dropping[:n], 1e-6, "frame 0 keeps every layer")
	require.InDeltaSlice(t, without1[n:], dropping[n:], 1e-5, "frame 1 runs layers 0 and 2 only")
	require.NotEqual(t, full[n:], dropping[n:], "dropping layer 1 changes frame 1's actions")
}
