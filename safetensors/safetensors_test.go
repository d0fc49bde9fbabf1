package safetensors

import (
	"encoding/binary"
	"math/big"
	"path/filepath"
	"testing"

	"dysl_vla/test/diskfull"

	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	tensors := map[string]Tensor{
		"layers.0.attn.q.weight": F32([]int64{2, 3}, []float32{1, 2, 3, 4, 5, 6}),
		"head.proj.bias":         F32([]int64{1}, []float32{-0.5}),
	}
	path := filepath.Join(t.TempDir(), "w.safetensors")
	require.NoError(t, WriteFile(path, tensors, map[string]string{"preset": "tiny"}))

	f, err := ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"preset": "tiny"}, f.Metadata)
	require.Len(t, f.Tensors, 2)
	q := f.Tensors["layers.0.attn.q.weight"]
	require.Equal(t, []int64{2, 3}, q.Shape)
	values, err := q.Float32s()
	require.NoError(t, err)
	require.Equal(t, []float32{1, 2, 3, 4, 5, 6}, values)
}

func TestEncodeIsAlignedAndDeterministic(t *testing.T) {
	tensors := map[string]Tensor{"b": F32([]int64{1}, []float32{2}), "a": F32([]int64{1}, []float32{1})}
	first, err := Encode(tensors, nil)
	require.NoError(t, err)
	second, err := Encode(tensors, nil)
	require.NoError(t, err)
	require.Equal(t, first, second)
	headerLen := binary.LittleEndian.Uint64(first)
	require.Zero(t, (8+headerLen)%8, "data must start 8-byte aligned")
	// Name order: "a" first.
	require.Equal(t, F32(nil, []float32{1, 2}).Data, first[8+headerLen:])
}

func TestDecodeRejectsCorruptFiles(t *testing.T) {
	good, err := Encode(map[string]Tensor{"w": F32([]int64{2}, []float32{1, 2})}, nil)
	require.NoError(t, err)
	withHeader := func(js string) []byte {
		out := binary.LittleEndian.AppendUint64(nil, uint64(len(js)))
		return append(append(out, js...), make([]byte, 8)...)
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"too short", []byte{1, 2}, "shorter than the 8-byte header length"},
		{"header longer than file", binary.LittleEndian.AppendUint64(nil, 1000), "does not fit"},
		{"not json", withHeader("[not json"), "not a JSON object"},
		{"unknown dtype", withHeader(`{"w":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}}`), `unknown dtype "Q7"`},
		{"offsets outside data", withHeader(`{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`), "outside the 8 data bytes"},
		{"size does not match shape", withHeader(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`), "needs 12 bytes"},
		{"shape whose size wraps", withHeader(`{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}`), "holds more bytes than a file can"},
		{"truncated", good[:len(good)-4], "outside the"},
		{"tensors sharing bytes", withHeader(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`),
			`tensor "b": data_offsets [4, 8] start at byte 4, expected 8`},
		{"a gap", withHeader(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`), `tensor "a": data_offsets [4, 8] start at byte 4, expected 0`},
		{"bytes no tensor owns", withHeader(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`),
			"the tensors' data ends at byte 4 of a 8-byte data section"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.data)
			require.ErrorContains(t, err, c.want)
		})
	}
}

// The edges of a valid file decode: a header that fills the file, tensors with no elements, and a
// shape as large as int64 bytes can count, which must be judged by its data, not refused as wrapping.
func TestDecodeAtTheEdgesOfValidFiles(t *testing.T) {
	headerOnly := binary.LittleEndian.AppendUint64(nil, 2)
	headerOnly = append(headerOnly, "{}"...)
	f, err := Decode(headerOnly)
	require.NoError(t, err, "a header that ends where the file ends, with no data")
	require.Empty(t, f.Tensors)

	_, err = Decode(headerOnly[:len(headerOnly)-1])
	require.ErrorContains(t, err, "header length 2 does not fit in a 9-byte file")
	pastTheEnd := binary.LittleEndian.AppendUint64(nil, 3)
	_, err = Decode(append(pastTheEnd, "{} "[:2]...))
	require.ErrorContains(t, err, "header length 3 does not fit in a 10-byte file")

	empty, err := Encode(map[string]Tensor{"none": F32([]int64{0}, nil), "rows": F32([]int64{2, 0}, nil), "w": F32([]int64{1}, []float32{3})}, nil)
	require.NoError(t, err)
	f, err = Decode(empty)
	require.NoError(t, err, "tensors with a dimension of 0 hold no bytes and are valid")
	require.Equal(t, []int64{2, 0}, f.Tensors["rows"].Shape)
	require.Empty(t, f.Tensors["none"].Data)
	w, err := f.Tensors["w"].Float32s()
	require.NoError(t, err)
	require.Equal(t, []float32{3}, w)

	// math.MaxInt64/4 float32s come to 2^63-4 bytes: no wrap, so the data's size is what is wrong.
	js := `{"w":{"dtype":"F32","shape":[2305843009213693951],"data_offsets":[0,8]}}`
	largest := append(binary.LittleEndian.AppendUint64(nil, uint64(len(js))), js...)
	_, err = Decode(append(largest, make([]byte, 8)...))
	require.ErrorContains(t, err, "needs 9223372036854775804 bytes, data_offsets give 8")
}

// Whatever the bytes, Decode returns an error or tensors whose shapes account for their data exactly.
func FuzzDecode(f *testing.F) {
	good, err := Encode(map[string]Tensor{"w": F32([]int64{2, 1}, []float32{1, 2}), "b": F32([]int64{0}, nil)}, map[string]string{"k": "v"})
	require.NoError(f, err)
	f.Add(good)
	f.Add(good[:len(good)-4])
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Decode(data)
		if err != nil {
			return
		}
		for name, tensor := range file.Tensors {
			bytes := new(big.Int).SetInt64(dtypeSize[tensor.DType])
			for _, d := range tensor.Shape {
				bytes.Mul(bytes, big.NewInt(d))
			}
			require.Zero(t, bytes.Cmp(big.NewInt(int64(len(tensor.Data)))), "tensor %q: %s %v with %d bytes", name, tensor.DType, tensor.Shape, len(tensor.Data))
		}
	})
}

func TestFloat32sRejectsIntegers(t *testing.T) {
	_, err := Tensor{DType: "I64", Shape: []int64{1}, Data: make([]byte, 8)}.Float32s()
	require.ErrorContains(t, err, "dtype I64 cannot be read as float32")
}

// Weights written over the last good ones on a disk that fills part way: the old file stays whole.
func TestWriteFileOnAFullDiskKeepsTheOldWeights(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.safetensors")
	require.NoError(t, WriteFile(path, map[string]Tensor{"head.proj.bias": F32([]int64{1}, []float32{-0.5})}, nil))
	dir := filepath.Dir(path)
	before := diskfull.Snapshot(t, dir)
	tmp, err := diskfull.Run(t, 4096, path, func(path string) error {
		return WriteFile(path, map[string]Tensor{"head.proj.weight": F32([]int64{4096}, make([]float32, 4096))}, nil)
	})
	require.ErrorContains(t, err, "file too large")
	require.Equal(t, before, diskfull.Snapshot(t, dir), "the old weights, and no temporary file beside them")
	require.Empty(t, diskfull.DotFiles(t, tmp), "no temporary file left in TMPDIR")
	f, err := ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, f.Tensors, "head.proj.bias")
}
