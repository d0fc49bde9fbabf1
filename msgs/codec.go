package msgs

import (
	"fmt"

	"dysl_vla/msgs/cdr"
)

// The generated codecs (*.gen.go) call these helpers for nested messages,
// arrays and bounds, so each of those is written once.

// messagePointer is satisfied by *T for every message struct T here, so the
// sequence helpers can work on []T without boxing each element.
type messagePointer[T any] interface {
	*T
	Message
}

// unmarshalNested reads a nested message in field name, so errors inside it
// carry the field path.
func unmarshalNested(d *cdr.Decoder, name string, m Message) {
	d.Enter(name)
	m.UnmarshalCDR(d)
	d.Leave()
}

// marshalArray writes a T[N] field: the elements, no count.
func marshalArray[T any, P messagePointer[T]](e *cdr.Encoder, items []T) {
	for i := range items {
		P(&items[i]).MarshalCDR(e)
	}
}

// marshalSequence writes a T[] field: the count, then each element.
func marshalSequence[T any, P messagePointer[T]](e *cdr.Encoder, items []T) {
	e.SequenceLength(len(items))
	marshalArray[T, P](e, items)
}

// unmarshalArray reads a T[N] field into items, which has the N elements.
func unmarshalArray[T any, P messagePointer[T]](d *cdr.Decoder, field string, items []T) {
	for i := range items {
		d.EnterElement(field, i)
		P(&items[i]).UnmarshalCDR(d)
		d.Leave()
	}
}

// unmarshalSequence reads a T[] field into items' storage. minWireSize is the
// fewest bytes one element takes, which bounds the count a hostile message
// can claim.
func unmarshalSequence[T any, P messagePointer[T]](d *cdr.Decoder, field string, minWireSize int, items []T) []T {
	n := d.SequenceLength(field, minWireSize)
	if cap(items) < n {
		items = make([]T, n)
	}
	items = items[:n]
	unmarshalArray[T, P](d, field, items)
	return items
}

// marshalEnums writes a sequence of a uint8 enum such as ParameterType.
func marshalEnums[T ~uint8](e *cdr.Encoder, items []T) {
	e.SequenceLength(len(items))
	for _, v := range items {
		e.Uint8(uint8(v))
	}
}

// unmarshalEnums reads a sequence of a uint8 enum into items' storage.
func unmarshalEnums[T ~uint8](d *cdr.Decoder, field string, items []T) []T {
	n := d.SequenceLength(field, 1)
	if cap(items) < n { // sized once: n fits in the bytes left
		items = make([]T, 0, n)
	}
	items = items[:0]
	for i := 0; i < n; i++ {
		items = append(items, T(d.Uint8(field)))
	}
	return items
}

// checkEncodedBound fails the encoding when a bounded field (T[<=bound],
// string<=bound) holds more than bound elements or bytes.
func checkEncodedBound(e *cdr.Encoder, field string, n, bound int, unit string) {
	if n > bound {
		e.Fail(fmt.Errorf("field %s holds %d %s, at most %d allowed", field, n, unit, bound))
	}
}

// boundDecoded refuses a decoded T[<=bound] that holds more than bound
// elements: the decoding fails and the field is left empty.
func boundDecoded[T any](d *cdr.Decoder, field string, bound int, items []T) []T {
	if len(items) > bound {
		d.Fail(field, fmt.Sprintf("holds %d elements, at most %d allowed", len(items), bound))
		return items[:0]
	}
	return items
}

// boundDecodedString refuses a decoded string<=bound that is longer.
func boundDecodedString(d *cdr.Decoder, field string, bound int, s string) string {
	if len(s) > bound {
		d.Fail(field, fmt.Sprintf("holds %d bytes, at most %d allowed", len(s), bound))
		return ""
	}
	return s
}
