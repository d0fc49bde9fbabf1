package policy

import (
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/policy/bundle"
)

func identitySpec(w, h int, resize string) bundle.ImageSpec {
	return bundle.ImageSpec{Width: w, Height: h, Resize: resize, Mean: []float64{0, 0, 0}, Std: []float64{1, 1, 1}}
}

// pixelImage builds an image in the given encoding from RGB pixels.
func pixelImage(w, h int, enc string, rgb func(x, y int) [3]byte) Image {
	ord := channelOrder[enc]
	img := Image{Width: w, Height: h, Encoding: enc, Step: w*ord.bytes + 2, Data: make([]byte, (w*ord.bytes+2)*h)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			p := rgb(x, y)
			off := y*img.Step + x*ord.bytes
			if enc == "mono8" {
				img.Data[off] = p[0]
				continue
			}
			img.Data[off+ord.r], img.Data[off+ord.g], img.Data[off+ord.b] = p[0], p[1], p[2]
		}
	}
	return img
}

func TestEncodingsAgree(t *testing.T) {
	rgb := func(x, y int) [3]byte { return [3]byte{byte(10 * x), byte(20 * y), byte(x + y)} }
	spec := identitySpec(4, 4, "center_crop_resize")
	want := make([]float32, 48)
	require.NoError(t, preprocess(pixelImage(4, 4, "rgb8", rgb), spec, want))
	for _, enc := range []string{"bgr8", "rgba8", "bgra8"} {
		got := make([]float32, 48)
		require.NoError(t, preprocess(pixelImage(4, 4, enc, rgb), spec, got), enc)
		require.Equal(t, want, got, enc)
	}
	// Same size: the identity. Channel-major: R plane first.
	require.InDelta(t, 30.0/255, want[0*16+0*4+3], 1e-6) // R at (3,0)
	require.InDelta(t, 40.0/255, want[1*16+2*4+0], 1e-6) // G at (0,2)
}

func TestMonoFillsAllChannels(t *testing.T) {
	img := pixelImage(2, 2, "mono8", func(x, y int) [3]byte { return [3]byte{200} })
	got := make([]float32, 12)
	require.NoError(t, preprocess(img, identitySpec(2, 2, "stretch"), got))
	for _, v := range got {
		require.InDelta(t, 200.0/255, v, 1e-6)
	}
}

func TestCenterCropTakesTheMiddle(t *testing.T) {
	// 6x2 frame: left and right thirds dark, middle bright. A 2x2 model input crops the middle 2x2.
	img := pixelImage(6, 2, "rgb8", func(x, y int) [3]byte {
		if x >= 2 && x < 4 {
			return [3]byte{255, 255, 255}
		}
		return [3]byte{}
	})
	got := make([]float32, 12)
	require.NoError(t, preprocess(img, identitySpec(2, 2, "center_crop_resize"), got))
	for _, v := range got {
		require.InDelta(t, 1.0, v, 1e-6)
	}
	stretched := make([]float32, 12)
	require.NoError(t, preprocess(img, identitySpec(2, 2, "stretch"), stretched))
	require.Less(t, stretched[0], float32(1))
}

func TestNormalizationAppliesMeanAndStd(t *testing.T) {
	img := pixelImage(1, 1, "rgb8", func(x, y int) [3]byte { return [3]byte{255, 0, 51} })
	spec := bundle.ImageSpec{Width: 1, Height: 1, Mean: []float64{0.5, 0.5, 0.5}, Std: []float64{0.5, 0.25, 0.1}}
	got := make([]float32, 3)
	require.NoError(t, preprocess(img, spec, got))
	require.InDeltaSlice(t, []float32{1, -2, -3}, got, 1e-5)
}

func TestTokenizeBytes(t *testing.T) {
	dst := make([]int64, 4)
	trunc, err := tokenize("bytes", "ab", dst)
	require.NoError(t, err)
	require.False(t, trunc)
	require.Equal(t, []int64{'a' + 1, 'b' + 1, 0, 0}, dst)
	trunc, err = tokenize("bytes", "abcdef", dst)
	require.NoError(t, err)
	require.True(t, trunc)
	_, err = tokenize("sentencepiece", "x", dst)
	require.ErrorContains(t, err, `tokenizer "sentencepiece" is not supported`)
}
