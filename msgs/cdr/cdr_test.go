package cdr

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Reference: docs/notes/ros2.md, CDR: alignment is measured from the first byte after
// the encapsulation header, and each primitive aligns to its own size.
func TestAlignmentIsRelativeToPayload(t *testing.T) {
	cases := []struct {
		name  string
		write func(e *Encoder)
		want  []byte
	}{
		{"uint8 then float64 at offset 8", func(e *Encoder) { e.Uint8(1); e.Float64(1) },
			[]byte{0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f}},
		{"uint8 then uint16 at offset 2", func(e *Encoder) { e.Uint8(1); e.Uint16(0x0302) },
			[]byte{0, 1, 0, 0, 1, 0, 2, 3}},
		{"uint8 then int32 at offset 4", func(e *Encoder) { e.Uint8(1); e.Int32(-1) },
			[]byte{0, 1, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}},
		{"odd string then uint32 padded", func(e *Encoder) { e.String("ab"); e.Uint32(7) },
			[]byte{0, 1, 0, 0, 3, 0, 0, 0, 'a', 'b', 0, 0, 7, 0, 0, 0}},
		{"string then uint8 not padded", func(e *Encoder) { e.String("ab"); e.Int8(-1) },
			[]byte{0, 1, 0, 0, 3, 0, 0, 0, 'a', 'b', 0, 0xff}},
		{"empty sequence of float64 has no padding", func(e *Encoder) { e.Uint8(9); e.Float64s(nil); e.Uint8(8) },
			[]byte{0, 1, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 8}},
		{"fixed array has no count", func(e *Encoder) { e.Uint8Array([]byte{1, 2}); e.Float64Array([]float64{0}) },
			[]byte{0, 1, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEncoder(nil)
			tc.write(e)
			require.NoError(t, e.Err())
			require.Equal(t, tc.want, e.Bytes())
		})
	}
}

func TestPrimitivesRoundTripInBothByteOrders(t *testing.T) {
	write := func(e *Encoder) {
		e.Bool(true)
		e.Int8(-3)
		e.Int16(-300)
		e.Uint16(65000)
		e.Int32(-70000)
		e.Uint64(math.MaxUint64)
		e.Int64(math.MinInt64)
		e.Float32(float32(math.Inf(-1)))
		e.Float64(math.Pi)
		e.String("héllo")
		e.Bools([]bool{true, false})
		e.Int32s([]int32{-1, 2})
		e.Int64s([]int64{3})
		e.Float32s([]float32{0.25})
		e.Float64s([]float64{-0.5})
		e.Strings([]string{"", "a"})
		e.Uint8s([]byte{9})
		e.Float64Array([]float64{1, 2})
	}
	read := func(t *testing.T, d *Decoder) {
		require.True(t, d.Bool("bool"))
		require.Equal(t, int8(-3), d.Int8("int8"))
		require.Equal(t, int16(-300), d.Int16("int16"))
		require.Equal(t, uint16(65000), d.Uint16("uint16"))
		require.Equal(t, int32(-70000), d.Int32("int32"))
		require.Equal(t, uint64(math.MaxUint64), d.Uint64("uint64"))
		require.Equal(t, int64(math.MinInt64), d.Int64("int64"))
		require.Equal(t, float32(math.Inf(-1)), d.Float32("float32"))
		require.Equal(t, math.Pi, d.Float64("float64"))
		require.Equal(t, "héllo", d.String("string"))
		require.Equal(t, []bool{true, false}, d.Bools("bools", nil))
		require.Equal(t, []int32{-1, 2}, d.Int32s("int32s", nil))
		require.Equal(t, []int64{3}, d.Int64s("int64s", nil))
		require.Equal(t, []float32{0.25}, d.Float32s("float32s", nil))
		require.Equal(t, []float64{-0.5}, d.Float64s("float64s", nil))
		require.Equal(t, []string{"", "a"}, d.Strings("strings", nil))
		require.Equal(t, []byte{9}, d.Uint8s("bytes", nil))
		fixed := make([]float64, 2)
		d.Float64Array("fixed", fixed)
		require.Equal(t, []float64{1, 2}, fixed)
		require.NoError(t, d.Err())
		require.Zero(t, d.Remaining())
	}
	for _, order := range []struct {
		name string
		enc  *Encoder
	}{{"little endian", NewEncoder(nil)}, {"big endian", NewBigEndianEncoder(nil)}} {
		t.Run(order.name, func(t *testing.T) {
			write(order.enc)
			d, err := NewDecoder("test/msg/All", order.enc.Bytes())
			require.NoError(t, err)
			read(t, d)
		})
	}
}

func TestDecoderRejects(t *testing.T) {
	cases := []struct {
		name       string
		raw        []byte
		read       func(d *Decoder)
		wantField  string
		wantOffset int
		wantReason string
	}{
		{"truncated uint32", []byte{0, 1, 0, 0, 1, 2}, func(d *Decoder) { d.Uint32("count") }, "count", 0, "need 4 bytes, 2 left"},
		{"truncated after padding", []byte{0, 1, 0, 0, 1, 0, 0, 0, 0}, func(d *Decoder) { d.Uint8("a"); d.Float64("b") }, "b", 1, "need 15 bytes, 4 left"},
		{"string longer than data", []byte{0, 1, 0, 0, 9, 0, 0, 0, 'a', 0}, func(d *Decoder) { d.String("name") }, "name", 0, "string length 9 exceeds the 2 bytes left"},
		{"string without NUL", []byte{0, 1, 0, 0, 1, 0, 0, 0, 'a'}, func(d *Decoder) { d.String("name") }, "name", 0, "string of length 1 does not end in NUL"},
		{"hostile string count", []byte{0, 1, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0}, func(d *Decoder) { d.Strings("names", nil) }, "names", 0, "sequence of 2147483647 elements of at least 4 bytes exceeds the 8 bytes left"},
		{"hostile float64 count", []byte{0, 1, 0, 0, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0, 0, 0, 0, 0}, func(d *Decoder) { d.Float64s("values", nil) }, "values", 0, "sequence of 268435455 elements of at least 8 bytes exceeds the 8 bytes left"},
		{"float64 count one element over", []byte{0, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, func(d *Decoder) { d.Float64s("values", nil) }, "values", 0, "sequence of 2 elements of at least 8 bytes exceeds the 8 bytes left"},
		{"nested path", []byte{0, 1, 0, 0, 1}, func(d *Decoder) { d.Enter("header"); d.EnterElement("items", 3); d.Int32("x") }, "header.items[3].x", 0, "need 4 bytes, 1 left"},
		{"first element's path", []byte{0, 1, 0, 0, 1}, func(d *Decoder) { d.EnterElement("items", 0); d.Int32("x") }, "items[0].x", 0, "need 4 bytes, 1 left"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewDecoder("test/msg/T", tc.raw)
			require.NoError(t, err)
			tc.read(d)
			var decodeErr *DecodeError
			require.True(t, errors.As(d.Err(), &decodeErr))
			require.Equal(t, DecodeError{Type: "test/msg/T", Field: tc.wantField, Offset: tc.wantOffset, Reason: tc.wantReason}, *decodeErr)
		})
	}
}

func TestDecoderReadsZerosAfterFirstError(t *testing.T) {
	d, err := NewDecoder("test/msg/T", []byte{0, 1, 0, 0, 1})
	require.NoError(t, err)
	require.Zero(t, d.Uint32("first"))
	require.Zero(t, d.Uint8("second"), "the byte is there, but decoding already failed")
	require.Zero(t, d.SequenceLength("third", 1))
	require.Equal(t, "first", d.Err().(*DecodeError).Field)
}

func TestNewDecoderHeader(t *testing.T) {
	cases := []struct {
		name    string
		raw     []byte
		wantErr string
	}{
		{"little endian", []byte{0, 1, 0, 0}, ""},
		{"big endian", []byte{0, 0, 0, 0}, ""},
		{"options ignored", []byte{0, 1, 0xab, 0xcd}, ""},
		{"too short", []byte{0, 1, 0}, "need a 4-byte encapsulation header, got 3 bytes"},
		{"parameter list", []byte{0, 3, 0, 0}, "encapsulation 0x0003 is not plain CDR"},
		{"xcdr2", []byte{0, 7, 0, 0}, "encapsulation 0x0007 is not plain CDR"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewDecoder("std_msgs/msg/String", tc.raw)
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
			require.ErrorContains(t, err, "std_msgs/msg/String")
		})
	}
}

func TestDecodedSlicesDoNotAliasInput(t *testing.T) {
	e := NewEncoder(nil)
	e.Uint8s([]byte{1, 2, 3})
	raw := e.Bytes()
	d, err := NewDecoder("test/msg/T", raw)
	require.NoError(t, err)
	got := d.Uint8s("data", nil)
	raw[len(raw)-1] = 99
	require.Equal(t, []byte{1, 2, 3}, got)
}

func TestEncoderResetReusesStorage(t *testing.T) {
	e := NewEncoder(make([]byte, 0, 64))
	e.String(strings.Repeat("x", 20))
	first := e.Bytes()
	e.Reset(first)
	e.Uint8(7)
	require.Equal(t, []byte{0, 1, 0, 0, 7}, e.Bytes())
	require.Same(t, &first[0], &e.Bytes()[0])
}

// A reused decoder reads each message as a fresh one would: no error, offset or field path of the
// previous message carries over, and its strings are equal to the bytes, not to what came before.
func TestDecoderResetStartsClean(t *testing.T) {
	e := NewEncoder(nil)
	e.String("camera")
	e.Uint32(7)
	good := append([]byte(nil), e.Bytes()...)
	e.Reset(nil)
	e.String("camerb")
	other := append([]byte(nil), e.Bytes()...)

	var d Decoder
	require.NoError(t, d.Reset("test/msg/T", good))
	d.Enter("header")
	require.Equal(t, "camera", d.String("frame_id"))
	_ = d.Uint32("x")
	_ = d.Uint32("past the end")
	require.ErrorContains(t, d.Err(), "header.past the end")

	require.NoError(t, d.Reset("test/msg/T", other))
	require.NoError(t, d.Err())
	require.Zero(t, d.Offset())
	require.Equal(t, "camerb", d.String("frame_id"))
	_ = d.Uint32("missing")
	require.ErrorContains(t, d.Err(), "field missing at payload offset 11")

	require.ErrorContains(t, d.Reset("test/msg/T", []byte{0}), "encapsulation header")
	require.Error(t, d.Err())
	require.NoError(t, d.Reset("test/msg/T", good))
	require.Equal(t, "camera", d.String("frame_id"))
	require.Equal(t, uint32(7), d.Uint32("x"))
}

// Reading a stream's repeated strings again costs no allocation, and a stream of distinct strings does
// not grow the decoder's table without bound.
func TestDecoderKeepsRepeatedStrings(t *testing.T) {
	e := NewEncoder(nil)
	e.String("camera_color_optical_frame")
	e.String("rgb8")
	raw := e.Bytes()
	var d Decoder
	allocs := testing.AllocsPerRun(50, func() {
		_ = d.Reset("test/msg/T", raw)
		_ = d.String("frame_id")
		_ = d.String("encoding")
	})
	require.Zero(t, allocs)

	for i := range 10 * internMaxEntries {
		e.Reset(nil)
		e.String(strings.Repeat("x", i%internMaxLen) + string(rune('a'+i%26)))
		require.NoError(t, d.Reset("test/msg/T", e.Bytes()))
		_ = d.String("s")
		require.LessOrEqual(t, len(d.strings), internMaxEntries)
	}
	long := strings.Repeat("y", internMaxLen+1)
	e.Reset(nil)
	e.String(long)
	require.NoError(t, d.Reset("test/msg/T", e.Bytes()))
	require.Equal(t, long, d.String("s"))
	require.NotContains(t, d.strings, long)
}

// A sequence costs its elements and no more: the slice once, sized by its count (which the bytes left
// bound), and each string not read before once. Grown by append and churning the table of repeated
// strings, a JointState of a million names cost 173 MB to decode, seven times its bytes.
func TestStringSequenceAllocatesItsElementsOnly(t *testing.T) {
	const n = 10 * internMaxEntries
	for _, tc := range []struct {
		name   string
		text   func(int) string
		allocs float64
	}{
		{"empty strings", func(int) string { return "" }, 1},
		{"distinct names", func(i int) string { return fmt.Sprintf("joint_%04d", i) }, 1 + n},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEncoder(nil)
			e.SequenceLength(n)
			for i := range n {
				e.String(tc.text(i))
			}
			raw := e.Bytes()
			var d Decoder
			var got []string
			allocs := testing.AllocsPerRun(10, func() {
				_ = d.Reset("test/msg/T", raw)
				got = d.Strings("names", nil)
			})
			require.NoError(t, d.Err())
			require.Len(t, got, n)
			require.Equal(t, tc.allocs, allocs)
		})
	}
}

// A sequence count is a uint32 on the wire: the largest one is written, one more is refused rather
// than wrapped to 0.
func TestEncoderSequenceCountFitsAUint32(t *testing.T) {
	e := NewEncoder(nil)
	e.SequenceLength(math.MaxUint32)
	require.NoError(t, e.Err())
	require.Equal(t, []byte{0xff, 0xff, 0xff, 0xff}, e.Bytes()[HeaderSize:])
	e = NewEncoder(nil)
	e.SequenceLength(math.MaxUint32 + 1)
	require.EqualError(t, e.Err(), "cdr: sequence of 4294967296 elements does not fit a uint32 count")
}
