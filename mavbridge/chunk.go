package mavbridge

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"time"

	"dysl_vla/mavbridge/dialect"
)

// NoGripper is the Chunk.GripperDim of a chunk without a gripper dimension.
const NoGripper = -1

// Chunk is an action chunk as the bridge takes it: Steps future steps of Dims values each, row-major.
// It is the bridge's own type so that the bridge imports nothing of the engine.
type Chunk struct {
	// Seq numbers chunks; the controller sees it as chunk_seq. It is the node core's counter: it starts
	// at 0 again when the node is configured again, and the chunks a bridge discards leave gaps.
	Seq uint32
	// Stamp is the time of the observation the chunk was computed from; sent with microsecond resolution.
	Stamp time.Time
	// StepDt is the time between consecutive steps; sent with microsecond resolution.
	StepDt time.Duration
	// Frame is the frame the actions are expressed in, at most 16 bytes: a ROS frame_id through WireFrame.
	Frame string
	Steps int
	Dims  int
	// Values holds Steps×Dims finite values: step 0's dimensions, then step 1's, and so on.
	Values []float32
	// GripperDim is the index of the gripper dimension, whose open/close transitions become
	// MAV_CMD_DO_GRIPPER commands, or NoGripper. It is not sent with the chunk.
	GripperDim int
	// Executed is how many steps of the chunk the controller executes, from the one in force when it
	// arrives (the node's executed_actions); 0 means all. The controller holds still after them, the
	// gripper unchanged, so the bridge commands no gripper change among the steps after them. It is
	// not sent with the chunk either: the controller is configured with the same number.
	Executed int
}

// WireFrame is the frame field a ROS frame_id is sent as. One of up to 16 bytes goes as it is; a longer
// one (a RealSense camera's camera_color_optical_frame has 26) as its first 7 bytes, '~' and the 8 hex
// digits of its 32-bit FNV-1a hash: "camera_~9f3b2c10". The id is stable, so a controller that must tell
// frames apart compares it with WireFrame of the names it knows.
func WireFrame(frameID string) string {
	if len(frameID) <= dialect.MaxFrameLength {
		return frameID
	}
	const prefix = dialect.MaxFrameLength - 1 - 8
	h := fnv.New32a()
	h.Write([]byte(frameID))
	return fmt.Sprintf("%s~%08x", frameID[:prefix], h.Sum32())
}

// CheckShape reports why no chunk of steps steps of dims values can be sent, whatever its values: a
// node checks its bundle's chunk shape with it before it forwards anything, rather than have every
// chunk refused.
func CheckShape(steps, dims int) error {
	switch {
	case steps < 1 || steps > math.MaxUint8:
		return fmt.Errorf("%d steps, expected 1 to %d", steps, math.MaxUint8)
	case dims < 1 || dims > dialect.MaxChunkValues:
		return fmt.Errorf("%d values a step, expected 1 to %d (the values one message carries)", dims, dialect.MaxChunkValues)
	case chunkParts(steps, dims) > maxChunkParts:
		return fmt.Errorf("%d steps of %d values take %d VLA_ACTION_CHUNK messages, expected at most %d "+
			"(a channel holds no more at once; fewer steps or dimensions)", steps, dims, chunkParts(steps, dims), maxChunkParts)
	}
	return nil
}

// Validate reports the first way c cannot be sent.
func (c Chunk) Validate() error {
	if err := CheckShape(c.Steps, c.Dims); err != nil {
		return fmt.Errorf("chunk %d: %w", c.Seq, err)
	}
	switch {
	case len(c.Values) != c.Steps*c.Dims:
		return fmt.Errorf("chunk %d: %d values, expected Steps×Dims = %d×%d = %d",
			c.Seq, len(c.Values), c.Steps, c.Dims, c.Steps*c.Dims)
	case c.StepDt < time.Microsecond || c.StepDt.Microseconds() > math.MaxUint32:
		return fmt.Errorf("chunk %d: StepDt is %v, expected 1µs to %v",
			c.Seq, c.StepDt, time.Duration(math.MaxUint32)*time.Microsecond)
	case c.Stamp.UnixMicro() < 0:
		return fmt.Errorf("chunk %d: Stamp %v is before 1970, expected the observation time", c.Seq, c.Stamp)
	case len(c.Frame) > dialect.MaxFrameLength || strings.ContainsRune(c.Frame, 0):
		return fmt.Errorf("chunk %d: frame %q must be at most %d bytes without NUL",
			c.Seq, c.Frame, dialect.MaxFrameLength)
	case c.GripperDim != NoGripper && (c.GripperDim < 0 || c.GripperDim >= c.Dims):
		return fmt.Errorf("chunk %d: GripperDim is %d, expected NoGripper (-1) or 0 to %d",
			c.Seq, c.GripperDim, c.Dims-1)
	case c.Executed < 0:
		return fmt.Errorf("chunk %d: Executed is %d, expected 0 (all steps) or more", c.Seq, c.Executed)
	}
	for i, v := range c.Values {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("chunk %d: value %d (step %d, dimension %d) is %v, expected a finite number",
				c.Seq, i, i/c.Dims, i%c.Dims, v)
		}
	}
	return nil
}

// stepsPerMessage is how many whole steps of dims values one VLA_ACTION_CHUNK carries.
func stepsPerMessage(dims int) int { return dialect.MaxChunkValues / dims }

// chunkParts is how many VLA_ACTION_CHUNK messages a chunk of steps steps of dims values takes.
func chunkParts(steps, dims int) int {
	perMessage := stepsPerMessage(dims)
	return (steps + perMessage - 1) / perMessage
}

// maxChunkParts is the most messages a chunk may take: the bridge hands a chunk to a channel whole or
// not at all, and a channel holds libraryWriteBuffer frames (transport.go). A larger chunk could never
// be sent, and would be discarded each time as if the link were congested.
const maxChunkParts = libraryWriteBuffer

// EncodeChunk turns c into VLA_ACTION_CHUNK messages addressed to targetSystem/targetComponent.
// A chunk larger than one message (54 values) is split on step boundaries, each part with the whole
// header, so the steps a part carries read without the other parts: part i carries steps i·n to
// i·n+n-1, n = floor(54/Dims). An 8×7 chunk takes two messages. The parts go out in order; a link
// slower than the chunks may carry only the first parts of a chunk a newer one cut short
// (Bridge.writeChunk), and a datagram link may lose any.
func EncodeChunk(c Chunk, targetSystem, targetComponent uint8) ([]*dialect.MessageVlaActionChunk, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	perMessage := stepsPerMessage(c.Dims)
	partCount := chunkParts(c.Steps, c.Dims)
	parts := make([]*dialect.MessageVlaActionChunk, partCount)
	for i := range parts {
		first := i * perMessage
		last := min(first+perMessage, c.Steps)
		m := &dialect.MessageVlaActionChunk{
			TimeUsec:        uint64(c.Stamp.UnixMicro()),
			ChunkSeq:        c.Seq,
			TargetSystem:    targetSystem,
			TargetComponent: targetComponent,
			StepCount:       uint8(c.Steps),
			DimCount:        uint8(c.Dims),
			FirstStep:       uint8(first),
			PartIndex:       uint8(i),
			PartCount:       uint8(partCount),
			StepDtUs:        uint32(c.StepDt.Microseconds()),
			Frame:           c.Frame,
		}
		copy(m.Values[:], c.Values[first*c.Dims:last*c.Dims])
		parts[i] = m
	}
	return parts, nil
}

// ErrMalformedPart is wrapped by the errors ChunkAssembler.Add returns for parts that contradict the
// message definition or the other parts of their chunk.
var ErrMalformedPart = errors.New("malformed VLA_ACTION_CHUNK")

// ChunkAssembler rebuilds whole chunks from VLA_ACTION_CHUNK messages, as the Monitor (a stand-in
// controller) does; it is one way for a controller to read them, not the only one. Parts of one chunk
// must arrive in order, as a bridge sends them; a part out of order, or of another chunk, abandons the
// one in progress, whose parts so far are dropped (UDP loses messages, and the newer chunk is the one
// to execute). A controller may instead execute the steps of the parts it has: each carries whole
// steps and the whole header (EncodeChunk).
type ChunkAssembler struct {
	// Abandoned counts chunks of which some parts never arrived.
	Abandoned int

	pending  *Chunk
	nextPart int
	// discarding is set while the remaining parts of an abandoned chunk, numbered discardSeq, arrive.
	discarding bool
	discardSeq uint32
}

// Add takes one message. It returns the chunk and true when m completes one; the returned chunk has
// GripperDim NoGripper.
func (a *ChunkAssembler) Add(m *dialect.MessageVlaActionChunk) (Chunk, bool, error) {
	if err := checkPart(m); err != nil {
		a.abandon()
		return Chunk{}, false, err
	}
	if a.pending != nil && (m.ChunkSeq != a.pending.Seq || int(m.PartIndex) != a.nextPart) {
		a.abandon()
	}
	if a.pending == nil {
		if m.PartIndex != 0 {
			if !a.discarding || a.discardSeq != m.ChunkSeq {
				a.Abandoned++ // a chunk whose first part was lost
			}
			a.discarding, a.discardSeq = true, m.ChunkSeq
			return Chunk{}, false, nil
		}
		a.pending = &Chunk{
			Seq:        m.ChunkSeq,
			Stamp:      time.UnixMicro(int64(m.TimeUsec)),
			StepDt:     time.Duration(m.StepDtUs) * time.Microsecond,
			Frame:      m.Frame,
			Steps:      int(m.StepCount),
			Dims:       int(m.DimCount),
			Values:     make([]float32, 0, int(m.StepCount)*int(m.DimCount)),
			GripperDim: NoGripper,
		}
	} else if c := a.pending; uint64(c.Stamp.UnixMicro()) != m.TimeUsec || int(m.StepCount) != c.Steps ||
		int(m.DimCount) != c.Dims || m.Frame != c.Frame ||
		time.Duration(m.StepDtUs)*time.Microsecond != c.StepDt {
		a.abandon()
		return Chunk{}, false, fmt.Errorf("%w: chunk %d part %d disagrees with part 0 on its header",
			ErrMalformedPart, m.ChunkSeq, m.PartIndex)
	}

	steps := min(stepsPerMessage(int(m.DimCount)), int(m.StepCount)-int(m.FirstStep))
	a.pending.Values = append(a.pending.Values, m.Values[:steps*int(m.DimCount)]...)
	a.nextPart++
	if a.nextPart < int(m.PartCount) {
		return Chunk{}, false, nil
	}
	done := *a.pending
	a.pending, a.nextPart = nil, 0
	return done, true, nil
}

func (a *ChunkAssembler) abandon() {
	if a.pending != nil {
		a.Abandoned++
		a.discarding, a.discardSeq = true, a.pending.Seq
	}
	a.pending, a.nextPart = nil, 0
}

// checkPart checks one message against the splitting rule of EncodeChunk.
func checkPart(m *dialect.MessageVlaActionChunk) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: chunk %d part %d: %s", ErrMalformedPart, m.ChunkSeq, m.PartIndex, fmt.Sprintf(format, args...))
	}
	if m.StepCount == 0 || m.DimCount == 0 || int(m.DimCount) > dialect.MaxChunkValues {
		return fail("step_count %d and dim_count %d must be at least 1, dim_count at most %d",
			m.StepCount, m.DimCount, dialect.MaxChunkValues)
	}
	perMessage := stepsPerMessage(int(m.DimCount))
	wantParts := chunkParts(int(m.StepCount), int(m.DimCount))
	if int(m.PartCount) != wantParts || m.PartIndex >= m.PartCount {
		return fail("part_count %d, expected %d for %d steps of %d values", m.PartCount, wantParts, m.StepCount, m.DimCount)
	}
	if int(m.FirstStep) != int(m.PartIndex)*perMessage {
		return fail("first_step %d, expected %d", m.FirstStep, int(m.PartIndex)*perMessage)
	}
	if m.StepDtUs == 0 {
		return fail("step_dt_us is 0")
	}
	if m.TimeUsec > math.MaxInt64 { // read as a time before 1970, which EncodeChunk never sends
		return fail("time_usec %d is beyond what a time holds (at most %d µs since 1970)", m.TimeUsec, int64(math.MaxInt64))
	}
	steps := min(perMessage, int(m.StepCount)-int(m.FirstStep))
	for i, v := range m.Values[:steps*int(m.DimCount)] {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fail("value %d is %v", i, v)
		}
	}
	return nil
}
