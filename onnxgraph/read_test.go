package onnxgraph

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
)

// A bundle check refuses weights holding NaN or Inf by these counts, wherever in the tensor they sit
// (the last element too) and whichever field holds them: raw_data as our builder writes, or the packed
// float_data and double_data other exporters write.
func TestReadInfoCountsNonFiniteWeightsInEveryField(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	b := NewBuilder("weights")
	x := b.Input("x", Float, 1, 3)
	w := b.Weight("w", []int64{3}, []float32{1, 2, nan})
	v := b.Weight("v", []int64{3}, []float32{inf, 2, 3})
	b.Output("y", b.Add(b.Add(x, w), v), Float, 1, 3)
	data, err := b.Marshal()
	require.NoError(t, err)
	info, err := ReadInfo(data)
	require.NoError(t, err)
	require.Equal(t, InitializerInfo{Name: "w", ElemType: Float, Dims: []int64{3}, RawBytes: 12, NonFinite: 1}, info.Initializers[0])
	require.Equal(t, InitializerInfo{Name: "v", ElemType: Float, Dims: []int64{3}, RawBytes: 12, NonFinite: 1}, info.Initializers[1])

	packed := func(elem ElemType, field protowire.Number, values []byte) []byte {
		var t []byte
		t = protowire.AppendTag(t, tensorDims, protowire.VarintType)
		t = protowire.AppendVarint(t, 2)
		t = protowire.AppendTag(t, tensorDataType, protowire.VarintType)
		t = protowire.AppendVarint(t, uint64(elem))
		t = protowire.AppendTag(t, field, protowire.BytesType)
		return protowire.AppendBytes(t, values)
	}
	floats := binary.LittleEndian.AppendUint32(nil, math.Float32bits(1))
	floats = binary.LittleEndian.AppendUint32(floats, math.Float32bits(inf))
	doubles := binary.LittleEndian.AppendUint64(nil, math.Float64bits(1))
	doubles = binary.LittleEndian.AppendUint64(doubles, math.Float64bits(math.NaN()))
	for _, c := range []struct {
		name   string
		tensor []byte
	}{
		{"float_data", packed(Float, tensorFloatData, floats)},
		{"double_data", packed(Double, tensorDoubleData, doubles)},
	} {
		got, err := readInitializer(c.tensor)
		require.NoError(t, err, c.name)
		require.Equal(t, int64(1), got.NonFinite, "%s: the last of two values is not finite", c.name)
		require.Equal(t, int64(-1), got.RawBytes, "%s: a tensor with no raw_data says so, so that its size is not judged by it", c.name)
	}
}

// A node without an operator type cannot run: ONNX Runtime would refuse the graph at load, later
// and with less to go on, so the reader refuses it.
func TestReadOpRefusesANodeWithoutOpType(t *testing.T) {
	node := protowire.AppendTag(nil, nodeDomain, protowire.BytesType)
	node = protowire.AppendString(node, "ai.onnx")
	_, err := readOp(node)
	require.ErrorContains(t, err, "a node has no op_type")

	node = protowire.AppendTag(node, nodeOpType, protowire.BytesType)
	node = protowire.AppendString(node, "Relu")
	op, err := readOp(node)
	require.NoError(t, err)
	require.Equal(t, Op{Type: "Relu", Domain: "ai.onnx"}, op)
}
