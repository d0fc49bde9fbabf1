package msgs

import (
	"fmt"

	"dysl_vla/msgs/cdr"
)

// Image is sensor_msgs/msg/Image, an uncompressed camera frame.
//
// Header.Stamp is the acquisition time and Header.FrameID the camera's
// optical frame (+x right, +y down, +z forward). Row r starts at byte
// r*Step of Data; Step may exceed Width times the pixel size when rows are
// padded, so always index rows by Step.
type Image struct {
	Header   Header
	Height   uint32 // rows
	Width    uint32 // columns
	Encoding string // e.g. "rgb8", "bgr8", "mono8", "16UC1"; see sensor_msgs/image_encodings.hpp
	// IsBigEndian is 0 on x86 and ARM; it matters only for multi-byte
	// channels such as 16UC1.
	IsBigEndian uint8
	Step        uint32 // bytes per row, padding included
	Data        []byte // Step*Height bytes
}

// Image encodings a VLA camera pipeline meets most (sensor_msgs/image_encodings.hpp).
const (
	EncodingRGB8  = "rgb8"
	EncodingRGBA8 = "rgba8"
	EncodingBGR8  = "bgr8"
	EncodingBGRA8 = "bgra8"
	EncodingMono8 = "mono8"
)

func (*Image) TypeName() string { return "sensor_msgs/msg/Image" }

func (m *Image) MarshalCDR(e *cdr.Encoder) {
	m.Header.MarshalCDR(e)
	e.Uint32(m.Height)
	e.Uint32(m.Width)
	e.String(m.Encoding)
	e.Uint8(m.IsBigEndian)
	e.Uint32(m.Step)
	e.Uint8s(m.Data)
}

func (m *Image) UnmarshalCDR(d *cdr.Decoder) {
	unmarshalNested(d, "header", &m.Header)
	m.Height = d.Uint32("height")
	m.Width = d.Uint32("width")
	m.Encoding = d.String("encoding")
	m.IsBigEndian = d.Uint8("is_bigendian")
	m.Step = d.Uint32("step")
	m.Data = d.Uint8s("data", m.Data)
}

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
