package bag

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/foxglove/mcap/go/mcap"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// chunkDecoder unpacks MCAP chunks for both readers of a file, the index reader and the file-order one,
// so that every chunk is bounded and checked in one place: it decompresses a chunk whole, no further
// than the chunk states (through the index) or than a chunk may hold (in file order), checks the CRC32
// the chunk records of its records (the MCAP library's readers do not, and Humble's rosbag2 reads a
// chunk with a flipped bit without a word), and checks that its records tile it, all before any of
// its messages is read.
type chunkDecoder struct {
	zstd *boundedZstd
	lz4  *lz4.Reader
	src  bytes.Reader
}

func newChunkDecoder() (*chunkDecoder, error) {
	// The bound of a streaming decoder is a window only: unpack bounds what comes out.
	dec, err := newBoundedZstd(zstdCommonWindow)
	if err != nil {
		return nil, err
	}
	return &chunkDecoder{zstd: dec, lz4: lz4.NewReader(nil)}, nil
}

func (d *chunkDecoder) close() { d.zstd.close() }

// chunkDamage is why the records of a chunk cannot be read, its record in the file being whole: its
// compressed data is broken or declares a zstd window it cannot need, it unpacks to another size
// than it states, its CRC disagrees, or its records do not tile it. The file's other chunks are not
// affected: the readers yield the messages the chunk held (or the chunk itself, where nothing says
// what it held) as damaged and read on.
type chunkDamage struct {
	offset int64 // of the chunk record in the file
	err    error
}

func (e *chunkDamage) Error() string {
	return fmt.Sprintf("the chunk at offset %d cannot be read: %v", e.offset, e.err)
}

func (e *chunkDamage) Unwrap() error { return e.err }

// decode returns the records of chunk c, the chunk record at offset in the file, decompressed into
// buf (grown as needed, its capacity kept for the next chunk). With exact set the records must be the
// size the chunk states, as through the index, which checked that size against the index and reckons
// the memory held from it; without, the stated size is only a hint, as in file order, where a chunk
// whose size field alone is damaged still reads, its CRC (where it has one) checking what came out.
// The error is an errChunkTooBig, a fault of the file (more than this reader holds), or a *chunkDamage.
func (d *chunkDecoder) decode(c *mcap.Chunk, offset int64, buf []byte, exact bool) ([]byte, error) {
	n := c.UncompressedSize
	if exact && n > maxChunkBytes {
		return buf, errChunkTooBig{fmt.Sprintf("the chunk at offset %d says %d bytes uncompressed,", offset, n)}
	}
	damaged := func(err error) ([]byte, error) { return buf, &chunkDamage{offset: offset, err: err} }
	limit := maxChunkBytes
	if exact {
		limit = n
	}
	var over bool
	unpackFrom := func(r io.Reader) (err error) {
		buf, over, err = unpack(r, buf, min(n, limit), limit, uint64(len(c.Records)))
		return err
	}
	var err error
	switch mcap.CompressionFormat(c.Compression) {
	case mcap.CompressionNone:
		switch {
		case exact && uint64(len(c.Records)) != n:
			return damaged(fmt.Errorf("uncompressed, it holds %d bytes of records and says %d", len(c.Records), n))
		case uint64(len(c.Records)) > maxChunkBytes:
			return buf, errChunkTooBig{fmt.Sprintf("the chunk at offset %d holds %d bytes,", offset, len(c.Records))}
		}
		buf = append(buf[:0], c.Records...)
	case mcap.CompressionZSTD:
		err = d.zstd.decode(c.Records, zstdWindowBound(uint64(len(c.Records)), limit), func(dec *zstd.Decoder) error {
			d.src.Reset(c.Records)
			if err := dec.Reset(&d.src); err != nil {
				return err
			}
			return unpackFrom(dec)
		})
	case mcap.CompressionLZ4:
		d.src.Reset(c.Records)
		d.lz4.Reset(&d.src)
		err = unpackFrom(d.lz4)
	default:
		return damaged(fmt.Errorf("its compression %q is none that MCAP defines", c.Compression))
	}
	switch {
	case over && !exact:
		return buf, errChunkTooBig{fmt.Sprintf("the chunk at offset %d decompresses to", offset)}
	case over:
		return damaged(fmt.Errorf("it decompresses to more than the %d bytes it says", n))
	case err != nil:
		return damaged(err)
	case exact && uint64(len(buf)) != n:
		return damaged(fmt.Errorf("it decompresses to %d bytes, and says %d", len(buf), n))
	}
	if c.UncompressedCRC != 0 { // 0: the writer did not compute it (Humble's rosbag2 does not)
		if crc := crc32.ChecksumIEEE(buf); crc != c.UncompressedCRC {
			return damaged(fmt.Errorf("the CRC32 of its records is %08x, where the chunk records %08x", crc, c.UncompressedCRC))
		}
	}
	if err := checkChunkRecords(buf); err != nil {
		return damaged(err)
	}
	return buf, nil
}

// unpack reads the decompressor r to its end into buf, up to limit bytes; over says r holds more. A
// buffer too small grows with what comes out, not to what the chunk claims (a few compressed bytes
// can claim the most a chunk may hold): it starts at the size hint or 8 times the packed size,
// whichever is less, which real chunks fit.
func unpack(r io.Reader, buf []byte, hint, limit, packed uint64) (_ []byte, over bool, _ error) {
	if uint64(cap(buf)) < hint {
		buf = make([]byte, 0, min(hint, max(uint64(cap(buf)), 8*packed+64<<10)))
	}
	buf = buf[:0]
	for uint64(len(buf)) < limit {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(limit, max(2*uint64(cap(buf)), 64<<10)))
			copy(grown, buf)
			buf = grown
		}
		got, err := r.Read(buf[len(buf):min(uint64(cap(buf)), limit)])
		buf = buf[:len(buf)+got]
		if errors.Is(err, io.EOF) {
			return buf, false, nil
		}
		if err != nil {
			return buf, false, fmt.Errorf("decompressing it: %w", err)
		}
	}
	// At the limit there must be nothing more: the next read ends the stream, checking its checksum
	// where it has one.
	var probe [1]byte
	switch _, err := io.ReadFull(r, probe[:]); {
	case err == nil:
		return buf, true, nil
	case !errors.Is(err, io.EOF):
		return buf, false, fmt.Errorf("decompressing it: %w", err)
	}
	return buf, false, nil
}

// messageRecordHead is what a message record holds before its data: channel ID, sequence, log time and
// publish time.
const messageRecordHead = 2 + 4 + 8 + 8

// checkChunkRecords checks that a chunk's records tile it: each record's length lies within the chunk,
// and each message record holds its head.
func checkChunkRecords(records []byte) error {
	for at := 0; at < len(records); {
		op, body, next, err := chunkRecord(records, at)
		if err != nil {
			return err
		}
		if op == mcap.OpMessage && len(body) < messageRecordHead {
			return fmt.Errorf("its message record at %d holds %d bytes, fewer than a message's head", at, len(body))
		}
		at = next
	}
	return nil
}

// chunkRecord returns the record at offset at of a chunk's records, and where the next one starts.
func chunkRecord(records []byte, at int) (op mcap.OpCode, body []byte, next int, err error) {
	if len(records)-at < 9 {
		return 0, nil, 0, fmt.Errorf("its records end in %d bytes at %d, too few for a record", len(records)-at, at)
	}
	op = mcap.OpCode(records[at])
	n := binary.LittleEndian.Uint64(records[at+1:])
	if op == mcap.OpReserved {
		return 0, nil, 0, fmt.Errorf("its record at %d has opcode 0, which MCAP reserves", at)
	}
	if n > uint64(len(records)-at-9) {
		return 0, nil, 0, fmt.Errorf("its %s record at %d says %d bytes, past the chunk's end (%d bytes)", op, at, n, len(records))
	}
	next = at + 9 + int(n)
	return op, records[at+9 : next], next, nil
}

// messageHead reads the channel and log time of a message record's body, checked by checkChunkRecords.
func messageHead(body []byte) (channel uint16, logTime uint64) {
	return binary.LittleEndian.Uint16(body), binary.LittleEndian.Uint64(body[6:])
}
