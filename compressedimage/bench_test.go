package compressedimage

import (
	"math/rand/v2"
	"testing"

	"dysl_vla/msgs"
)

// BenchmarkDecode is the cost of one 640x480 camera frame, JPEG (quality 90, as
// compressed_image_transport's default jpeg_quality is 95 and cameras' own encoders run lower) and
// PNG, decoded into a kept Image as the node core does: the decoder's own planes are allocated every
// frame, the rgb8 buffer once.
func BenchmarkDecode(b *testing.B) {
	frame := tabletop(640, 480)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range frame.Pix { // sensor noise of a few levels, which PNG pays for
		if i%4 != 3 {
			frame.Pix[i] = uint8(min(255, max(0, int(frame.Pix[i])+rng.IntN(7)-3)))
		}
	}
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
