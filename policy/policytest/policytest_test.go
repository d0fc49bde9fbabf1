package policytest_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
	"dysl_vla/policy/policytest"
)

// manifest is a small model: 20 layers (so "layer 17" exists), hidden 4, a 2x2 image, chunk 3x2.
func manifest() *bundle.Manifest {
	return &bundle.Manifest{
		Dims:  bundle.Dims{Layers: 20, Hidden: 4, InstructionTokens: 3, Chunk: 3, ActionDim: 2},
		Image: bundle.ImageSpec{Width: 2, Height: 2},
	}
}

// observation has mean(image) = 0.5.
func observation() ([]float32, []int64) {
	image := make([]float32, 12)
	for i := range image {
		image[i] = 0.5
	}
	return image, []int64{1, 2, 3}
}

func TestFakeArithmetic(t *testing.T) {
	image, tokens := observation()
	cases := []struct {
		name   string
		run    func(f *policytest.Fake) error
		chunk0 float32 // out[0] = hidden[0] after the sequence
	}{
		{name: "prefix only", run: func(f *policytest.Fake) error { return nil }, chunk0: 0.5},
		{name: "layers 0 and 2", chunk0: 0.5 + 1 + 3, run: func(f *policytest.Fake) error {
			return errors.Join(f.RunLayer(0), f.RunLayer(2))
		}},
		{name: "adapter jumps", chunk0: 0.5 + 1 + 100, run: func(f *policytest.Fake) error {
			f.AdapterJump[0] = 100
			return errors.Join(f.RunLayer(0), f.RunAdapter(0))
		}},
		{name: "controller leaves hidden alone", chunk0: 0.5 + 20, run: func(f *policytest.Fake) error {
			_, err := f.RunController(19)
			return errors.Join(err, f.RunLayer(19))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := policytest.NewFake(manifest())
			require.NoError(t, f.RunPrefix(image, tokens, nil))
			require.NoError(t, c.run(f))
			out := make([]float32, 6)
			require.NoError(t, f.RunHead(out))
			// out[k] = hidden[k mod 4] and hidden[i] = hidden[0] + i.
			require.Equal(t, []float32{c.chunk0, c.chunk0 + 1, c.chunk0 + 2, c.chunk0 + 3, c.chunk0, c.chunk0 + 1}, out)
		})
	}
}

func TestFakeSingleGraphEqualsAllLayers(t *testing.T) {
	image, tokens := observation()
	f := policytest.NewFake(manifest())
	single := make([]float32, 6)
	require.NoError(t, f.RunSingleGraph(image, tokens, nil, single))
	require.Nil(t, f.HiddenState(), "the single graph must not touch the hidden state")

	require.NoError(t, f.RunPrefix(image, tokens, nil))
	for j := range 20 {
		require.NoError(t, f.RunLayer(j))
	}
	segmented := make([]float32, 6)
	require.NoError(t, f.RunHead(segmented))
	require.Equal(t, single, segmented)
	require.Equal(t, float32(0.5+20*21/2), single[0])
}

// A bundle with a state block: the state adds its sum to the prefix and is recorded, in the prefix and
// the single graph alike, so engine tests can see what an observation's state became.
func TestFakeState(t *testing.T) {
	image, tokens := observation()
	m := manifest()
	m.State = &bundle.StateSpec{Names: []string{"a", "b"}, Mean: []float64{0, 0}, Std: []float64{1, 1}}
	f := policytest.NewFake(m)
	require.Nil(t, f.LastState())

	require.NoError(t, f.RunPrefix(image, tokens, []float32{2, -0.25}))
	require.Equal(t, []float32{2, -0.25}, f.LastState())
	require.Equal(t, float32(0.5+2-0.25), f.HiddenState()[0])

	single := make([]float32, 6)
	require.NoError(t, f.RunSingleGraph(image, tokens, []float32{1, 1}, single))
	require.Equal(t, []float32{1, 1}, f.LastState())
	require.Equal(t, float32(0.5+2+20*21/2), single[0])

	require.ErrorContains(t, f.RunPrefix(image, tokens, nil), "state has 0 values, expected 2")
	require.ErrorContains(t, f.RunSingleGraph(image, tokens, []float32{1, 2, 3}, single), "state has 3 values, expected 2")
	require.Equal(t, []float32{1, 1}, f.LastState(), "a refused state is not recorded")
}

func TestFakeControllerAndSaveRestore(t *testing.T) {
	image, tokens := observation()
	f := policytest.NewFake(manifest())
	f.SkipProb[5] = 0.75
	require.NoError(t, f.RunPrefix(image, tokens, nil))
	p, err := f.RunController(5)
	require.NoError(t, err)
	require.Equal(t, float32(0.75), p)
	p, err = f.RunController(6)
	require.NoError(t, err)
	require.Equal(t, float32(0), p)

	f.SaveHidden()
	saved := f.HiddenState()
	require.NoError(t, f.RunLayer(3))
	require.NotEqual(t, saved, f.HiddenState())
	f.RestoreHidden()
	require.Equal(t, saved, f.HiddenState())
}

func TestFakeErrors(t *testing.T) {
	image, tokens := observation()
	cases := []struct {
		name    string
		call    func(f *policytest.Fake) error
		wantErr string
	}{
		{name: "layer before prefix", call: func(f *policytest.Fake) error { return f.RunLayer(0) },
			wantErr: "layer 0 before RunPrefix"},
		{name: "layer out of range", call: func(f *policytest.Fake) error {
			return errors.Join(f.RunPrefix(image, tokens, nil), f.RunLayer(20))
		}, wantErr: "layer 20: layer index out of range 0..19"},
		{name: "image size", call: func(f *policytest.Fake) error { return f.RunPrefix(image[:5], tokens, nil) },
			wantErr: "image has 5 values, expected 12"},
		{name: "tokens size", call: func(f *policytest.Fake) error { return f.RunPrefix(image, nil, nil) },
			wantErr: "tokens has 0 values, expected 3"},
		{name: "state given to a stateless bundle", call: func(f *policytest.Fake) error { return f.RunPrefix(image, tokens, []float32{1}) },
			wantErr: "state has 1 values, expected 0"},
		{name: "chunk size", call: func(f *policytest.Fake) error {
			return errors.Join(f.RunPrefix(image, tokens, nil), f.RunHead(make([]float32, 2)))
		}, wantErr: "out has 2 values, expected 6"},
		{name: "after close", call: func(f *policytest.Fake) error {
			return errors.Join(f.Close(), f.RunPrefix(image, tokens, nil))
		}, wantErr: "used after Close"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.ErrorContains(t, c.call(policytest.NewFake(manifest())), c.wantErr)
		})
	}
}

func TestCountingRecordsSequence(t *testing.T) {
	image, tokens := observation()
	c := policytest.NewCounting(policytest.NewFake(manifest()))
	out := make([]float32, 6)
	require.NoError(t, c.RunPrefix(image, tokens, nil))
	c.SaveHidden()
	require.NoError(t, c.RunLayer(0))
	_, err := c.RunController(1)
	require.NoError(t, err)
	require.NoError(t, c.RunAdapter(1))
	require.NoError(t, c.RunLayer(4))
	require.NoError(t, c.RunLayer(0))
	c.RestoreHidden()
	require.NoError(t, c.RunHead(out))
	require.NoError(t, c.RunSingleGraph(image, tokens, nil, out))

	require.Equal(t, "prefix, save, layer 0, controller 1, adapter 1, layer 4, layer 0, restore, head, single", c.Sequence())
	require.Equal(t, 3, c.Count(policytest.OpLayer))
	require.Equal(t, 2, c.CountLayer(policytest.OpLayer, 0))
	require.Equal(t, 0, c.CountLayer(policytest.OpLayer, 1))
	require.Equal(t, []int{0, 4, 0}, c.LayersRun(policytest.OpLayer))
	require.Equal(t, policytest.Call{Op: policytest.OpController, Layer: 1}, c.Calls()[3])

	t.Run("failed calls are recorded too", func(t *testing.T) {
		c.Reset()
		require.Error(t, c.RunLayer(99))
		require.Equal(t, "layer 99", c.Sequence())
	})
}

func TestFaultyInjects(t *testing.T) {
	image, tokens := observation()
	out := make([]float32, 6)

	t.Run("fail at layer 17", func(t *testing.T) {
		f := policytest.NewFaulty(policytest.NewFake(manifest()), policytest.FailAtLayer(17))
		require.NoError(t, f.RunPrefix(image, tokens, nil))
		for j := range 17 {
			require.NoError(t, f.RunLayer(j))
		}
		err := f.RunLayer(17)
		require.ErrorIs(t, err, policytest.ErrInjected)
		var graphErr *policy.GraphError
		require.ErrorAs(t, err, &graphErr)
		require.Equal(t, policy.GraphLayer, graphErr.Kind)
		require.Equal(t, 17, graphErr.Layer)
		require.EqualError(t, err, "layer 17 (policytest.Faulty): injected fault")
		require.NoError(t, f.RunLayer(18))
	})
	t.Run("fail at prefix", func(t *testing.T) {
		f := policytest.NewFaulty(policytest.NewFake(manifest()), policytest.FailAtPrefix())
		require.EqualError(t, f.RunPrefix(image, tokens, nil), "prefix (policytest.Faulty): injected fault")
	})
	t.Run("NaN from head", func(t *testing.T) {
		f := policytest.NewFaulty(policytest.NewFake(manifest()), policytest.NaNFromHead())
		require.NoError(t, f.RunPrefix(image, tokens, nil))
		require.NoError(t, f.RunHead(out))
		for _, v := range out {
			require.True(t, math.IsNaN(float64(v)))
		}
		require.NoError(t, f.RunSingleGraph(image, tokens, nil, out))
		require.False(t, math.IsNaN(float64(out[0])), "only the head was asked to return NaN")
	})
	t.Run("NaN from a controller", func(t *testing.T) {
		f := policytest.NewFaulty(policytest.NewFake(manifest()),
			policytest.Fault{Op: policytest.OpController, Layer: 3, NaN: true})
		require.NoError(t, f.RunPrefix(image, tokens, nil))
		p, err := f.RunController(3)
		require.NoError(t, err)
		require.True(t, math.IsNaN(float64(p)))
	})
	t.Run("slow layers", func(t *testing.T) {
		var slept []time.Duration
		f := policytest.NewFaulty(policytest.NewFake(manifest()), policytest.Slow(policytest.OpLayer, 80*time.Millisecond))
		f.Sleep = func(d time.Duration) { slept = append(slept, d) }
		require.NoError(t, f.RunPrefix(image, tokens, nil))
		require.NoError(t, f.RunLayer(2))
		require.NoError(t, f.RunLayer(9))
		require.Equal(t, []time.Duration{80 * time.Millisecond, 80 * time.Millisecond}, slept)
	})
	t.Run("skip then fail once", func(t *testing.T) {
		fault := policytest.FailAtLayer(policytest.AnyLayer)
		fault.Skip, fault.Times = 2, 1
		f := policytest.NewFaulty(policytest.NewFake(manifest()), fault)
		require.NoError(t, f.RunPrefix(image, tokens, nil))
		require.NoError(t, f.RunLayer(0))
		require.NoError(t, f.RunLayer(1))
		require.ErrorIs(t, f.RunLayer(2), policytest.ErrInjected)
		require.NoError(t, f.RunLayer(3))
	})
	t.Run("composes with counting", func(t *testing.T) {
		c := policytest.NewCounting(policytest.NewFaulty(policytest.NewFake(manifest()), policytest.FailAtLayer(1)))
		require.NoError(t, c.RunPrefix(image, tokens, nil))
		require.NoError(t, c.RunLayer(0))
		require.Error(t, c.RunLayer(1))
		require.Equal(t, "prefix, layer 0, layer 1", c.Sequence())
	})
}
