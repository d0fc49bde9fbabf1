package bag

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/foxglove/mcap/go/mcap"
)

// mcapIndex is what the index reader takes from a file's summary, checked against the file when it
// opened (checkChunkIndexes).
type mcapIndex struct {
	channels map[uint16]*mcap.Channel
	schemas  map[uint16]*mcap.Schema
	chunks   []*mcap.ChunkIndex // in the order they are loaded: by first log time, ties in file order
	size     int64              // of the file
}

func newMCAPIndex(channels map[uint16]*mcap.Channel, schemas map[uint16]*mcap.Schema, chunks []*mcap.ChunkIndex, size int64) *mcapIndex {
	order := slices.Clone(chunks)
	slices.SortStableFunc(order, func(a, b *mcap.ChunkIndex) int {
		return cmp.Or(cmp.Compare(a.MessageStartTime, b.MessageStartTime), cmp.Compare(a.ChunkStartOffset, b.ChunkStartOffset))
	})
	return &mcapIndex{channels: channels, schemas: schemas, chunks: order, size: size}
}

// indexedReader reads an indexed file's messages in log-time order through its chunk index, as the
// MCAP library's log-time-ordered reader does (logTimeFootprint is what it holds), but decompressing
// each chunk with the chunkDecoder: bounded, its CRC checked. A chunk is loaded once every message
// before its first log time has been read, into the first free slot, and its slot is free again once
// its last selected message is read.
type indexedReader struct {
	file   *os.File
	index  *mcapIndex
	topics map[string]bool
	dec    *chunkDecoder
	loaded int // the chunks of index.chunks loaded so far
	slots  []*chunkSlot
	record []byte // the chunk record being loaded, as read from the file
}

// chunkSlot holds one loaded chunk's records and its selected messages, by log time.
type chunkSlot struct {
	buf      []byte
	messages []slotMessage
	pos      int    // the next message to yield; the slot is free when all are
	load     uint64 // when the chunk was loaded: of two messages at one log time, the chunk loaded first goes first
	// damage, when set, is why the chunk could not be read; messages are then what its message index
	// says it held, or, when unknown is set, one standing for the whole chunk at its first log time.
	damage  *chunkDamage
	unknown bool
}

// slotMessage is one message of a loaded chunk: its log time, its record's offset in the chunk's
// records and its channel.
type slotMessage struct {
	logTime uint64
	at      uint32 // a chunk holds maxChunkBytes at most
	channel uint16
}

func newIndexedReader(f *os.File, index *mcapIndex, topics map[string]bool) (*indexedReader, error) {
	dec, err := newChunkDecoder()
	if err != nil {
		return nil, err
	}
	return &indexedReader{file: f, index: index, topics: topics, dec: dec}, nil
}

func (r *indexedReader) close() { r.dec.close() }

func (r *indexedReader) selected(ch *mcap.Channel) bool {
	return ch != nil && (len(r.topics) == 0 || r.topics[ch.Topic])
}

// head is the slot whose next message comes first.
func (r *indexedReader) head() *chunkSlot {
	var best *chunkSlot
	for _, s := range r.slots {
		if s.pos == len(s.messages) {
			continue
		}
		if best == nil || cmp.Or(cmp.Compare(s.messages[s.pos].logTime, best.messages[best.pos].logTime), cmp.Compare(s.load, best.load)) < 0 {
			best = s
		}
	}
	return best
}

func (r *indexedReader) next() (fileMessage, error) {
	for {
		head := r.head()
		if r.loaded < len(r.index.chunks) && (head == nil || r.index.chunks[r.loaded].MessageStartTime < head.messages[head.pos].logTime) {
			if err := r.load(r.index.chunks[r.loaded]); err != nil {
				return fileMessage{}, err
			}
			r.loaded++
			continue
		}
		if head == nil {
			return fileMessage{}, io.EOF
		}
		m := head.messages[head.pos]
		head.pos++
		if head.unknown {
			return fileMessage{logTime: m.logTime, damage: head.damage}, nil
		}
		ch := r.index.channels[m.channel]
		schema, err := channelSchema(r.index.schemas, ch)
		if err != nil {
			return fileMessage{}, err
		}
		out := fileMessage{channel: ch, schema: schema, logTime: m.logTime, damage: head.damage}
		if head.damage == nil {
			_, body, _, _ := chunkRecord(head.buf, int(m.at))
			out.data = body[messageRecordHead:]
		}
		return out, nil
	}
}

func (r *indexedReader) load(ci *mcap.ChunkIndex) error {
	var slot *chunkSlot
	for _, s := range r.slots {
		if s.pos == len(s.messages) {
			slot = s
			break
		}
	}
	if slot == nil {
		slot = &chunkSlot{}
		r.slots = append(r.slots, slot)
	}
	slot.load = uint64(r.loaded)
	slot.messages, slot.pos, slot.damage, slot.unknown = slot.messages[:0], 0, nil, false

	// The index check made sure the record lies in the file and is no bigger than a chunk may be.
	if uint64(cap(r.record)) < ci.ChunkLength {
		r.record = make([]byte, ci.ChunkLength)
	}
	record := r.record[:ci.ChunkLength]
	if _, err := r.file.ReadAt(record, int64(ci.ChunkStartOffset)); err != nil {
		return fmt.Errorf("reading the chunk at offset %d: %w", ci.ChunkStartOffset, err)
	}
	chunk, err := mcap.ParseChunk(record[9:])
	if err != nil {
		return fmt.Errorf("the chunk at offset %d: %w", ci.ChunkStartOffset, err)
	}
	records, err := r.dec.decode(chunk, int64(ci.ChunkStartOffset), slot.buf, true)
	var damage *chunkDamage
	switch {
	case errors.As(err, &damage):
		slot.buf = records[:0]
		slot.damage = damage
		slot.messages, slot.unknown = r.lost(ci, slot.messages)
		return nil
	case err != nil:
		return err
	}
	slot.buf = records
	sorted := true
	for at := 0; at < len(records); {
		op, body, next, _ := chunkRecord(records, at) // tiled, as decode checked
		if op == mcap.OpMessage {
			channel, logTime := messageHead(body)
			if r.selected(r.index.channels[channel]) {
				sorted = sorted && (len(slot.messages) == 0 || slot.messages[len(slot.messages)-1].logTime <= logTime)
				slot.messages = append(slot.messages, slotMessage{logTime: logTime, at: uint32(at), channel: channel})
			}
		}
		at = next
	}
	if !sorted {
		slices.SortStableFunc(slot.messages, func(a, b slotMessage) int { return cmp.Compare(a.logTime, b.logTime) })
	}
	return nil
}

// lost is what the message index records after a damaged chunk say it held, by log time, into the
// given slice; or, when they are missing or do not read, one message at the chunk's first log time
// standing for all of it, with unknown set. The message index lies outside what the chunk's CRC
// covers, but it only says what was lost.
func (r *indexedReader) lost(ci *mcap.ChunkIndex, into []slotMessage) (messages []slotMessage, unknown bool) {
	whole := append(into[:0], slotMessage{logTime: ci.MessageStartTime})
	start, n, size := ci.ChunkStartOffset+ci.ChunkLength, ci.MessageIndexLength, uint64(r.index.size)
	if n == 0 || n > maxChunkBytes || start > size || n > size-start {
		return whole, true
	}
	region := make([]byte, n)
	if _, err := r.file.ReadAt(region, int64(start)); err != nil {
		return whole, true
	}
	type entry struct {
		message slotMessage
		offset  uint64
	}
	var entries []entry
	for at := 0; at < len(region); {
		op, body, next, err := chunkRecord(region, at)
		if err != nil || op != mcap.OpMessageIndex {
			return whole, true
		}
		idx, err := mcap.ParseMessageIndex(body)
		if err != nil {
			return whole, true
		}
		if r.selected(r.index.channels[idx.ChannelID]) {
			for _, e := range idx.Records {
				entries = append(entries, entry{slotMessage{logTime: e.Timestamp, channel: idx.ChannelID}, e.Offset})
			}
		}
		at = next
	}
	// In log-time order, ties in the order they lay in the chunk.
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.message.logTime, b.message.logTime), cmp.Compare(a.offset, b.offset))
	})
	messages = into[:0]
	for _, e := range entries {
		messages = append(messages, e.message)
	}
	return messages, false
}
