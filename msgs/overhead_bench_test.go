package msgs_test

import (
	"fmt"
	"testing"

	"dysl_vla/msgs"
)

// BenchmarkDecodeImage is the node's cost of reading one camera frame off the wire, into an Image kept
// between frames (reused) or into a fresh one (new).
func BenchmarkDecodeImage(b *testing.B) {
	for _, size := range [][2]int{{224, 224}, {640, 480}} {
		w, h := size[0], size[1]
		b.Run(fmt.Sprintf("%dx%d_rgb8", w, h), func(b *testing.B) {
			src := &msgs.Image{
				Header: msgs.Header{Stamp: msgs.Time{Sec: 1, Nanosec: 2}, FrameID: "camera_color_optical_frame"},
				Height: uint32(h), Width: uint32(w), Encoding: msgs.EncodingRGB8, Step: uint32(3 * w),
				Data: make([]byte, 3*w*h),
			}
			wire, err := msgs.Encode(nil, src)
			if err != nil {
				b.Fatal(err)
			}
			b.Run("reused", func(b *testing.B) {
				var img msgs.Image
				if err := msgs.Decode(wire, &img); err != nil { // the first frame sizes the buffer
					b.Fatal(err)
				}
				b.SetBytes(int64(len(src.Data)))
				b.ReportAllocs()
				for b.Loop() {
					if err := msgs.Decode(wire, &img); err != nil {
						b.Fatal(err)
					}
				}
			})
			// What a subscriber that decodes every frame into a new Image pays: the pixel buffer is
			// allocated (and zeroed) per frame.
			b.Run("new", func(b *testing.B) {
				b.SetBytes(int64(len(src.Data)))
				b.ReportAllocs()
				for b.Loop() {
					var img msgs.Image
					if err := msgs.Decode(wire, &img); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkEncodeActionChunk is the node's cost of serializing the tiny model's chunk (8 steps of 7
// actions) into a buffer it keeps between frames.
func BenchmarkEncodeActionChunk(b *testing.B) {
	chunk := &msgs.ActionChunk{
		Header:      msgs.Header{Stamp: msgs.Time{Sec: 1, Nanosec: 2}, FrameID: "camera_color_optical_frame"},
		Sequence:    42,
		StepDt:      msgs.Duration{Nanosec: 100_000_000},
		Steps:       8,
		ActionDim:   7,
		ActionNames: []string{"x", "y", "z", "roll", "pitch", "yaw", "gripper"},
		Actions:     make([]float32, 8*7),
		LayersTotal: 8, LayersExecuted: 6, SkipRatio: 0.25, Strategy: "dysl",
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = msgs.Encode(buf, chunk); err != nil {
			b.Fatal(err)
		}
	}
}
