package msgs

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/msgs/cdr"
)

// fixtureCases exercise the field shapes that only the generator fixtures
// (testdata/fixtures, generated into *.gen_test.go) use: fixed arrays,
// bounded strings, more primitive sequences, enum arrays.
var fixtureCases = []codecCase{
	// Produced once by rclpy's serialize_message on ROS 2 Humble.
	{
		name:  "UUID uint8[16] (rclpy)",
		value: &UUID{UUID: [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}},
		raw:   hexBytes(`00010000 | 0102030405060708090a0b0c0d0e0f10`),
	},
	{
		name: "NodeEntitiesInfo bounded strings and char[24] (rclpy)",
		value: &NodeEntitiesInfo{
			NodeNamespace: "/",
			NodeName:      "dysl",
			ReaderGidSeq:  []Gid{{Data: [24]uint8{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}}},
			WriterGidSeq: []Gid{
				{Data: [24]uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23}},
				{Data: [24]uint8{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
			},
		},
		raw: hexBytes(`00010000
			02000000 "/" 00 | 0000
			05000000 "dysl" 00 | 000000
			01000000 010101010101010101010101 000000000000000000000000
			02000000 000102030405060708090a0b0c0d0e0f1011121314151617
			010101010101010101010101 000000000000000000000000`),
	},
	{
		name:  "NodeEntitiesInfo empty (rclpy)",
		value: &NodeEntitiesInfo{},
		raw:   hexBytes(`00010000 | 01000000 00 | 000000 01000000 00 | 000000 00000000 00000000`),
	},
	{
		name: "CameraInfo float64[9] and float64[12] (rclpy)",
		value: &CameraInfo{
			Header:          Header{Stamp: Time{Sec: 3, Nanosec: 4}, FrameID: "cam"},
			Height:          480,
			Width:           640,
			DistortionModel: "plumb_bob",
			D:               []float64{0.1, -0.2, 0, 0, 0.05},
			K:               [9]float64{500, 0, 320, 0, 500, 240, 0, 0, 1},
			R:               [9]float64{1, 0, 0, 0, 1, 0, 0, 0, 1},
			P:               [12]float64{500, 0, 320, 0, 0, 500, 240, 0, 0, 0, 1, 0},
			BinningX:        1,
			BinningY:        2,
			Roi:             RegionOfInterest{XOffset: 10, YOffset: 20, Height: 100, Width: 200, DoRectify: true},
		},
		raw: hexBytes(`0001000003000000040000000400000063616d00e0010000800200000a000000706c756d625f626f6200000005000000000000009a9999999999b93f9a9999999999c9bf000000000000000000000000000000009a9999999999a93f0000000000407f400000000000000000000000000000744000000000000000000000000000407f400000000000006e4000000000000000000000000000000000000000000000f03f000000000000f03f000000000000000000000000000000000000000000000000000000000000f03f000000000000000000000000000000000000000000000000000000000000f03f0000000000407f4000000000000000000000000000007440000000000000000000000000000000000000000000407f400000000000006e40000000000000000000000000000000000000000000000000000000000000f03f000000000000000001000000020000000a0000001400000064000000c800000001`),
	},
	{
		// Written by hand; each padding run is commented with the payload
		// offset it starts at.
		name: "FixtureShapes every other field shape",
		value: &FixtureShapes{
			Int8s:      []int8{-1, 2},
			Int16s:     []int16{-2},
			Uint32s:    []uint32{7},
			Uint64s:    []uint64{9},
			Raw:        [3]byte{1, 2, 3},
			Flags:      [2]bool{true, false},
			Words:      [2]string{"a", ""},
			Pair:       [2]float32{1.5, -2},
			Short:      "abc",
			ShortWords: []string{"xy"},
			FewInts:    []int32{5},
			Corners:    [2]FixturePoint{{X: 0.5, Y: 1}, {X: -1, Y: -2}},
			Modes:      [2]FixtureMode{FixtureModeOn, FixtureModeAuto},
			ModeLog:    []FixtureMode{FixtureModeOff},
			Gain:       1.5,
		},
		raw: hexBytes(`00010000
			02000000 ff 02
			0000 01000000 feff
			0000 00000000
			01000000 07000000
			01000000 0900000000000000
			010203
			01 00
			000000 02000000 "a" 00 | 0000 01000000 00
			000000 0000c03f 000000c0
			04000000 "abc" 00
			01000000 03000000 "xy" 00
			00 01000000 05000000
			00000000 000000000000e03f 01000000
			00000000 000000000000f0bf feffffff
			00000000
			01 07
			0000 01000000 00
			00000000000000 000000000000f83f
			00000000`),
	},
}

// newLike returns an empty message of the same type as m.
func newLike(m Message) Message {
	return reflect.New(reflect.TypeOf(m).Elem()).Interface().(Message)
}

func TestFixtureGoldenCases(t *testing.T) {
	for _, tc := range fixtureCases {
		t.Run(tc.name, func(t *testing.T) {
			encoded, err := Encode(nil, tc.value)
			require.NoError(t, err)
			require.Equal(t, tc.raw, encoded)

			decoded := newLike(tc.value)
			require.NoError(t, Decode(tc.raw, decoded))
			require.Equal(t, tc.value, decoded)

			big := cdr.NewBigEndianEncoder(nil)
			tc.value.MarshalCDR(big)
			require.NoError(t, big.Err())
			fromBig := newLike(tc.value)
			require.NoError(t, Decode(big.Bytes(), fromBig))
			require.Equal(t, tc.value, fromBig)

			for n := cdr.HeaderSize; n < len(tc.raw); n++ {
				var decodeErr *cdr.DecodeError
				require.ErrorAs(t, Decode(tc.raw[:n], newLike(tc.value)), &decodeErr, "cut at %d bytes", n)
				require.NotEmpty(t, decodeErr.Field, "cut at %d bytes", n)
			}
		})
	}
}

func TestGeneratedBoundsAreEnforced(t *testing.T) {
	encodeCases := []struct {
		name    string
		value   FixtureShapes
		wantErr string
	}{
		{"string<=5", FixtureShapes{Short: "abcdef"}, "field short holds 6 bytes, at most 5 allowed"},
		{"int32[<=3]", FixtureShapes{FewInts: make([]int32, 4)}, "field few_ints holds 4 elements, at most 3 allowed"},
		{"string<=3[<=2] count", FixtureShapes{ShortWords: []string{"a", "b", "c"}}, "field short_words holds 3 elements, at most 2 allowed"},
		{"string<=3[<=2] element", FixtureShapes{ShortWords: []string{"abcd"}}, "field short_words holds 4 bytes, at most 3 allowed"},
		{"FixturePoint[<=2]", FixtureShapes{SomePoints: make([]FixturePoint, 3)}, "field some_points holds 3 elements, at most 2 allowed"},
	}
	for _, tc := range encodeCases {
		t.Run("encode "+tc.name, func(t *testing.T) {
			_, err := Encode(nil, &tc.value)
			require.ErrorContains(t, err, tc.wantErr)

			// The same bytes, written without the check, are refused on decoding.
			e := cdr.NewEncoder(nil)
			tc.value.MarshalCDR(e)
			var back FixtureShapes
			var decodeErr *cdr.DecodeError
			require.ErrorAs(t, Decode(e.Bytes(), &back), &decodeErr)
			require.Contains(t, decodeErr.Reason, "allowed")
		})
	}
}

func TestGeneratedDecodeReusesStorage(t *testing.T) {
	in := &FixtureShapes{
		Int16s:     []int16{1, 2, 3},
		Uint64s:    []uint64{4, 5},
		FewInts:    []int32{6},
		SomePoints: []FixturePoint{{X: 1}, {X: 2}},
		ModeLog:    []FixtureMode{FixtureModeOn},
	}
	raw, err := Encode(nil, in)
	require.NoError(t, err)
	var out FixtureShapes
	require.NoError(t, Decode(raw, &out))
	first := []any{&out.Int16s[0], &out.Uint64s[0], &out.FewInts[0], &out.SomePoints[0], &out.ModeLog[0]}
	allocs := testing.AllocsPerRun(10, func() {
		if err := Decode(raw, &out); err != nil {
			t.Fatal(err)
		}
	})
	require.Equal(t, []any{&out.Int16s[0], &out.Uint64s[0], &out.FewInts[0], &out.SomePoints[0], &out.ModeLog[0]}, first)
	if raceDetector {
		return // sync.Pool drops pooled decoders at random under -race; the slices' reuse is checked above
	}
	// Only the decoder and its field path are allocated; no slice is, and
	// no sequence reader (cdr takes method expressions, not method values).
	require.LessOrEqual(t, allocs, 2.0)
}
