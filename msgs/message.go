// Package msgs holds the ROS 2 messages this node and its tools move, as Go
// types with pure-Go CDR codecs, and the interface definitions they come
// from.
//
// Every type implements Message: its ROS type name, and how to write and
// read it with a cdr.Encoder/cdr.Decoder. Encode and Decode wrap those with
// the encapsulation header. The registry (Lookup, Types, DecodeAny) maps a
// ROS type name to its full ros2msg schema text, for MCAP writers, and to a
// constructor, for bag readers that only know a topic's type string.
//
// This package's own interfaces (ActionChunk, SkipStats) are defined in
// msg/*.msg for rosidl; the upstream ROS 2 Humble definitions live in
// upstream/<pkg>/{msg,srv}/. The types, their codecs, schemas and the
// registry (*.gen.go) are generated from those files by internal/msggen;
// edit the definitions or internal/msggen/goapi.go and run go generate.
package msgs

//go:generate go run dysl_vla/msgs/internal/cmd/msggen

import (
	"fmt"
	"sort"
	"sync"

	"dysl_vla/msgs/cdr"
)

// Message is a ROS 2 message with a CDR codec. Implementations use pointer
// receivers; UnmarshalCDR reuses the slices already in the value, so decoding
// every frame into the same Image does not allocate once sizes settle.
type Message interface {
	// TypeName is the fully qualified ROS type, e.g. "sensor_msgs/msg/Image".
	TypeName() string
	// MarshalCDR writes the fields, in definition order, after the header.
	MarshalCDR(e *cdr.Encoder)
	// UnmarshalCDR reads the fields; problems are recorded in d.Err.
	UnmarshalCDR(d *cdr.Decoder)
}

// Encode serializes m, with the little-endian encapsulation header, into
// dst's storage (reused when large enough) and returns the bytes: what
// rosbag2 stores and what rmw publishes. Encoding into the storage of the
// previous call allocates nothing.
func Encode(dst []byte, m Message) ([]byte, error) {
	e := encoders.Get().(*cdr.Encoder)
	defer func() {
		*e = cdr.Encoder{} // the pool must not keep the caller's buffer
		encoders.Put(e)
	}()
	e.Reset(dst)
	m.MarshalCDR(e)
	if err := e.Err(); err != nil {
		return e.Bytes(), fmt.Errorf("msgs: encoding %s: %w", m.TypeName(), err)
	}
	return e.Bytes(), nil
}

// Decode reads data, a serialized message including its encapsulation
// header, into m. Bytes after the message are ignored, as ROS readers do.
// A malformed message gives a *cdr.DecodeError naming the field. Decoding
// into the same m again allocates nothing once its slices have grown to
// the stream's sizes.
func Decode(data []byte, m Message) error {
	d := decoders.Get().(*cdr.Decoder)
	defer func() {
		d.Release()
		decoders.Put(d)
	}()
	if err := d.Reset(m.TypeName(), data); err != nil {
		return err
	}
	m.UnmarshalCDR(d)
	return d.Err()
}

// The codecs take a pointer to an Encoder or Decoder through an interface
// method, so one on the stack would escape: one allocation per message.
// Pooled ones also keep their field-path and string storage between
// messages.
var (
	encoders = sync.Pool{New: func() any { return new(cdr.Encoder) }}
	decoders = sync.Pool{New: func() any { return new(cdr.Decoder) }}
)

// TypeInfo describes one registered message type.
type TypeInfo struct {
	// Name is the ROS type, e.g. "std_msgs/msg/String".
	Name string
	// Schema is the full ros2msg definition: the type's .msg text followed by
	// every nested type's, in rosbag2's layout. Write it as the MCAP schema
	// data with encoding SchemaEncoding.
	Schema string
	// New returns an empty value to decode into.
	New func() Message
}

// Lookup returns the registered type with the ROS type name, e.g.
// "sensor_msgs/msg/Image".
func Lookup(typeName string) (TypeInfo, bool) {
	info, ok := registry[typeName]
	return info, ok
}

// Types lists every registered type, sorted by name.
func Types() []TypeInfo {
	all := make([]TypeInfo, 0, len(registry))
	for _, info := range registry {
		all = append(all, info)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	return all
}

// Schema returns the full ros2msg definition of a registered type.
func Schema(typeName string) (string, bool) {
	info, ok := registry[typeName]
	return info.Schema, ok
}

// UnknownTypeError is returned by DecodeAny for a type this package has no
// codec for; a bag reader can skip such topics or show them as raw bytes.
type UnknownTypeError struct {
	Type string
}

func (e *UnknownTypeError) Error() string {
	return fmt.Sprintf("msgs: no codec for message type %q", e.Type)
}

// DecodeAny decodes data as the named ROS type, for readers that learn the
// type from a bag's topic list.
func DecodeAny(typeName string, data []byte) (Message, error) {
	info, ok := registry[typeName]
	if !ok {
		return nil, &UnknownTypeError{Type: typeName}
	}
	m := info.New()
	if err := Decode(data, m); err != nil {
		return nil, err
	}
	return m, nil
}
