// Package modelinput turns an observation (a camera frame, an instruction and, for a bundle with a state
// block, the robot's state) into the model's input tensors exactly as a bundle declares: the image
// resized and normalized, the instruction tokenized, the state normalized.
//
// The engine converts every frame with it, and the tools that run the model outside the engine
// (calibration, training) use the same functions, so a model is trained on what the robot will feed it.
// It is pure Go and knows nothing of ROS, ONNX Runtime or the engine.
package modelinput

import (
	"fmt"
	"math/big"
	"math/bits"
	"slices"
)

// Image is a camera frame as ROS describes one (sensor_msgs/Image), without the ROS types: the model's
// input knows nothing of ROS, but robotics users think in these encodings.
type Image struct {
	Width, Height int
	// Encoding is one of Encodings().
	Encoding string
	// Step is the row length in bytes (>= Width * bytes per pixel).
	Step int
	Data []byte
}

// pixelLayout says how many bytes a pixel of an encoding has and where R, G and B sit in it.
type pixelLayout struct{ bytes, r, g, b int }

// encoding is one supported image encoding.
type encoding struct {
	name   string
	layout pixelLayout
}

// encodings is the table of supported encodings, in the order Encodings lists them.
var encodings = []encoding{
	{"rgb8", pixelLayout{3, 0, 1, 2}},
	{"bgr8", pixelLayout{3, 2, 1, 0}},
	{"rgba8", pixelLayout{4, 0, 1, 2}},
	{"bgra8", pixelLayout{4, 2, 1, 0}},
	{"mono8", pixelLayout{1, 0, 0, 0}},
}

// Encodings lists the image encodings a model input can be made from.
func Encodings() []string {
	names := make([]string, len(encodings))
	for i, e := range encodings {
		names[i] = e.name
	}
	return names
}

func layoutOf(name string) (pixelLayout, bool) {
	i := slices.IndexFunc(encodings, func(e encoding) bool { return e.name == name })
	if i < 0 {
		return pixelLayout{}, false
	}
	return encodings[i].layout, true
}

// InputError is a problem with an observation (not with the model): the caller drops the frame, counts
// it and serves the next one.
type InputError struct {
	Field  string
	Reason string
}

func (e *InputError) Error() string { return fmt.Sprintf("observation %s: %s", e.Field, e.Reason) }

// Validate checks the image's geometry against its encoding and returns an *InputError naming the
// first field that is wrong. The sizes come from the wire (or from any caller), so every product is
// computed in 64 bits with its overflow checked: a product that wraps around would pass the length
// check and send the resampler out of range.
func (img Image) Validate() error {
	_, err := img.layout()
	return err
}

// layout validates the image and returns its pixel layout.
func (img Image) layout() (pixelLayout, error) {
	px, ok := layoutOf(img.Encoding)
	if !ok {
		return px, &InputError{"image.encoding", fmt.Sprintf("unsupported encoding %.32q (expected one of %v)", img.Encoding, Encodings())}
	}
	if img.Width <= 0 || img.Height <= 0 {
		return px, &InputError{"image", fmt.Sprintf("size %dx%d must be positive", img.Width, img.Height)}
	}
	row, rowFits := product(img.Width, px.bytes)
	if img.Step < 0 || !rowFits || uint64(img.Step) < row {
		return px, &InputError{"image.step", fmt.Sprintf("%d is less than width %d x %d bytes per %s pixel", img.Step, img.Width, px.bytes, img.Encoding)}
	}
	if need, fits := product(img.Step, img.Height); !fits || uint64(len(img.Data)) < need {
		return px, &InputError{"image.data", fmt.Sprintf("%d bytes, expected step %d x height %d = %s", len(img.Data), img.Step, img.Height, productString(img.Step, img.Height))}
	}
	return px, nil
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
