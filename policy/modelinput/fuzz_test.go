package modelinput

import (
	"errors"
	"math"
	"testing"
)

// FuzzConvert feeds the converter any geometry, encoding and bytes a camera message can carry. It must
// never panic: a frame is either refused with an *InputError (the same one Validate gives) or converted
// to values within the normalized range of 8-bit pixels, matching the reference resampler.
func FuzzConvert(f *testing.F) {
	f.Add(4, 4, 12, "rgb8", make([]byte, 48), uint8(2), uint8(2), false)
	f.Add(6, 2, 20, "bgra8", make([]byte, 40), uint8(3), uint8(5), true)
	f.Add(1, 0x80000001, 0xFFFFFFFF, "rgb8", make([]byte, 16), uint8(4), uint8(4), false)
	f.Add(1<<62, 1, 16, "rgba8", make([]byte, 16), uint8(1), uint8(1), false)
	f.Fuzz(func(t *testing.T, width, height, step int, enc string, data []byte, outW, outH uint8, stretch bool) {
		spec := modelSpec(1)
		spec.Width, spec.Height = 1+int(outW%32), 1+int(outH%32)
		if stretch {
			spec.Resize = "stretch"
		}
		conv := newConverter(t, spec)
		img := Image{Width: width, Height: height, Encoding: enc, Step: step, Data: data}
		dst := make([]float32, 3*spec.Width*spec.Height)
		err := conv.Convert(img, dst)
		if verr := img.Validate(); err != nil || verr != nil {
			var inErr *InputError
			if !errors.As(err, &inErr) || verr == nil || err.Error() != verr.Error() {
				t.Fatalf("Convert: %v; Validate: %v (expected the same *InputError)", err, verr)
			}
			return
		}
		want := make([]float32, len(dst))
		referenceConvert(img, spec, want)
		plane := spec.Width * spec.Height
		for k, v := range dst {
			ch := k / plane
			lo, hi := (0-spec.Mean[ch])/spec.Std[ch], (1-spec.Mean[ch])/spec.Std[ch]
			if float64(v) < lo-referenceTolerance || float64(v) > hi+referenceTolerance {
				t.Fatalf("value %d is %v, outside [%v, %v]", k, v, lo, hi)
			}
			if d := math.Abs(float64(v - want[k])); d > referenceTolerance {
				t.Fatalf("value %d: got %v, reference %v", k, v, want[k])
			}
		}
	})
}
