package msgs

import "dysl_vla/msgs/cdr"

// Header is std_msgs/msg/Header: when and in which coordinate frame the data
// of a stamped message was taken.
type Header struct {
	Stamp   Time
	FrameID string
}

func (*Header) TypeName() string { return "std_msgs/msg/Header" }

func (h *Header) MarshalCDR(e *cdr.Encoder) {
	h.Stamp.MarshalCDR(e)
	e.String(h.FrameID)
}

func (h *Header) UnmarshalCDR(d *cdr.Decoder) {
	unmarshalNested(d, "stamp", &h.Stamp)
	h.FrameID = d.String("frame_id")
}

// headerMinWireSize is the fewest bytes a Header occupies: two 32-bit stamp
// fields and an empty string's length.
const headerMinWireSize = 12

// String is std_msgs/msg/String, the type of the instruction topic and of
// the talker demo in the rosbag2 fixtures.
type String struct {
	Data string
}

func (*String) TypeName() string { return "std_msgs/msg/String" }

func (s *String) MarshalCDR(e *cdr.Encoder) { e.String(s.Data) }

func (s *String) UnmarshalCDR(d *cdr.Decoder) { s.Data = d.String("data") }
