package compressedimage

import (
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/msgs"
)

// An rgb8 or mono8 frame encoded as PNG decodes to itself, rows packed, under the format
// compressed_image_transport writes; as JPEG, to nearly itself.
func TestEncodeRoundTrips(t *testing.T) {
	frame := tabletop(16, 12)
	padded := msgs.Image{Header: header, Width: 16, Height: 12, Encoding: "rgb8", Step: 50, Data: make([]byte, 50*12)}
	packed := rgbOf(frame)
	for y := range 12 {
		copy(padded.Data[y*50:], packed[y*48:(y+1)*48])
	}
	gray := msgs.Image{Header: header, Width: 5, Height: 2, Encoding: "mono8", Step: 5, Data: []byte{0, 50, 100, 150, 200, 1, 2, 3, 4, 5}}
	for _, tc := range []struct {
		img    msgs.Image
		c      Container
		format string
		want   []byte
	}{
		{padded, PNG, "rgb8; png compressed bgr8", packed},
		{gray, PNG, "mono8; png compressed ", gray.Data},
		{padded, JPEG, "rgb8; jpeg compressed bgr8", nil},
	} {
		m, err := Encode(&tc.img, tc.c)
		require.NoError(t, err)
		require.Equal(t, tc.format, m.Format)
		require.Equal(t, header, m.Header)
		var got msgs.Image
		require.NoError(t, Decode(m, &got))
		require.Equal(t, tc.img.Encoding, got.Encoding)
		if tc.want != nil {
			require.Equal(t, tc.want, got.Data)
		} else {
			require.Less(t, meanAbsDiff(packed, got.Data), 5.0)
		}
	}
	_, err := Encode(&msgs.Image{Encoding: "16UC1"}, PNG)
	require.EqualError(t, err, `compressedimage: cannot encode an image of encoding "16UC1", expected rgb8 or mono8`)
	_, err = Encode(&msgs.Image{Encoding: "rgb8", Width: 2, Height: 2, Step: 6, Data: make([]byte, 11)}, PNG)
	require.ErrorContains(t, err, "data has 11 bytes, expected step 6 x height 2 = 12")
}
