package modelinput

import (
	"fmt"
	"testing"
)

// benchmarkFrame is a w x h rgb8 frame with varied pixels, so no branch is always taken.
func benchmarkFrame(w, h int) Image {
	data := make([]byte, 3*w*h)
	for i := range data {
		data[i] = byte(i*7 + i/3)
	}
	return Image{Width: w, Height: h, Encoding: "rgb8", Step: 3 * w, Data: data}
}

// BenchmarkPreprocess is the per-frame cost of turning a camera frame into the model's image input:
// the common camera sizes into the bench-sized input (224) and the tiny model's (64).
func BenchmarkPreprocess(b *testing.B) {
	for _, c := range []struct {
		inW, inH, out int
		balance       bool
	}{{224, 224, 224, false}, {224, 224, 64, false}, {640, 480, 224, false}, {640, 480, 64, false}, {640, 480, 64, true}, {224, 224, 224, true}} {
		name := fmt.Sprintf("%dx%d_to_%d", c.inW, c.inH, c.out)
		spec := modelSpec(c.out)
		if c.balance { // the channel medians brought to a table's (bundle.ImageSpec.Balance)
			name, spec = name+"_balanced", balancedSpec(c.out)
		}
		b.Run(name, func(b *testing.B) {
			img := benchmarkFrame(c.inW, c.inH)
			conv := newConverter(b, spec)
			dst := make([]float32, 3*c.out*c.out)
			b.ReportAllocs()
			for b.Loop() {
				if err := conv.Convert(img, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
