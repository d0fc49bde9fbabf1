package msgs

import "fmt"

// Image encodings a VLA camera pipeline meets most (sensor_msgs/image_encodings.hpp).
const (
	EncodingRGB8  = "rgb8"
	EncodingRGBA8 = "rgba8"
	EncodingBGR8  = "bgr8"
	EncodingBGRA8 = "bgra8"
	EncodingMono8 = "mono8"
)

// CheckLayout reports an image whose size fields disagree with its data: a
// step shorter than a row of minBytesPerPixel-sized pixels, or data shorter
// than Step*Height. Decoding does not check this, since a bag reader may
// want to show such a frame; a consumer that indexes pixels must.
func (m *Image) CheckLayout(minBytesPerPixel int) error {
	if minBytesPerPixel < 1 {
		return fmt.Errorf("msgs: Image bytes per pixel %d must be at least 1", minBytesPerPixel)
	}
	if row := uint64(m.Width) * uint64(minBytesPerPixel); uint64(m.Step) < row {
		return fmt.Errorf("msgs: Image step %d is shorter than width %d x %d bytes per pixel (%s)", m.Step, m.Width, minBytesPerPixel, m.Encoding)
	}
	if need := uint64(m.Step) * uint64(m.Height); uint64(len(m.Data)) < need {
		return fmt.Errorf("msgs: Image data has %d bytes, expected step %d x height %d = %d", len(m.Data), m.Step, m.Height, need)
	}
	return nil
}
