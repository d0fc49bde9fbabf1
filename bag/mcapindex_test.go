package bag

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/foxglove/mcap/go/mcap"
	"github.com/stretchr/testify/require"
)

// chunkedRecording writes 30 messages of 20 kB into chunks of about 64 kB, compressed as given, and
// returns the storage file and its chunk indexes.
func chunkedRecording(t *testing.T, compression string) (string, []*mcap.ChunkIndex) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rec")
	w, err := Create(dir, WriterOptions{Compression: compression, ChunkSize: 64 << 10})
	require.NoError(t, err)
	require.NoError(t, w.AddTopic(Topic{Name: "/blob", Type: "std_msgs/msg/String", Definition: "string data\n"}))
	for i := range 30 {
		data := make([]byte, 20<<10)
		data[1], data[4] = 1, byte(i) // little-endian CDR, then anything
		require.NoError(t, w.Write("/blob", int64(i+1)*1e6, data))
	}
	require.NoError(t, w.Close())
	path := filepath.Join(dir, "rec_0.mcap")
	info := readMCAPInfo(t, path)
	require.Greater(t, len(info.ChunkIndexes), 3)
	return path, info.ChunkIndexes
}

// readMCAPInfo reads the summary of the MCAP file at path with the library itself: its header, schemas,
// channels and chunk indexes as written.
func readMCAPInfo(t *testing.T, path string) *mcap.Info {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	r, err := mcap.NewReader(f)
	require.NoError(t, err)
	info, err := r.Info()
	require.NoError(t, err)
	return info
}

func patchUint64(t *testing.T, path string, offset uint64, v uint64) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	binary.LittleEndian.PutUint64(data[offset:], v)
	require.NoError(t, os.WriteFile(path, data, 0o644))
}

// fixSummaryCRC makes the CRC in the footer of the file at path that of its summary as it stands, as a
// writer of a summary that lies would: the summary is then used, and the lie is what is tested.
func fixSummaryCRC(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	footerAt := len(data) - len(mcap.Magic) - footerRecordBytes
	require.Equal(t, byte(mcap.OpFooter), data[footerAt])
	start := binary.LittleEndian.Uint64(data[footerAt+9:])
	require.NotZero(t, start)
	binary.LittleEndian.PutUint32(data[footerAt+25:], crc32.ChecksumIEEE(data[start:footerAt+25]))
	require.NoError(t, os.WriteFile(path, data, 0o644))
}

// One damaged length in a chunk header or in its index made the index reader panic (makeslice) or
// allocate what the field claimed (8 GB for a 2 MB file). The file is now read in file order, which
// needs neither, with a warning naming the chunk: every message comes back.
func TestMCAPIndexThatDisagreesWithItsChunksIsNotUsed(t *testing.T) {
	for _, c := range []struct {
		name, compression string
		patch             func(t *testing.T, path string, ci *mcap.ChunkIndex)
		want              string
	}{
		{"chunk header claims 8 GiB", "zstd", func(t *testing.T, path string, ci *mcap.ChunkIndex) {
			patchUint64(t, path, ci.ChunkStartOffset+25, 8<<30)
		}, "the chunk says 8589934592 bytes uncompressed, its index"},
		{"chunk header claims 2^63", "none", func(t *testing.T, path string, ci *mcap.ChunkIndex) {
			patchUint64(t, path, ci.ChunkStartOffset+25, 1<<63)
		}, "the chunk says 9223372036854775808 bytes uncompressed"},
		{"record length", "zstd", func(t *testing.T, path string, ci *mcap.ChunkIndex) {
			patchUint64(t, path, ci.ChunkStartOffset+1, 1<<40)
		}, "the chunk's record is 1099511627776 bytes long"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path, indexes := chunkedRecording(t, c.compression)
			c.patch(t, path, indexes[2])
			r, err := Open(path)
			require.NoError(t, err)
			defer r.Close()
			require.Len(t, r.Info().Warnings, 1)
			require.Contains(t, r.Info().Warnings[0], path+": its index disagrees with its data (chunk at offset ")
			require.Contains(t, r.Info().Warnings[0], c.want)
			n := 0
			for m, err := range r.Messages() {
				if c.name == "record length" && err != nil {
					// The chunk's own length is the damage: a linear read stops there, as for a cut file.
					var corrupt *CorruptFileError
					require.ErrorAs(t, err, &corrupt)
					break
				}
				require.NoError(t, err)
				require.Equal(t, byte(n), m.Data[4], "in order")
				n++
			}
			if c.name != "record length" {
				require.Equal(t, 30, n)
			}
		})
	}
}

// The summary's chunk index is checked against the file too: a length past its end is refused before
// the index reader allocates it.
func TestMCAPChunkIndexPastTheEndIsNotUsed(t *testing.T) {
	path, indexes := chunkedRecording(t, "zstd")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	// The chunk index record of the third chunk: find its chunk_length (the field after the chunk's
	// start offset) by value.
	ci := indexes[2]
	var field [16]byte
	binary.LittleEndian.PutUint64(field[:], ci.ChunkStartOffset)
	binary.LittleEndian.PutUint64(field[8:], ci.ChunkLength)
	at := -1
	for i := len(data) - 16; i > int(ci.ChunkStartOffset); i-- {
		if string(data[i:i+16]) == string(field[:]) {
			at = i + 8
			break
		}
	}
	require.Positive(t, at, "the chunk index record is in the summary")
	patchUint64(t, path, uint64(at), 0x7fffffffffffff00)
	fixSummaryCRC(t, path)

	r, err := Open(path)
	require.NoError(t, err)
	defer r.Close()
	require.Len(t, r.Info().Warnings, 1)
	require.Contains(t, r.Info().Warnings[0], "bytes, past the end of the file")
	n := 0
	for _, err := range r.Messages() {
		require.NoError(t, err)
		n++
	}
	require.Equal(t, 30, n)
}
