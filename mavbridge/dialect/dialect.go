// Package dialect holds the DySL-VLA MAVLink dialect: the common dialect plus VLA_ACTION_CHUNK, the message
// that carries a policy's action chunk to an arm controller. XML is the same definition as MAVLink XML, for
// controllers that generate their own code; a test checks that both give the same CRC extra.
package dialect

import (
	_ "embed" // XML is embedded from dysl_vla.xml.

	"github.com/bluenviron/gomavlib/v3/pkg/dialect"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
)

// XML is the MAVLink XML definition of this dialect (dysl_vla.xml), published for controller-side code
// generators. It includes common.xml.
//
//go:embed dysl_vla.xml
var XML string

// ActionChunkID is the message id of VLA_ACTION_CHUNK. No dialect shipped with gomavlib v3.3.0 uses it.
const ActionChunkID = 43000

// MaxChunkValues is the number of float values one VLA_ACTION_CHUNK message carries; it fills the
// 255-byte MAVLink 2 payload exactly with the 39 bytes of header fields.
const MaxChunkValues = 54

// MaxFrameLength is the longest frame id, in bytes, that fits the frame field.
const MaxFrameLength = 16

// MessageVlaActionChunk is VLA_ACTION_CHUNK: one part of an action chunk. Field order and types mirror
// dysl_vla.xml, because gomavlib derives the wire layout and CRC extra from them; the field
// descriptions are the XML's, and docs/CONTROLLER.md gives the layout on the wire (a test holds it).
type MessageVlaActionChunk struct {
	// Time the observation the chunk was computed from was taken, microseconds on the sender's clock:
	// the UNIX epoch on a robot, sim time under use_sim_time, a bag's time under dysl replay.
	TimeUsec uint64
	// The sender's chunk counter; all parts of a chunk share it. It starts at 0 again when the node is
	// configured again, and skips chunks not sent.
	ChunkSeq uint32
	// System ID of the arm controller.
	TargetSystem uint8
	// Component ID of the arm controller, 0 for all.
	TargetComponent uint8
	// Number of steps in the whole chunk.
	StepCount uint8
	// Number of values per step.
	DimCount uint8
	// Index of the first step carried by this message.
	FirstStep uint8
	// Index of this message within the chunk.
	PartIndex uint8
	// Number of messages the chunk was split into.
	PartCount uint8
	// Time between consecutive steps, microseconds.
	StepDtUs uint32
	// The camera image's frame_id (the observation's, not the actions' frame), as mavbridge.WireFrame.
	Frame string `mavlen:"16"`
	// Values of this message's steps, row-major; unused entries are zero.
	Values [MaxChunkValues]float32
}

// GetID implements message.Message.
func (*MessageVlaActionChunk) GetID() uint32 { return ActionChunkID }

// Dialect is the common dialect plus VLA_ACTION_CHUNK. It keeps HEARTBEAT, COMMAND_LONG and COMMAND_ACK.
var Dialect = &dialect.Dialect{
	Version:  common.Dialect.Version,
	Messages: append(append([]message.Message{}, common.Dialect.Messages...), &MessageVlaActionChunk{}),
}
