// Package cdr reads and writes the OMG CDR (XCDR1, "PLAIN_CDR") byte layout
// that ROS 2 middlewares put on the wire and rosbag2 stores in bags.
//
// A serialized message is a 4-byte encapsulation header followed by the
// payload. The header's second byte selects the byte order (0x01 little
// endian, 0x00 big endian); the last two bytes are options and are ignored.
// Every primitive is aligned to its own size (1, 2, 4 or 8), measured from
// the first payload byte, not from the start of the buffer. Strings are a
// uint32 length that counts a trailing NUL, the bytes, then the NUL.
// Sequences are a uint32 element count followed by the elements; fixed
// arrays have no count. Nested messages are inlined with no padding of
// their own.
//
// The package knows nothing of message types: the msgs package describes
// each message as a sequence of calls on an Encoder or a Decoder.
package cdr

import (
	"encoding/binary"
	"fmt"
	"math"
)

// HeaderSize is the length of the encapsulation header that precedes every
// CDR payload.
const HeaderSize = 4

// Encapsulation identifiers (second header byte, the first is always 0).
const (
	encapsulationBigEndian    = 0x00
	encapsulationLittleEndian = 0x01
)

// Encoder appends one CDR message to a byte slice. ROS 2 peers and rosbag2
// use little endian; NewEncoder produces that. Encoding never fails for
// in-memory values except where the wire format cannot hold them (a string
// or sequence longer than 2^32-1, a bounded sequence over its bound); the
// first such problem is kept and reported by Err, later writes still happen
// so the caller checks once at the end.
type Encoder struct {
	buf   []byte
	order binary.AppendByteOrder
	err   error
}

// NewEncoder starts a little-endian message in buf, reusing its capacity:
// pass the slice returned by the previous Bytes to encode every camera frame
// without allocating.
func NewEncoder(buf []byte) *Encoder {
	e := &Encoder{}
	e.Reset(buf)
	return e
}

// NewBigEndianEncoder starts a big-endian message. ROS 2 never sends these
// on little-endian hosts; it exists so decoders can be tested on both orders.
func NewBigEndianEncoder(buf []byte) *Encoder {
	e := &Encoder{order: binary.BigEndian}
	e.buf = append(buf[:0], 0x00, encapsulationBigEndian, 0x00, 0x00)
	return e
}

// Reset starts a new little-endian message in buf, reusing its capacity.
func (e *Encoder) Reset(buf []byte) {
	e.order = binary.LittleEndian
	e.err = nil
	e.buf = append(buf[:0], 0x00, encapsulationLittleEndian, 0x00, 0x00)
}

// Bytes returns the message so far: encapsulation header plus payload.
func (e *Encoder) Bytes() []byte { return e.buf }

// Err returns the first value that could not be represented, or nil.
func (e *Encoder) Err() error { return e.err }

// Fail records err as the encoding error unless one is already recorded.
// Message codecs call it for constraints the wire format cannot express,
// such as a bounded sequence that is too long.
func (e *Encoder) Fail(err error) {
	if e.err == nil {
		e.err = err
	}
}

// align pads with zero bytes until the payload length is a multiple of n.
func (e *Encoder) align(n int) {
	payload := len(e.buf) - HeaderSize
	for pad := (n - payload%n) % n; pad > 0; pad-- {
		e.buf = append(e.buf, 0)
	}
}

// Bool writes a bool as one byte, 0 or 1.
func (e *Encoder) Bool(v bool) {
	if v {
		e.buf = append(e.buf, 1)
	} else {
		e.buf = append(e.buf, 0)
	}
}

// Uint8 writes a byte (ROS byte, char and uint8).
func (e *Encoder) Uint8(v uint8) { e.buf = append(e.buf, v) }

// Int8 writes a signed byte.
func (e *Encoder) Int8(v int8) { e.buf = append(e.buf, byte(v)) }

// Uint16 writes a 2-byte aligned unsigned integer.
func (e *Encoder) Uint16(v uint16) {
	e.align(2)
	e.buf = e.order.AppendUint16(e.buf, v)
}

// Int16 writes a 2-byte aligned signed integer.
func (e *Encoder) Int16(v int16) { e.Uint16(uint16(v)) }

// Uint32 writes a 4-byte aligned unsigned integer.
func (e *Encoder) Uint32(v uint32) {
	e.align(4)
	e.buf = e.order.AppendUint32(e.buf, v)
}

// Int32 writes a 4-byte aligned signed integer.
func (e *Encoder) Int32(v int32) { e.Uint32(uint32(v)) }

// Uint64 writes an 8-byte aligned unsigned integer.
func (e *Encoder) Uint64(v uint64) {
	e.align(8)
	e.buf = e.order.AppendUint64(e.buf, v)
}

// Int64 writes an 8-byte aligned signed integer.
func (e *Encoder) Int64(v int64) { e.Uint64(uint64(v)) }

// Float32 writes a 4-byte aligned IEEE 754 single.
func (e *Encoder) Float32(v float32) { e.Uint32(math.Float32bits(v)) }

// Float64 writes an 8-byte aligned IEEE 754 double.
func (e *Encoder) Float64(v float64) { e.Uint64(math.Float64bits(v)) }

// String writes the length (counting the trailing NUL), the bytes and a NUL.
func (e *Encoder) String(v string) {
	if uint64(len(v)) >= math.MaxUint32 {
		e.Fail(fmt.Errorf("cdr: string of %d bytes does not fit a uint32 length", len(v)))
		v = ""
	}
	e.Uint32(uint32(len(v) + 1))
	e.buf = append(e.buf, v...)
	e.buf = append(e.buf, 0)
}

// SequenceLength writes the element count that precedes a sequence.
func (e *Encoder) SequenceLength(n int) {
	if uint64(n) > math.MaxUint32 {
		e.Fail(fmt.Errorf("cdr: sequence of %d elements does not fit a uint32 count", n))
		n = 0
	}
	e.Uint32(uint32(n))
}

// Uint8s writes a byte sequence (uint8[] or byte[]): count then raw bytes.
func (e *Encoder) Uint8s(v []byte) {
	e.SequenceLength(len(v))
	e.buf = append(e.buf, v...)
}

// Uint8Array writes a fixed-size byte array (uint8[N]): raw bytes, no count.
func (e *Encoder) Uint8Array(v []byte) { e.buf = append(e.buf, v...) }

// Bools writes a bool sequence.
func (e *Encoder) Bools(v []bool) { writeSequence(e, v, (*Encoder).Bool) }

// Int8s writes an int8 sequence.
func (e *Encoder) Int8s(v []int8) { writeSequence(e, v, (*Encoder).Int8) }

// Int16s writes an int16 sequence.
func (e *Encoder) Int16s(v []int16) { writeSequence(e, v, (*Encoder).Int16) }

// Uint16s writes a uint16 sequence.
func (e *Encoder) Uint16s(v []uint16) { writeSequence(e, v, (*Encoder).Uint16) }

// Uint32s writes a uint32 sequence.
func (e *Encoder) Uint32s(v []uint32) { writeSequence(e, v, (*Encoder).Uint32) }

// Uint64s writes a uint64 sequence.
func (e *Encoder) Uint64s(v []uint64) { writeSequence(e, v, (*Encoder).Uint64) }

// Int32s writes an int32 sequence.
func (e *Encoder) Int32s(v []int32) { writeSequence(e, v, (*Encoder).Int32) }

// Int64s writes an int64 sequence.
func (e *Encoder) Int64s(v []int64) { writeSequence(e, v, (*Encoder).Int64) }

// Float32s writes a float32 sequence.
func (e *Encoder) Float32s(v []float32) { writeSequence(e, v, (*Encoder).Float32) }

// Float64s writes a float64 sequence.
func (e *Encoder) Float64s(v []float64) {
	e.SequenceLength(len(v))
	e.Float64Array(v)
}

// Float64Array writes a fixed-size float64 array (float64[N]): no count.
func (e *Encoder) Float64Array(v []float64) {
	for _, x := range v {
		e.Float64(x)
	}
}

// Strings writes a string sequence.
func (e *Encoder) Strings(v []string) { writeSequence(e, v, (*Encoder).String) }

// writeSequence writes a sequence: its element count, then each element with
// put, a method expression such as (*Encoder).Int32 (a bound method value
// would be allocated on every call).
func writeSequence[T any](e *Encoder, v []T, put func(*Encoder, T)) {
	e.SequenceLength(len(v))
	for _, x := range v {
		put(e, x)
	}
}
