package policy

import (
	"fmt"
	"math"
	"math/big"
	"math/bits"

	"dysl_vla/policy/bundle"
)

// Image is a camera frame as ROS describes one (sensor_msgs/Image), without the ROS types: policy/
// knows nothing of ROS, but robotics users think in these encodings.
type Image struct {
	Width, Height int
	// Encoding is one of rgb8, bgr8, rgba8, bgra8, mono8.
	Encoding string
	// Step is the row length in bytes (>= Width * bytes per pixel).
	Step int
	Data []byte
}

// channelOrder says where R, G and B sit in a pixel of each supported encoding.
var channelOrder = map[string]struct{ bytes, r, g, b int }{
	"rgb8":  {3, 0, 1, 2},
	"bgr8":  {3, 2, 1, 0},
	"rgba8": {4, 0, 1, 2},
	"bgra8": {4, 2, 1, 0},
	"mono8": {1, 0, 0, 0},
}

// SupportedEncodings lists the image encodings the engine accepts.
var SupportedEncodings = []string{"rgb8", "bgr8", "rgba8", "bgra8", "mono8"}

// InputError is a problem with an observation (not with the model): the caller drops the frame, counts
// it and serves the next one.
type InputError struct {
	Field  string
	Reason string
}

func (e *InputError) Error() string { return fmt.Sprintf("observation %s: %s", e.Field, e.Reason) }

// validateImage checks an image's geometry against its encoding. The sizes come from the wire (or from
// any caller), so every product is computed in uint64 with its overflow checked: a product that wraps
// around in int would pass the length check and index out of range.
func validateImage(img Image) error {
	ord, ok := channelOrder[img.Encoding]
	if !ok {
		return &InputError{"image.encoding", fmt.Sprintf("unsupported encoding %q (expected one of %v)", img.Encoding, SupportedEncodings)}
	}
	if img.Width <= 0 || img.Height <= 0 {
		return &InputError{"image", fmt.Sprintf("size %dx%d must be positive", img.Width, img.Height)}
	}
	row, rowOK := product(img.Width, ord.bytes)
	if img.Step < 0 || !rowOK || uint64(img.Step) < row {
		return &InputError{"image.step", fmt.Sprintf("%d is less than width %d x %d bytes per %s pixel", img.Step, img.Width, ord.bytes, img.Encoding)}
	}
	if need, ok := product(img.Step, img.Height); !ok || uint64(len(img.Data)) < need {
		return &InputError{"image.data", fmt.Sprintf("%d bytes, expected step %d x height %d = %s", len(img.Data), img.Step, img.Height, productString(img.Step, img.Height))}
	}
	return nil
}

// product is a*b for non-negative a and b, and whether it fits in 64 bits.
func product(a, b int) (uint64, bool) {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	return lo, hi == 0
}

// productString writes a*b exactly, however large.
func productString(a, b int) string {
	return new(big.Int).Mul(big.NewInt(int64(a)), big.NewInt(int64(b))).String()
}

// preprocess writes the model's image input ([1,3,H,W], normalized, channel-major) into dst following
// the bundle's resize rule: "center_crop_resize" takes the largest centered region with the model's
// aspect ratio and resizes it bilinearly; "stretch" resizes the whole frame.
func preprocess(img Image, spec bundle.ImageSpec, dst []float32) error {
	if err := validateImage(img); err != nil {
		return err
	}
	ord := channelOrder[img.Encoding]
	w, h := spec.Width, spec.Height
	// Source region in pixels.
	x0, y0, cw, ch := 0.0, 0.0, float64(img.Width), float64(img.Height)
	if spec.Resize != "stretch" {
		target := float64(w) / float64(h)
		if cw/ch > target {
			cw = ch * target
			x0 = (float64(img.Width) - cw) / 2
		} else {
			ch = cw / target
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
		// Sample at pixel centers, clamped to the frame.
		fy := clamp(y0+(float64(oy)+0.5)*sy-0.5, 0, float64(img.Height-1))
		yA := int(fy)
		yB := min(yA+1, img.Height-1)
		ty := fy - float64(yA)
		for ox := 0; ox < w; ox++ {
			fx := clamp(x0+(float64(ox)+0.5)*sx-0.5, 0, float64(img.Width-1))
			xA := int(fx)
			xB := min(xA+1, img.Width-1)
			tx := fx - float64(xA)
			for c := 0; c < 3; c++ {
				top := px(xA, yA, c)*(1-tx) + px(xB, yA, c)*tx
				bottom := px(xA, yB, c)*(1-tx) + px(xB, yB, c)*tx
				v := top*(1-ty) + bottom*ty
				dst[c*plane+oy*w+ox] = float32((v - spec.Mean[c]) / spec.Std[c])
			}
		}
	}
	return nil
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

// tokenize writes the instruction as the bundle's tokenizer says: "bytes" maps each UTF-8 byte b to
// b+1 (0 is padding), truncated or zero-padded to len(dst). It reports whether the text was truncated.
func tokenize(kind, text string, dst []int64) (truncated bool, err error) {
	if kind != "bytes" {
		return false, fmt.Errorf("tokenizer %q is not supported (expected \"bytes\")", kind)
	}
	for i := range dst {
		dst[i] = 0
		if i < len(text) {
			dst[i] = int64(text[i]) + 1
		}
	}
	return len(text) > len(dst), nil
}

// ImageInput converts a camera frame into the model's image input exactly as the engine does (the bundle's
// resize rule, then normalization), for tools that run the model outside the engine: calibration and
// training must see what the engine will see.
func ImageInput(img Image, spec bundle.ImageSpec) ([]float32, error) {
	dst := make([]float32, 3*spec.Width*spec.Height)
	if err := preprocess(img, spec, dst); err != nil {
		return nil, err
	}
	return dst, nil
}

// InstructionTokens converts an instruction into the model's token input as the engine does.
func InstructionTokens(tokenizer bundle.Tokenizer, text string, n int) ([]int64, error) {
	dst := make([]int64, n)
	if _, err := tokenize(tokenizer.Kind, text, dst); err != nil {
		return nil, err
	}
	return dst, nil
}
