package compressedimage

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"testing"

	"dysl_vla/msgs"
)

// cameraFrame is the tabletop frame with sensor noise of a few levels, which PNG pays for.
func cameraFrame(w, h int) *image.RGBA {
	frame := tabletop(w, h)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range frame.Pix {
		if i%4 != 3 {
			frame.Pix[i] = uint8(min(255, max(0, int(frame.Pix[i])+rng.IntN(7)-3)))
		}
	}
	return frame
}

// BenchmarkDecode is the cost of one 640x480 camera frame, JPEG (quality 90, as
// compressed_image_transport's default jpeg_quality is 95 and cameras' own encoders run lower) and
// PNG, decoded into a kept Image as the node core does: the decoder's own planes are allocated every
// frame, the rgb8 buffer once.
func BenchmarkDecode(b *testing.B) {
	frame := cameraFrame(640, 480)
	for _, tc := range []struct {
		name string
		m    *msgs.CompressedImage
	}{
		{"jpeg_640x480", &msgs.CompressedImage{Format: "rgb8; jpeg compressed bgr8", Data: encodeJPEG(b, frame, 90)}},
		{"png_640x480", &msgs.CompressedImage{Format: "rgb8; png compressed bgr8", Data: encodePNG(b, frame)}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var dst msgs.Image
			b.SetBytes(int64(len(tc.m.Data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := Decode(tc.m, &dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkToRaw is the cost of the colour conversion alone, the part of BenchmarkDecode that is this
// package's own: BenchmarkDecode's frames as their decoders give them (4:2:0 YCbCr, as cameras and
// Go's encoder write JPEGs; RGBA), and noise in 4:4:4, a chroma sample for every pixel and half the
// colours out of the RGB gamut, the most a frame's conversion costs.
func BenchmarkToRaw(b *testing.B) {
	frame := cameraFrame(640, 480)
	jpegFrame, err := jpeg.Decode(bytes.NewReader(encodeJPEG(b, frame, 90)))
	if err != nil {
		b.Fatal(err)
	}
	pngFrame, err := png.Decode(bytes.NewReader(encodePNG(b, frame)))
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		img  image.Image
	}{
		{"jpeg_640x480", jpegFrame},
		{"png_640x480", pngFrame},
		{"noise444_640x480", noisyYCbCr(frame.Rect, image.YCbCrSubsampleRatio444)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			dst := msgs.Image{Width: 640, Height: 480}
			b.SetBytes(640 * 480 * 3)
			b.ReportAllocs()
			for b.Loop() {
				if err := toRaw(tc.img, &dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
