package bag

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/foxglove/mcap/go/mcap"
)

// The MCAP library's reader reads the header and the summary section with its lexer, which allocates
// whatever a record's length claims before reading it, up to 2 GiB: a file of 17 bytes, a header that
// claims 2 GiB, made it allocate 2 GiB, and a summary record did the same. It then parses channels,
// schemas and statistics into maps that take tens of times the bytes they came from (a summary of 4096
// channels of 256 metadata entries, 11 MB, took 500 MB). This package reads both itself: every record
// no longer than what is left of the file or of the summary, and no longer than what such a record
// holds; of each record only what the package uses; and the summary's CRC checked.

// maxHeaderBytes bounds the header record, which holds a profile and the writing library's name.
const maxHeaderBytes = 64 << 10

// maxSummaryRecordBytes bounds a summary record that this package parses: one schema (its name and
// its definition, kilobytes), one channel (its topic and QoS), one chunk's index (10 bytes for each
// channel in the chunk, 65536 channels at most) or the statistics (10 bytes per channel).
const maxSummaryRecordBytes = 16 << 20

// minChunkRecordBytes is the smallest chunk record: opcode, length, times, sizes, CRC, an empty
// compression's name and the records' length.
const minChunkRecordBytes = 1 + 8 + 8 + 8 + 8 + 4 + 4 + 8

// footerRecordBytes is the footer record: opcode, length, summary start, summary offset start, CRC.
const footerRecordBytes = 1 + 8 + 8 + 8 + 4

// mcapSummary is what an MCAP file's summary section says, as far as this package uses it.
type mcapSummary struct {
	footer     mcap.Footer
	schemas    map[uint16]*mcap.Schema  // without their data
	channels   map[uint16]*mcap.Channel // their metadata only offered_qos_profiles
	statistics *mcap.Statistics
	chunks     []*mcap.ChunkIndex // without their message index offsets
}

// readMCAPHeader reads the file's magic and header record.
func readMCAPHeader(f *os.File, size int64) (*mcap.Header, error) {
	const head = 8 + 9 // magic, the header's opcode and length
	if size < head {
		return nil, fmt.Errorf("%d bytes, too few for the MCAP magic and a header", size)
	}
	buf := make([]byte, head)
	if _, err := f.ReadAt(buf, 0); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint64(buf[9:])
	switch {
	case !bytes.Equal(buf[:8], mcap.Magic):
		return nil, fmt.Errorf("it starts with %q, not the MCAP magic", buf[:8])
	case mcap.OpCode(buf[8]) != mcap.OpHeader:
		return nil, fmt.Errorf("its first record is a %s, not a header", mcap.OpCode(buf[8]))
	case n > uint64(size-head):
		return nil, fmt.Errorf("its header record says %d bytes, past the end of the file (%d bytes)", n, size)
	case n > maxHeaderBytes:
		return nil, fmt.Errorf("its header record says %d bytes, more than a header holds here (%d: a profile and a library's name)", n, maxHeaderBytes)
	}
	body := make([]byte, n)
	if _, err := f.ReadAt(body, head); err != nil {
		return nil, err
	}
	r := fields{b: body}
	h := &mcap.Header{Profile: r.str(), Library: r.str()}
	if r.err != nil {
		return nil, fmt.Errorf("its header record: %w", r.err)
	}
	return h, nil
}

// readMCAPSummary reads the summary section the footer points at. It returns nil and no error where
// the file has none, or no footer (a file cut short); an error says why the summary there cannot be
// used, and the file is then read as one without it.
func readMCAPSummary(f *os.File, size int64) (*mcapSummary, error) {
	tail := make([]byte, footerRecordBytes+len(mcap.Magic))
	if size < int64(len(mcap.Magic)+len(tail)) {
		return nil, nil
	}
	footerAt := uint64(size) - uint64(len(tail))
	if _, err := f.ReadAt(tail, int64(footerAt)); err != nil {
		return nil, err
	}
	if !bytes.Equal(tail[footerRecordBytes:], mcap.Magic) {
		return nil, nil
	}
	le := binary.LittleEndian
	if mcap.OpCode(tail[0]) != mcap.OpFooter || le.Uint64(tail[1:]) != footerRecordBytes-9 {
		return nil, fmt.Errorf("the record before its closing magic is not a footer")
	}
	sum := &mcapSummary{
		footer:   mcap.Footer{SummaryStart: le.Uint64(tail[9:]), SummaryOffsetStart: le.Uint64(tail[17:]), SummaryCRC: le.Uint32(tail[25:])},
		schemas:  map[uint16]*mcap.Schema{},
		channels: map[uint16]*mcap.Channel{},
	}
	start := sum.footer.SummaryStart
	if start == 0 {
		return nil, nil
	}
	if start < uint64(len(mcap.Magic)) || start > footerAt {
		return nil, fmt.Errorf("its footer says the summary starts at offset %d, outside the %d bytes before the footer", start, footerAt)
	}
	crc := crc32.NewIEEE()
	in := bufio.NewReaderSize(io.TeeReader(io.NewSectionReader(f, int64(start), int64(footerAt-start)), crc), 64<<10)
	var record []byte
	for at := start; at < footerAt; {
		var head [9]byte
		if _, err := io.ReadFull(in, head[:]); err != nil {
			return nil, fmt.Errorf("its summary ends within the head of a record at offset %d: %w", at, err)
		}
		op, n := mcap.OpCode(head[0]), le.Uint64(head[1:])
		if left := footerAt - at - 9; n > left {
			return nil, fmt.Errorf("its %s record at offset %d says %d bytes, past the summary's end at offset %d", op, at, n, footerAt)
		}
		switch op {
		case mcap.OpSchema, mcap.OpChannel, mcap.OpStatistics, mcap.OpChunkIndex:
			if n > maxSummaryRecordBytes {
				return nil, fmt.Errorf("its %s record at offset %d says %d bytes, more than a summary record holds here (%d)",
					op, at, n, maxSummaryRecordBytes)
			}
			if uint64(cap(record)) < n {
				record = make([]byte, n)
			}
			record = record[:n]
			if _, err := io.ReadFull(in, record); err != nil {
				return nil, err
			}
			if err := sum.add(op, record); err != nil {
				return nil, fmt.Errorf("its %s record at offset %d: %w", op, at, err)
			}
		default: // attachment and metadata indexes, summary offsets: not used here
			if _, err := in.Discard(int(n)); err != nil {
				return nil, err
			}
		}
		at += 9 + n
	}
	if len(sum.chunks) > 0 && uint64(len(sum.chunks)) > start/minChunkRecordBytes {
		return nil, fmt.Errorf("its summary indexes %d chunks, more than the %d bytes before it can hold, at %d bytes a chunk at least",
			len(sum.chunks), start, minChunkRecordBytes)
	}
	if sum.footer.SummaryCRC != 0 { // 0: not computed
		// It covers the summary and the footer's fields up to itself.
		crc.Write(tail[:footerRecordBytes-4])
		if got := crc.Sum32(); got != sum.footer.SummaryCRC {
			return nil, fmt.Errorf("the CRC32 of its summary is %08x, where its footer records %08x", got, sum.footer.SummaryCRC)
		}
	}
	return sum, nil
}

// add takes in one record of the summary.
func (s *mcapSummary) add(op mcap.OpCode, body []byte) error {
	switch op {
	case mcap.OpSchema:
		schema, err := parseSchema(body)
		if err != nil {
			return err
		}
		s.schemas[schema.ID] = schema
	case mcap.OpChannel:
		ch, err := parseChannel(body)
		if err != nil {
			return err
		}
		s.channels[ch.ID] = ch
	case mcap.OpStatistics:
		if s.statistics != nil {
			return errors.New("a second statistics record")
		}
		stats, err := parseStatistics(body)
		if err != nil {
			return err
		}
		s.statistics = stats
	case mcap.OpChunkIndex:
		ci, err := parseChunkIndex(body)
		if err != nil {
			return err
		}
		s.chunks = append(s.chunks, ci)
	}
	return nil
}

// fields reads the little-endian fields of a record's body; past its end it reads zeros and keeps
// the error.
type fields struct {
	b   []byte
	err error
}

func (r *fields) take(n uint64) []byte {
	if r.err == nil && n > uint64(len(r.b)) {
		r.err = fmt.Errorf("it ends within its fields (%d bytes left, %d needed)", len(r.b), n)
	}
	if r.err != nil {
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *fields) u16() uint16 {
	if b := r.take(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (r *fields) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *fields) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// prefixed is a field of a 4-byte length and that many bytes.
func (r *fields) prefixed() []byte { return r.take(uint64(r.u32())) }

func (r *fields) str() string { return string(r.prefixed()) }

// parseSchema reads a schema record's ID, name and encoding; its data (the message definition) is not
// kept.
func parseSchema(body []byte) (*mcap.Schema, error) {
	r := fields{b: body}
	s := &mcap.Schema{ID: r.u16(), Name: r.str(), Encoding: r.str()}
	r.prefixed()
	return s, r.err
}

// parseChannel reads a channel record, of whose metadata it keeps offered_qos_profiles alone: a map of
// every entry took 40 times the bytes it came from.
func parseChannel(body []byte) (*mcap.Channel, error) {
	r := fields{b: body}
	ch := &mcap.Channel{ID: r.u16(), SchemaID: r.u16(), Topic: r.str(), MessageEncoding: r.str()}
	metadata := fields{b: r.prefixed()}
	for r.err == nil && metadata.err == nil && len(metadata.b) > 0 {
		key, value := metadata.prefixed(), metadata.prefixed()
		if string(key) == qosMetadataKey {
			ch.Metadata = map[string]string{qosMetadataKey: string(value)}
		}
	}
	if r.err == nil && metadata.err != nil {
		return nil, fmt.Errorf("its metadata: %w", metadata.err)
	}
	return ch, r.err
}

// qosMetadataKey is the channel metadata key under which rosbag2 stores its publishers' QoS.
const qosMetadataKey = "offered_qos_profiles"

// parseStatistics reads a statistics record.
func parseStatistics(body []byte) (*mcap.Statistics, error) {
	r := fields{b: body}
	s := &mcap.Statistics{MessageCount: r.u64(), SchemaCount: r.u16(), ChannelCount: r.u32(), AttachmentCount: r.u32(),
		MetadataCount: r.u32(), ChunkCount: r.u32(), MessageStartTime: r.u64(), MessageEndTime: r.u64()}
	counts := fields{b: r.prefixed()}
	if r.err != nil {
		return nil, r.err
	}
	s.ChannelMessageCounts = make(map[uint16]uint64, min(len(counts.b)/10, 1<<16))
	for counts.err == nil && len(counts.b) > 0 {
		id, n := counts.u16(), counts.u64()
		s.ChannelMessageCounts[id] = n
	}
	if counts.err != nil {
		return nil, fmt.Errorf("its channel message counts: %w", counts.err)
	}
	return s, nil
}

// parseChunkIndex reads a chunk index record; its message index offsets are not kept (a damaged
// chunk's message index is read from where it lies, after the chunk).
func parseChunkIndex(body []byte) (*mcap.ChunkIndex, error) {
	r := fields{b: body}
	ci := &mcap.ChunkIndex{MessageStartTime: r.u64(), MessageEndTime: r.u64(), ChunkStartOffset: r.u64(), ChunkLength: r.u64()}
	r.prefixed()
	ci.MessageIndexLength = r.u64()
	switch compression := r.prefixed(); string(compression) { // the known ones without an allocation per chunk
	case string(mcap.CompressionNone):
		ci.Compression = mcap.CompressionNone
	case string(mcap.CompressionZSTD):
		ci.Compression = mcap.CompressionZSTD
	case string(mcap.CompressionLZ4):
		ci.Compression = mcap.CompressionLZ4
	default:
		ci.Compression = mcap.CompressionFormat(compression)
	}
	ci.CompressedSize, ci.UncompressedSize = r.u64(), r.u64()
	return ci, r.err
}
