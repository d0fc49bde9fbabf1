package bag

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/foxglove/mcap/go/mcap"
	"github.com/stretchr/testify/require"
)

// mcapMessage is one message for writeMCAP: its log time and how many bytes of data (CDR header, then
// zeros).
type mcapMessage struct {
	at   uint64
	size int
}

// writeMCAP writes a ros2-profile MCAP file of /blob messages with the library's writer, so that a
// test can shape chunks as rosbag2 never would.
func writeMCAP(t *testing.T, path string, opts mcap.WriterOptions, messages ...mcapMessage) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	opts.IncludeCRC = true
	w, err := mcap.NewWriter(f, &opts)
	require.NoError(t, err)
	require.NoError(t, w.WriteHeader(&mcap.Header{Profile: "ros2"}))
	require.NoError(t, w.WriteSchema(&mcap.Schema{ID: 1, Name: "std_msgs/msg/String", Encoding: "ros2msg", Data: []byte("string data")}))
	require.NoError(t, w.WriteChannel(&mcap.Channel{ID: 1, SchemaID: 1, Topic: "/blob", MessageEncoding: "cdr", Metadata: map[string]string{}}))
	for i, m := range messages {
		data := make([]byte, m.size)
		copy(data, []byte{0, 1, 0, 0})
		require.NoError(t, w.WriteMessage(&mcap.Message{ChannelID: 1, Sequence: uint32(i), LogTime: m.at, PublishTime: m.at, Data: data}))
	}
	require.NoError(t, w.Close())
}

// readLogTimes reads every message of a lone file, returning their log times and the fault that ends
// the read, if any.
func readLogTimes(t *testing.T, path string) (times []int64, warnings []string, fault error) {
	t.Helper()
	r, err := Open(path)
	require.NoError(t, err)
	defer r.Close()
	for m, err := range r.Messages() {
		if err != nil {
			return times, r.Info().Warnings, err
		}
		times = append(times, m.LogTime)
	}
	return times, r.Info().Warnings, nil
}

// setMaxChunkBytes lowers the chunk bound for one test.
func setMaxChunkBytes(t *testing.T, n uint64) {
	old := maxChunkBytes
	maxChunkBytes = n
	t.Cleanup(func() { maxChunkBytes = old })
}

// A chunk over the bound was refused by the index check, which only sent the file to the file-order
// reader, and that read it whole anyway: one zstd chunk of a 1 GiB message, 40 KB in the file, cost
// 3 GB. The file-order read now stops with a fault at such a chunk, after the messages before it; here
// with the bound lowered to 16 KiB and a message of 64 KiB.
func TestMCAPChunkOverTheBoundIsAFault(t *testing.T) {
	setMaxChunkBytes(t, 16<<10)
	path := filepath.Join(t.TempDir(), "big.mcap")
	writeMCAP(t, path, mcap.WriterOptions{Chunked: true, ChunkSize: 1 << 10, Compression: mcap.CompressionZSTD},
		mcapMessage{1, 600}, mcapMessage{2, 600}, mcapMessage{3, 64 << 10}, mcapMessage{4, 600})

	times, warnings, fault := readLogTimes(t, path)
	require.Len(t, warnings, 1)
	require.Regexp(t, `^`+path+`: its chunk at offset \d+ is too big to read: its index says 655\d\d bytes uncompressed and \d+ compressed, `+
		`more than a chunk may hold here \(16384 bytes, twice bag.MaxMessageBytes\); it is read in file order, which stops with a fault at that chunk$`, warnings[0])
	require.Equal(t, []int64{1, 2}, times, "the messages before the chunk")
	requireChunkTooBig(t, path, fault)
}

// requireChunkTooBig checks the fault of a chunk over the bound: its record too long, or what it
// decompresses to.
func requireChunkTooBig(t *testing.T, path string, fault error) {
	t.Helper()
	var corrupt *CorruptFileError
	require.ErrorAs(t, fault, &corrupt)
	require.Regexp(t, `^bag file `+path+` is truncated or corrupt: (its chunk record at offset \d+ says \d+ bytes,|the chunk at offset \d+ decompresses to) `+
		`more than a chunk may hold here \(16384 bytes, twice bag.MaxMessageBytes\)$`, fault.Error())
}

// A file without a summary is read in file order from the start: there the same bound applies to each
// record and to what a chunk decompresses to, many small messages as much as one big one. A chunk is
// decompressed whole before any of its messages is read, so none of a chunk over the bound is: its
// records once streamed out as they decompressed, those before the bound read before the fault.
func TestMCAPChunkOverTheBoundIsAFaultWithoutAnIndex(t *testing.T) {
	setMaxChunkBytes(t, 16<<10)
	for _, compression := range []mcap.CompressionFormat{mcap.CompressionZSTD, mcap.CompressionLZ4} {
		t.Run(string(compression), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "big.mcap")
			many := []mcapMessage{{1, 600}}
			for i := range 40 {
				many = append(many, mcapMessage{uint64(10 + i), 1 << 10}) // one chunk of 40 KiB
			}
			writeMCAP(t, path, mcap.WriterOptions{Chunked: true, ChunkSize: 64 << 10, Compression: compression, SkipStatistics: true},
				many...)
			times, warnings, fault := readLogTimes(t, path)
			require.Empty(t, times, "the chunk holds every message")
			require.Len(t, warnings, 1)
			require.Contains(t, warnings[0], path+": readable only up to a fault (0 messages counted): ")
			requireChunkTooBig(t, path, fault)

			writeMCAP(t, path, mcap.WriterOptions{Chunked: true, ChunkSize: 1 << 10, Compression: compression, SkipStatistics: true},
				mcapMessage{1, 600}, mcapMessage{2, 600}, mcapMessage{3, 64 << 10}, mcapMessage{4, 600})
			times, _, fault = readLogTimes(t, path)
			require.Equal(t, []int64{1, 2}, times)
			requireChunkTooBig(t, path, fault)
		})
	}
}

// A file whose messages stand outside chunks, with its summary (what ros2 bag record writes with the
// fastwrite storage preset: noChunking) reads every message, in file order: its index has no chunk to
// walk, and read through it the file came out empty, in silence.
func TestMCAPUnchunkedFileWithASummaryReads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fastwrite.mcap")
	writeMCAP(t, path, mcap.WriterOptions{Chunked: false}, mcapMessage{at: 3e9, size: 8}, mcapMessage{at: 1e9, size: 8}, mcapMessage{at: 2e9, size: 8})
	times, warnings, fault := readLogTimes(t, path)
	require.NoError(t, fault)
	require.Empty(t, warnings)
	require.Equal(t, []int64{3e9, 1e9, 2e9}, times, "in file order, as recorded")
	r, err := Open(path)
	require.NoError(t, err)
	defer r.Close()
	require.Equal(t, uint64(3), r.Info().MessageCount, "counted by its summary")
}
