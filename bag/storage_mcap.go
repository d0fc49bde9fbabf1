package bag

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/foxglove/mcap/go/mcap"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// guarded runs a call into the MCAP library, turning a panic into an error: the library indexes slices
// by lengths read from the file and panics on some damaged ones (a chunk whose compression name claims
// 800 MB: "slice bounds out of range" in its lexer, found by FuzzOpenMCAP), and a damaged bag must be
// a fault the reader reports, not the end of the process.
func guarded(call func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("the MCAP reader failed on damaged data: %v", v)
		}
	}()
	return call()
}

// mcapFile reads a .mcap file. Files with a summary section (every file a writer closed) are read
// through the index in log-time order; files without one (a recorder killed mid-write, a truncated
// copy) are scanned linearly in file order, which for rosbag2 recordings is receive order.
type mcapFile struct {
	path    string
	indexed bool
	sum     fileSummary
}

func openMCAPFile(path string) (*mcapFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var reader *mcap.Reader
	err = guarded(func() (err error) { reader, err = mcap.NewReader(f); return err })
	if err != nil {
		return nil, fmt.Errorf("%s: not an MCAP file: %w", path, err)
	}
	defer reader.Close()
	if h := reader.Header(); h != nil && h.Profile != "ros2" && h.Profile != "" {
		return nil, fmt.Errorf("%s: MCAP profile %q, expected \"ros2\" (a rosbag2 recording)", path, h.Profile)
	}
	file := &mcapFile{path: path}
	var info *mcap.Info
	err = guarded(func() (err error) { info, err = reader.Info(); return err })
	if err == nil && info.Statistics != nil {
		file.sum = summaryFromInfo(info)
		// The index reader sizes its buffers from the index and the chunk headers as they stand: one
		// damaged length would panic or claim gigabytes. A file whose index and chunks disagree is read
		// in file order instead, which needs neither; so is one with a chunk over the bound, which the
		// file-order read then stops at with a fault, the bytes unread.
		var chunks []chunkSpan
		chunks, file.sum.indexProblem = checkChunkIndexes(f, info.ChunkIndexes)
		if held := logTimeFootprint(chunks); file.sum.indexProblem == nil && held > maxHeldChunkBytes {
			file.sum.indexProblem = fmt.Errorf("its chunks overlap in log time: read in log-time order they would be held decompressed "+
				"together, up to %d bytes, more than the %d a chunk may hold here, so it is read in file order, and its messages may come "+
				"out of time order", held, maxHeldChunkBytes)
		}
		file.indexed = file.sum.indexProblem == nil
		return file, nil
	}
	// No usable summary: count by scanning. A fault found here is kept and reported by iteration.
	file.sum, err = scanMCAPSummary(path)
	if err != nil {
		return nil, err
	}
	return file, nil
}

// maxChunkBytes bounds one chunk, compressed or not: a chunk holds the messages of one writer's chunk
// size (rosbag2: 768 KiB by default) or a single bigger message. Both readers apply it: the index check
// to what the index and the chunk headers claim, the file-order read to the records and the bytes a
// chunk decompresses to. A variable so that tests can show a refusal without allocating what it refuses.
var maxChunkBytes uint64 = 2 * MaxMessageBytes

// maxHeldChunkBytes bounds the chunks the log-time-ordered index reader holds decompressed at once.
// It keeps a chunk until its last message is read, so chunks whose log times overlap are held together:
// a 116 KB file of chunks that all start at log time 0 reached 2 GB. Recordings write in receive order
// and hold one chunk at a time, a few where receive times interleave; the bound is what one chunk may
// hold, so a read in log-time order takes no more than a read in file order of a file at the bound.
var maxHeldChunkBytes uint64 = 2 * MaxMessageBytes

// chunkSpan is what the index reader's memory depends on of a chunk: its place in the file, its first
// and last log times, and the most bytes it may decompress to there.
type chunkSpan struct {
	offset, start, end uint64
	unpacked           uint64
}

// logTimeFootprint is the most bytes the MCAP library's log-time-ordered reader holds decompressed at
// once for these chunks. It loads chunks in order of their first log time (ties in file order), each
// into the first free slot, whose buffer grows to what the chunk decompresses to and never shrinks. A
// chunk is loaded once every message up to its first log time has been read, so a chunk loaded before
// it is free by then if its last log time is not past that.
func logTimeFootprint(chunks []chunkSpan) uint64 {
	order := slices.Clone(chunks)
	slices.SortStableFunc(order, func(a, b chunkSpan) int {
		return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(a.offset, b.offset))
	})
	type slot struct {
		size, until uint64
		busy        bool
	}
	var slots []slot
	var held, peak uint64
	for _, c := range order {
		free := -1
		for i := range slots {
			if slots[i].busy && slots[i].until <= c.start {
				slots[i].busy = false
			}
			if !slots[i].busy && free < 0 {
				free = i
			}
		}
		if free < 0 {
			slots = append(slots, slot{})
			free = len(slots) - 1
		}
		s := &slots[free]
		if c.unpacked > s.size {
			held += c.unpacked - s.size
			s.size = c.unpacked
		}
		s.busy, s.until = true, c.end
		peak = max(peak, held)
	}
	return peak
}

// errChunkTooBig is the fault of a chunk over maxChunkBytes: more than this reader holds in memory.
type errChunkTooBig struct{ what string }

func (e errChunkTooBig) Error() string {
	return fmt.Sprintf("%s more than a chunk may hold here (%d bytes, twice bag.MaxMessageBytes)", e.what, maxChunkBytes)
}

// checkChunkIndexes compares every chunk index with the chunk record it points at: its place in the
// file, record length, compression and sizes, and for zstd the frame's size and extent. It reads a few
// dozen bytes per chunk, and 3 per 128 KiB of a zstd chunk.
func checkChunkIndexes(f *os.File, indexes []*mcap.ChunkIndex) ([]chunkSpan, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := uint64(st.Size())
	chunks := make([]chunkSpan, 0, len(indexes))
	for _, ci := range indexes {
		tooBig := func(what string) error {
			return fmt.Errorf("its chunk at offset %d is too big to read: %w; it is read in file order, which stops with a fault at that chunk",
				ci.ChunkStartOffset, errChunkTooBig{what})
		}
		if ci.UncompressedSize > maxChunkBytes || ci.CompressedSize > maxChunkBytes {
			return nil, tooBig(fmt.Sprintf("its index says %d bytes uncompressed and %d compressed,", ci.UncompressedSize, ci.CompressedSize))
		}
		unpacked, err := checkChunk(f, size, ci)
		if err != nil {
			return nil, fmt.Errorf("its index disagrees with its data (chunk at offset %d: %w), so it is read in file order, not through the index",
				ci.ChunkStartOffset, err)
		}
		if unpacked > maxChunkBytes {
			return nil, tooBig(fmt.Sprintf("its zstd blocks may decompress to %d bytes,", unpacked))
		}
		chunks = append(chunks, chunkSpan{offset: ci.ChunkStartOffset, start: ci.MessageStartTime, end: ci.MessageEndTime, unpacked: unpacked})
	}
	return chunks, nil
}

// checkChunk checks one chunk against its index, and returns the most bytes the index reader may
// decompress it to.
func checkChunk(f *os.File, size uint64, ci *mcap.ChunkIndex) (unpacked uint64, err error) {
	// opcode, record length, start and end times, uncompressed size, uncompressed CRC, compression's length
	const fixed = 1 + 8 + 8 + 8 + 8 + 4 + 4
	switch {
	case ci.ChunkStartOffset > size || ci.ChunkLength > size-ci.ChunkStartOffset:
		return 0, fmt.Errorf("its index says %d bytes, past the end of the file (%d bytes)", ci.ChunkLength, size)
	case ci.ChunkLength < fixed+8:
		return 0, fmt.Errorf("its index says %d bytes, too short for a chunk record", ci.ChunkLength)
	}
	head := make([]byte, fixed+len(ci.Compression)+8)
	if _, err := f.ReadAt(head, int64(ci.ChunkStartOffset)); err != nil {
		return 0, err
	}
	le := binary.LittleEndian
	compressionLen := uint64(le.Uint32(head[37:]))
	compression := string(head[fixed : fixed+len(ci.Compression)])
	switch {
	case mcap.OpCode(head[0]) != mcap.OpChunk:
		return 0, fmt.Errorf("its index points at a record of opcode 0x%02x, not a chunk", head[0])
	case le.Uint64(head[1:]) != ci.ChunkLength-9:
		return 0, fmt.Errorf("the chunk's record is %d bytes long, its index says %d", le.Uint64(head[1:]), ci.ChunkLength-9)
	case le.Uint64(head[25:]) != ci.UncompressedSize:
		return 0, fmt.Errorf("the chunk says %d bytes uncompressed, its index %d", le.Uint64(head[25:]), ci.UncompressedSize)
	case compressionLen != uint64(len(ci.Compression)) || compression != string(ci.Compression):
		return 0, fmt.Errorf("the chunk's compression is not %q, as its index says", ci.Compression)
	case le.Uint64(head[fixed+len(ci.Compression):]) != ci.CompressedSize ||
		ci.ChunkLength != uint64(len(head))+ci.CompressedSize:
		return 0, fmt.Errorf("the chunk holds %d bytes of records, its index says %d", le.Uint64(head[fixed+len(ci.Compression):]), ci.CompressedSize)
	case ci.Compression == mcap.CompressionNone && ci.UncompressedSize != ci.CompressedSize:
		return 0, fmt.Errorf("uncompressed, it says %d bytes of records and %d uncompressed", ci.CompressedSize, ci.UncompressedSize)
	case ci.Compression == mcap.CompressionZSTD:
		return checkZstdRecords(f, ci.ChunkStartOffset+uint64(len(head)), ci.CompressedSize, ci.UncompressedSize)
	}
	// An uncompressed or lz4 chunk is read into a buffer of its size, and no further.
	return ci.UncompressedSize, nil
}

// checkZstdRecords checks that a zstd chunk's n bytes of records at offset at are one zstd frame, of the
// chunk's uncompressed size where the frame declares its size, and returns the most that frame may
// decompress to. The index reader decompresses a chunk with the zstd library's DecodeAll, which takes
// the chunk's size for its buffer but not as a bound: it decodes every frame there is, each to the size
// it declares or, declaring none, as far as its blocks go (a chunk that claimed 4 KiB and held a 200 MB
// frame allocated 1 GB). Without a declared size the bound is what the blocks may hold: a raw or RLE
// block says its size, a compressed one holds 128 KiB at most. Only the frame's header and the 3-byte
// header of each block are read, not their data.
func checkZstdRecords(f *os.File, at, n, uncompressed uint64) (unpacked uint64, err error) {
	head := make([]byte, min(n, zstd.HeaderMaxSize))
	if _, err := f.ReadAt(head, int64(at)); err != nil {
		return 0, err
	}
	var h zstd.Header
	if err := h.Decode(head); err != nil {
		return 0, fmt.Errorf("its zstd frame header: %w", err)
	}
	switch {
	case h.Skippable:
		return 0, errors.New("its zstd data starts with a skippable frame, not the chunk's records")
	case h.HasFCS && h.FrameContentSize != uncompressed:
		return 0, fmt.Errorf("its zstd frame declares %d bytes, the chunk %d", h.FrameContentSize, uncompressed)
	}
	const maxBlock = 128 << 10 // zstd's Block_Maximum_Size
	end := at + n
	pos := at + uint64(h.HeaderSize)
	var block [3]byte
	for last := false; !last; {
		if end-pos < uint64(len(block)) {
			return 0, errors.New("its zstd frame runs past the chunk's records")
		}
		if _, err := f.ReadAt(block[:], int64(pos)); err != nil {
			return 0, err
		}
		v := uint64(block[0]) | uint64(block[1])<<8 | uint64(block[2])<<16
		last = v&1 == 1
		pos += uint64(len(block))
		switch size := v >> 3; (v >> 1) & 3 {
		case 0: // raw: size bytes
			pos += size
			unpacked += size
		case 1: // RLE: one byte, size times
			pos++
			unpacked += size
		case 2: // compressed: size bytes, up to 128 KiB once decompressed
			pos += size
			unpacked += maxBlock
		default:
			return 0, errors.New("its zstd frame holds a block of the reserved type")
		}
		if pos > end {
			return 0, errors.New("its zstd frame runs past the chunk's records")
		}
	}
	if h.HasCheckSum {
		pos += 4
	}
	switch {
	case pos != end:
		return 0, fmt.Errorf("its zstd data is %d bytes, of which its one frame is %d: more frames would decompress past the chunk's size",
			n, int64(pos)-int64(at))
	case h.HasFCS:
		return h.FrameContentSize, nil
	case unpacked < uncompressed:
		return 0, fmt.Errorf("its zstd blocks decompress to %d bytes at most, the chunk says %d", unpacked, uncompressed)
	}
	return unpacked, nil
}

func summaryFromInfo(info *mcap.Info) fileSummary {
	sum := fileSummary{countsKnown: true, messageCount: info.Statistics.MessageCount}
	if sum.messageCount > 0 {
		sum.start = int64(info.Statistics.MessageStartTime)
		sum.end = int64(info.Statistics.MessageEndTime)
	}
	// Channel IDs are assigned in creation order; keep that order for a stable topic list.
	for id := uint16(0); len(sum.topics) < len(info.Channels); id++ {
		ch, ok := info.Channels[id]
		if ok {
			sum.topics = append(sum.topics, topicFromChannel(ch, info.Schemas[ch.SchemaID], info.Statistics.ChannelMessageCounts[id]))
		}
		if id == 0xffff {
			break
		}
	}
	return sum
}

func topicFromChannel(ch *mcap.Channel, schema *mcap.Schema, count uint64) TopicInfo {
	t := TopicInfo{Name: ch.Topic, SerializationFormat: ch.MessageEncoding, MessageCount: count}
	if schema != nil {
		t.Type = schema.Name
	}
	if ch.Metadata != nil {
		t.OfferedQoSProfiles = ch.Metadata["offered_qos_profiles"]
	}
	return t
}

// scanMCAPSummary reads an unindexed file from start to end, counting messages per channel.
func scanMCAPSummary(path string) (fileSummary, error) {
	stream, err := openMCAPStream(path, false, nil)
	if err != nil {
		return fileSummary{}, err
	}
	defer stream.close()
	sum := fileSummary{countsKnown: true}
	counts := map[string]uint64{}
	for {
		m, err := stream.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			sum.fault = err
			sum.countsKnown = false
			break
		}
		if sum.messageCount == 0 || m.LogTime < sum.start {
			sum.start = m.LogTime
		}
		if m.LogTime > sum.end {
			sum.end = m.LogTime
		}
		sum.messageCount++
		counts[m.Topic]++
	}
	for _, t := range stream.topicsSeen {
		t.MessageCount = counts[t.Name]
		sum.topics = append(sum.topics, t)
	}
	return sum, nil
}

func (f *mcapFile) summary() fileSummary { return f.sum }
func (f *mcapFile) close() error         { return nil }

func (f *mcapFile) messages(topics map[string]bool) (messageStream, error) {
	return openMCAPStream(f.path, f.indexed, topics)
}

type mcapStream struct {
	path       string
	file       *os.File
	reader     *mcap.Reader  // the index reader's; nil when read in file order
	linear     *linearReader // the file-order reader; nil when read through the index
	it         mcap.MessageIterator
	topics     map[string]bool
	seen       map[uint16]bool
	topicsSeen []TopicInfo // channels in the order first met, for scans of unindexed files
	msg        mcap.Message
	truncated  bool // the file lacks its closing magic: reaching its end is a fault
}

var errMissingFooter = errors.New("file ends without the MCAP footer (truncated, or the recorder did not close it)")

func openMCAPStream(path string, indexed bool, topics map[string]bool) (*mcapStream, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	s := &mcapStream{path: path, file: f, topics: topics, seen: map[uint16]bool{}}
	if indexed {
		err = guarded(func() (err error) { s.reader, err = mcap.NewReader(f); return err })
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: not an MCAP file: %w", path, err)
		}
		err = guarded(func() (err error) {
			s.it, err = s.reader.Messages(mcap.UsingIndex(true), mcap.InOrder(mcap.LogTimeOrder))
			return err
		})
		if err != nil {
			s.close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return s, nil
	}
	var lexer *linearReader
	err = guarded(func() (err error) { lexer, err = newLinearReader(bufio.NewReaderSize(f, 64<<10)); return err })
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: not an MCAP file: %w", path, err)
	}
	s.it, s.linear = lexer, lexer
	// A linear scan ends quietly with io.EOF when a cut falls on a record boundary, so a missing
	// closing magic is the only sign of truncation there.
	s.truncated, err = missingClosingMagic(f)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// missingClosingMagic reports whether f lacks the magic bytes every complete MCAP file ends with.
func missingClosingMagic(f *os.File) (bool, error) {
	st, err := f.Stat()
	if err != nil {
		return false, err
	}
	if st.Size() < int64(len(mcap.Magic)) {
		return true, nil
	}
	tail := make([]byte, len(mcap.Magic))
	if _, err := f.ReadAt(tail, st.Size()-int64(len(tail))); err != nil {
		return false, err
	}
	return !bytes.Equal(tail, mcap.Magic), nil
}

func (s *mcapStream) next() (Message, error) {
	for {
		var schema *mcap.Schema
		var ch *mcap.Channel
		var m *mcap.Message
		err := guarded(func() (err error) { schema, ch, m, err = s.it.NextInto(&s.msg); return err })
		if errors.Is(err, io.EOF) {
			if s.truncated {
				return Message{}, &CorruptFileError{Path: s.path, Err: errMissingFooter}
			}
			return Message{}, io.EOF
		}
		if err != nil {
			return Message{}, &CorruptFileError{Path: s.path, Err: err}
		}
		if !s.seen[ch.ID] {
			s.seen[ch.ID] = true
			s.topicsSeen = append(s.topicsSeen, topicFromChannel(ch, schema, 0))
		}
		if len(s.topics) > 0 && !s.topics[ch.Topic] {
			continue
		}
		out := Message{Topic: ch.Topic, LogTime: int64(m.LogTime), Data: append([]byte(nil), m.Data...)}
		if schema != nil {
			out.Type = schema.Name
		}
		return out, nil
	}
}

func (s *mcapStream) close() error {
	if s.reader != nil {
		s.reader.Close()
	}
	if s.linear != nil {
		s.linear.close()
	}
	return s.file.Close()
}

// linearReader reads an MCAP file's messages in file order, for files without a usable index. The
// MCAP library's own file-order reader allocates whatever a record's length claims and decompresses a
// chunk without limit (a chunk holding one 1 GiB message of zeros, 40 KB in the file, cost 3 GB), so
// this one runs the library's lexer with the bounds the index check applies: a record over
// maxChunkBytes (and its header) is refused before it is read, and a chunk that decompresses to more
// than maxChunkBytes is refused as its bytes come out. Either is a fault of the file there.
type linearReader struct {
	lexer    *mcap.Lexer
	zstd     *zstd.Decoder
	schemas  map[uint16]*mcap.Schema
	channels map[uint16]*mcap.Channel
	buf      []byte
	header   bool
}

// chunkRecordSlack is what a chunk record holds besides its compressed records: times, sizes, CRC and
// the compression's name.
const chunkRecordSlack = 1 << 10

func newLinearReader(f io.Reader) (*linearReader, error) {
	bound := int64(maxChunkBytes)
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(bound)))
	if err != nil {
		return nil, err
	}
	lexer, err := mcap.NewLexer(f, &mcap.LexerOptions{
		MaxRecordSize: int(bound + chunkRecordSlack),
		// Applied by the lexer only where it checks chunk CRCs, which this reader leaves to the
		// bounded decompressors below: they stream a chunk's records instead of holding it whole.
		MaxDecompressedChunkSize: int(bound),
		Decompressors: map[mcap.CompressionFormat]mcap.ResettableReader{
			mcap.CompressionZSTD: &boundedDecompressor{bound: bound, reader: dec, reset: dec.Reset},
			mcap.CompressionLZ4:  newBoundedLZ4(bound),
		},
	})
	if err != nil {
		dec.Close()
		return nil, err
	}
	return &linearReader{lexer: lexer, zstd: dec, schemas: map[uint16]*mcap.Schema{}, channels: map[uint16]*mcap.Channel{}}, nil
}

func (r *linearReader) close() {
	r.lexer.Close()
	r.zstd.Close()
}

func (r *linearReader) Next(p []byte) (*mcap.Schema, *mcap.Channel, *mcap.Message, error) {
	return r.NextInto(&mcap.Message{Data: p})
}

// NextInto yields the next message, as the library's file-order reader does: messages on a channel
// not yet declared are skipped.
func (r *linearReader) NextInto(msg *mcap.Message) (*mcap.Schema, *mcap.Channel, *mcap.Message, error) {
	for {
		token, record, err := r.lexer.Next(r.buf)
		if errors.Is(err, mcap.ErrRecordTooLarge) {
			err = errChunkTooBig{"a record is"}
		}
		if err != nil {
			return nil, nil, nil, err
		}
		if cap(record) > cap(r.buf) {
			r.buf = record
		}
		if !r.header {
			if token != mcap.TokenHeader {
				return nil, nil, nil, fmt.Errorf("the file starts with a %s record, not a header", token)
			}
			r.header = true
			continue
		}
		switch token {
		case mcap.TokenSchema:
			schema, err := mcap.ParseSchema(record)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("failed to parse schema: %w", err)
			}
			r.schemas[schema.ID] = schema
		case mcap.TokenChannel:
			ch, err := mcap.ParseChannel(record)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("failed to parse channel: %w", err)
			}
			r.channels[ch.ID] = ch
		case mcap.TokenMessage:
			if err := msg.PopulateFrom(record, true); err != nil {
				return nil, nil, nil, err
			}
			ch := r.channels[msg.ChannelID]
			if ch == nil {
				continue
			}
			schema := r.schemas[ch.SchemaID]
			if schema == nil && ch.SchemaID != 0 {
				return nil, nil, nil, fmt.Errorf("channel %d with unrecognized schema ID %d", msg.ChannelID, ch.SchemaID)
			}
			return schema, ch, msg, nil
		}
	}
}

// boundedDecompressor decompresses one chunk's records for the lexer and fails once they pass bound.
type boundedDecompressor struct {
	bound, left int64
	reader      io.Reader
	reset       func(io.Reader) error
}

func (d *boundedDecompressor) Reset(r io.Reader) error {
	d.left = d.bound
	return d.reset(r)
}

func (d *boundedDecompressor) Read(p []byte) (int, error) {
	if d.left < 0 {
		return 0, errChunkTooBig{"a chunk decompresses to"}
	}
	if int64(len(p)) > d.left+1 {
		p = p[:d.left+1]
	}
	n, err := d.reader.Read(p)
	d.left -= int64(n)
	if d.left < 0 || errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
		// zstd refuses a frame whose header declares more than the bound before decoding it.
		d.left = -1
		return n, errChunkTooBig{"a chunk decompresses to"}
	}
	return n, err
}

func newBoundedLZ4(bound int64) *boundedDecompressor {
	dec := lz4.NewReader(nil)
	return &boundedDecompressor{bound: bound, reader: dec, reset: func(r io.Reader) error { dec.Reset(r); return nil }}
}
