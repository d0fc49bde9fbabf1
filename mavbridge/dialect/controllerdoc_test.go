package dialect

import (
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/stretchr/testify/require"
)

// controllerGuide is the controller implementer's guide, which gives the wire layout this package's
// encoding produces.
const controllerGuide = "../../docs/CONTROLLER.md"

// wireRow is one row of the guide's wire layout table.
type wireRow struct {
	offset, size int
	field, typ   string
}

var wireRowPattern = regexp.MustCompile("^\\| (\\d+) \\| (\\d+) \\| `([a-z_]+)` \\| `([a-z0-9_\\[\\]]+)` \\|")

// guideWireRows reads the rows of the wire layout table of docs/CONTROLLER.md.
func guideWireRows(t *testing.T, doc string) []wireRow {
	var rows []wireRow
	for _, line := range strings.Split(doc, "\n") {
		m := wireRowPattern.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		offset, err := strconv.Atoi(m[1])
		require.NoError(t, err)
		size, err := strconv.Atoi(m[2])
		require.NoError(t, err)
		rows = append(rows, wireRow{offset: offset, size: size, field: m[3], typ: m[4]})
	}
	require.NotEmpty(t, rows, "%s has no wire layout table (| offset | bytes | `field` | `type` | ...)", controllerGuide)
	return rows
}

// A firmware engineer lays out VLA_ACTION_CHUNK by hand from docs/CONTROLLER.md when no generator is
// at hand: its table must be the payload gomavlib writes, field by field, and its CRC extra and sizes
// the ones gomavlib computes, or a hand-written decoder reads garbage that passes the checksum.
func TestControllerGuideGivesTheWireLayout(t *testing.T) {
	raw, err := os.ReadFile(controllerGuide)
	require.NoError(t, err)
	doc := string(raw)
	rows := guideWireRows(t, doc)

	var def xmlDefinition
	require.NoError(t, xml.Unmarshal([]byte(XML), &def))
	types := map[string]string{}
	for _, f := range def.Messages[0].Fields {
		types[f.Name] = f.Type
	}

	// Every field a value of its own, none zero, so that each shows where it lands.
	m := &MessageVlaActionChunk{TimeUsec: 0x0102030405060708, ChunkSeq: 0x11121314, TargetSystem: 0x21,
		TargetComponent: 0x22, StepCount: 0x23, DimCount: 0x24, FirstStep: 0x25, PartIndex: 0x26,
		PartCount: 0x27, StepDtUs: 0x31323334, Frame: "frame_0123456789"}
	for i := range m.Values {
		m.Values[i] = float32(i) + 0.5
	}
	rw := &message.ReadWriter{Message: &MessageVlaActionChunk{}}
	require.NoError(t, rw.Initialize())
	payload := rw.Write(m, true).Payload
	require.Len(t, payload, 255, "a full frame field leaves nothing to truncate")

	want := map[string]func(b []byte) bool{
		"time_usec":        func(b []byte) bool { return binary.LittleEndian.Uint64(b) == m.TimeUsec },
		"chunk_seq":        func(b []byte) bool { return binary.LittleEndian.Uint32(b) == m.ChunkSeq },
		"step_dt_us":       func(b []byte) bool { return binary.LittleEndian.Uint32(b) == m.StepDtUs },
		"target_system":    func(b []byte) bool { return b[0] == m.TargetSystem },
		"target_component": func(b []byte) bool { return b[0] == m.TargetComponent },
		"step_count":       func(b []byte) bool { return b[0] == m.StepCount },
		"dim_count":        func(b []byte) bool { return b[0] == m.DimCount },
		"first_step":       func(b []byte) bool { return b[0] == m.FirstStep },
		"part_index":       func(b []byte) bool { return b[0] == m.PartIndex },
		"part_count":       func(b []byte) bool { return b[0] == m.PartCount },
		"frame":            func(b []byte) bool { return string(b) == m.Frame },
		"values": func(b []byte) bool {
			for i, v := range m.Values {
				if math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])) != v {
					return false
				}
			}
			return true
		},
	}
	next := 0
	for _, r := range rows {
		require.Equal(t, next, r.offset, "row %s: the rows must follow each other without a gap", r.field)
		require.Contains(t, types, r.field, "row %s names no field of dysl_vla.xml", r.field)
		require.Equal(t, types[r.field], r.typ, "row %s: the type is dysl_vla.xml's", r.field)
		check := want[r.field]
		require.NotNil(t, check, "row %s given twice", r.field)
		require.LessOrEqual(t, r.offset+r.size, len(payload), "row %s", r.field)
		require.True(t, check(payload[r.offset:r.offset+r.size]), "row %s: bytes %d..%d are not the field as gomavlib writes it",
			r.field, r.offset, r.offset+r.size-1)
		delete(want, r.field)
		next = r.offset + r.size
	}
	require.Empty(t, want, "fields the table leaves out")
	require.Equal(t, len(payload), next)

	require.Contains(t, doc, fmt.Sprintf("CRC extra is **%d**", rw.CRCExtra()))
	require.Contains(t, doc, fmt.Sprintf("message id **%d**", ActionChunkID))
	require.Contains(t, doc, fmt.Sprintf("%d bytes, the largest a MAVLink 2 payload may be", len(payload)))
}

// MAVLink 2 drops a payload's trailing zero bytes, and frame is the last field: a part goes out as
// 239 bytes and the frame's length, which docs/CONTROLLER.md tells a decoder to pad back with zeros.
func TestPayloadIsTruncatedToTheFrame(t *testing.T) {
	raw, err := os.ReadFile(controllerGuide)
	require.NoError(t, err)
	rw := &message.ReadWriter{Message: &MessageVlaActionChunk{}}
	require.NoError(t, rw.Initialize())
	const fixed = 239 // every byte before frame, part_count last and never 0
	for n := 0; n <= MaxFrameLength; n++ {
		m := &MessageVlaActionChunk{PartCount: 1, StepCount: 1, DimCount: 1, StepDtUs: 1, Frame: strings.Repeat("f", n)}
		require.Len(t, rw.Write(m, true).Payload, fixed+n, "frame of %d bytes", n)
	}
	require.Contains(t, string(raw), fmt.Sprintf("%d bytes plus the frame's length", fixed))
}
