package bag

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/foxglove/mcap/go/mcap"
	"github.com/stretchr/testify/require"
)

// sixMessages are two to a chunk of 1 KiB: three chunks, their messages at 1000 to 6000.
var sixMessages = []mcapMessage{{1000, 600}, {2000, 600}, {3000, 600}, {4000, 600}, {5000, 600}, {6000, 600}}

// flipInChunk writes sixMessages as opts says and flips one bit of the second chunk's records, in the
// data of its last message; it returns the file and that chunk's index.
func flipInChunk(t *testing.T, opts mcap.WriterOptions) (string, *mcap.ChunkIndex) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flip.mcap")
	opts.Chunked, opts.ChunkSize = true, 1<<10
	withIndex := opts
	withIndex.SkipStatistics = false
	writeMCAP(t, path, withIndex, sixMessages...)
	chunks := readMCAPInfo(t, path).ChunkIndexes
	require.Len(t, chunks, 3)
	if opts.SkipStatistics {
		writeMCAP(t, path, opts, sixMessages...) // the same bytes up to the summary
	}
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	ci := chunks[1]
	data[ci.ChunkStartOffset+ci.ChunkLength-50] ^= 0x10
	require.NoError(t, os.WriteFile(path, data, 0o644))
	return path, ci
}

// readLone reads every message of a lone file, failing the test on a fault.
func readLone(t *testing.T, path string, topics ...string) (messages []Message, warnings []string) {
	t.Helper()
	r, err := Open(path)
	require.NoError(t, err)
	defer r.Close()
	for m, err := range r.Messages(topics...) {
		require.NoError(t, err)
		messages = append(messages, m)
	}
	return messages, r.Info().Warnings
}

// A flipped bit in a chunk went unnoticed: the MCAP library's readers do not check the CRC a chunk
// records of its records, and neither did this reader, which yielded the message with the bit flipped
// (so does Humble's rosbag2, for a bag that records the CRC). Through the index, the chunk's messages
// now come out as damaged, named by its message index, and the chunks around it read on.
func TestMCAPChunkCRCThroughTheIndex(t *testing.T) {
	path, ci := flipInChunk(t, mcap.WriterOptions{Compression: mcap.CompressionNone})
	messages, warnings := readLone(t, path)
	require.Empty(t, warnings, "the summary alone says nothing of the chunks' records")
	require.Len(t, messages, 6)
	for i, m := range messages {
		require.Equal(t, "/blob", m.Topic)
		require.Equal(t, "std_msgs/msg/String", m.Type)
		require.Equal(t, int64(sixMessages[i].at), m.LogTime)
		if i != 2 && i != 3 {
			require.NoError(t, m.Damaged)
			require.Len(t, m.Data, 600)
			continue
		}
		require.Nil(t, m.Data)
		var corrupt *CorruptFileError
		require.ErrorAs(t, m.Damaged, &corrupt)
		require.Regexp(t, fmt.Sprintf(`^bag file %s is truncated or corrupt: message on /blob at %d: the chunk at offset %d cannot be read: `+
			`the CRC32 of its records is [0-9a-f]{8}, where the chunk records [0-9a-f]{8}$`, path, m.LogTime, ci.ChunkStartOffset), m.Damaged.Error())
	}

	// Asked for other topics, the damaged chunk's messages are not among them.
	messages, _ = readLone(t, path, "/other")
	require.Empty(t, messages)
}

// In file order nothing says what a damaged chunk held: it comes out as one damaged message at its
// first log time, whatever the topics asked for (as a .db3 row of an unknown topic does), and the
// read goes on. The file's count, which the read makes, leaves it out and says so.
func TestMCAPChunkCRCInFileOrder(t *testing.T) {
	path, ci := flipInChunk(t, mcap.WriterOptions{Compression: mcap.CompressionNone, SkipStatistics: true})
	messages, warnings := readLone(t, path, "/blob")
	require.Len(t, messages, 5)
	for i, at := range []int64{1000, 2000, 3000, 5000, 6000} {
		require.Equal(t, at, messages[i].LogTime)
		if i != 2 {
			require.NoError(t, messages[i].Damaged)
			require.Equal(t, "/blob", messages[i].Topic)
			continue
		}
		require.Equal(t, fmt.Sprintf("(chunk at offset %d)", ci.ChunkStartOffset), messages[i].Topic)
		require.Nil(t, messages[i].Data)
		require.Regexp(t, fmt.Sprintf(`^bag file %s is truncated or corrupt: the chunk at offset %d cannot be read: `+
			`the CRC32 of its records is [0-9a-f]{8}, where the chunk records [0-9a-f]{8}$`, path, ci.ChunkStartOffset), messages[i].Damaged.Error())
	}
	require.Len(t, warnings, 1)
	require.Regexp(t, fmt.Sprintf(`^%s: 1 chunks cannot be read; their messages are not counted, and are read as damaged \(the first: `+
		`bag file %s is truncated or corrupt: the chunk at offset %d cannot be read: the CRC32 .*\)$`, path, path, ci.ChunkStartOffset), warnings[0])

	r, err := Open(path)
	require.NoError(t, err)
	defer r.Close()
	require.False(t, r.Info().Files[0].CountsKnown)
	require.Equal(t, uint64(4), r.Info().MessageCount, "the messages that read")
}

// A flipped bit in a zstd chunk mostly breaks its decompression (the zstd checksum, where the frame has
// one, catches the rest): that is damage to the chunk, as a CRC that disagrees is, not the end of the
// file.
func TestMCAPBrokenZstdChunkIsDamage(t *testing.T) {
	for _, c := range []struct {
		name string
		opts mcap.WriterOptions
	}{
		{"through the index", mcap.WriterOptions{Compression: mcap.CompressionZSTD}},
		{"in file order", mcap.WriterOptions{Compression: mcap.CompressionZSTD, SkipStatistics: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "zstd.mcap")
			opts := c.opts
			opts.Chunked, opts.ChunkSize = true, 1<<10
			var messages []mcapMessage
			for i := range 6 {
				messages = append(messages, mcapMessage{uint64(i+1) * 1000, 600})
			}
			writeMCAP(t, path, opts, messages...)
			ci := readMCAPInfo(t, path).ChunkIndexes[1]
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			data[ci.ChunkStartOffset+ci.ChunkLength-6] ^= 0x01 // in the zstd frame's last block, before its checksum
			require.NoError(t, os.WriteFile(path, data, 0o644))

			got, warnings := readLone(t, path)
			if !opts.SkipStatistics {
				require.Empty(t, warnings, "read through the index")
			}
			var damaged []Message
			for _, m := range got {
				if m.Damaged != nil {
					damaged = append(damaged, m)
				}
			}
			require.NotEmpty(t, damaged)
			require.Contains(t, damaged[0].Damaged.Error(), fmt.Sprintf("the chunk at offset %d cannot be read: ", ci.ChunkStartOffset))
			require.Equal(t, int64(6000), got[len(got)-1].LogTime, "the file reads to its end")
		})
	}
}

// A chunk that records no CRC (0: Humble's rosbag2 writes none) cannot be checked: its records are
// read as they are, a flipped bit in a message's data included. This is why the chunk CRC protects the
// bags this package and Iron's rosbag2 write, not the ones Humble writes.
func TestMCAPChunkWithoutACRCIsNotChecked(t *testing.T) {
	path, ci := flipInChunk(t, mcap.WriterOptions{Compression: mcap.CompressionNone})
	// The chunk's uncompressed_crc: after its opcode, length, start and end times and size.
	patchUint32(t, path, ci.ChunkStartOffset+1+8+8+8+8, 0)
	messages, _ := readLone(t, path)
	require.Len(t, messages, 6)
	for _, m := range messages {
		require.NoError(t, m.Damaged)
	}
	require.Equal(t, byte(0x10), messages[3].Data[600-50], "the flipped bit")
}

func patchUint32(t *testing.T, path string, offset uint64, v uint32) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	binary.LittleEndian.PutUint32(data[offset:], v)
	require.NoError(t, os.WriteFile(path, data, 0o644))
}

// The index reader is this package's own since it checks chunks; its order is the MCAP library's
// log-time order, message for message, ties included: here on files of chunks whose log times overlap
// and whose messages are out of order within them.
func TestMCAPIndexReaderOrderIsTheLibrarys(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		path := filepath.Join(t.TempDir(), "order.mcap")
		// Each message of its own size, which tells it apart where log times tie.
		var messages []mcapMessage
		for i := range 200 {
			messages = append(messages, mcapMessage{uint64(rng.IntN(50)), 4 + 3*i + rng.IntN(3)})
		}
		compression := []mcap.CompressionFormat{mcap.CompressionNone, mcap.CompressionZSTD, mcap.CompressionLZ4}[round%3]
		writeMCAP(t, path, mcap.WriterOptions{Chunked: true, ChunkSize: int64(256 + rng.IntN(4<<10)), Compression: compression}, messages...)

		f, err := os.Open(path)
		require.NoError(t, err)
		lib, err := mcap.NewReader(f)
		require.NoError(t, err)
		it, err := lib.Messages(mcap.UsingIndex(true), mcap.InOrder(mcap.LogTimeOrder))
		require.NoError(t, err)
		var want, got []string
		for {
			_, ch, m, err := it.NextInto(nil)
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			want = append(want, fmt.Sprintf("%s %d %d", ch.Topic, m.LogTime, len(m.Data)))
		}
		lib.Close()
		f.Close()

		messagesRead, warnings := readLone(t, path)
		require.Empty(t, warnings)
		for _, m := range messagesRead {
			got = append(got, fmt.Sprintf("%s %d %d", m.Topic, m.LogTime, len(m.Data)))
		}
		require.Equal(t, want, got, "round %d", round)
	}
}
