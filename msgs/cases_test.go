package msgs

import (
	"encoding/hex"
	"strings"
)

// codecCase is one message value and its exact serialized bytes. The same
// table drives the decode, encode and fuzz tests.
type codecCase struct {
	name  string
	value Message
	raw   []byte
}

// hexBytes decodes hex written with spaces, '|' and newlines for
// readability, and quoted ASCII ("camera") for string contents.
func hexBytes(s string) []byte {
	var out []byte
	for len(s) > 0 {
		switch c := s[0]; {
		case c == ' ' || c == '\n' || c == '\t' || c == '|':
			s = s[1:]
		case c == '"':
			end := strings.IndexByte(s[1:], '"')
			out = append(out, s[1:1+end]...)
			s = s[end+2:]
		default:
			b, err := hex.DecodeString(s[:2])
			if err != nil {
				panic(err)
			}
			out = append(out, b...)
			s = s[2:]
		}
	}
	return out
}

var codecCases = []codecCase{
	{
		// Recorded by ROS 2: /topic in shared/fixtures/rosbag2/talker_sqlite3.
		name:  "String from the talker bag",
		value: &String{Data: "Hello, world! 0"},
		raw:   hexBytes(`00010000 | 10000000 "Hello, world! 0" 00`),
	},
	{
		name:  "String empty is length 1 and a NUL",
		value: &String{},
		raw:   hexBytes(`00010000 | 01000000 00`),
	},
	{
		name:  "Time",
		value: &Time{Sec: 1700000000, Nanosec: 5},
		raw:   hexBytes(`00010000 | 00f15365 05000000`),
	},
	{
		name:  "Duration negative 1.7 s",
		value: &Duration{Sec: -2, Nanosec: 300000000},
		raw:   hexBytes(`00010000 | feffffff 00a3e111`),
	},
	{
		// Odd-length frame_id: 4-byte length, 6 bytes, nothing after it to pad for.
		name:  "Header odd frame_id",
		value: &Header{Stamp: Time{Sec: 1, Nanosec: 2}, FrameID: "cam_0"},
		raw:   hexBytes(`00010000 | 01000000 02000000 06000000 "cam_0" 00`),
	},
	{
		// ros2.md §6.3: stamp 1700000000.000000005, frame "camera", 2x2 rgb8.
		name: "Image 2x2 rgb8 (research vector)",
		value: &Image{
			Header:   Header{Stamp: Time{Sec: 1700000000, Nanosec: 5}, FrameID: "camera"},
			Height:   2,
			Width:    2,
			Encoding: "rgb8",
			Step:     6,
			Data:     []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
		},
		raw: hexBytes(`00010000
			00f15365 05000000
			07000000 "camera" 00 | 00
			02000000 02000000
			05000000 "rgb8" 00
			00 | 0000
			06000000
			0c000000 0102030405060708090a0b0c`),
	},
	{
		// "optical" with its NUL fills payload offsets 12..19, so height needs
		// no padding; "mono16" with its NUL fills 32..38, is_bigendian sits at
		// 39 and step at 40, again with no padding.
		name: "Image mono16 big-endian pixels, padded rows",
		value: &Image{
			Header:      Header{Stamp: Time{Sec: 3, Nanosec: 4}, FrameID: "optical"},
			Height:      1,
			Width:       1,
			Encoding:    "mono16",
			IsBigEndian: 1,
			Step:        3,
			Data:        []byte{0xab, 0xcd, 0x00},
		},
		raw: hexBytes(`00010000
			03000000 04000000
			08000000 "optical" 00
			01000000 01000000
			07000000 "mono16" 00
			01
			03000000
			03000000 abcd00`),
	},
}
