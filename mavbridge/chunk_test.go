package mavbridge

import (
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/stretchr/testify/require"

	"dysl_vla/mavbridge/dialect"
)

func sequence(n int) []float32 {
	values := make([]float32, n)
	for i := range values {
		values[i] = float32(i)*0.25 - 3
	}
	return values
}

var stamp = time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)

// chunkCases is shared by the encode, decode and fuzz tests: each chunk and the parts it must become.
var chunkCases = []struct {
	name      string
	chunk     Chunk
	parts     int
	lastSteps int // steps in the last part
}{
	{"one step", Chunk{Seq: 1, Stamp: stamp, StepDt: 50 * time.Millisecond, Frame: "base_link",
		Steps: 1, Dims: 7, Values: sequence(7), GripperDim: 6}, 1, 1},
	{"openvla-oft 8x7", Chunk{Seq: 2, Stamp: stamp, StepDt: 40 * time.Millisecond, Frame: "tool0",
		Steps: 8, Dims: 7, Values: sequence(56), GripperDim: 6}, 2, 1},
	{"exactly one message", Chunk{Seq: 3, Stamp: stamp, StepDt: time.Microsecond, Frame: "0123456789abcdef",
		Steps: 6, Dims: 9, Values: sequence(54), GripperDim: NoGripper}, 1, 6},
	{"pi0 50x7", Chunk{Seq: math.MaxUint32, Stamp: time.UnixMicro(0), StepDt: 20 * time.Millisecond,
		Steps: 50, Dims: 7, Values: sequence(350), GripperDim: NoGripper}, 8, 1},
	{"one wide step a message, as many as a channel holds", Chunk{Seq: 5, Stamp: stamp, StepDt: time.Second, Frame: "world",
		Steps: 64, Dims: 54, Values: sequence(64 * 54), GripperDim: 53}, 64, 1},
}

// wireRoundTrip encodes m as a MAVLink 2 payload, with its trailing-zero truncation, and decodes it back.
func wireRoundTrip(t testing.TB, m *dialect.MessageVlaActionChunk) *dialect.MessageVlaActionChunk {
	rw := &message.ReadWriter{Message: &dialect.MessageVlaActionChunk{}}
	require.NoError(t, rw.Initialize())
	raw := rw.Write(m, true)
	require.LessOrEqual(t, len(raw.Payload), 255)
	decoded, err := rw.Read(raw, true)
	require.NoError(t, err)
	return decoded.(*dialect.MessageVlaActionChunk)
}

func decodeAll(t testing.TB, parts []*dialect.MessageVlaActionChunk) Chunk {
	var assembler ChunkAssembler
	for i, part := range parts {
		got, done, err := assembler.Add(wireRoundTrip(t, part))
		require.NoError(t, err)
		require.Equal(t, i == len(parts)-1, done, "part %d", i)
		if done {
			return got
		}
	}
	t.Fatal("no chunk assembled")
	return Chunk{}
}

func TestEncodeDecodeChunk(t *testing.T) {
	for _, tc := range chunkCases {
		t.Run(tc.name, func(t *testing.T) {
			parts, err := EncodeChunk(tc.chunk, 1, 1)
			require.NoError(t, err)
			require.Len(t, parts, tc.parts)
			last := parts[len(parts)-1]
			require.Equal(t, tc.lastSteps, tc.chunk.Steps-int(last.FirstStep))

			want := tc.chunk
			want.Stamp = tc.chunk.Stamp.Truncate(time.Microsecond)
			want.GripperDim = NoGripper
			got := decodeAll(t, parts)
			require.Equal(t, want.Stamp.UnixMicro(), got.Stamp.UnixMicro())
			got.Stamp = want.Stamp
			require.Equal(t, want, got)
		})
	}
}

func TestChunkValidate(t *testing.T) {
	valid := Chunk{Seq: 9, Stamp: stamp, StepDt: time.Millisecond, Frame: "base", Steps: 2, Dims: 3,
		Values: sequence(6), GripperDim: 2}
	require.NoError(t, valid.Validate())
	cases := []struct {
		name   string
		change func(c *Chunk)
		want   string
	}{
		{"no steps", func(c *Chunk) { c.Steps, c.Values = 0, nil }, "0 steps, expected 1 to 255"},
		{"too many steps", func(c *Chunk) { c.Steps, c.Values = 256, sequence(256*3) }, "256 steps, expected"},
		{"too many dims", func(c *Chunk) { c.Dims, c.Values, c.GripperDim = 55, sequence(110), 0 }, "55 values a step, expected 1 to 54"},
		{"values short", func(c *Chunk) { c.Values = c.Values[:5] }, "5 values, expected Steps×Dims"},
		{"more parts than a channel holds", func(c *Chunk) { c.Steps, c.Dims, c.Values = 65, 54, sequence(65*54) },
			"65 steps of 54 values take 65 VLA_ACTION_CHUNK messages, expected at most 64"},
		{"zero dt", func(c *Chunk) { c.StepDt = 0 }, "StepDt is 0s"},
		{"zero stamp", func(c *Chunk) { c.Stamp = time.Time{} }, "before 1970"},
		{"long frame", func(c *Chunk) { c.Frame = "a_very_long_frame_id" }, "at most 16 bytes"},
		{"gripper outside", func(c *Chunk) { c.GripperDim = 3 }, "GripperDim is 3"},
		{"nan", func(c *Chunk) { c.Values[4] = float32(math.NaN()) }, "value 4 (step 1, dimension 1) is NaN"},
		{"inf", func(c *Chunk) { c.Values[0] = float32(math.Inf(1)) }, "is +Inf"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := valid
			c.Values = append([]float32(nil), valid.Values...)
			tc.change(&c)
			_, err := EncodeChunk(c, 1, 1)
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, "chunk 9")
		})
	}
}

func TestAssemblerLostAndMalformedParts(t *testing.T) {
	parts, err := EncodeChunk(chunkCases[3].chunk, 1, 1) // 8 parts
	require.NoError(t, err)
	next, err := EncodeChunk(chunkCases[1].chunk, 1, 1) // 2 parts
	require.NoError(t, err)

	t.Run("lost middle part abandons the chunk", func(t *testing.T) {
		var a ChunkAssembler
		for _, p := range append(parts[:3:3], parts[4:]...) {
			_, done, err := a.Add(p)
			require.NoError(t, err)
			require.False(t, done)
		}
		got, done, err := a.Add(next[0])
		require.NoError(t, err)
		require.False(t, done)
		got, done, err = a.Add(next[1])
		require.NoError(t, err)
		require.True(t, done)
		require.Equal(t, uint32(2), got.Seq)
		require.Equal(t, 1, a.Abandoned, "the chunk missing a part, counted once for all its parts")
	})
	t.Run("lost first part", func(t *testing.T) {
		var a ChunkAssembler
		for _, p := range parts[1:] {
			_, done, err := a.Add(p)
			require.NoError(t, err)
			require.False(t, done)
		}
		require.Equal(t, 1, a.Abandoned)
	})
	// A datagram delivered twice: the chunk would otherwise be taken as complete with part 1's values
	// twice and part 7's missing, values of the wrong steps sent to the arm.
	t.Run("duplicated part abandons the chunk", func(t *testing.T) {
		var a ChunkAssembler
		for _, p := range append([]*dialect.MessageVlaActionChunk{parts[0], parts[1]}, parts[1:]...) {
			_, done, err := a.Add(p)
			require.NoError(t, err)
			require.False(t, done, "part %d of a chunk with a part twice", p.PartIndex)
		}
		require.Equal(t, 1, a.Abandoned, "counted once for all its parts")
	})
	t.Run("first parts of two chunks in a row lost", func(t *testing.T) {
		var a ChunkAssembler
		later := make([]*dialect.MessageVlaActionChunk, len(parts))
		for i, p := range parts {
			again := *p
			again.ChunkSeq = p.ChunkSeq + 1
			later[i] = &again
		}
		for _, p := range append(append([]*dialect.MessageVlaActionChunk(nil), parts[1:]...), later[1:]...) {
			_, done, err := a.Add(p)
			require.NoError(t, err)
			require.False(t, done)
		}
		require.Equal(t, 2, a.Abandoned, "each chunk counted once")
	})
	t.Run("inconsistent fields are malformed", func(t *testing.T) {
		breakers := map[string]func(m *dialect.MessageVlaActionChunk){
			"part count":      func(m *dialect.MessageVlaActionChunk) { m.PartCount = 3 },
			"first step":      func(m *dialect.MessageVlaActionChunk) { m.FirstStep = 1 },
			"zero dims":       func(m *dialect.MessageVlaActionChunk) { m.DimCount = 0 },
			"zero dt":         func(m *dialect.MessageVlaActionChunk) { m.StepDtUs = 0 },
			"nan value":       func(m *dialect.MessageVlaActionChunk) { m.Values[0] = float32(math.NaN()) },
			"inf last value":  func(m *dialect.MessageVlaActionChunk) { m.Values[7*7-1] = float32(math.Inf(-1)) }, // 7 steps of 7 in part 0
			"index >= of":     func(m *dialect.MessageVlaActionChunk) { m.PartIndex = 2 },
			"time past int64": func(m *dialect.MessageVlaActionChunk) { m.TimeUsec = 1 << 63 }, // once a chunk from -290308
		}
		for name, breakIt := range breakers {
			t.Run(name, func(t *testing.T) {
				broken := *next[0]
				breakIt(&broken)
				var a ChunkAssembler
				_, done, err := a.Add(&broken)
				require.ErrorIs(t, err, ErrMalformedPart)
				require.False(t, done)
			})
		}
	})
	// The last part of the 8x7 chunk carries 1 step: its 47 other entries are no values of the chunk
	// (sent as 0), and are not judged.
	t.Run("entries past the last step are not read", func(t *testing.T) {
		last := *next[1]
		for i := 7; i < len(last.Values); i++ {
			last.Values[i] = float32(math.NaN())
		}
		var a ChunkAssembler
		_, _, err := a.Add(next[0])
		require.NoError(t, err)
		got, done, err := a.Add(&last)
		require.NoError(t, err)
		require.True(t, done)
		require.Equal(t, chunkCases[1].chunk.Values, got.Values)
	})
	t.Run("header disagreeing with part 0", func(t *testing.T) {
		var a ChunkAssembler
		_, _, err := a.Add(next[0])
		require.NoError(t, err)
		second := *next[1]
		second.Frame = "elsewhere"
		_, done, err := a.Add(&second)
		require.ErrorIs(t, err, ErrMalformedPart)
		require.False(t, done)
	})
}

// FuzzChunkRoundTrip builds a chunk from fuzz bytes, encodes it, passes each part through the MAVLink 2
// payload codec and reassembles it: the values must come back bit for bit, and invalid chunks must be
// refused by EncodeChunk, never sent.
func FuzzChunkRoundTrip(f *testing.F) {
	for _, tc := range chunkCases {
		raw := make([]byte, 0, 4*len(tc.chunk.Values))
		for _, v := range tc.chunk.Values {
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
		}
		f.Add(tc.chunk.Seq, tc.chunk.Stamp.UnixMicro(), uint32(tc.chunk.StepDt.Microseconds()), tc.chunk.Frame,
			uint8(tc.chunk.Steps), uint8(tc.chunk.Dims), raw)
	}
	f.Fuzz(func(t *testing.T, seq uint32, stampUs int64, dtUs uint32, frame string, steps, dims uint8, raw []byte) {
		values := make([]float32, len(raw)/4)
		for i := range values {
			values[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		c := Chunk{Seq: seq, Stamp: time.UnixMicro(stampUs), StepDt: time.Duration(dtUs) * time.Microsecond,
			Frame: frame, Steps: int(steps), Dims: int(dims), Values: values, GripperDim: NoGripper}
		parts, err := EncodeChunk(c, 1, 1)
		if err != nil {
			require.Error(t, c.Validate())
			return
		}
		got := decodeAll(t, parts)
		require.Equal(t, c.Seq, got.Seq)
		require.Equal(t, stampUs, got.Stamp.UnixMicro())
		require.Equal(t, c.StepDt, got.StepDt)
		require.Equal(t, c.Frame, got.Frame)
		require.Equal(t, []int{c.Steps, c.Dims}, []int{got.Steps, got.Dims})
		require.Len(t, got.Values, len(c.Values))
		for i := range c.Values {
			require.Equal(t, math.Float32bits(c.Values[i]), math.Float32bits(got.Values[i]), "value %d", i)
		}
	})
}

// FuzzAssemblerArbitraryParts feeds the assembler messages with arbitrary fields: it must never panic,
// and whatever it assembles must itself be a valid chunk.
func FuzzAssemblerArbitraryParts(f *testing.F) {
	f.Add(uint8(8), uint8(7), uint8(0), uint8(2), uint8(0), uint32(1000), uint8(2), uint8(1), uint8(7))
	f.Fuzz(func(t *testing.T, steps, dims, index, count, first uint8, dtUs uint32, steps2, index2, first2 uint8) {
		var a ChunkAssembler
		for _, m := range []*dialect.MessageVlaActionChunk{
			{ChunkSeq: 1, StepCount: steps, DimCount: dims, PartIndex: index, PartCount: count, FirstStep: first, StepDtUs: dtUs},
			{ChunkSeq: 1, StepCount: steps2, DimCount: dims, PartIndex: index2, PartCount: count, FirstStep: first2, StepDtUs: dtUs},
		} {
			got, done, err := a.Add(m)
			if done {
				require.NoError(t, err)
				got.StepDt = max(got.StepDt, time.Microsecond)
				require.NoError(t, got.Validate())
			}
		}
	})
}
