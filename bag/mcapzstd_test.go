package bag

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/foxglove/mcap/go/mcap"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
)

// The index reader decompresses a zstd chunk whole, taking the chunk's uncompressed size for its
// buffer but not as a bound: a chunk whose header and index both claimed 4 KiB and whose frame held a
// 200 MB message allocated 1 GB. Such a chunk now reads in file order, which bounds what it unpacks;
// here the frame holds 64 KiB.
func TestMCAPZstdChunkThatUnpacksPastItsSizeIsNotReadThroughTheIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lie.mcap")
	writeMCAP(t, path, mcap.WriterOptions{Chunked: true, ChunkSize: 1 << 10, Compression: mcap.CompressionZSTD},
		mcapMessage{1, 600}, mcapMessage{2, 600}, mcapMessage{3, 64 << 10})
	info := readMCAPInfo(t, path)
	claimed := info.ChunkIndexes[len(info.ChunkIndexes)-1].UncompressedSize
	// The chunk's header and its index say the size: both are made to say 4 KiB.
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var was, lie [8]byte
	binary.LittleEndian.PutUint64(was[:], claimed)
	binary.LittleEndian.PutUint64(lie[:], 4<<10)
	require.Equal(t, 2, bytes.Count(data, was[:]))
	require.NoError(t, os.WriteFile(path, bytes.ReplaceAll(data, was[:], lie[:]), 0o644))
	fixSummaryCRC(t, path)

	times, warnings, fault := readLogTimes(t, path)
	require.NoError(t, fault)
	require.Len(t, warnings, 1)
	require.Regexp(t, `^`+path+`: its index disagrees with its data \(chunk at offset \d+: its zstd frame declares `+
		`\d+ bytes, the chunk 4096\), so it is read in file order, not through the index$`, warnings[0])
	require.Equal(t, []int64{1, 2, 3}, times)
}

// twoFrames compresses a chunk's records as one frame, then appends a second of 64 KiB of zeros: the
// index reader decoded both, the second past the chunk's size.
type twoFrames struct {
	out   io.Writer
	plain []byte
}

func (c *twoFrames) Write(p []byte) (int, error) { c.plain = append(c.plain, p...); return len(p), nil }
func (c *twoFrames) Reset(w io.Writer)           { c.out, c.plain = w, c.plain[:0] }
func (c *twoFrames) Close() error {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		return err
	}
	defer enc.Close()
	if _, err := c.out.Write(enc.EncodeAll(c.plain, nil)); err != nil {
		return err
	}
	_, err = c.out.Write(enc.EncodeAll(make([]byte, 64<<10), nil))
	return err
}

// A chunk of two frames, the first of the chunk's size: read in file order instead.
func TestMCAPZstdChunkOfTwoFramesIsNotReadThroughTheIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "two.mcap")
	comp := &twoFrames{}
	writeMCAP(t, path, mcap.WriterOptions{Chunked: true, ChunkSize: 1 << 10, Compressor: mcap.NewCustomCompressor(mcap.CompressionZSTD, comp)},
		mcapMessage{1, 600}, mcapMessage{2, 600})
	r, err := Open(path)
	require.NoError(t, err)
	defer r.Close()
	require.Len(t, r.Info().Warnings, 1)
	require.Regexp(t, `^`+path+`: its index disagrees with its data \(chunk at offset \d+: its zstd data is \d+ bytes, of which its one frame is \d+: `+
		`more frames would decompress past the chunk's size\), so it is read in file order, not through the index$`, r.Info().Warnings[0])
	// In file order the second frame's zeros come out after the records. They once came out as records
	// too, the chunk's messages read and then a fault at the zeros ("invalid zero opcode"); now the
	// chunk's CRC, which the writer computed over its records alone, tells them apart before any is read,
	// and the chunk is one damaged message, what it held being unknown without the index.
	var got []Message
	for m, err := range r.Messages() {
		require.NoError(t, err)
		got = append(got, m)
	}
	require.Len(t, got, 1)
	require.Regexp(t, `^\(chunk at offset \d+\)$`, got[0].Topic)
	require.Equal(t, int64(1), got[0].LogTime, "the chunk's first log time")
	require.Nil(t, got[0].Data)
	require.Regexp(t, `^bag file `+path+` is truncated or corrupt: the chunk at offset \d+ cannot be read: the CRC32 of its records is [0-9a-f]{8}, `+
		`where the chunk records [0-9a-f]{8}$`, got[0].Damaged.Error())
}

// streamed compresses a chunk's records as the zstd library's streaming writer does, which declares no
// size in its frame once the records pass one block (so this package's own recordings write chunks).
type streamed struct{ *zstd.Encoder }

func (c streamed) Reset(w io.Writer) { c.Encoder.Reset(w) }

// A zstd frame without a declared size is bounded by its blocks: here one whose chunk claims 4 KiB and
// whose blocks hold 300 KiB, against a bound of 16 KiB, is refused as too big, where the index reader
// would have decompressed all of it.
func TestMCAPZstdChunkWithoutItsSizeIsBoundedByItsBlocks(t *testing.T) {
	setMaxChunkBytes(t, 16<<10)
	enc, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "stream.mcap")
	writeMCAP(t, path, mcap.WriterOptions{Chunked: true, ChunkSize: 1 << 10, Compressor: mcap.NewCustomCompressor(mcap.CompressionZSTD, streamed{enc})},
		mcapMessage{1, 600}, mcapMessage{2, 600}, mcapMessage{3, 300 << 10})
	chunks := readMCAPInfo(t, path).ChunkIndexes
	last := chunks[len(chunks)-1]
	f, err := os.Open(path)
	require.NoError(t, err)
	head := make([]byte, zstd.HeaderMaxSize)
	_, err = f.ReadAt(head, int64(last.ChunkStartOffset+last.ChunkLength-last.CompressedSize))
	require.NoError(t, err)
	f.Close()
	var h zstd.Header
	require.NoError(t, h.Decode(head))
	require.False(t, h.HasFCS, "the streaming writer declares no size")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var was, lie [8]byte
	binary.LittleEndian.PutUint64(was[:], last.UncompressedSize)
	binary.LittleEndian.PutUint64(lie[:], 4<<10)
	require.Equal(t, 2, bytes.Count(data, was[:]))
	require.NoError(t, os.WriteFile(path, bytes.ReplaceAll(data, was[:], lie[:]), 0o644))
	fixSummaryCRC(t, path)

	times, warnings, fault := readLogTimes(t, path)
	require.Len(t, warnings, 1)
	require.Regexp(t, `^`+path+`: its chunk at offset \d+ is too big to read: its zstd blocks may decompress to \d+ bytes, more than a chunk may hold here `+
		`\(16384 bytes, twice bag.MaxMessageBytes\); it is read in file order, which stops with a fault at that chunk$`, warnings[0])
	require.Equal(t, []int64{1, 2}, times)
	requireChunkTooBig(t, path, fault)
}
