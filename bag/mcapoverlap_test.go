package bag

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/foxglove/mcap/go/mcap"
	"github.com/stretchr/testify/require"
)

// Chunks whose log times overlap are held decompressed together by the log-time-ordered index reader:
// a 116 KB file of chunks that all start at log time 0 reached 2 GB. Past the bound on what a chunk
// may hold, such a file is read in file order, one chunk at a time, with a warning; here 8 chunks of
// about 4 KiB each hold a message at 0 and one at 10, against a bound lowered to 16 KiB.
func TestMCAPOverlappingChunksAreReadInFileOrder(t *testing.T) {
	old := maxHeldChunkBytes
	maxHeldChunkBytes = 16 << 10
	t.Cleanup(func() { maxHeldChunkBytes = old })
	path := filepath.Join(t.TempDir(), "overlap.mcap")
	var messages []mcapMessage
	for range 8 {
		messages = append(messages, mcapMessage{0, 100}, mcapMessage{10, 4 << 10})
	}
	writeMCAP(t, path, mcap.WriterOptions{Chunked: true, ChunkSize: 4 << 10, Compression: mcap.CompressionZSTD}, messages...)

	times, warnings, fault := readLogTimes(t, path)
	require.NoError(t, fault)
	require.Len(t, warnings, 1)
	require.Regexp(t, `^`+path+`: its chunks overlap in log time: read in log-time order they would be held decompressed together, up to 3\d\d\d\d bytes, `+
		`more than the 16384 a chunk may hold here, so it is read in file order, and its messages may come out of time order$`, warnings[0])
	require.Len(t, times, 16, "every message")
	for i, at := range times {
		require.Equal(t, int64(messages[i].at), at, "in file order")
	}
}

// The footprint follows the library's reader: chunks one after another in log time (as recordings
// write them) hold one chunk at a time, whose buffer is reused; overlapping ones add up.
func TestLogTimeFootprint(t *testing.T) {
	chunk := func(offset, start, end, size uint64) chunkSpan {
		return chunkSpan{offset: offset, start: start, end: end, unpacked: size}
	}
	require.Equal(t, uint64(300), logTimeFootprint([]chunkSpan{chunk(1, 0, 10, 100), chunk(2, 10, 20, 300), chunk(3, 20, 30, 200)}),
		"in sequence, sharing a boundary time: one slot, grown to the biggest")
	require.Equal(t, uint64(500), logTimeFootprint([]chunkSpan{chunk(1, 0, 10, 100), chunk(2, 5, 20, 300), chunk(3, 15, 30, 200)}),
		"each overlapping the next: two slots, each grown to the biggest it held")
	require.Equal(t, uint64(400), logTimeFootprint([]chunkSpan{chunk(3, 0, 10, 100), chunk(1, 0, 10, 100), chunk(2, 0, 10, 100), chunk(4, 0, 10, 100)}),
		"all from one time: all at once")

	// A recording as this package writes it, bound set just over its biggest chunk: read through the
	// index, without a warning.
	path, indexes := chunkedRecording(t, "zstd")
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	chunks, err := checkChunkIndexes(f, indexes)
	require.NoError(t, err)
	var biggest uint64
	for _, c := range chunks {
		biggest = max(biggest, c.unpacked)
	}
	require.Equal(t, biggest, logTimeFootprint(chunks))
	old := maxHeldChunkBytes
	maxHeldChunkBytes = biggest
	t.Cleanup(func() { maxHeldChunkBytes = old })
	_, warnings, fault := readLogTimes(t, path)
	require.NoError(t, fault)
	require.Empty(t, warnings)
}
