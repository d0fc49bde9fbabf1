package policy_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
	"dysl_vla/policy/policytest"
	"dysl_vla/skipping"
)

// fakeManifest: 8 layers, static 3 and 7, a 4x4 image, chunks of 2 actions (x, gripper).
func fakeManifest() *bundle.Manifest {
	return &bundle.Manifest{
		Format: bundle.FormatVersion, Name: "fake",
		Dims: bundle.Dims{Layers: 8, Hidden: 4, Heads: 1, Tokens: 4, InstructionTokens: 8, Chunk: 2, ActionDim: 2},
		Image: bundle.ImageSpec{Width: 4, Height: 4, Resize: "center_crop_resize",
			Mean: []float64{0, 0, 0}, Std: []float64{1, 1, 1}},
		Tokenizer:    bundle.Tokenizer{Kind: "bytes"},
		Action:       bundle.ActionSpec{Names: []string{"x", "gripper"}, Mean: []float64{0, 0}, Std: []float64{1, 1}, GripperIndex: 1},
		StaticLayers: []int{3, 7},
	}
}

func grayImage(w, h int, v byte) policy.Image {
	data := make([]byte, w*h*3)
	for i := range data {
		data[i] = v
	}
	return policy.Image{Width: w, Height: h, Encoding: "rgb8", Step: w * 3, Data: data}
}

func newEngine(t *testing.T, b policy.Backend, cfg skipping.Config) *policy.Engine {
	t.Helper()
	e := &policy.Engine{Manifest: fakeManifest(), Backend: b, Skipping: &cfg}
	require.NoError(t, e.Initialize())
	return e
}

func allSkip(f *policytest.Fake) {
	for j := range f.SkipProb {
		f.SkipProb[j] = 1
	}
}

// With every controller forced to skip and the allow points at the front, exactly the static layers
// and one adapter per segment run: checked from the stats and by counting backend calls.
func TestForcedSkipRunsStaticLayersAndOneAdapterPerSegment(t *testing.T) {
	fake := policytest.NewFake(fakeManifest())
	allSkip(fake)
	counting := policytest.NewCounting(fake)
	cfg := skipping.DefaultConfig()
	cfg.Verification = false
	e := newEngine(t, counting, cfg)
	// Every layer runs until the continuity is defined: 5 actions, three chunks of 2.
	for range 3 {
		res, err := e.Infer(policy.Observation{Image: grayImage(4, 4, 100), Instruction: "pick"})
		require.NoError(t, err)
		require.Zero(t, res.Stats.LayersSkipped)
	}
	counting.Reset()

	res, err := e.Infer(policy.Observation{Image: grayImage(4, 4, 100), Instruction: "pick"})
	require.NoError(t, err)
	require.Equal(t, []int{3, 7}, counting.LayersRun(policytest.OpLayer))
	require.Equal(t, []int{0, 4}, counting.LayersRun(policytest.OpAdapter))
	require.Equal(t, []int{0, 4}, counting.LayersRun(policytest.OpController))
	require.Equal(t, 1, counting.Count(policytest.OpPrefix))
	require.Equal(t, 1, counting.Count(policytest.OpHead))
	s := res.Stats
	require.Equal(t, 2, s.LayersExecuted)
	require.Equal(t, 6, s.LayersSkipped)
	require.Equal(t, 2, s.AdaptersRun)
	require.Equal(t, 2, s.ControllersEvaluated)
	require.Equal(t, uint64(4), s.Sequence)
	require.Len(t, res.Chunk, 2)
}

// A continuity drop after a skipped pass re-runs the same observation in full from the saved prefix
// output, without running the prefix again.
func TestVerificationRerunsFromThePrefixOutput(t *testing.T) {
	fake := policytest.NewFake(fakeManifest())
	allSkip(fake)
	counting := policytest.NewCounting(fake)
	cfg := skipping.DefaultConfig()
	cfg.ContinuityWindow = 2
	cfg.ExecutedActions = 1
	e := newEngine(t, counting, cfg)
	// Every layer runs until the continuity is defined (two executed actions); those full passes are
	// never verified.
	for i := 0; i < 2; i++ {
		res, err := e.Infer(policy.Observation{Image: grayImage(4, 4, 50), Instruction: "pick"})
		require.NoError(t, err)
		require.False(t, res.Stats.VerificationFired)
		require.Zero(t, res.Stats.LayersSkipped)
	}
	// Nor is the prefix's output kept aside for them: a copy of the whole hidden state per frame.
	require.Zero(t, counting.Count(policytest.OpSaveHidden))
	counting.Reset()
	res, err := e.Infer(policy.Observation{Image: grayImage(4, 4, 250), Instruction: "pick"})
	require.NoError(t, err)
	require.True(t, res.Stats.VerificationFired)
	require.Equal(t, 1, counting.Count(policytest.OpSaveHidden))
	require.Equal(t, 1, counting.Count(policytest.OpRestoreHidden))
	require.Equal(t, 1, counting.Count(policytest.OpPrefix))
	require.Equal(t, 2, counting.Count(policytest.OpHead))
	require.Equal(t, 2, counting.Count(policytest.OpAdapter), "first pass only")
	require.Equal(t, []int{3, 7, 0, 1, 2, 3, 4, 5, 6, 7}, counting.LayersRun(policytest.OpLayer))
	require.Equal(t, 2, res.Stats.Passes)

	// The chunk acted on is the full pass's: the single graph computes the same thing.
	want, err := e.InferSingleGraph(policy.Observation{Image: grayImage(4, 4, 250), Instruction: "pick"})
	require.NoError(t, err)
	require.Equal(t, want, res.Chunk)
}

func TestBadInputIsReportedAndTheNextObservationServed(t *testing.T) {
	fake := policytest.NewFake(fakeManifest())
	e := newEngine(t, fake, skipping.DefaultConfig())
	good := policy.Observation{Image: grayImage(8, 6, 10), Instruction: "go"}
	short := grayImage(4, 4, 0)
	short.Data = short.Data[:10]
	narrowStep := grayImage(4, 4, 0)
	narrowStep.Step = 5
	cases := []struct {
		name string
		img  policy.Image
		want string
	}{
		{"unknown encoding", policy.Image{Width: 4, Height: 4, Encoding: "yuv422", Step: 8, Data: make([]byte, 32)}, `observation image.encoding: unsupported encoding "yuv422" (expected one of [rgb8 bgr8 rgba8 bgra8 mono8])`},
		{"zero size", policy.Image{Encoding: "rgb8"}, "observation image: size 0x0 must be positive"},
		{"short data", short, "observation image.data: 10 bytes, expected step 12 x height 4 = 48"},
		{"step too small", narrowStep, "observation image.step: 5 is less than width 4 x 3 bytes per rgb8 pixel"},
		// step x height wraps around in int: the product must not pass the length check.
		{"step x height overflows", policy.Image{Width: 1, Height: 0x80000001, Encoding: "rgb8", Step: 0xFFFFFFFF, Data: make([]byte, 16)},
			"observation image.data: 16 bytes, expected step 4294967295 x height 2147483649 = 9223372039002259455"},
		// width x 4 bytes wraps to 0 in int: the row must not pass the step check.
		{"width x bytes per pixel overflows", policy.Image{Width: 1 << 62, Height: 1, Encoding: "rgba8", Step: 16, Data: make([]byte, 16)},
			"observation image.step: 16 is less than width 4611686018427387904 x 4 bytes per rgba8 pixel"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.Infer(policy.Observation{Image: c.img})
			var inErr *policy.InputError
			require.ErrorAs(t, err, &inErr)
			require.EqualError(t, err, c.want)
			_, err = e.Infer(good)
			require.NoError(t, err)
		})
	}
}

func TestModelFaultsAreErrorsAndTheEngineKeepsServing(t *testing.T) {
	cases := []struct {
		name  string
		fault policytest.Fault
		want  string
	}{
		{"NaN chunk", policytest.Fault{Op: policytest.OpHead, NaN: true, Times: 1}, `action chunk step 0, dimension "x" is NaN: not published`},
		{"layer fails", policytest.Fault{Op: policytest.OpLayer, Layer: 5, Err: policytest.ErrInjected, Times: 1}, "layer 5"},
		{"prefix fails", policytest.Fault{Op: policytest.OpPrefix, Err: policytest.ErrInjected, Times: 1}, "prefix"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake := policytest.NewFake(fakeManifest())
			e := newEngine(t, policytest.NewFaulty(fake, c.fault), skipping.DefaultConfig())
			obs := policy.Observation{Image: grayImage(4, 4, 10), Instruction: "go"}
			_, err := e.Infer(obs)
			require.ErrorContains(t, err, c.want)
			res, err := e.Infer(obs)
			require.NoError(t, err)
			for _, row := range res.Chunk {
				for _, v := range row {
					require.False(t, math.IsNaN(float64(v)))
				}
			}
			require.Equal(t, uint64(1), res.Stats.Sequence, "failed inferences are not counted")
		})
	}
}

// setHead makes every head output the values it holds, in the model's normalized units.
type setHead struct {
	*policytest.Fake
	values []float32
}

func (h *setHead) RunHead(out []float32) error {
	if err := h.Fake.RunHead(out); err != nil {
		return err
	}
	copy(out, h.values)
	return nil
}

// The chunk goes out in the robot's units: each normalized value times its dimension's action.std plus
// its action.mean, as the manifest's statistics of the training actions say.
func TestChunkIsInRobotUnits(t *testing.T) {
	m := fakeManifest()
	m.Action.Mean = []float64{0.5, -1}
	m.Action.Std = []float64{2, 0.25}
	h := &setHead{Fake: policytest.NewFake(m), values: []float32{1, -2, 0.5, 4}}
	e := &policy.Engine{Manifest: m, Backend: h}
	require.NoError(t, e.Initialize())
	res, err := e.Infer(policy.Observation{Image: grayImage(4, 4, 100), Instruction: "go"})
	require.NoError(t, err)
	require.Equal(t, [][]float32{{1*2 + 0.5, -2*0.25 - 1}, {0.5*2 + 0.5, 4*0.25 - 1}}, res.Chunk)
}

// hugeHead makes the head's next chunk finite but too large for float32 once in robot units.
type hugeHead struct {
	*policytest.Fake
	armed bool
}

func (h *hugeHead) RunHead(out []float32) error {
	if err := h.Fake.RunHead(out); err != nil || !h.armed {
		return err
	}
	h.armed = false
	for i := range out {
		out[i] = 3e38
	}
	return nil
}

// A head output that overflows in robot units is refused like a NaN, and before the skipping machine
// keeps it: the inferences after it are served as if it had never arrived.
func TestChunkOverflowingInRobotUnitsIsRefusedAndForgotten(t *testing.T) {
	m := fakeManifest()
	m.Action.Std = []float64{10, 1}
	frames := []policy.Observation{}
	for v := range 6 {
		frames = append(frames, policy.Observation{Image: grayImage(4, 4, byte(20*v)), Instruction: "go"})
	}
	run := func(refuseAt int) []policy.Result {
		h := &hugeHead{Fake: policytest.NewFake(m)}
		allSkip(h.Fake)
		cfg := skipping.DefaultConfig()
		e := &policy.Engine{Manifest: m, Backend: h, Skipping: &cfg}
		require.NoError(t, e.Initialize())
		var served []policy.Result
		for i, obs := range frames {
			if i == refuseAt {
				h.armed = true
				_, err := e.Infer(obs)
				var nonFinite *policy.NonFiniteActionError
				require.ErrorAs(t, err, &nonFinite)
				require.EqualError(t, err, `policy: action chunk step 0, dimension "x" is +Inf in robot units (the model's 3e+38 times action.std plus action.mean): not published`)
			}
			res, err := e.Infer(obs)
			require.NoError(t, err)
			res.Stats.Timing = policy.Timing{}
			served = append(served, res)
		}
		return served
	}
	// Printed, so that the NaN continuity of the first frames compares equal.
	require.Equal(t, fmt.Sprintf("%+v", run(-1)), fmt.Sprintf("%+v", run(4)))
}

func TestSkippingConfigChangesApplyAtTheNextInference(t *testing.T) {
	fake := policytest.NewFake(fakeManifest())
	allSkip(fake)
	e := newEngine(t, fake, skipping.DefaultConfig())
	obs := policy.Observation{Image: grayImage(4, 4, 10), Instruction: "go"}

	// A ros2 param set arrives from another goroutine; its error comes back to be checked here, where
	// a failed require may stop the test.
	set := make(chan error)
	go func() {
		cfg := skipping.DefaultConfig()
		cfg.Strategy = skipping.StrategyFull
		set <- e.SetSkipping(cfg)
	}()
	require.NoError(t, <-set)
	res, err := e.Infer(obs)
	require.NoError(t, err)
	require.Equal(t, skipping.StrategyFull, res.Stats.Strategy)
	require.Equal(t, 8, res.Stats.LayersExecuted)

	bad := skipping.DefaultConfig()
	bad.ControllerThreshold = 2
	require.ErrorContains(t, e.SetSkipping(bad), "controller_threshold (2) must be in [0, 1]")
	require.Equal(t, skipping.StrategyFull, e.SkippingConfig().Strategy, "a rejected change changes nothing")
}

func TestConcurrentInferAndSetSkippingIsSafe(t *testing.T) {
	fake := policytest.NewFake(fakeManifest())
	e := newEngine(t, fake, skipping.DefaultConfig())
	// Each goroutine reports its first error, or nil, to be checked on the test's goroutine: require
	// stops a test only from there.
	done := make(chan error, 2)
	go func() {
		for i := range 50 {
			if _, err := e.Infer(policy.Observation{Image: grayImage(4, 4, byte(i)), Instruction: "go"}); err != nil {
				done <- fmt.Errorf("inference %d: %w", i, err)
				return
			}
		}
		done <- nil
	}()
	go func() {
		for i := range 50 {
			cfg := skipping.DefaultConfig()
			cfg.ControllerThreshold = float64(i%10) / 10
			if err := e.SetSkipping(cfg); err != nil {
				done <- fmt.Errorf("SetSkipping %d: %w", i, err)
				return
			}
			if i%7 == 0 {
				e.Reset()
			}
		}
		done <- nil
	}()
	for range 2 {
		require.NoError(t, <-done)
	}
}

func TestClosedEngineRefuses(t *testing.T) {
	e := newEngine(t, policytest.NewFake(fakeManifest()), skipping.DefaultConfig())
	require.NoError(t, e.Close())
	_, err := e.Infer(policy.Observation{Image: grayImage(4, 4, 0)})
	require.EqualError(t, err, "policy: engine is closed")
	_, err = e.InferSingleGraph(policy.Observation{Image: grayImage(4, 4, 0)})
	require.EqualError(t, err, "policy: engine is closed")
	require.NoError(t, e.Close(), "closing twice is harmless")
	require.NoError(t, (&policy.Engine{}).Close(), "nor is closing one that never got a backend")
}

func TestUnknownTokenizerIsRefusedAtInitialize(t *testing.T) {
	m := fakeManifest()
	m.Tokenizer.Kind = "sentencepiece"
	e := &policy.Engine{Manifest: m, Backend: policytest.NewFake(m)}
	require.ErrorContains(t, e.Initialize(), `policy: bundle "fake": tokenizer "sentencepiece" is not supported`)
}

// BenchmarkEngineInfer is the engine's own cost around a backend that computes nothing: planning,
// walking the plan, checking and denormalizing the chunk, the continuity history. -benchmem shows its
// allocations per frame: 28 and 42 before the chunk rows and the trace lists were each allocated whole,
// 23 and 32 after.
func BenchmarkEngineInfer(b *testing.B) {
	for _, skip := range []bool{false, true} {
		name := map[bool]string{false: "every_layer", true: "skipping"}[skip]
		b.Run(name, func(b *testing.B) {
			fake := policytest.NewFake(fakeManifest())
			if skip {
				allSkip(fake)
			}
			e := &policy.Engine{Manifest: fakeManifest(), Backend: fake}
			if err := e.Initialize(); err != nil {
				b.Fatal(err)
			}
			obs := policy.Observation{Image: grayImage(4, 4, 100), Instruction: "pick"}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Infer(obs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A failing graph is named by its role, and by its layer where there is one of its kind per layer, so
// that a message says which file of a bundle to look at.
func TestGraphErrorNamesTheLayerOfPerLayerGraphs(t *testing.T) {
	cause := fmt.Errorf("bad input")
	for _, c := range []struct {
		kind policy.GraphKind
		file string
		want string
	}{
		{policy.GraphPrefix, "prefix.onnx", "prefix (prefix.onnx): bad input"},
		{policy.GraphLayer, "layer_05.onnx", "layer 5 (layer_05.onnx): bad input"},
		{policy.GraphAdapter, "adapter_05.onnx", "adapter 5 (adapter_05.onnx): bad input"},
		{policy.GraphController, "controller_05.onnx", "controller 5 (controller_05.onnx): bad input"},
		{policy.GraphHead, "head.onnx", "head (head.onnx): bad input"},
		{policy.GraphSingle, "full.onnx", "single graph (full.onnx): bad input"},
	} {
		layer := 5
		if c.kind == policy.GraphPrefix || c.kind == policy.GraphHead || c.kind == policy.GraphSingle {
			layer = -1
		}
		err := &policy.GraphError{Kind: c.kind, Layer: layer, File: c.file, Err: cause}
		require.EqualError(t, err, c.want)
		require.ErrorIs(t, err, cause)
	}
}
