package cdr

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// DecodeError says which field of which message could not be read, and why.
// Bag readers and subscriptions treat it as "drop this message and count it":
// the bytes were bad, nothing else is wrong.
type DecodeError struct {
	// Type is the ROS type being decoded, e.g. "sensor_msgs/msg/Image".
	Type string
	// Field is the path to the field, e.g. "header.frame_id" or
	// "status[2].values[0].key"; empty for the encapsulation header.
	Field string
	// Offset is the payload offset (after the 4-byte encapsulation header)
	// at which the field was to be read.
	Offset int
	// Reason says what was wrong, e.g. "need 4 bytes, 2 left".
	Reason string
}

func (e *DecodeError) Error() string {
	field := e.Field
	if field == "" {
		field = "(encapsulation header)"
	}
	return fmt.Sprintf("cdr: decoding %s field %s at payload offset %d: %s", e.Type, field, e.Offset, e.Reason)
}

// pathElement is one step of the field path kept for error messages; index
// is -1 for a plain field and the element number inside a sequence.
type pathElement struct {
	name  string
	index int
}

// Decoder reads one CDR message. Reads take the field name so that an error
// can name it; after the first error every read returns the zero value and
// every sequence is empty, so a message codec reads straight through and the
// caller checks Err once. Reading never panics, whatever the bytes: lengths
// and counts are checked against the bytes that remain before anything is
// allocated.
type Decoder struct {
	typeName string
	payload  []byte
	offset   int
	order    binary.ByteOrder
	path     []pathElement
	err      *DecodeError
	// strings holds short strings already read, kept across Reset: a stream of messages repeats its
	// frame ids, encodings and names, and reading one then costs no allocation.
	strings map[string]string
}

// Strings longer than internMaxLen are not kept, and the table is emptied when it holds
// internMaxEntries, so hostile streams of distinct strings cost no more memory than that.
const (
	internMaxLen     = 64
	internMaxEntries = 64
)

// NewDecoder checks the encapsulation header of data and prepares to read
// its payload. typeName is the ROS type the caller expects and appears in
// every error. Little- and big-endian XCDR1 are accepted; parameter-list
// and XCDR2 encodings are refused.
func NewDecoder(typeName string, data []byte) (*Decoder, error) {
	d := &Decoder{}
	if err := d.Reset(typeName, data); err != nil {
		return nil, err
	}
	return d, nil
}

// Reset prepares d to read another message, as NewDecoder does, keeping the storage of the previous
// one: a decoder reused for every message of a stream allocates nothing once it has seen the stream's
// strings.
func (d *Decoder) Reset(typeName string, data []byte) error {
	*d = Decoder{typeName: typeName, path: d.path[:0], strings: d.strings}
	if len(data) < HeaderSize {
		d.err = &DecodeError{Type: typeName, Reason: fmt.Sprintf("need a %d-byte encapsulation header, got %d bytes", HeaderSize, len(data))}
		return d.err
	}
	switch id := uint16(data[0])<<8 | uint16(data[1]); id {
	case encapsulationLittleEndian:
		d.order = binary.LittleEndian
	case encapsulationBigEndian:
		d.order = binary.BigEndian
	default:
		d.err = &DecodeError{Type: typeName, Reason: fmt.Sprintf("encapsulation 0x%04x is not plain CDR (expected 0x0000 big endian or 0x0001 little endian)", id)}
		return d.err
	}
	d.payload = data[HeaderSize:]
	return nil
}

// Release drops the message bytes, so that a decoder kept for reuse does not keep them alive; Reset
// prepares it for the next message.
func (d *Decoder) Release() {
	d.payload = nil
	d.offset = 0
}

// Err returns the first decoding problem as a *DecodeError, or nil.
func (d *Decoder) Err() error {
	if d.err == nil {
		return nil
	}
	return d.err
}

// Offset is the current payload offset.
func (d *Decoder) Offset() int { return d.offset }

// Remaining is the number of payload bytes not yet read. Readers accept
// trailing bytes, so a decoded message may leave some.
func (d *Decoder) Remaining() int { return len(d.payload) - d.offset }

// Enter descends into the nested message in field name; Leave returns.
// They only affect the field path that errors report.
func (d *Decoder) Enter(name string) { d.path = append(d.path, pathElement{name: name, index: -1}) }

// EnterElement descends into element index of the sequence in field name.
func (d *Decoder) EnterElement(name string, index int) {
	d.path = append(d.path, pathElement{name: name, index: index})
}

// Leave undoes the last Enter or EnterElement.
func (d *Decoder) Leave() {
	if len(d.path) > 0 {
		d.path = d.path[:len(d.path)-1]
	}
}

// Fail records a problem with field at the current offset unless one is
// already recorded. Message codecs use it for constraints beyond the wire
// layout, such as a bounded sequence over its bound.
func (d *Decoder) Fail(field, reason string) {
	d.failAt(field, d.offset, reason)
}

func (d *Decoder) failAt(field string, offset int, reason string) {
	if d.err != nil {
		return
	}
	var b strings.Builder
	for _, p := range d.path {
		b.WriteString(p.name)
		if p.index >= 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(p.index))
			b.WriteByte(']')
		}
		b.WriteByte('.')
	}
	b.WriteString(field)
	d.err = &DecodeError{Type: d.typeName, Field: b.String(), Offset: offset, Reason: reason}
}

// take aligns to align and returns the next size bytes, or nil after
// recording why they are not there.
func (d *Decoder) take(field string, align, size int) []byte {
	if d.err != nil {
		return nil
	}
	start := d.offset + (align-d.offset%align)%align
	if start+size > len(d.payload) {
		d.failAt(field, d.offset, fmt.Sprintf("need %d bytes, %d left", start+size-d.offset, len(d.payload)-d.offset))
		return nil
	}
	d.offset = start + size
	return d.payload[start:d.offset]
}

// Bool reads one byte; any non-zero value is true, as in rmw.
func (d *Decoder) Bool(field string) bool { return d.Uint8(field) != 0 }

// Uint8 reads a byte.
func (d *Decoder) Uint8(field string) uint8 {
	b := d.take(field, 1, 1)
	if b == nil {
		return 0
	}
	return b[0]
}

// Int8 reads a signed byte.
func (d *Decoder) Int8(field string) int8 { return int8(d.Uint8(field)) }

// Uint16 reads a 2-byte aligned unsigned integer.
func (d *Decoder) Uint16(field string) uint16 {
	b := d.take(field, 2, 2)
	if b == nil {
		return 0
	}
	return d.order.Uint16(b)
}

// Int16 reads a 2-byte aligned signed integer.
func (d *Decoder) Int16(field string) int16 { return int16(d.Uint16(field)) }

// Uint32 reads a 4-byte aligned unsigned integer.
func (d *Decoder) Uint32(field string) uint32 {
	b := d.take(field, 4, 4)
	if b == nil {
		return 0
	}
	return d.order.Uint32(b)
}

// Int32 reads a 4-byte aligned signed integer.
func (d *Decoder) Int32(field string) int32 { return int32(d.Uint32(field)) }

// Uint64 reads an 8-byte aligned unsigned integer.
func (d *Decoder) Uint64(field string) uint64 {
	b := d.take(field, 8, 8)
	if b == nil {
		return 0
	}
	return d.order.Uint64(b)
}

// Int64 reads an 8-byte aligned signed integer.
func (d *Decoder) Int64(field string) int64 { return int64(d.Uint64(field)) }

// Float32 reads a 4-byte aligned IEEE 754 single.
func (d *Decoder) Float32(field string) float32 { return math.Float32frombits(d.Uint32(field)) }

// Float64 reads an 8-byte aligned IEEE 754 double.
func (d *Decoder) Float64(field string) float64 { return math.Float64frombits(d.Uint64(field)) }

// String reads a length-prefixed, NUL-terminated string. A zero length is
// read as the empty string (some writers emit it); otherwise the last byte
// counted by the length must be the NUL.
func (d *Decoder) String(field string) string {
	start := d.offset
	n := d.Uint32(field)
	if d.err != nil || n == 0 {
		return ""
	}
	if uint64(n) > uint64(d.Remaining()) {
		d.failAt(field, start, fmt.Sprintf("string length %d exceeds the %d bytes left", n, d.Remaining()))
		return ""
	}
	b := d.payload[d.offset : d.offset+int(n)]
	if b[n-1] != 0 {
		d.failAt(field, start, fmt.Sprintf("string of length %d does not end in NUL", n))
		return ""
	}
	d.offset += int(n)
	return d.intern(b[:n-1])
}

// intern returns b as a string, the one read before when there was one.
func (d *Decoder) intern(b []byte) string {
	if len(b) > internMaxLen {
		return string(b)
	}
	if s, ok := d.strings[string(b)]; ok {
		return s
	}
	switch {
	case d.strings == nil:
		d.strings = make(map[string]string, internMaxEntries)
	case len(d.strings) >= internMaxEntries:
		// Emptied in place: a new table every internMaxEntries strings made a sequence of a million
		// distinct names cost 77 MB of tables besides the names.
		clear(d.strings)
	}
	s := string(b)
	d.strings[s] = s
	return s
}

// SequenceLength reads the element count of a sequence. minElementSize is
// the fewest bytes one element can occupy on the wire (1 for bytes and
// bools, 4 for strings and 32-bit numbers, 8 for 64-bit numbers, the
// smallest encoding of a nested message); a count that cannot fit in the
// remaining bytes is an error, so hostile counts never drive allocation.
func (d *Decoder) SequenceLength(field string, minElementSize int) int {
	start := d.offset
	n := d.Uint32(field)
	if d.err != nil {
		return 0
	}
	if minElementSize < 1 {
		minElementSize = 1
	}
	if uint64(n)*uint64(minElementSize) > uint64(d.Remaining()) {
		d.failAt(field, start, fmt.Sprintf("sequence of %d elements of at least %d bytes exceeds the %d bytes left", n, minElementSize, d.Remaining()))
		return 0
	}
	return int(n)
}

// Uint8s reads a byte sequence, copying it into dst's storage (reused when
// large enough) so the result does not alias the input buffer.
func (d *Decoder) Uint8s(field string, dst []byte) []byte {
	n := d.SequenceLength(field, 1)
	return d.Uint8Array(field, n, dst)
}

// Uint8Array reads a fixed-size byte array of n bytes (uint8[N]) into dst's
// storage.
func (d *Decoder) Uint8Array(field string, n int, dst []byte) []byte {
	b := d.take(field, 1, n)
	if b == nil {
		return dst[:0]
	}
	return append(dst[:0], b...)
}

// Bools reads a bool sequence into dst's storage.
func (d *Decoder) Bools(field string, dst []bool) []bool {
	return readSequence(d, field, 1, dst, (*Decoder).Bool)
}

// Int8s reads an int8 sequence into dst's storage.
func (d *Decoder) Int8s(field string, dst []int8) []int8 {
	return readSequence(d, field, 1, dst, (*Decoder).Int8)
}

// Int16s reads an int16 sequence into dst's storage.
func (d *Decoder) Int16s(field string, dst []int16) []int16 {
	return readSequence(d, field, 2, dst, (*Decoder).Int16)
}

// Uint16s reads a uint16 sequence into dst's storage.
func (d *Decoder) Uint16s(field string, dst []uint16) []uint16 {
	return readSequence(d, field, 2, dst, (*Decoder).Uint16)
}

// Uint32s reads a uint32 sequence into dst's storage.
func (d *Decoder) Uint32s(field string, dst []uint32) []uint32 {
	return readSequence(d, field, 4, dst, (*Decoder).Uint32)
}

// Uint64s reads a uint64 sequence into dst's storage.
func (d *Decoder) Uint64s(field string, dst []uint64) []uint64 {
	return readSequence(d, field, 8, dst, (*Decoder).Uint64)
}

// Int32s reads an int32 sequence into dst's storage.
func (d *Decoder) Int32s(field string, dst []int32) []int32 {
	return readSequence(d, field, 4, dst, (*Decoder).Int32)
}

// Int64s reads an int64 sequence into dst's storage.
func (d *Decoder) Int64s(field string, dst []int64) []int64 {
	return readSequence(d, field, 8, dst, (*Decoder).Int64)
}

// Float32s reads a float32 sequence into dst's storage.
func (d *Decoder) Float32s(field string, dst []float32) []float32 {
	return readSequence(d, field, 4, dst, (*Decoder).Float32)
}

// Float64s reads a float64 sequence into dst's storage.
func (d *Decoder) Float64s(field string, dst []float64) []float64 {
	n := d.SequenceLength(field, 8)
	if cap(dst) < n {
		dst = make([]float64, n)
	}
	dst = dst[:n]
	d.Float64Array(field, dst)
	return dst
}

// Float64Array fills dst from a fixed-size float64 array (float64[N] with
// N = len(dst)).
func (d *Decoder) Float64Array(field string, dst []float64) {
	for i := range dst {
		dst[i] = d.Float64(field)
	}
}

// Strings reads a string sequence into dst's storage.
func (d *Decoder) Strings(field string, dst []string) []string {
	return readSequence(d, field, 4, dst, (*Decoder).String)
}

// readSequence reads a sequence into dst's storage: its element count (checked against the bytes left,
// at least minSize bytes per element, before anything is allocated), then each element with get, a
// method expression such as (*Decoder).Int32 (a bound method value would be allocated on every call). It
// stops at the first error.
func readSequence[T any](d *Decoder, field string, minSize int, dst []T, get func(*Decoder, string) T) []T {
	n := d.SequenceLength(field, minSize)
	// Sized once, since n fits in the bytes left: grown by append, a sequence of a million strings
	// allocated five times its final 16 MB on the way.
	if cap(dst) < n {
		dst = make([]T, 0, n)
	}
	dst = dst[:0]
	for i := 0; i < n && d.err == nil; i++ {
		dst = append(dst, get(d, field))
	}
	return dst
}
