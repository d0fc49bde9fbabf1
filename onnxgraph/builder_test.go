package onnxgraph

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// affine builds y = x·W + b with W [2,3] and b [3].
func affine() *Builder {
	b := NewBuilder("affine")
	b.SetMetadata("dysl.role", "test")
	x := b.Input("x", Float, 1, 2)
	w := b.Weight("w", []int64{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	bias := b.Weight("b", []int64{3}, []float32{0.5, 0.5, 0.5})
	b.Output("y", b.Add(b.MatMul(x, w), bias), Float, 1, 3)
	return b
}

func TestRoundTripInfo(t *testing.T) {
	data, err := affine().Marshal()
	require.NoError(t, err)
	info, err := ReadInfo(data)
	require.NoError(t, err)

	require.EqualValues(t, IRVersion, info.IRVersion)
	require.Equal(t, map[string]int64{"": OpsetVersion}, info.Opsets)
	require.Equal(t, "affine", info.GraphName)
	require.Equal(t, []TensorInfo{{Name: "x", ElemType: Float, Shape: []int64{1, 2}}}, info.Inputs)
	require.Equal(t, []TensorInfo{{Name: "y", ElemType: Float, Shape: []int64{1, 3}}}, info.Outputs)
	require.Equal(t, map[string]string{"dysl.role": "test"}, info.Metadata)
	require.Len(t, info.Initializers, 2)
	require.Equal(t, InitializerInfo{Name: "w", ElemType: Float, Dims: []int64{2, 3}, RawBytes: 24}, info.Initializers[0])
	require.Equal(t, map[Op]int{{Type: "MatMul"}: 1, {Type: "Add"}: 1, {Type: "Identity"}: 1}, info.Ops)
}

func TestSymbolicDimension(t *testing.T) {
	b := NewBuilder("g")
	x := b.Input("x", Int64, -1, 4)
	b.Output("y", x, Int64, -1, 4)
	data, err := b.Marshal()
	require.NoError(t, err)
	info, err := ReadInfo(data)
	require.NoError(t, err)
	require.Equal(t, []int64{-1, 4}, info.Inputs[0].Shape)
	require.Equal(t, Int64, info.Outputs[0].ElemType)
}

func TestBuilderMisuse(t *testing.T) {
	cases := []struct {
		name  string
		build func(b *Builder)
		want  string
	}{
		{"undefined input", func(b *Builder) {
			b.Output("y", b.Neg(Value("nope")), Float)
		}, `Neg: input "nope" is not defined`},
		{"operator not on the portable list", func(b *Builder) {
			x := b.Input("x", Float, 4)
			b.Output("y", b.Op("Unique", []Value{x}), Float, -1)
		}, `operator "Unique" is not one of the portable operators`},
		{"duplicate name", func(b *Builder) {
			x := b.Input("x", Float, 1)
			b.Weight("x", []int64{1}, []float32{1})
			b.Output("y", x, Float, 1)
		}, `value "x" defined twice`},
		{"data does not match shape", func(b *Builder) {
			w := b.Weight("w", []int64{2, 2}, []float32{1, 2, 3})
			b.Output("y", w, Float, 2, 2)
		}, `weight "w": shape [2 2] needs 4 values, got 3`},
		{"no outputs", func(b *Builder) { b.Input("x", Float, 1) }, "has no outputs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := NewBuilder("bad")
			c.build(b)
			_, err := b.Marshal()
			require.ErrorContains(t, err, c.want)
			_, err = b.WriteFile(filepath.Join(t.TempDir(), "bad.onnx"), WriteOptions{})
			require.ErrorContains(t, err, c.want)
		})
	}
}

func TestScopeNamesNodes(t *testing.T) {
	b := NewBuilder("g")
	x := b.Input("x", Float, 1)
	end := b.Scope("layers.3")
	inner := b.Scope("attn")
	y := b.Neg(x)
	inner()
	end()
	z := b.Neg(y)
	require.Equal(t, Value("layers.3/attn/Neg_1"), y)
	require.Equal(t, Value("Neg_2"), z)
}

func TestExternalData(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "affine.onnx")
	written, err := affine().WriteFile(path, WriteOptions{ExternalData: true, ExternalThreshold: 16})
	require.NoError(t, err)

	// w (24 bytes) goes out, b (12 bytes) stays inline.
	require.Equal(t, map[string]ExternalRef{"w": {Location: "affine.onnx.data", Offset: 0, Length: 24}}, written)
	data, err := os.ReadFile(filepath.Join(dir, "affine.onnx.data"))
	require.NoError(t, err)
	require.Len(t, data, 24)
	require.Equal(t, float32(6), math.Float32frombits(binary.LittleEndian.Uint32(data[20:])))

	info, err := ReadInfoFile(path)
	require.NoError(t, err)
	require.Equal(t, &ExternalRef{Location: "affine.onnx.data", Length: 24}, info.Initializers[0].External)
	require.Nil(t, info.Initializers[1].External)

	t.Run("reuse points another graph at the same bytes", func(t *testing.T) {
		other := filepath.Join(dir, "other.onnx")
		again, err := affine().WriteFile(other, WriteOptions{Reuse: written})
		require.NoError(t, err)
		require.Empty(t, again)
		require.NoFileExists(t, other+".data")
		info, err := ReadInfoFile(other)
		require.NoError(t, err)
		require.Equal(t, "affine.onnx.data", info.Initializers[0].External.Location)
	})
	t.Run("reuse with the wrong length fails", func(t *testing.T) {
		bad := map[string]ExternalRef{"w": {Location: "affine.onnx.data", Length: 8}}
		_, err := affine().WriteFile(filepath.Join(dir, "bad.onnx"), WriteOptions{Reuse: bad})
		require.ErrorContains(t, err, `reused initializer "w" has 8 bytes`)
	})
}

// Each tensor in the data file starts on a 64-byte boundary, so that ONNX Runtime can map it without
// copying; a tensor of exactly the threshold's size goes out too.
func TestExternalDataIsAligned(t *testing.T) {
	dir := t.TempDir()
	written, err := affine().WriteFile(filepath.Join(dir, "affine.onnx"), WriteOptions{ExternalData: true, ExternalThreshold: 12})
	require.NoError(t, err)
	require.Equal(t, map[string]ExternalRef{
		"w": {Location: "affine.onnx.data", Offset: 0, Length: 24},
		"b": {Location: "affine.onnx.data", Offset: 64, Length: 12},
	}, written)
	data, err := os.ReadFile(filepath.Join(dir, "affine.onnx.data"))
	require.NoError(t, err)
	require.Len(t, data, 76)
	require.Equal(t, float32(0.5), math.Float32frombits(binary.LittleEndian.Uint32(data[64:])))
}

func TestReadInfoRejectsNonModels(t *testing.T) {
	cases := map[string][]byte{
		"empty":           {},
		"text":            []byte("format: dysl-bundle/1\n"),
		"truncated model": nil, // filled below
	}
	good, err := affine().Marshal()
	require.NoError(t, err)
	cases["truncated model"] = good[:len(good)/2]
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ReadInfo(data)
			require.ErrorIs(t, err, ErrNotModel)
		})
	}
}

// FuzzReadInfo checks that no byte sequence makes the reader panic, and that whatever it accepts has a
// graph (IR version set). Seeds: a real model, its truncations and a model with external data.
func FuzzReadInfo(f *testing.F) {
	good, err := affine().Marshal()
	require.NoError(f, err)
	f.Add(good)
	f.Add(good[:len(good)/3])
	b := NewBuilder("ext")
	x := b.Input("x", Float, 1, 2)
	b.Output("y", b.MatMul(x, b.Weight("w", []int64{2, 2}, []float32{1, 2, 3, 4})), Float, 1, 2)
	path := filepath.Join(f.TempDir(), "ext.onnx")
	_, err = b.WriteFile(path, WriteOptions{ExternalData: true})
	require.NoError(f, err)
	ext, err := os.ReadFile(path)
	require.NoError(f, err)
	f.Add(ext)
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := ReadInfo(data)
		if err == nil {
			require.NotZero(t, info.IRVersion)
		}
	})
}

// A graph exported in half precision is named so in a bundle check's messages.
func TestElemTypeNames(t *testing.T) {
	for typ, want := range map[ElemType]string{
		Float: "float32", ElemType(10): "float16", ElemType(16): "bfloat16", // onnx.proto's FLOAT16, BFLOAT16
		Double: "float64", ElemType(13): "elem_type(13)",
	} {
		require.Equal(t, want, typ.String())
	}
}
