package dialect

import (
	"encoding/xml"
	"regexp"
	"sort"
	"strconv"
	"testing"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/all"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/bluenviron/gomavlib/v3/pkg/x25"
	"github.com/stretchr/testify/require"
)

type xmlField struct {
	Type string `xml:"type,attr"`
	Name string `xml:"name,attr"`
}

type xmlMessage struct {
	ID     uint32     `xml:"id,attr"`
	Name   string     `xml:"name,attr"`
	Fields []xmlField `xml:"field"`
}

type xmlDefinition struct {
	Include  string       `xml:"include"`
	Messages []xmlMessage `xml:"messages>message"`
}

var xmlFieldType = regexp.MustCompile(`^([a-z0-9_]+?)(?:_mavlink_version)?(?:\[(\d+)\])?$`)

var wireSize = map[string]int{
	"double": 8, "uint64_t": 8, "int64_t": 8, "float": 4, "uint32_t": 4, "int32_t": 4,
	"uint16_t": 2, "int16_t": 2, "uint8_t": 1, "int8_t": 1, "char": 1,
}

// crcExtraFromXML computes the CRC extra of a message definition the way the MAVLink reference does
// (https://mavlink.io/en/guide/serialization.html#crc_extra): fields sorted by type size, stable, then
// "NAME " and for each field "type name " plus the array length byte. It also returns the payload size.
func crcExtraFromXML(t *testing.T, m xmlMessage) (byte, int) {
	type parsed struct {
		base   string
		name   string
		length int
	}
	fields := make([]parsed, 0, len(m.Fields))
	payload := 0
	for _, f := range m.Fields {
		match := xmlFieldType.FindStringSubmatch(f.Type)
		require.NotNil(t, match, "field type %q", f.Type)
		size, ok := wireSize[match[1]]
		require.True(t, ok, "field type %q", f.Type)
		length := 0
		if match[2] != "" {
			var err error
			length, err = strconv.Atoi(match[2])
			require.NoError(t, err)
		}
		fields = append(fields, parsed{base: match[1], name: f.Name, length: length})
		payload += size * max(length, 1)
	}
	sort.SliceStable(fields, func(i, j int) bool { return wireSize[fields[i].base] > wireSize[fields[j].base] })

	h := x25.New()
	h.Write([]byte(m.Name + " "))
	for _, f := range fields {
		h.Write([]byte(f.base + " " + f.name + " "))
		if f.length > 0 {
			h.Write([]byte{byte(f.length)})
		}
	}
	sum := h.Sum16()
	return byte((sum & 0xFF) ^ (sum >> 8)), payload
}

func TestXMLMatchesGoMessage(t *testing.T) {
	var def xmlDefinition
	require.NoError(t, xml.Unmarshal([]byte(XML), &def))
	require.Equal(t, "common.xml", def.Include)
	require.Len(t, def.Messages, 1)

	fromXML := def.Messages[0]
	require.Equal(t, uint32(ActionChunkID), fromXML.ID)
	require.Equal(t, "VLA_ACTION_CHUNK", fromXML.Name)

	crcXML, payload := crcExtraFromXML(t, fromXML)
	require.LessOrEqual(t, payload, 255, "MAVLink 2 payload limit")

	rw := &message.ReadWriter{Message: &MessageVlaActionChunk{}}
	require.NoError(t, rw.Initialize())
	require.Equal(t, crcXML, rw.CRCExtra(), "the Go struct and dysl_vla.xml disagree on the message layout")
}

func TestActionChunkIDIsFree(t *testing.T) {
	for _, m := range all.Dialect.Messages {
		require.NotEqual(t, uint32(ActionChunkID), m.GetID(), "id taken by %T", m)
	}
}

func TestDialectKeepsCommonMessages(t *testing.T) {
	ids := map[uint32]bool{}
	for _, m := range Dialect.Messages {
		require.False(t, ids[m.GetID()], "duplicate id %d", m.GetID())
		ids[m.GetID()] = true
	}
	for _, id := range []uint32{0 /* HEARTBEAT */, 76 /* COMMAND_LONG */, 77 /* COMMAND_ACK */, ActionChunkID} {
		require.True(t, ids[id], "message %d", id)
	}
}
