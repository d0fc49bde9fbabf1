package bag

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

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
		// in file order instead, which needs neither.
		file.sum.indexProblem = checkChunkIndexes(f, info.ChunkIndexes)
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
// size (rosbag2: 768 KiB by default) or a single bigger message.
const maxChunkBytes = 2 * MaxMessageBytes

// checkChunkIndexes compares every chunk index with the chunk record it points at: its place in the
// file, record length, compression and sizes. It reads a few dozen bytes per chunk.
func checkChunkIndexes(f *os.File, indexes []*mcap.ChunkIndex) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := uint64(st.Size())
	for _, ci := range indexes {
		if err := checkChunk(f, size, ci); err != nil {
			return fmt.Errorf("chunk at offset %d: %w", ci.ChunkStartOffset, err)
		}
	}
	return nil
}

func checkChunk(f *os.File, size uint64, ci *mcap.ChunkIndex) error {
	// opcode, record length, start and end times, uncompressed size, uncompressed CRC, compression's length
	const fixed = 1 + 8 + 8 + 8 + 8 + 4 + 4
	switch {
	case ci.ChunkStartOffset > size || ci.ChunkLength > size-ci.ChunkStartOffset:
		return fmt.Errorf("its index says %d bytes, past the end of the file (%d bytes)", ci.ChunkLength, size)
	case ci.ChunkLength < fixed+8:
		return fmt.Errorf("its index says %d bytes, too short for a chunk record", ci.ChunkLength)
	case ci.UncompressedSize > maxChunkBytes || ci.CompressedSize > maxChunkBytes:
		return fmt.Errorf("its index says %d bytes uncompressed and %d compressed, more than a chunk may hold here (%d)",
			ci.UncompressedSize, ci.CompressedSize, uint64(maxChunkBytes))
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
	reader     *mcap.Reader
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
	var reader *mcap.Reader
	err = guarded(func() (err error) { reader, err = mcap.NewReader(f); return err })
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: not an MCAP file: %w", path, err)
	}
	opts := []mcap.ReadOpt{mcap.UsingIndex(indexed)}
	if indexed {
		opts = append(opts, mcap.InOrder(mcap.LogTimeOrder))
	}
	var it mcap.MessageIterator
	err = guarded(func() (err error) { it, err = reader.Messages(opts...); return err })
	if err != nil {
		reader.Close()
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s := &mcapStream{path: path, file: f, reader: reader, it: it, topics: topics, seen: map[uint16]bool{}}
	if !indexed {
		// A linear scan ends quietly with io.EOF when a cut falls on a record boundary, so a
		// missing closing magic is the only sign of truncation there.
		s.truncated, err = missingClosingMagic(f)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
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
	s.reader.Close()
	return s.file.Close()
}
