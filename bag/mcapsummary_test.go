package bag

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/foxglove/mcap/go/mcap"
	"github.com/stretchr/testify/require"
)

// mcapBytes builds an MCAP file record by record, as a hostile or damaged file would be laid out, where
// the library's writer only writes sound ones.
type mcapBytes struct{ b []byte }

func (m *mcapBytes) u16(v uint16) *mcapBytes {
	m.b = binary.LittleEndian.AppendUint16(m.b, v)
	return m
}
func (m *mcapBytes) u32(v uint32) *mcapBytes {
	m.b = binary.LittleEndian.AppendUint32(m.b, v)
	return m
}
func (m *mcapBytes) u64(v uint64) *mcapBytes {
	m.b = binary.LittleEndian.AppendUint64(m.b, v)
	return m
}
func (m *mcapBytes) str(s string) *mcapBytes {
	m.u32(uint32(len(s)))
	m.b = append(m.b, s...)
	return m
}

// record appends a record of opcode op whose body body writes.
func (m *mcapBytes) record(op mcap.OpCode, body func(r *mcapBytes)) *mcapBytes {
	var r mcapBytes
	body(&r)
	m.b = append(m.b, byte(op))
	m.u64(uint64(len(r.b)))
	m.b = append(m.b, r.b...)
	return m
}

// claim appends the start of a record of opcode op that says it is n bytes long, and nothing of it.
func (m *mcapBytes) claim(op mcap.OpCode, n uint64) *mcapBytes {
	m.b = append(m.b, byte(op))
	return m.u64(n)
}

func (m *mcapBytes) header() *mcapBytes {
	m.b = append(m.b, mcap.Magic...)
	return m.record(mcap.OpHeader, func(r *mcapBytes) { r.str("ros2").str("test") })
}

func (m *mcapBytes) schema(id uint16, name string) *mcapBytes {
	return m.record(mcap.OpSchema, func(r *mcapBytes) {
		r.u16(id).str(name).str("ros2msg")
		r.u32(uint32(len("string data"))).b = append(r.b, "string data"...)
	})
}

func (m *mcapBytes) channel(id, schema uint16, topic string, metadata ...string) *mcapBytes {
	return m.record(mcap.OpChannel, func(r *mcapBytes) {
		r.u16(id).u16(schema).str(topic).str("cdr")
		var kv mcapBytes
		for _, s := range metadata {
			kv.str(s)
		}
		r.u32(uint32(len(kv.b))).b = append(r.b, kv.b...)
	})
}

func (m *mcapBytes) statistics(messages uint64, counts map[uint16]uint64) *mcapBytes {
	return m.record(mcap.OpStatistics, func(r *mcapBytes) {
		r.u64(messages).u16(1).u32(uint32(len(counts))).u32(0).u32(0).u32(0).u64(0).u64(0)
		r.u32(uint32(len(counts) * 10))
		for id, n := range counts {
			r.u16(id).u64(n)
		}
	})
}

// message appends a message record on channel at log time at.
func (m *mcapBytes) message(channel uint16, at uint64, data string) *mcapBytes {
	return m.record(mcap.OpMessage, func(r *mcapBytes) {
		r.u16(channel).u32(0).u64(at).u64(at)
		r.b = append(r.b, data...)
	})
}

// chunk appends an uncompressed chunk of the records that records writes, with their CRC, and returns
// its offset and length.
func (m *mcapBytes) chunk(start, end uint64, records func(r *mcapBytes)) (offset, length uint64) {
	var in mcapBytes
	records(&in)
	offset = uint64(len(m.b))
	m.record(mcap.OpChunk, func(r *mcapBytes) {
		r.u64(start).u64(end).u64(uint64(len(in.b))).u32(crc32.ChecksumIEEE(in.b)).str("").u64(uint64(len(in.b)))
		r.b = append(r.b, in.b...)
	})
	return offset, uint64(len(m.b)) - offset
}

// chunkIndex appends the index of an uncompressed chunk of length bytes at offset, without message
// indexes.
func (m *mcapBytes) chunkIndex(start, end, offset, length uint64) *mcapBytes {
	records := length - minChunkRecordBytes
	return m.record(mcap.OpChunkIndex, func(r *mcapBytes) {
		r.u64(start).u64(end).u64(offset).u64(length).u32(0).u64(0).str("").u64(records).u64(records)
	})
}

// dataEnd ends the data section, and the file where there is no summary.
func (m *mcapBytes) dataEnd() *mcapBytes {
	return m.record(mcap.OpDataEnd, func(r *mcapBytes) { r.u32(0) })
}

// footer appends the footer, its summary starting at summaryStart (0: none), with the summary's CRC
// when crc is set, and the closing magic.
func (m *mcapBytes) footer(summaryStart uint64, crc bool) *mcapBytes {
	m.b = append(m.b, byte(mcap.OpFooter))
	m.u64(20).u64(summaryStart).u64(0)
	var sum uint32
	if crc && summaryStart > 0 {
		sum = crc32.ChecksumIEEE(m.b[summaryStart:])
	}
	m.u32(sum)
	m.b = append(m.b, mcap.Magic...)
	return m
}

func (m *mcapBytes) write(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "built.mcap")
	require.NoError(t, os.WriteFile(path, m.b, 0o644))
	return path
}

// allocatedBy is how many bytes the heap handed out while f ran: what a file made the reader allocate,
// whether or not the memory was touched.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// openAndRead opens the lone file at path and reads every message, as `dysl replay` would, and
// returns what went wrong: the error of Open, or the warnings and the fault that ends the read.
func openAndRead(path string) string {
	r, err := Open(path)
	if err != nil {
		return err.Error()
	}
	defer r.Close()
	said := r.Info().Warnings
	for _, err := range r.Messages() {
		if err != nil {
			said = append(said, err.Error())
			break
		}
	}
	return strings.Join(said, "\n")
}

// hostileSummaries are small files whose header or summary claims what a reader would allocate: a
// record's length, and records that expand as they are parsed; with what reading each says (FILE for
// its path).
func hostileSummaries() []struct {
	name, want string
	build      func() *mcapBytes
} {
	// the data section of a file with a summary: a schema, a channel, no messages
	data := func() *mcapBytes {
		return new(mcapBytes).header().schema(1, "std_msgs/msg/String").channel(1, 1, "/chatter").dataEnd()
	}
	return []struct {
		name, want string
		build      func() *mcapBytes
	}{
		{"header claims 2 GiB",
			`^open bag: FILE: not an MCAP file: its header record says 2147483646 bytes, past the end of the file \(17 bytes\)$`,
			func() *mcapBytes {
				m := new(mcapBytes)
				m.b = append(m.b, mcap.Magic...)
				return m.claim(mcap.OpHeader, 1<<31-2)
			}},
		{"summary record claims 2 GiB",
			`^FILE: readable only up to a fault \(0 messages counted\): bag file FILE is truncated or corrupt: its channel record at offset 142 says ` +
				`2147483646 bytes, past the end of the file \(188 bytes\)\n` +
				`FILE: its summary is not used \(its channel record at offset 142 says 2147483646 bytes, past the summary's end at offset 151\), ` +
				`so it is read in file order, and counted by reading it\n` +
				`bag file FILE is truncated or corrupt: its channel record at offset 142 says 2147483646 bytes, past the end of the file \(188 bytes\)$`,
			func() *mcapBytes {
				m := data()
				start := uint64(len(m.b))
				return m.claim(mcap.OpChannel, 1<<31-2).footer(start, false)
			}},
		{"a header claims 64 KiB and more", `^open bag: FILE: not an MCAP file: its header record says 65537 bytes, more than a header holds here \(65536: ` +
			`a profile and a library's name\)$`,
			func() *mcapBytes {
				m := new(mcapBytes)
				m.b = append(m.b, mcap.Magic...)
				m.claim(mcap.OpHeader, 64<<10+1)
				m.b = append(m.b, make([]byte, 64<<10+1)...)
				return m
			}},
		{"a channel of 100000 metadata entries", `^$`, func() *mcapBytes {
			m := data()
			start := uint64(len(m.b))
			var kv []string
			for i := range 100000 {
				kv = append(kv, fmt.Sprint(i), "")
			}
			return m.channel(1, 1, "/chatter", kv...).statistics(0, nil).footer(start, true)
		}},
		{"4096 channels of 256 metadata entries", `^$`, func() *mcapBytes {
			m := data()
			start := uint64(len(m.b))
			var kv []string
			for i := range 256 {
				kv = append(kv, fmt.Sprint(i), "")
			}
			for id := range uint16(4096) {
				m.channel(id+1, 1, "/chatter", kv...)
			}
			return m.statistics(0, nil).footer(start, true)
		}},
		{"20000 chunk indexes of 50 channels",
			`^FILE: its summary is not used \(its summary indexes 20000 chunks, more than the 142 bytes before it can hold, at 49 bytes a chunk ` +
				`at least\), so it is read in file order, and counted by reading it$`,
			func() *mcapBytes {
				m := data()
				start := uint64(len(m.b))
				for i := range uint64(20000) {
					m.record(mcap.OpChunkIndex, func(r *mcapBytes) {
						r.u64(i).u64(i).u64(8).u64(100).u32(50 * 10)
						for c := range uint16(50) {
							r.u16(c).u64(0)
						}
						r.u64(0).str("").u64(0).u64(0)
					})
				}
				return m.statistics(0, nil).footer(start, true)
			}},
		{"statistics of 65536 channel counts", `^$`, func() *mcapBytes {
			m := data()
			start := uint64(len(m.b))
			counts := map[uint16]uint64{}
			for id := range 1 << 16 {
				counts[uint16(id)] = 1
			}
			return m.statistics(0, counts).footer(start, true)
		}},
	}
}

// The MCAP library read the header and the summary allocating what each record's length claimed, up to
// 2 GiB, and parsed the summary's records into maps many times their size; both are read here now, each
// record no longer than the file or the summary holds, and of each only what is used. Before, on these
// files (go test ./bag -run HostileSummaryAllocation -v prints them): a header that claims 2 GiB, in a
// file of 17 bytes, 2.1 GB; a summary record that claims 2 GiB, in 188 bytes, 2.1 GB; one that claims
// 500 MiB, 1.6 GB (read three times); a channel of 100000 metadata entries, 1.3 MB, 37 MB; 4096 channels
// of 256 entries, 11 MB, 508 MB; 20000 chunk indexes, 11 MB, 178 MB; statistics of 65536 channel counts,
// 656 KB, 16 MB. Now each file costs 8 times its size and a megabyte at most.
func TestMCAPHostileSummaryAllocation(t *testing.T) {
	for _, c := range hostileSummaries() {
		t.Run(c.name, func(t *testing.T) {
			m := c.build()
			path := m.write(t)
			var said string
			n := allocatedBy(func() { said = openAndRead(path) })
			t.Logf("%-40s file %8d bytes, allocated %11d bytes", c.name, len(m.b), n)
			require.Regexp(t, c.want, strings.ReplaceAll(said, path, "FILE"))
			require.LessOrEqual(t, n, 8*uint64(len(m.b))+1<<20)
		})
	}
}

// The summary's CRC is checked (it was not): a summary with a flipped bit is not used, and the file is
// read and counted in file order, which finds its messages as they are; here the bit is in the message
// count of its statistics, which Info would have said.
func TestMCAPSummaryCRC(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sum.mcap")
	writeMCAP(t, path, mcap.WriterOptions{Chunked: true, ChunkSize: 1 << 10}, sixMessages...)
	info := readMCAPInfo(t, path)
	require.Equal(t, uint64(6), info.Statistics.MessageCount)
	require.NotZero(t, info.Footer.SummaryCRC)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	at := info.Footer.SummaryStart
	for mcap.OpCode(data[at]) != mcap.OpStatistics {
		at += 9 + binary.LittleEndian.Uint64(data[at+1:])
	}
	data[at+9] ^= 1 // the message count, first of its fields: 7
	require.NoError(t, os.WriteFile(path, data, 0o644))

	r, err := Open(path)
	require.NoError(t, err)
	defer r.Close()
	require.Len(t, r.Info().Warnings, 1)
	require.Regexp(t, `^`+path+`: its summary is not used \(the CRC32 of its summary is [0-9a-f]{8}, where its footer records [0-9a-f]{8}\), `+
		`so it is read in file order, and counted by reading it$`, r.Info().Warnings[0])
	require.Equal(t, uint64(6), r.Info().MessageCount)
	n := 0
	for _, err := range r.Messages() {
		require.NoError(t, err)
		n++
	}
	require.Equal(t, 6, n)
}

// A summary that lists one chunk twice was believed, and the chunk read twice, its messages yielded
// twice; a summary of a few kilobytes could list a chunk of hundreds of megabytes thousands of times.
// The index is not used then, and the file is read once, in file order.
func TestMCAPChunkListedTwiceIsReadOnce(t *testing.T) {
	m := new(mcapBytes).header().schema(1, "std_msgs/msg/String").channel(1, 1, "/chatter")
	offset, length := m.chunk(10, 20, func(r *mcapBytes) {
		r.message(1, 10, "\x00\x01\x00\x00a").message(1, 20, "\x00\x01\x00\x00b")
	})
	m.dataEnd()
	start := uint64(len(m.b))
	m.schema(1, "std_msgs/msg/String").channel(1, 1, "/chatter").chunkIndex(10, 20, offset, length).chunkIndex(10, 20, offset, length)
	path := m.statistics(2, map[uint16]uint64{1: 2}).footer(start, true).write(t)

	messages, warnings := readLone(t, path)
	require.Equal(t, []string{fmt.Sprintf("%s: its index lists the chunk at offset %d more than once, so it is read in file order, not through the index",
		path, offset)}, warnings)
	require.Len(t, messages, 2)
	require.Equal(t, "a", string(messages[0].Data[4:]))
	require.Equal(t, "b", string(messages[1].Data[4:]))
}
