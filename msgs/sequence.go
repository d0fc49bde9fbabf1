package msgs

import (
	"fmt"

	"dysl_vla/msgs/cdr"
)

// messagePointer is satisfied by *T for every message struct T here, so the
// sequence helpers can work on []T without boxing each element.
type messagePointer[T any] interface {
	*T
	Message
}

// marshalSequence writes a T[] field: the count, then each element.
func marshalSequence[T any, P messagePointer[T]](e *cdr.Encoder, items []T) {
	e.SequenceLength(len(items))
	for i := range items {
		P(&items[i]).MarshalCDR(e)
	}
}

// marshalBoundedSequence writes a T[<=bound] field, refusing longer ones.
func marshalBoundedSequence[T any, P messagePointer[T]](e *cdr.Encoder, field string, bound int, items []T) {
	if len(items) > bound {
		e.Fail(fmt.Errorf("field %s holds %d elements, at most %d allowed", field, len(items), bound))
	}
	marshalSequence[T, P](e, items)
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
	for i := range items {
		d.EnterElement(field, i)
		P(&items[i]).UnmarshalCDR(d)
		d.Leave()
	}
	return items
}

// unmarshalBoundedSequence reads a T[<=bound] field.
func unmarshalBoundedSequence[T any, P messagePointer[T]](d *cdr.Decoder, field string, bound, minWireSize int, items []T) []T {
	items = unmarshalSequence[T, P](d, field, minWireSize, items)
	if len(items) > bound {
		d.Fail(field, fmt.Sprintf("holds %d elements, at most %d allowed", len(items), bound))
		return items[:0]
	}
	return items
}
