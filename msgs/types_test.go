package msgs

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/msgs/cdr"
)

func TestDecodeIgnoresPaddingContents(t *testing.T) {
	// The first /rosout message of the talker bag: Eloquent's rmw left the
	// byte 0x73 in the padding before the line number.
	raw := hexBytes(`00010000FB65865E80FAAE0614000000120000006D696E696D616C5F7075626C69736865720000001E0000005075626C697368696E673A202748656C6C6F2C20776F726C64212030270000004C0000002F6F70742F726F73325F77732F656C6F7175656E742F7372632F726F73322F6578616D706C65732F72636C6370702F6D696E696D616C5F7075626C69736865722F6C616D6264612E637070000B0000006F70657261746F722829007326000000`)
	var log Log
	require.NoError(t, Decode(raw, &log))
	require.Equal(t, "Publishing: 'Hello, world! 0'", log.Msg)
	require.Equal(t, "operator()", log.Function)
	require.Equal(t, uint32(38), log.Line)
	require.Equal(t, "INFO", log.Level.String())
}

func TestSkipStatsUndefinedContinuityRoundTripsNaN(t *testing.T) {
	in := &SkipStats{Continuity: math.NaN(), ContinuityDelta: math.NaN(), Strategy: "full"}
	raw, err := Encode(nil, in)
	require.NoError(t, err)
	var out SkipStats
	require.NoError(t, Decode(raw, &out))
	require.True(t, math.IsNaN(out.Continuity))
	require.True(t, math.IsNaN(out.ContinuityDelta))
	require.False(t, out.ContinuityDefined)
	require.Equal(t, "full", out.Strategy)
}

func TestParameterDescriptorRangeBound(t *testing.T) {
	t.Run("encode refuses two ranges", func(t *testing.T) {
		d := &ParameterDescriptor{Name: "x", IntegerRange: []IntegerRange{{}, {}}}
		_, err := Encode(nil, d)
		require.ErrorContains(t, err, "integer_range holds 2 elements, at most 1 allowed")
	})
	t.Run("decode refuses two ranges", func(t *testing.T) {
		e := cdr.NewEncoder(nil)
		e.SequenceLength(1)
		(&ParameterDescriptor{Name: "x"}).MarshalCDR(e)
		raw := e.Bytes()
		// Replace the empty integer_range (the last 4 bytes) by two ranges.
		raw = raw[:len(raw)-4]
		tail := cdr.NewEncoder(nil)
		tail.Uint32(2)
		raw = append(raw, tail.Bytes()[cdr.HeaderSize:]...)
		for len(raw)%8 != cdr.HeaderSize%8 {
			raw = append(raw, 0)
		}
		raw = append(raw, make([]byte, 2*24)...)

		var resp DescribeParametersResponse
		err := Decode(raw, &resp)
		var decodeErr *cdr.DecodeError
		require.ErrorAs(t, err, &decodeErr)
		require.Equal(t, "descriptors[0].integer_range", decodeErr.Field)
		require.Contains(t, decodeErr.Reason, "at most 1 allowed")
	})
}

func TestNestedErrorPathHasElementIndex(t *testing.T) {
	arr := &DiagnosticArray{Status: []DiagnosticStatus{
		{Name: "a"},
		{Name: "b", Values: []KeyValue{{Key: "k", Value: "v"}}},
	}}
	raw, err := Encode(nil, arr)
	require.NoError(t, err)
	_, err = DecodeAny(arr.TypeName(), raw[:len(raw)-1])
	var decodeErr *cdr.DecodeError
	require.ErrorAs(t, err, &decodeErr)
	require.Equal(t, "status[1].values[0].value", decodeErr.Field)
}

func TestActionChunkValidate(t *testing.T) {
	cases := []struct {
		name    string
		chunk   ActionChunk
		wantErr string
	}{
		{"consistent", ActionChunk{Steps: 2, ActionDim: 2, Actions: make([]float32, 4)}, ""},
		{"names match", ActionChunk{Steps: 1, ActionDim: 2, ActionNames: []string{"x", "y"}, Actions: make([]float32, 2)}, ""},
		{"too few actions", ActionChunk{Steps: 2, ActionDim: 7, Actions: make([]float32, 13)}, "actions has 13 values, expected steps 2 x action_dim 7 = 14"},
		{"wrong name count", ActionChunk{Steps: 1, ActionDim: 2, ActionNames: []string{"x"}, Actions: make([]float32, 2)}, "action_names has 1 names, expected 0 or action_dim 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.chunk.Validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
	t.Run("At is row-major", func(t *testing.T) {
		c := ActionChunk{Steps: 2, ActionDim: 3, Actions: []float32{0, 1, 2, 10, 11, 12}}
		require.Equal(t, float32(12), c.At(1, 2))
		require.Equal(t, float32(1), c.At(0, 1))
	})
}

func TestImageCheckLayout(t *testing.T) {
	cases := []struct {
		name    string
		image   Image
		bpp     int
		wantErr string
	}{
		{"rgb8 packed", Image{Width: 2, Height: 2, Step: 6, Encoding: "rgb8", Data: make([]byte, 12)}, 3, ""},
		{"rgb8 padded rows", Image{Width: 2, Height: 2, Step: 8, Encoding: "rgb8", Data: make([]byte, 16)}, 3, ""},
		{"step shorter than row", Image{Width: 2, Height: 1, Step: 5, Encoding: "rgb8", Data: make([]byte, 5)}, 3, "step 5 is shorter than width 2 x 3 bytes per pixel"},
		{"data short", Image{Width: 2, Height: 2, Step: 6, Encoding: "rgb8", Data: make([]byte, 11)}, 3, "data has 11 bytes, expected step 6 x height 2 = 12"},
		{"bad bytes per pixel", Image{}, 0, "bytes per pixel 0 must be at least 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.image.CheckLayout(tc.bpp)
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestTimeAndDurationConversions(t *testing.T) {
	cases := []struct {
		name  string
		nanos int64
		sec   int32
		nsec  uint32
	}{
		{"zero", 0, 0, 0},
		{"positive", 1_700_000_000_000_000_005, 1700000000, 5},
		{"negative floors", -1_700_000_000, -2, 300_000_000},
		{"minus one ns", -1, -1, 999_999_999},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := TimeFromNanos(tc.nanos)
			require.Equal(t, Time{Sec: tc.sec, Nanosec: tc.nsec}, ts)
			require.Equal(t, tc.nanos, ts.Nanos())
			d := DurationFromGo(time.Duration(tc.nanos))
			require.Equal(t, Duration{Sec: tc.sec, Nanosec: tc.nsec}, d)
			require.Equal(t, time.Duration(tc.nanos), d.Go())
		})
	}
	t.Run("Go time", func(t *testing.T) {
		goTime := time.Unix(1700000000, 5)
		require.Equal(t, Time{Sec: 1700000000, Nanosec: 5}, TimeFromGo(goTime))
		require.True(t, TimeFromGo(goTime).Go().Equal(goTime))
		require.Equal(t, Time{}, TimeFromGo(time.Time{}), "an unknown time is the zero stamp, not an overflowed date")
	})
}

func TestEnumNames(t *testing.T) {
	require.Equal(t, "WARN", DiagnosticWarn.String())
	require.Equal(t, "STALE", DiagnosticStale.String())
	require.Equal(t, "DiagnosticLevel(9)", DiagnosticLevel(9).String())
	require.Equal(t, "double", ParameterDouble.String())
	require.Equal(t, "string_array", ParameterStringArray.String())
	require.Equal(t, "ParameterType(42)", ParameterType(42).String())
	require.Equal(t, "FATAL", LogFatal.String())
	require.Equal(t, "active", StateActive.String())
	require.Equal(t, "errorprocessing", StateErrorProcessing.String())
	require.Equal(t, "StateID(99)", StateID(99).String())
	require.Equal(t, "configure", TransitionConfigure.String())
	require.Equal(t, "on_configure_success", TransitionOnConfigureSuccess.String())
	require.Equal(t, TransitionID(97), TransitionCallbackSuccess)
	require.Equal(t, "TransitionID(9)", TransitionID(9).String())
}

func TestDiagnosticStatusValue(t *testing.T) {
	st := DiagnosticStatus{Values: []KeyValue{{Key: "skip ratio", Value: "0.5"}, {Key: "model", Value: "tiny"}}}
	v, ok := st.Value("model")
	require.True(t, ok)
	require.Equal(t, "tiny", v)
	_, ok = st.Value("provider")
	require.False(t, ok)
}
