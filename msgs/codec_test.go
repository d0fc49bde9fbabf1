package msgs

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/msgs/cdr"
)

func TestDecodeGoldenCases(t *testing.T) {
	for _, tc := range codecCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeAny(tc.value.TypeName(), tc.raw)
			require.NoError(t, err)
			require.Equal(t, tc.value, got)
		})
	}
}

func TestEncodeGoldenCases(t *testing.T) {
	for _, tc := range codecCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Encode(nil, tc.value)
			require.NoError(t, err)
			require.Equal(t, tc.raw, got)
		})
	}
}

func TestEncodeReusesBuffer(t *testing.T) {
	image := codecCases[5].value
	buf := make([]byte, 0, 256)
	got, err := Encode(buf, image)
	require.NoError(t, err)
	require.Same(t, &buf[:1][0], &got[0], "Encode must write into the caller's buffer when it is large enough")
}

func TestDecodeIgnoresTrailingBytes(t *testing.T) {
	raw := append(hexBytes(`00010000 | 03000000 "hi" 00`), 0xde, 0xad)
	var s String
	require.NoError(t, Decode(raw, &s))
	require.Equal(t, "hi", s.Data)
}

func TestDecodeBigEndian(t *testing.T) {
	for _, tc := range codecCases {
		t.Run(tc.name, func(t *testing.T) {
			e := cdr.NewBigEndianEncoder(nil)
			tc.value.MarshalCDR(e)
			require.NoError(t, e.Err())
			raw := e.Bytes()
			require.Equal(t, []byte{0, 0}, raw[:2], "big-endian encapsulation identifier")

			got, err := DecodeAny(tc.value.TypeName(), raw)
			require.NoError(t, err)
			require.Equal(t, tc.value, got)
		})
	}
	t.Run("Time bytes written by hand", func(t *testing.T) {
		var got Time
		require.NoError(t, Decode(hexBytes(`00000000 | 6553f100 00000005`), &got))
		require.Equal(t, Time{Sec: 1700000000, Nanosec: 5}, got)
	})
}

// TestDecodeTruncatedNamesTheField cuts every golden message at every length
// and checks that the error says which message and which field.
func TestDecodeTruncatedNamesTheField(t *testing.T) {
	for _, tc := range codecCases {
		t.Run(tc.name, func(t *testing.T) {
			for n := cdr.HeaderSize; n < len(tc.raw); n++ {
				_, err := DecodeAny(tc.value.TypeName(), tc.raw[:n])
				var decodeErr *cdr.DecodeError
				require.True(t, errors.As(err, &decodeErr), "cut at %d bytes: got %v", n, err)
				require.Equal(t, tc.value.TypeName(), decodeErr.Type)
				require.NotEmpty(t, decodeErr.Field, "cut at %d bytes", n)
				require.LessOrEqual(t, decodeErr.Offset, n-cdr.HeaderSize)
			}
		})
	}
}

func TestDecodeErrorsNameField(t *testing.T) {
	image := codecCases[5].raw
	cases := []struct {
		name      string
		typeName  string
		raw       []byte
		wantField string
		wantIn    string
	}{
		{"no header", "sensor_msgs/msg/Image", []byte{0, 1}, "", "encapsulation header"},
		{"parameter list encapsulation", "std_msgs/msg/String", hexBytes(`00030000 01000000 00`), "", "not plain CDR"},
		{"image cut inside frame_id", "sensor_msgs/msg/Image", image[:4+8+6], "header.frame_id", "exceeds"},
		{"image cut inside stamp", "sensor_msgs/msg/Image", image[:4+6], "header.stamp.nanosec", "need 4 bytes, 2 left"},
		{"image cut inside data", "sensor_msgs/msg/Image", image[:len(image)-1], "data", "sequence of 12 elements of at least 1 bytes exceeds the 11 bytes left"},
		{"string without NUL", "std_msgs/msg/String", hexBytes(`00010000 02000000 "ab"`), "data", "does not end in NUL"},
		{"huge status count", "diagnostic_msgs/msg/DiagnosticArray", hexBytes(`00010000 00000000 00000000 00000000 ffffffff 00000000`), "status", "sequence of 4294967295 elements"},
		{"huge data count", "sensor_msgs/msg/Image", append(append([]byte{}, image[:4+44]...), 0xff, 0xff, 0xff, 0xff), "data", "sequence of 4294967295"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeAny(tc.typeName, tc.raw)
			var decodeErr *cdr.DecodeError
			require.ErrorAs(t, err, &decodeErr)
			require.Equal(t, tc.typeName, decodeErr.Type)
			require.Equal(t, tc.wantField, decodeErr.Field)
			require.Contains(t, err.Error(), tc.wantIn)
		})
	}
}

func TestDecodeAnyUnknownType(t *testing.T) {
	_, err := DecodeAny("geometry_msgs/msg/Twist", hexBytes(`00010000`))
	var unknown *UnknownTypeError
	require.ErrorAs(t, err, &unknown)
	require.Equal(t, "geometry_msgs/msg/Twist", unknown.Type)
}

// FuzzDecode feeds arbitrary bytes to every registered decoder. Decoding
// must not panic; whatever decodes must re-encode to bytes that decode and
// re-encode to the same bytes.
func FuzzDecode(f *testing.F) {
	types := Types()
	index := map[string]int{}
	for i, info := range types {
		index[info.Name] = i
	}
	for _, tc := range codecCases {
		f.Add(uint16(index[tc.value.TypeName()]), tc.raw)
	}
	f.Fuzz(func(t *testing.T, typeIndex uint16, raw []byte) {
		info := types[int(typeIndex)%len(types)]
		m, err := DecodeAny(info.Name, raw)
		if err != nil {
			var decodeErr *cdr.DecodeError
			require.ErrorAs(t, err, &decodeErr)
			return
		}
		once, err := Encode(nil, m)
		require.NoError(t, err)
		again, err := DecodeAny(info.Name, once)
		require.NoError(t, err)
		twice, err := Encode(nil, again)
		require.NoError(t, err)
		require.True(t, bytes.Equal(once, twice), "%s: re-encoding is not stable", info.Name)
	})
}

// A sequence of enums is sized once by its count, as every other sequence is, not grown element by
// element.
func TestEnumSequenceAllocatesOnce(t *testing.T) {
	if raceDetector {
		t.Skip("sync.Pool drops objects at random under -race")
	}
	wire, err := Encode(nil, &GetParameterTypesResponse{Types: make([]ParameterType, 1000)})
	require.NoError(t, err)
	var resp GetParameterTypesResponse
	require.Equal(t, 1.0, testing.AllocsPerRun(10, func() {
		resp.Types = nil
		_ = Decode(wire, &resp)
	}))
	require.Len(t, resp.Types, 1000)
}

// The node decodes every camera frame and encodes every chunk: into storage kept between messages,
// neither allocates, and the pixels are copied once, out of the wire buffer.
func TestFrameCodecsDoNotAllocate(t *testing.T) {
	if raceDetector {
		t.Skip("sync.Pool drops objects at random under -race")
	}
	src := &Image{Header: Header{FrameID: "camera_color_optical_frame"}, Height: 4, Width: 4,
		Encoding: EncodingRGB8, Step: 12, Data: make([]byte, 48)}
	wire, err := Encode(nil, src)
	require.NoError(t, err)
	var img Image
	require.NoError(t, Decode(wire, &img))
	require.Zero(t, testing.AllocsPerRun(50, func() { _ = Decode(wire, &img) }))
	require.Equal(t, *src, img)
	wire[len(wire)-1] = 9
	require.Zero(t, img.Data[47], "decoded pixels do not alias the wire buffer")

	chunk := &ActionChunk{Header: src.Header, Steps: 2, ActionDim: 2, ActionNames: []string{"x", "g"},
		Actions: []float32{1, 2, 3, 4}, Strategy: "dysl"}
	buf, err := Encode(nil, chunk)
	require.NoError(t, err)
	require.Zero(t, testing.AllocsPerRun(50, func() { buf, _ = Encode(buf, chunk) }))
	var back ActionChunk
	require.NoError(t, Decode(buf, &back))
	require.Equal(t, *chunk, back)
}
