package bag

import (
	"database/sql"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/foxglove/mcap/go/mcap"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
)

// rawZstdFrame is a zstd frame of content in raw blocks, declaring a window of window bytes (a power of
// two from 1 KiB) and no content size: what a few bytes can claim, which the decoder takes at its word.
func rawZstdFrame(window uint64, content []byte) []byte {
	frame := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, byte(bits.TrailingZeros64(window)-10) << 3}
	for {
		n := min(len(content), 128<<10, int(window))
		last := uint32(0)
		if n == len(content) {
			last = 1
		}
		head := uint32(n)<<3 | last // raw block
		frame = append(append(frame, byte(head), byte(head>>8), byte(head>>16)), content[:n]...)
		content = content[n:]
		if last == 1 {
			return frame
		}
	}
}

// zstdWindowed compresses the second chunk it is given as one raw frame declaring a window of window
// bytes, and the others as the MCAP library's writer does.
type zstdWindowed struct {
	window uint64
	out    io.Writer
	plain  []byte
	chunks int
}

func (c *zstdWindowed) Write(p []byte) (int, error) {
	c.plain = append(c.plain, p...)
	return len(p), nil
}
func (c *zstdWindowed) Reset(w io.Writer) { c.out, c.plain = w, c.plain[:0] }
func (c *zstdWindowed) Close() error {
	c.chunks++
	if c.chunks == 2 {
		_, err := c.out.Write(rawZstdFrame(c.window, c.plain))
		return err
	}
	enc, err := zstd.NewWriter(c.out)
	if err != nil {
		return err
	}
	_, err = enc.Write(c.plain)
	return errOr(err, enc.Close())
}

// A zstd chunk of 2 KB whose frame declared a window of 512 MiB read whole, the decoder allocating that
// window first: 538 MB to read this file through the index, 1076 MB in file order (read twice: to
// count, then the messages). The chunk's data can need 8 MiB at most (68 MB in file order, where its
// size is not known): the frame is refused before the window is allocated, the chunk read as damaged,
// and the chunks around it read on, in 0.1 and 0.4 MB.
func TestMCAPZstdChunkDeclaringAHugeWindowIsDamaged(t *testing.T) {
	for _, order := range []string{"through the index", "in file order"} {
		t.Run(order, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "window.mcap")
			comp := &zstdWindowed{window: zstd.MaxWindowSize}
			writeMCAP(t, path, mcap.WriterOptions{Chunked: true, ChunkSize: 1 << 10, SkipStatistics: order == "in file order",
				Compressor: mcap.NewCustomCompressor(mcap.CompressionZSTD, comp)},
				mcapMessage{1, 2 << 10}, mcapMessage{2, 2 << 10}, mcapMessage{3, 2 << 10})
			require.Equal(t, 3, comp.chunks)

			var messages []Message
			allocated := allocatedBy(func() {
				r, err := Open(path)
				require.NoError(t, err)
				defer r.Close()
				for m, err := range r.Messages() {
					require.NoError(t, err)
					messages = append(messages, m)
				}
			})
			t.Logf("%d bytes allocated reading the file", allocated)
			require.Len(t, messages, 3)
			require.NoError(t, messages[0].Damaged)
			require.NoError(t, messages[2].Damaged)
			// Through the index the chunk unpacks to the 2 KiB it says; in file order to what its data can
			// unpack to, 32 KiB a byte.
			prefix := `message on /blob at 2: `
			if order == "in file order" {
				prefix = ``
			}
			refusal := regexp.MustCompile(`^bag file ` + path + ` is truncated or corrupt: ` + prefix + `the chunk at offset \d+ cannot be read: ` +
				`its zstd frame declares a window of 536870912 bytes, more than the (\d+) bytes its (\d+) bytes of zstd data can need here$`)
			got := refusal.FindStringSubmatch(fmt.Sprint(messages[1].Damaged))
			require.NotNil(t, got, "%v", messages[1].Damaged)
			bound, err := strconv.Atoi(got[1])
			require.NoError(t, err)
			packed, err := strconv.Atoi(got[2])
			require.NoError(t, err)
			if order == "in file order" {
				require.Equal(t, 32768*packed, bound)
			} else {
				require.Equal(t, 8<<20, bound)
			}
			require.Less(t, allocated, uint64(64<<20), "bytes allocated reading the file")
		})
	}
}

// A frame may declare more than 8 MiB of window where its data can fill it: a chunk of 16 MiB of
// records declaring a window of 16 MiB reads whole; the same window over a chunk of 2 KiB is refused.
func TestMCAPZstdChunkWindowOverTheCommonOneReadsWhereTheDataFillsIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "window.mcap")
	writeMCAP(t, path, mcap.WriterOptions{Chunked: true, ChunkSize: 1 << 10, Compressor: mcap.NewCustomCompressor(mcap.CompressionZSTD, &zstdWindowed{window: 16 << 20})},
		mcapMessage{1, 2 << 10}, mcapMessage{2, 16 << 20}, mcapMessage{3, 2 << 10})
	messages, _ := readLone(t, path)
	require.Len(t, messages, 3)
	for _, m := range messages {
		require.NoError(t, m.Damaged)
	}
	require.Len(t, messages[1].Data, 16<<20)

	writeMCAP(t, path, mcap.WriterOptions{Chunked: true, ChunkSize: 1 << 10, Compressor: mcap.NewCustomCompressor(mcap.CompressionZSTD, &zstdWindowed{window: 16 << 20})},
		mcapMessage{1, 2 << 10}, mcapMessage{2, 2 << 10}, mcapMessage{3, 2 << 10})
	messages, _ = readLone(t, path)
	require.Len(t, messages, 3)
	require.ErrorContains(t, messages[1].Damaged, "its zstd frame declares a window of 16777216 bytes, more than the 8388608 bytes its")
}

// A compressed message of 17 bytes whose frame declared 290 MiB of content (its window too, in one
// segment) allocated that much before its data ran out: 304 MB to read a Humble recording. Its data
// can need 8 MiB at most: refused before anything is allocated, it is one damaged message, and the
// recording reads in 0.08 MB.
func TestZstdMessageDeclaringHugeContentIsDamaged(t *testing.T) {
	dir := copyDir(t, humbleBag("pub_sqlite3_message_zstd"))
	path := filepath.Join(dir, "pub_sqlite3_message_zstd_0.db3")
	hostile := binary.LittleEndian.AppendUint64([]byte{0x28, 0xb5, 0x2f, 0xfd, 0xe0}, 290<<20) // single segment, 8-byte content size
	hostile = append(hostile, 0x09, 0, 0, 'x')                                                 // one raw block of 1 byte, the last
	require.Len(t, hostile, 17)
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	var at int64
	require.NoError(t, db.QueryRow(`SELECT timestamp FROM messages ORDER BY timestamp LIMIT 1 OFFSET 1`).Scan(&at))
	_, err = db.Exec(`UPDATE messages SET data = ? WHERE timestamp = ?`, hostile, at)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	var damaged []error
	read := 0
	allocated := allocatedBy(func() {
		r, err := Open(dir)
		require.NoError(t, err)
		defer r.Close()
		for m, err := range r.Messages() {
			require.NoError(t, err)
			if m.Damaged != nil {
				damaged = append(damaged, m.Damaged)
				require.Equal(t, at, m.LogTime)
			}
			read++
		}
	})
	t.Logf("%d bytes allocated reading the bag", allocated)
	require.Equal(t, 28, read)
	require.Len(t, damaged, 1)
	require.Regexp(t, fmt.Sprintf(`^bag file %s is truncated or corrupt: message on /\S+ at %d: zstd decompression \(compression_mode MESSAGE\): `+
		`its zstd frame declares a window of 304087040 bytes, more than the 8388608 bytes its 17 bytes of zstd data can need here$`, path, at), damaged[0])
	require.Less(t, allocated, uint64(32<<20), "bytes allocated reading the bag")
}

// A message over 8 MiB, as the zstd library packs it (an 8 MiB window and its content size, 9 MiB), is
// refused by the common decoder for its size, and decoded whole by one made for it.
func TestZstdMessageOverTheCommonWindowReads(t *testing.T) {
	data := make([]byte, 9<<20)
	rng := rand.NewChaCha8([32]byte{7})
	_, _ = rng.Read(data)
	enc, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	packed := enc.EncodeAll(data, nil)
	var h zstd.Header
	require.NoError(t, h.Decode(packed))
	require.Equal(t, uint64(9<<20), h.FrameContentSize)

	d, err := newMessageDecompressor(MaxMessageBytes)
	require.NoError(t, err)
	defer d.close()
	m, err := d.decompress("bag_0.db3", Message{Topic: "/image", Data: packed})
	require.NoError(t, err)
	require.Equal(t, data, m.Data)
}

// A file-compressed storage file of 10 bytes declaring a window of 512 MiB allocated that window before
// its data ran out: 538 MB. It can need 8 MiB at most, and is refused as damage in 0.04 MB.
func TestFileCompressedFileDeclaringAHugeWindowIsDamage(t *testing.T) {
	dir := fileCompressedBag(t, "sqlite3", map[string][]byte{"window_0.db3.zstd": nil})
	path := filepath.Join(dir, "window_0.db3.zstd")
	require.NoError(t, os.WriteFile(path, rawZstdFrame(zstd.MaxWindowSize, []byte("x")), 0o644))

	var damage, err error
	allocated := allocatedBy(func() { _, damage, err = decompressFile(path, t.TempDir()) })
	t.Logf("%d bytes allocated decompressing the file", allocated)
	require.NoError(t, err)
	require.EqualError(t, damage, "bag file "+path+" is truncated or corrupt: zstd decompression: "+
		"its zstd frame declares a window of 536870912 bytes, more than the 8388608 bytes its 10 bytes of zstd data can need here")
	require.Less(t, allocated, uint64(1<<20), "bytes allocated decompressing the file")

	_, err = Open(dir)
	require.ErrorContains(t, err, "open bag "+dir+": bag file "+path+" is truncated or corrupt: zstd decompression: its zstd frame declares a window of 536870912 bytes")
}
