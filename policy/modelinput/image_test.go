package modelinput

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Hostile geometries, as a camera message may carry them: each is a bad frame with a field named, never
// a panic. The overflow cases wrap around in int arithmetic.
func TestHostileGeometryIsAnInputError(t *testing.T) {
	cases := []struct {
		name  string
		img   Image
		field string
	}{
		{"zero width", Image{Width: 0, Height: 4, Encoding: "rgb8", Step: 12, Data: make([]byte, 48)}, "image"},
		{"zero height", Image{Width: 4, Height: 0, Encoding: "rgb8", Step: 12, Data: make([]byte, 48)}, "image"},
		{"negative width", Image{Width: -4, Height: 4, Encoding: "rgb8", Step: 12, Data: make([]byte, 48)}, "image"},
		{"negative step", Image{Width: 4, Height: 4, Encoding: "rgb8", Step: -12, Data: make([]byte, 48)}, "image.step"},
		{"step shorter than a row", Image{Width: 4, Height: 4, Encoding: "rgb8", Step: 11, Data: make([]byte, 48)}, "image.step"},
		{"mono step shorter than a row", Image{Width: 4, Height: 1, Encoding: "mono8", Step: 3, Data: make([]byte, 4)}, "image.step"},
		{"step x height wraps in int", Image{Width: 1, Height: 0x80000001, Encoding: "rgb8", Step: 0xFFFFFFFF, Data: make([]byte, 16)}, "image.data"},
		{"step x height beyond 64 bits", Image{Width: 1, Height: math.MaxInt, Encoding: "mono8", Step: math.MaxInt, Data: make([]byte, 16)}, "image.data"},
		{"huge step", Image{Width: 1, Height: 2, Encoding: "mono8", Step: math.MaxInt32, Data: make([]byte, 16)}, "image.data"},
		{"width x bytes per pixel wraps to 0", Image{Width: 1 << 62, Height: 1, Encoding: "rgba8", Step: 16, Data: make([]byte, 16)}, "image.step"},
		{"width beyond 64 bits of bytes", Image{Width: math.MaxInt, Height: 1, Encoding: "rgb8", Step: math.MaxInt, Data: make([]byte, 16)}, "image.step"},
		{"truncated data", Image{Width: 4, Height: 4, Encoding: "rgb8", Step: 12, Data: make([]byte, 47)}, "image.data"},
		{"no data", Image{Width: 4, Height: 4, Encoding: "rgb8", Step: 12}, "image.data"},
		{"padded rows, last one short", Image{Width: 4, Height: 2, Encoding: "rgb8", Step: 16, Data: make([]byte, 28)}, "image.data"},
		{"unknown encoding", Image{Width: 4, Height: 4, Encoding: "yuv422", Step: 8, Data: make([]byte, 32)}, "image.encoding"},
		{"encoding in capitals", Image{Width: 4, Height: 4, Encoding: "RGB8", Step: 12, Data: make([]byte, 48)}, "image.encoding"},
		{"16-bit depth", Image{Width: 4, Height: 4, Encoding: "16UC1", Step: 8, Data: make([]byte, 32)}, "image.encoding"},
		{"no encoding", Image{Width: 4, Height: 4, Step: 12, Data: make([]byte, 48)}, "image.encoding"},
	}
	conv := newConverter(t, identitySpec(4, 4, "center_crop_resize"))
	dst := make([]float32, 48)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var inErr *InputError
			require.ErrorAs(t, c.img.Validate(), &inErr)
			require.Equal(t, c.field, inErr.Field, inErr.Error())
			err := conv.Convert(c.img, dst)
			require.True(t, errors.As(err, &inErr), "Convert: %v", err)
			require.Equal(t, c.field, inErr.Field)
		})
	}
}

func TestOverflowErrorStatesTheExactProduct(t *testing.T) {
	img := Image{Width: 1, Height: 0x80000001, Encoding: "rgb8", Step: 0xFFFFFFFF, Data: make([]byte, 16)}
	require.EqualError(t, img.Validate(),
		"observation image.data: 16 bytes, expected step 4294967295 x height 2147483649 = 9223372039002259455")
	img = Image{Width: 1, Height: math.MaxInt, Encoding: "mono8", Step: math.MaxInt, Data: nil}
	require.EqualError(t, img.Validate(),
		"observation image.data: 0 bytes, expected step 9223372036854775807 x height 9223372036854775807 = 85070591730234615847396907784232501249")
}

func TestTightAndPaddedFramesAreValid(t *testing.T) {
	require.NoError(t, Image{Width: 4, Height: 2, Encoding: "rgb8", Step: 12, Data: make([]byte, 24)}.Validate())
	require.NoError(t, Image{Width: 4, Height: 2, Encoding: "bgra8", Step: 20, Data: make([]byte, 40)}.Validate())
	// Extra bytes after the last row are ignored, as ROS readers do.
	require.NoError(t, Image{Width: 1, Height: 1, Encoding: "mono8", Step: 1, Data: make([]byte, 9)}.Validate())
}

func TestEncodingsIsACopy(t *testing.T) {
	names := Encodings()
	require.Equal(t, []string{"rgb8", "bgr8", "rgba8", "bgra8", "mono8"}, names)
	names[0] = "yuv422"
	require.Equal(t, "rgb8", Encodings()[0])
	require.Error(t, Image{Width: 1, Height: 1, Encoding: "yuv422", Step: 2, Data: make([]byte, 2)}.Validate())
}

// An encoding string is quoted in the refusal only in part: a peer sending megabyte encodings, one
// new each frame, wrote a megabyte a log line and kept each as a throttled reason.
func TestALongEncodingIsQuotedInPart(t *testing.T) {
	err := Image{Width: 1, Height: 1, Step: 3, Encoding: strings.Repeat("x", 1<<20), Data: make([]byte, 3)}.Validate()
	require.ErrorContains(t, err, `unsupported encoding "`+strings.Repeat("x", 32)+`" (expected one of`)
	require.Less(t, len(err.Error()), 200)
}
