package modelinput

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/policy/bundle"
)

func identitySpec(w, h int, resize string) bundle.ImageSpec {
	return bundle.ImageSpec{Width: w, Height: h, Resize: resize, Mean: []float64{0, 0, 0}, Std: []float64{1, 1, 1}}
}

// modelSpec is the input rule of the bundles modelbuild writes (ImageNet statistics), at size x size.
func modelSpec(size int) bundle.ImageSpec {
	return bundle.ImageSpec{Width: size, Height: size, Resize: "center_crop_resize",
		Mean: []float64{0.485, 0.456, 0.406}, Std: []float64{0.229, 0.224, 0.225}}
}

func newConverter(tb testing.TB, spec bundle.ImageSpec) *ImageConverter {
	tb.Helper()
	conv, err := NewImageConverter(spec)
	require.NoError(tb, err)
	return conv
}

// pixelImage builds an image in the given encoding from RGB pixels, with 2 bytes of padding per row.
func pixelImage(w, h int, enc string, rgb func(x, y int) [3]byte) Image {
	px, _ := layoutOf(enc)
	img := Image{Width: w, Height: h, Encoding: enc, Step: w*px.bytes + 2, Data: make([]byte, (w*px.bytes+2)*h)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			p := rgb(x, y)
			off := y*img.Step + x*px.bytes
			if enc == "mono8" {
				img.Data[off] = p[0]
				continue
			}
			img.Data[off+px.r], img.Data[off+px.g], img.Data[off+px.b] = p[0], p[1], p[2]
		}
	}
	return img
}

func convert(t *testing.T, img Image, spec bundle.ImageSpec) []float32 {
	t.Helper()
	got, err := ImageInput(img, spec)
	require.NoError(t, err)
	return got
}

func TestEncodingsAgree(t *testing.T) {
	rgb := func(x, y int) [3]byte { return [3]byte{byte(10 * x), byte(20 * y), byte(x + y)} }
	for _, spec := range []bundle.ImageSpec{identitySpec(4, 4, "center_crop_resize"), identitySpec(3, 2, "stretch")} {
		want := convert(t, pixelImage(4, 4, "rgb8", rgb), spec)
		for _, enc := range []string{"bgr8", "rgba8", "bgra8"} {
			require.Equal(t, want, convert(t, pixelImage(4, 4, enc, rgb), spec), enc)
		}
	}
	// Same size: the identity. Channel-major: R plane first.
	want := convert(t, pixelImage(4, 4, "rgb8", rgb), identitySpec(4, 4, "center_crop_resize"))
	require.InDelta(t, 30.0/255, want[0*16+0*4+3], 1e-6) // R at (3,0)
	require.InDelta(t, 40.0/255, want[1*16+2*4+0], 1e-6) // G at (0,2)
}

func TestMonoFillsAllChannels(t *testing.T) {
	img := pixelImage(2, 2, "mono8", func(x, y int) [3]byte { return [3]byte{200} })
	for _, v := range convert(t, img, identitySpec(2, 2, "stretch")) {
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
	for _, v := range convert(t, img, identitySpec(2, 2, "center_crop_resize")) {
		require.InDelta(t, 1.0, v, 1e-6)
	}
	stretched := convert(t, img, identitySpec(2, 2, "stretch"))
	require.Less(t, stretched[0], float32(1))
}

func TestNormalizationAppliesMeanAndStd(t *testing.T) {
	img := pixelImage(1, 1, "rgb8", func(x, y int) [3]byte { return [3]byte{255, 0, 51} })
	spec := bundle.ImageSpec{Width: 1, Height: 1, Mean: []float64{0.5, 0.5, 0.5}, Std: []float64{0.5, 0.25, 0.1}}
	require.InDeltaSlice(t, []float32{1, -2, -3}, convert(t, img, spec), 1e-5)
}

func TestConverterRefusesAnUnusableSpec(t *testing.T) {
	for _, c := range []struct {
		spec bundle.ImageSpec
		want string
	}{
		{identitySpec(0, 4, "stretch"), "image size 0x4 must be positive"},
		{identitySpec(4, 0, "stretch"), "image size 4x0 must be positive"},
		{bundle.ImageSpec{Width: 2, Height: 2, Mean: []float64{0}, Std: []float64{1, 1, 1}}, "need 3 values (RGB), got 1 and 3"},
		{bundle.ImageSpec{Width: 2, Height: 2, Mean: []float64{0, 0, 0}, Std: []float64{1, 0, 1}}, "channel 1 has mean 0 and std 0"},
		{bundle.ImageSpec{Width: 2, Height: 2, Mean: []float64{0, 0, math.NaN()}, Std: []float64{1, 1, 1}}, "channel 2 has mean NaN"},
		{bundle.ImageSpec{Width: 2, Height: 2, Mean: []float64{0, 0, 0}, Std: []float64{1, 1, 1}, Balance: []float64{0.5}}, "image balance needs 3 values (RGB), got 1"},
		{bundle.ImageSpec{Width: 2, Height: 2, Mean: []float64{0, 0, 0}, Std: []float64{1, 1, 1}, Balance: []float64{0.5, 0, 0.5}}, "balance of channel 1 is 0"},
	} {
		_, err := NewImageConverter(c.spec)
		require.ErrorContains(t, err, c.want)
	}
	// A balance of 1 is taken: the training frames' median at full scale (a white table).
	white := identitySpec(2, 2, "stretch")
	white.Balance = []float64{1, 1, 1}
	_, err := NewImageConverter(white)
	require.NoError(t, err)
	conv := newConverter(t, identitySpec(2, 2, "stretch"))
	require.ErrorContains(t, conv.Convert(pixelImage(2, 2, "rgb8", func(x, y int) [3]byte { return [3]byte{} }), make([]float32, 11)),
		"destination holds 11 values, expected 3 x 2 x 2 = 12")
}

// balancedSpec is modelSpec balanced to a table of colour (150, 110, 70), as modelbuild's bundles are.
func balancedSpec(size int) bundle.ImageSpec {
	spec := modelSpec(size)
	spec.Balance = []float64{150.0 / 255, 110.0 / 255, 70.0 / 255}
	return spec
}

// tableFrame is a table of colour table with a small square of colour object on it, every channel
// scaled by light (clipped at 255).
func tableFrame(size int, table, object [3]byte, light float64) Image {
	return pixelImage(size, size, "rgb8", func(x, y int) [3]byte {
		c := table
		if x >= size/4 && x < size/2 && y >= size/4 && y < size/2 {
			c = object
		}
		for ch := range c {
			c[ch] = byte(min(255, math.Round(light*float64(c[ch]))))
		}
		return c
	})
}

// Balance brings the frame's medians, the table, to the spec's: a frame lit 20% brighter or dimmer
// converts as the frame under the normal light did, within a byte's rounding, and so do the objects
// on the table. A frame already at the medians converts bit for bit as without balance.
func TestBalanceUndoesTheLight(t *testing.T) {
	table, object := [3]byte{150, 110, 70}, [3]byte{40, 70, 210}
	normal := convert(t, tableFrame(16, table, object, 1), balancedSpec(16))
	require.Equal(t, convert(t, tableFrame(16, table, object, 1), modelSpec(16)), normal, "at the medians the gain is 1")
	for _, light := range []float64{0.8, 1.2} {
		lit := tableFrame(16, table, object, light)
		unbalanced := convert(t, lit, modelSpec(16))
		balanced := convert(t, lit, balancedSpec(16))
		for i := range normal {
			require.InDelta(t, normal[i], balanced[i], 0.05, "light %v, value %d", light, i) // a byte is 0.017 here
		}
		require.Greater(t, math.Abs(float64(unbalanced[0]-normal[0])), 0.3, "light %v changes the unbalanced frame", light)
	}
	// A black frame (a covered lens) is not blown up: the gain stops at MaxBalanceGain, and black
	// stays black.
	black := tableFrame(4, [3]byte{}, [3]byte{}, 1)
	require.Equal(t, convert(t, black, modelSpec(4)), convert(t, black, balancedSpec(4)))
	// A frame 4 times too dark is corrected only by that gain.
	dark := convert(t, tableFrame(4, [3]byte{36, 28, 18}, [3]byte{36, 28, 18}, 1), balancedSpec(4))
	require.InDelta(t, (72.0/255-0.485)/0.229, dark[0], 1e-5)
}

// A frame whose samples split evenly between two levels has as its median the lower one: the least
// level that half the samples reach. A 2x2 input of two pixels at 100 and two at 150, balanced to 120,
// is brightened by 1.2, not dimmed by 0.8.
func TestBalanceMedianOfAnEvenCountIsTheLowerMiddle(t *testing.T) {
	spec := identitySpec(2, 2, "stretch")
	spec.Balance = []float64{120.0 / 255, 120.0 / 255, 120.0 / 255}
	conv := newConverter(t, spec)
	img := pixelImage(2, 2, "rgb8", func(x, y int) [3]byte {
		v := byte(100 + 50*x)
		return [3]byte{v, v, v}
	})
	dst := make([]float32, 12)
	require.NoError(t, conv.Convert(img, dst))
	for ch, g := range conv.Gains() {
		require.InDelta(t, 1.2, g, 1e-9, "channel %d", ch)
	}
	require.InDelta(t, 120.0/255, dst[0], 1e-6, "the lower level, brought to the balance")
}

// referenceConvert is what the converter must compute, per pixel in float64 with no tables: along an
// axis the region reduces, each output pixel the mean of the source pixels under its footprint weighted
// by the length each shares with it; along an axis kept or enlarged, bilinear at pixel centres clamped
// to the frame. The training frames are the model's size, so there the output is a gather: what the
// trained reference model (models/reference/tiny) was trained and calibrated on.
func referenceConvert(img Image, spec bundle.ImageSpec, dst []float32) {
	ord, _ := layoutOf(img.Encoding)
	w, h := spec.Width, spec.Height
	x0, y0, cw, ch := 0.0, 0.0, float64(img.Width), float64(img.Height)
	if spec.Resize != "stretch" {
		// The aspect ratios compared in integers: a frame of the model's is taken whole.
		switch wide, tall := img.Width*h, img.Height*w; {
		case wide > tall:
			cw = ch * float64(w) / float64(h)
			x0 = (float64(img.Width) - cw) / 2
		case wide < tall:
			ch = cw * float64(h) / float64(w)
			y0 = (float64(img.Height) - ch) / 2
		}
	}
	sx, sy := cw/float64(w), ch/float64(h)
	plane := w * h
	px := func(x, y, c int) float64 {
		off := y*img.Step + x*ord.bytes
		idx := [3]int{ord.r, ord.g, ord.b}[c]
		return float64(img.Data[off+idx]) / 255
	}
	for oy := 0; oy < h; oy++ {
		wy := referenceWeights(y0, sy, oy, img.Height)
		for ox := 0; ox < w; ox++ {
			wx := referenceWeights(x0, sx, ox, img.Width)
			for c := 0; c < 3; c++ {
				v := 0.0
				for y, a := range wy {
					for x, b := range wx {
						v += a * b * px(x, y, c)
					}
				}
				dst[c*plane+oy*w+ox] = float32((v - spec.Mean[c]) / spec.Std[c])
			}
		}
	}
}

// referenceWeights is the weight of each of an axis's n source pixels in output pixel i, keyed by the
// pixel's index (those that weigh nothing left out).
func referenceWeights(origin, scale float64, i, n int) map[int]float64 {
	weights := map[int]float64{}
	if scale <= 1 {
		f := math.Max(0, math.Min(float64(n-1), origin+(float64(i)+0.5)*scale-0.5))
		a := int(f)
		weights[a] += 1 - (f - float64(a))
		weights[min(a+1, n-1)] += f - float64(a)
		return weights
	}
	lo, hi := origin+float64(i)*scale, origin+float64(i+1)*scale
	for j := range n {
		if share := math.Min(hi, float64(j+1)) - math.Max(lo, float64(j)); share > 0 {
			weights[j] = share / scale
		}
	}
	return weights
}

// referenceTolerance bounds the converter's difference from referenceConvert in normalized units
// (float32 against float64 arithmetic): about a thousandth of one 8-bit step at the reference std.
const referenceTolerance = 2e-5

func randomImage(r *rand.Rand, w, h int, enc string, pad int) Image {
	px, _ := layoutOf(enc)
	step := w*px.bytes + pad
	img := Image{Width: w, Height: h, Encoding: enc, Step: step, Data: make([]byte, step*h)}
	for i := range img.Data {
		img.Data[i] = byte(r.IntN(256))
	}
	return img
}

func TestConverterMatchesTheReferenceResampler(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	frames := [][2]int{{1, 1}, {2, 3}, {7, 5}, {64, 64}, {224, 224}, {640, 480}, {33, 97}, {100, 10}, {3, 300}}
	specs := []bundle.ImageSpec{
		modelSpec(64),
		modelSpec(224),
		{Width: 5, Height: 3, Resize: "stretch", Mean: []float64{0.5, 0.5, 0.5}, Std: []float64{0.5, 0.25, 0.1}},
		{Width: 3, Height: 7, Resize: "center_crop_resize", Mean: []float64{0, 0.1, 1}, Std: []float64{1, 2, 0.3}},
		{Width: 1, Height: 1, Resize: "stretch", Mean: []float64{0, 0, 0}, Std: []float64{1, 1, 1}},
	}
	for _, spec := range specs {
		conv := newConverter(t, spec)
		for i, f := range frames {
			enc := encodings[i%len(encodings)].name
			img := randomImage(r, f[0], f[1], enc, i%3)
			t.Run(fmt.Sprintf("%dx%d_%s_to_%dx%d_%s", f[0], f[1], enc, spec.Width, spec.Height, spec.Resize), func(t *testing.T) {
				want := make([]float32, 3*spec.Width*spec.Height)
				referenceConvert(img, spec, want)
				got := make([]float32, len(want))
				require.NoError(t, conv.Convert(img, got))
				for k := range want {
					if d := math.Abs(float64(got[k] - want[k])); d > referenceTolerance {
						t.Fatalf("value %d: got %v, reference %v (difference %.3g)", k, got[k], want[k], d)
					}
				}
			})
		}
	}
}

// When every sample falls on a source pixel (same size, a centered crop by whole pixels), the output is
// the reference's bit for bit. A model of 72x56 is one whose aspect ratio does not survive 72/56 and
// back in floating point (56 x (72/56) is not 72): a frame of its own size, or cropped to it by whole
// pixels, is still a gather.
func TestExactSamplingIsBitIdentical(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	wide := modelSpec(64)
	wide.Width, wide.Height = 72, 56
	for _, c := range []struct {
		spec   bundle.ImageSpec
		frames [][2]int
	}{
		{modelSpec(64), [][2]int{{64, 64}, {96, 64}, {64, 80}}},
		{wide, [][2]int{{72, 56}, {100, 56}, {72, 70}}},
	} {
		conv := newConverter(t, c.spec)
		for _, f := range c.frames {
			img := randomImage(r, f[0], f[1], "bgr8", 1)
			want := make([]float32, 3*c.spec.Width*c.spec.Height)
			referenceConvert(img, c.spec, want)
			got := make([]float32, len(want))
			require.NoError(t, conv.Convert(img, got))
			require.True(t, conv.exact, "%dx%d", f[0], f[1])
			require.Equal(t, want, got, "%dx%d", f[0], f[1])
		}
	}
}

// A converter reused across frame sizes and encodings gives what a fresh one gives.
func TestConverterFollowsChangingFrames(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	spec := identitySpec(16, 12, "center_crop_resize")
	conv := newConverter(t, spec)
	got := make([]float32, 3*16*12)
	for i, f := range [][2]int{{16, 12}, {40, 30}, {40, 30}, {16, 12}, {17, 9}} {
		img := randomImage(r, f[0], f[1], encodings[i%len(encodings)].name, i)
		require.NoError(t, conv.Convert(img, got))
		require.Equal(t, convert(t, img, spec), got, "frame %d", i)
	}
	// A bad frame in between changes nothing for the next good one.
	img := randomImage(r, 40, 30, "rgb8", 0)
	require.Error(t, conv.Convert(Image{Width: 40, Height: 30, Encoding: "rgb8", Step: 120, Data: img.Data[:100]}, got))
	require.NoError(t, conv.Convert(img, got))
	require.Equal(t, convert(t, img, spec), got)
}

// Converting a stream of frames of one size allocates nothing: the node converts every camera frame.
func TestConvertDoesNotAllocate(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	spec := balancedSpec(64)
	conv := newConverter(t, spec)
	dst := make([]float32, 3*64*64)
	for _, img := range []Image{randomImage(r, 64, 64, "rgb8", 0), randomImage(r, 640, 480, "bgra8", 0)} {
		allocs := testing.AllocsPerRun(20, func() {
			if err := conv.Convert(img, dst); err != nil {
				t.Fatal(err)
			}
		})
		require.Zero(t, allocs, "%dx%d", img.Width, img.Height)
	}
}

// A pattern finer than the model's pixels reaches the model as its mean, not as a moiré: a camera
// frame of 1-pixel black and white checks, reduced to the model's input, is an even grey. Sampling
// one point per output pixel would give black or white at each, by where the sample happened to fall.
func TestReductionAveragesFinePatterns(t *testing.T) {
	checks := func(w, h int) Image {
		return pixelImage(w, h, "rgb8", func(x, y int) [3]byte {
			if (x+y)%2 == 0 {
				return [3]byte{255, 255, 255}
			}
			return [3]byte{}
		})
	}
	spec := identitySpec(64, 64, "center_crop_resize")
	for _, f := range [][2]int{{640, 480}, {1280, 720}, {200, 200}} {
		got := convert(t, checks(f[0], f[1]), spec)
		// A footprint of s x s source pixels holds at most about one pixel's worth more of one colour
		// than of the other: within 1/floor(s)^2 of grey.
		footprint := math.Floor(float64(min(f[0], f[1])) / 64)
		for i, v := range got {
			require.InDelta(t, 0.5, v, 1/(footprint*footprint), "%dx%d: value %d", f[0], f[1], i)
		}
	}
}

// A weight table is allocated once at its size, whatever the scale: a camera whose frame size changes
// makes a table per frame, and a table grown entry by entry cost tens of times a wide frame's bytes.
func TestAxisWeightsAllocateOnce(t *testing.T) {
	for _, c := range []struct {
		name       string
		origin     float64
		scale      float64
		out, n     int
		wantExcess int // entries allocated but not used, at most
	}{
		{"wide frame to 32", 0, 1 << 20 / 32.0, 32, 1 << 20, 32},
		{"uneven shrink", 0.25, 2.7, 100, 271, 100},
		{"enlarge", 0, 0.5, 64, 32, 0},
	} {
		allocs := testing.AllocsPerRun(3, func() { axisWeights(c.origin, c.scale, c.out, c.n, 1) })
		require.LessOrEqual(t, allocs, 4.0, "%s: the table and its three slices", c.name)
		tab := axisWeights(c.origin, c.scale, c.out, c.n, 1)
		require.LessOrEqual(t, cap(tab.weight)-len(tab.weight), c.wantExcess, c.name)
		require.Equal(t, cap(tab.weight), cap(tab.offset), c.name)
	}
}
