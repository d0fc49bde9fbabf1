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
	path  string
	index *mcapIndex // nil: read in file order
	sum   fileSummary
}

func openMCAPFile(path string) (*mcapFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	header, err := readMCAPHeader(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: not an MCAP file: %w", path, err)
	}
	if header.Profile != "ros2" && header.Profile != "" {
		return nil, fmt.Errorf("%s: MCAP profile %q, expected \"ros2\" (a rosbag2 recording)", path, header.Profile)
	}
	file := &mcapFile{path: path}
	summary, summaryProblem := readMCAPSummary(f, st.Size())
	if summary != nil && summary.statistics != nil {
		file.sum = summaryFromIndex(summary)
		// The index reader sizes its buffers from the index and the chunk headers as they stand: one
		// damaged length would claim gigabytes. A file whose index and chunks disagree is read in file
		// order instead, which needs neither; so is one with a chunk over the bound, which the
		// file-order read then stops at with a fault, the bytes unread.
		var chunks []chunkSpan
		chunks, file.sum.indexProblem = checkChunkIndexes(f, summary.chunks)
		if held := logTimeFootprint(chunks); file.sum.indexProblem == nil && held > maxHeldChunkBytes {
			file.sum.indexProblem = fmt.Errorf("its chunks overlap in log time: read in log-time order they would be held decompressed "+
				"together, up to %d bytes, more than the %d a chunk may hold here, so it is read in file order, and its messages may come "+
				"out of time order", held, maxHeldChunkBytes)
		}
		// A file of messages outside chunks (ros2 bag record's fastwrite preset: noChunking, summary
		// kept) has an index with nothing to walk: it is read in file order, which is its log order
		// as recorded, as the MCAP library's reader does.
		unchunked := len(summary.chunks) == 0 && summary.statistics.MessageCount > 0
		if file.sum.indexProblem == nil && !unchunked {
			file.index = newMCAPIndex(summary.channels, summary.schemas, summary.chunks, st.Size())
		}
		return file, nil
	}
	// No usable summary: count by scanning. A fault found here is kept and reported by iteration.
	file.sum, err = scanMCAPSummary(path)
	if err != nil {
		return nil, err
	}
	if summaryProblem != nil {
		file.sum.indexProblem = fmt.Errorf("its summary is not used (%w), so it is read in file order, and counted by reading it", summaryProblem)
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

// logTimeFootprint is the most bytes the index reader (indexedReader, which loads chunks as the MCAP
// library's log-time-ordered reader does) holds decompressed at once for these chunks. It loads chunks
// in order of their first log time (ties in file order), each into the first free slot, whose buffer
// grows to what the chunk decompresses to and never shrinks. A
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
// file, record length, compression and sizes. It reads a few dozen bytes per chunk. What a chunk's
// data decompresses to is checked as the chunk is read: through the index, chunkDecoder.decode stops
// at the size the chunk states, and a chunk whose data holds more is damaged. A walk of every zstd
// block header here once found such chunks before reading, when the index reader took the MCAP
// library's unbounded decompression; it read 3 bytes per 128 KiB of the file, 2 s of a cold 2.4 GB
// recording before its first message.
func checkChunkIndexes(f *os.File, indexes []*mcap.ChunkIndex) ([]chunkSpan, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := uint64(st.Size())
	chunks := make([]chunkSpan, 0, len(indexes))
	for _, ci := range indexes {
		if ci.UncompressedSize > maxChunkBytes || ci.CompressedSize > maxChunkBytes {
			return nil, fmt.Errorf("its chunk at offset %d is too big to read: %w; it is read in file order, which stops with a fault at that chunk",
				ci.ChunkStartOffset, errChunkTooBig{fmt.Sprintf("its index says %d bytes uncompressed and %d compressed,", ci.UncompressedSize, ci.CompressedSize)})
		}
		if err := checkChunk(f, size, ci); err != nil {
			return nil, fmt.Errorf("its index disagrees with its data (chunk at offset %d: %w), so it is read in file order, not through the index",
				ci.ChunkStartOffset, err)
		}
		chunks = append(chunks, chunkSpan{offset: ci.ChunkStartOffset, start: ci.MessageStartTime, end: ci.MessageEndTime, unpacked: ci.UncompressedSize})
	}
	// Each listing is read: a chunk listed twice would yield its messages twice, and a summary of a few
	// kilobytes could list one chunk of hundreds of megabytes thousands of times. Each chunk lies in the
	// file by now, so the sums do not overflow.
	byOffset := slices.Clone(indexes)
	slices.SortFunc(byOffset, func(a, b *mcap.ChunkIndex) int { return cmp.Compare(a.ChunkStartOffset, b.ChunkStartOffset) })
	for i := 1; i < len(byOffset); i++ {
		prev, next := byOffset[i-1], byOffset[i]
		if prev.ChunkStartOffset == next.ChunkStartOffset {
			return nil, fmt.Errorf("its index lists the chunk at offset %d more than once, so it is read in file order, not through the index",
				next.ChunkStartOffset)
		}
		if prev.ChunkStartOffset+prev.ChunkLength > next.ChunkStartOffset {
			return nil, fmt.Errorf("its index lists chunks that overlap (at offsets %d and %d), so it is read in file order, not through the index",
				prev.ChunkStartOffset, next.ChunkStartOffset)
		}
	}
	return chunks, nil
}

// checkChunk checks the head of one chunk's record against its index.
func checkChunk(f *os.File, size uint64, ci *mcap.ChunkIndex) error {
	// opcode, record length, start and end times, uncompressed size, uncompressed CRC, compression's length
	const fixed = 1 + 8 + 8 + 8 + 8 + 4 + 4
	switch {
	case ci.ChunkStartOffset > size || ci.ChunkLength > size-ci.ChunkStartOffset:
		return fmt.Errorf("its index says %d bytes, past the end of the file (%d bytes)", ci.ChunkLength, size)
	case ci.ChunkLength < fixed+8:
		return fmt.Errorf("its index says %d bytes, too short for a chunk record", ci.ChunkLength)
	}
	head := make([]byte, fixed+len(ci.Compression)+8)
	if _, err := f.ReadAt(head, int64(ci.ChunkStartOffset)); err != nil {
		return err
	}
	le := binary.LittleEndian
	compressionLen := uint64(le.Uint32(head[37:]))
	compression := string(head[fixed : fixed+len(ci.Compression)])
	switch {
	case mcap.OpCode(head[0]) != mcap.OpChunk:
		return fmt.Errorf("its index points at a record of opcode 0x%02x, not a chunk", head[0])
	case le.Uint64(head[1:]) != ci.ChunkLength-9:
		return fmt.Errorf("the chunk's record is %d bytes long, its index says %d", le.Uint64(head[1:]), ci.ChunkLength-9)
	case le.Uint64(head[25:]) != ci.UncompressedSize:
		return fmt.Errorf("the chunk says %d bytes uncompressed, its index %d", le.Uint64(head[25:]), ci.UncompressedSize)
	case compressionLen != uint64(len(ci.Compression)) || compression != string(ci.Compression):
		return fmt.Errorf("the chunk's compression is not %q, as its index says", ci.Compression)
	case le.Uint64(head[fixed+len(ci.Compression):]) != ci.CompressedSize ||
		ci.ChunkLength != uint64(len(head))+ci.CompressedSize:
		return fmt.Errorf("the chunk holds %d bytes of records, its index says %d", le.Uint64(head[fixed+len(ci.Compression):]), ci.CompressedSize)
	case ci.Compression == mcap.CompressionNone && ci.UncompressedSize != ci.CompressedSize:
		return fmt.Errorf("uncompressed, it says %d bytes of records and %d uncompressed", ci.CompressedSize, ci.UncompressedSize)
	}
	return nil
}

func summaryFromIndex(summary *mcapSummary) fileSummary {
	stats := summary.statistics
	sum := fileSummary{countsKnown: true, messageCount: stats.MessageCount}
	if sum.messageCount > 0 {
		sum.start = int64(stats.MessageStartTime)
		sum.end = int64(stats.MessageEndTime)
	}
	// Channel IDs are assigned in creation order; keep that order for a stable topic list.
	for id := uint16(0); len(sum.topics) < len(summary.channels); id++ {
		ch, ok := summary.channels[id]
		if ok {
			sum.topics = append(sum.topics, topicFromChannel(ch, summary.schemas[ch.SchemaID], stats.ChannelMessageCounts[id]))
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
		t.OfferedQoSProfiles = ch.Metadata[qosMetadataKey]
	}
	return t
}

// scanMCAPSummary reads an unindexed file from start to end, counting messages per channel.
func scanMCAPSummary(path string) (fileSummary, error) {
	stream, err := openMCAPStream(path, nil, nil)
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
		if m.Damaged != nil {
			// A chunk that cannot be read, whose messages are unknown: the counts are not either.
			sum.damagedChunks++
			sum.countsKnown = false
			if sum.chunkDamage == nil {
				sum.chunkDamage = m.Damaged
			}
			continue
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
	return openMCAPStream(f.path, f.index, topics)
}

// fileMessage is one message a reader of an MCAP file yields: its channel, log time and data (valid
// until the next call); or, for a message of a chunk that cannot be read, the damage instead of data,
// and no channel either where nothing says what the chunk held.
type fileMessage struct {
	channel *mcap.Channel
	schema  *mcap.Schema
	logTime uint64
	data    []byte
	damage  *chunkDamage
}

// mcapReader is the index reader or the file-order one; next returns io.EOF at the end.
type mcapReader interface {
	next() (fileMessage, error)
	close()
}

type mcapStream struct {
	path       string
	file       *os.File
	reader     mcapReader
	topics     map[string]bool
	seen       map[uint16]bool
	topicsSeen []TopicInfo // channels in the order first met, for scans of unindexed files
	truncated  bool        // the file lacks its closing magic: reaching its end is a fault
}

var errMissingFooter = errors.New("file ends without the MCAP footer (truncated, or the recorder did not close it)")

// openMCAPStream reads the file at path through index, or in file order where index is nil.
func openMCAPStream(path string, index *mcapIndex, topics map[string]bool) (*mcapStream, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	s := &mcapStream{path: path, file: f, topics: topics, seen: map[uint16]bool{}}
	if index != nil {
		s.reader, err = newIndexedReader(f, index, topics)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return s, nil
	}
	var linear *linearReader
	err = guarded(func() (err error) { linear, err = newLinearReader(f); return err })
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: not an MCAP file: %w", path, err)
	}
	s.reader = linear
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
		var m fileMessage
		err := guarded(func() (err error) { m, err = s.reader.next(); return err })
		if errors.Is(err, io.EOF) {
			if s.truncated {
				return Message{}, &CorruptFileError{Path: s.path, Err: errMissingFooter}
			}
			return Message{}, io.EOF
		}
		if err != nil {
			return Message{}, &CorruptFileError{Path: s.path, Err: err}
		}
		ch := m.channel
		if ch == nil {
			// A damaged chunk of unknown content, yielded whatever the topics asked for (it may hold
			// some of them), as a .db3 row of an unknown topic is.
			return Message{Topic: fmt.Sprintf("(chunk at offset %d)", m.damage.offset), LogTime: int64(m.logTime),
				Damaged: &CorruptFileError{Path: s.path, Err: m.damage}}, nil
		}
		if !s.seen[ch.ID] {
			s.seen[ch.ID] = true
			s.topicsSeen = append(s.topicsSeen, topicFromChannel(ch, m.schema, 0))
		}
		if len(s.topics) > 0 && !s.topics[ch.Topic] {
			continue
		}
		out := Message{Topic: ch.Topic, LogTime: int64(m.logTime)}
		if m.schema != nil {
			out.Type = m.schema.Name
		}
		if m.damage != nil {
			out.Damaged = &CorruptFileError{Path: s.path, Err: fmt.Errorf("message on %s at %d: %w", ch.Topic, m.logTime, m.damage)}
			return out, nil
		}
		out.Data = append([]byte(nil), m.data...)
		return out, nil
	}
}

func (s *mcapStream) close() error {
	s.reader.close()
	return s.file.Close()
}

// linearReader reads an MCAP file's records in file order, for files without a usable index. The MCAP
// library's own file-order reader allocates whatever a record's length claims and decompresses a chunk
// without limit (a chunk holding one 1 GiB message of zeros, 40 KB in the file, cost 3 GB), so this one
// runs the library's lexer with a bound on records, no bigger than the file, and hands each chunk whole
// to the chunkDecoder, which bounds it and checks it before any of its messages is read. A record over
// the bound is a fault of the file there; a chunk that cannot be read is yielded as damaged (its
// messages are unknown here) and the read goes on past it.
type linearReader struct {
	file     *os.File
	size     int64
	read     *countingReader
	lexer    *mcap.Lexer
	dec      *chunkDecoder
	schemas  map[uint16]*mcap.Schema
	channels map[uint16]*mcap.Channel
	buf      []byte // the lexer's record buffer
	chunk    []byte // the records of the chunk being read
	at       int    // the next of them; len(chunk) when none is left
	header   bool
}

// chunkRecordSlack is what a chunk record holds besides its compressed records: times, sizes, CRC and
// the compression's name.
const chunkRecordSlack = 1 << 10

// countingReader counts the bytes read through it: the lexer's place in the file.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func newLinearReader(f *os.File) (*linearReader, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	read := &countingReader{r: bufio.NewReaderSize(f, 64<<10)}
	lexer, err := mcap.NewLexer(read, &mcap.LexerOptions{
		EmitChunks: true,
		// No record is longer than the file: the lexer allocates a record's length before reading it.
		MaxRecordSize: int(max(1, min(int64(maxChunkBytes)+chunkRecordSlack, st.Size()))),
	})
	if err != nil {
		return nil, err
	}
	dec, err := newChunkDecoder()
	if err != nil {
		lexer.Close()
		return nil, err
	}
	return &linearReader{file: f, size: st.Size(), read: read, lexer: lexer, dec: dec,
		schemas: map[uint16]*mcap.Schema{}, channels: map[uint16]*mcap.Channel{}}, nil
}

func (r *linearReader) close() {
	r.lexer.Close()
	r.dec.close()
}

// next yields the next message, as the library's file-order reader does: messages on a channel not yet
// declared are skipped.
func (r *linearReader) next() (fileMessage, error) {
	for {
		if r.at < len(r.chunk) {
			op, body, next, _ := chunkRecord(r.chunk, r.at) // tiled, as decode checked
			r.at = next
			if m, ok, err := r.record(op, body); ok || err != nil {
				return m, err
			}
			continue
		}
		token, record, err := r.lexer.Next(r.buf)
		if errors.Is(err, mcap.ErrRecordTooLarge) {
			err = r.tooLarge()
		}
		if err != nil {
			return fileMessage{}, err
		}
		if cap(record) > cap(r.buf) {
			r.buf = record
		}
		if !r.header {
			if token != mcap.TokenHeader {
				return fileMessage{}, fmt.Errorf("the file starts with a %s record, not a header", token)
			}
			r.header = true
			continue
		}
		switch token {
		case mcap.TokenChunk:
			offset := r.read.n - 9 - int64(len(record))
			chunk, err := mcap.ParseChunk(record)
			if err != nil {
				return fileMessage{}, fmt.Errorf("its chunk record at offset %d: %w", offset, err)
			}
			records, err := r.dec.decode(chunk, offset, r.chunk, false)
			r.chunk, r.at = records[:0], 0
			var damage *chunkDamage
			if errors.As(err, &damage) {
				return fileMessage{logTime: chunk.MessageStartTime, damage: damage}, nil
			}
			if err != nil {
				return fileMessage{}, err
			}
			r.chunk = records
		case mcap.TokenSchema, mcap.TokenChannel, mcap.TokenMessage:
			op := map[mcap.TokenType]mcap.OpCode{mcap.TokenSchema: mcap.OpSchema, mcap.TokenChannel: mcap.OpChannel, mcap.TokenMessage: mcap.OpMessage}[token]
			if m, ok, err := r.record(op, record); ok || err != nil {
				return m, err
			}
		}
	}
}

// record takes in a schema or channel record, or returns a message record's message with ok set.
func (r *linearReader) record(op mcap.OpCode, body []byte) (m fileMessage, ok bool, err error) {
	switch op {
	case mcap.OpSchema:
		schema, err := parseSchema(body)
		if err != nil {
			return m, false, fmt.Errorf("its schema record: %w", err)
		}
		r.schemas[schema.ID] = schema
	case mcap.OpChannel:
		ch, err := parseChannel(body)
		if err != nil {
			return m, false, fmt.Errorf("its channel record: %w", err)
		}
		r.channels[ch.ID] = ch
	case mcap.OpMessage:
		if len(body) < messageRecordHead {
			return m, false, fmt.Errorf("a message record of %d bytes, fewer than a message's head", len(body))
		}
		channel, logTime := messageHead(body)
		ch := r.channels[channel]
		if ch == nil {
			return m, false, nil
		}
		schema, err := channelSchema(r.schemas, ch)
		if err != nil {
			return m, false, err
		}
		return fileMessage{channel: ch, schema: schema, logTime: logTime, data: body[messageRecordHead:]}, true, nil
	}
	return m, false, nil
}

// channelSchema is the schema of channel ch: nil for schema ID 0 (a channel without one, which MCAP
// allows), an error for an ID the file never defined.
func channelSchema(schemas map[uint16]*mcap.Schema, ch *mcap.Channel) (*mcap.Schema, error) {
	schema := schemas[ch.SchemaID]
	if schema == nil && ch.SchemaID != 0 {
		return nil, fmt.Errorf("channel %d with unrecognized schema ID %d", ch.ID, ch.SchemaID)
	}
	return schema, nil
}

// tooLarge says what the record the lexer refused for its length claims: more than the file holds
// (damage), or more than a chunk may hold here.
func (r *linearReader) tooLarge() error {
	at := r.read.n - 9 // the lexer read the record's opcode and length, and stopped
	var head [9]byte
	if _, err := r.file.ReadAt(head[:], at); err != nil {
		return err
	}
	op, n := mcap.OpCode(head[0]), binary.LittleEndian.Uint64(head[1:])
	if n > uint64(r.size-at-9) {
		return fmt.Errorf("its %s record at offset %d says %d bytes, past the end of the file (%d bytes)", op, at, n, r.size)
	}
	return errChunkTooBig{fmt.Sprintf("its %s record at offset %d says %d bytes,", op, at, n)}
}
