package bag

import (
	"io"
	"path/filepath"
	"testing"

	"github.com/foxglove/mcap/go/mcap"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
)

// overfull compresses the second chunk it is given as a zstd chunk whose data holds 64 MiB of zeros
// after its records, the chunk and its index stating the records' size: in one frame that declares
// its size (EncodeAll), in one that does not (the streaming writer's, as this package's recordings
// are), or in a second frame after the records'. The others it compresses as they are.
type overfull struct {
	how    string
	out    io.Writer
	plain  []byte
	chunks int
}

const overfullZeros = 64 << 20

func (c *overfull) Write(p []byte) (int, error) { c.plain = append(c.plain, p...); return len(p), nil }
func (c *overfull) Reset(w io.Writer)           { c.out, c.plain = w, c.plain[:0] }
func (c *overfull) Close() error {
	c.chunks++
	var zeros []byte
	if c.chunks == 2 {
		zeros = make([]byte, overfullZeros)
	}
	enc, err := zstd.NewWriter(c.out)
	if err != nil {
		return err
	}
	switch c.how {
	case "declared":
		_, err = c.out.Write(enc.EncodeAll(append(c.plain, zeros...), nil))
	case "streamed":
		for _, p := range [][]byte{c.plain, zeros} {
			if _, err := enc.Write(p); err != nil {
				return err
			}
		}
	case "second frame":
		if _, err = c.out.Write(enc.EncodeAll(c.plain, nil)); err == nil && zeros != nil {
			_, err = c.out.Write(enc.EncodeAll(zeros, nil))
		}
	}
	return errOr(err, enc.Close())
}

func errOr(err, other error) error {
	if err != nil {
		return err
	}
	return other
}

// A zstd chunk whose data holds more than the size it states (and its index with it) is read through
// the index as far as that size and no further: the chunk is damaged, its message read as such, and the
// file's other chunks are read in log-time order without a warning. The index reader once decompressed
// with the MCAP library's DecodeAll, which does not stop at the chunk's size (a chunk that claimed 4 KiB
// and held 200 MB allocated 1 GB), and a check at open walked every zstd block header of every chunk to
// send such a file to the file-order read, which decompressed the whole frame: here, where the frame
// holds 64 MiB of zeros, 278 MB allocated; now 10 MB. The check also cost 2 s of a cold 2.4 GB
// recording before its first message.
func TestMCAPZstdChunkThatUnpacksPastItsSizeIsDamaged(t *testing.T) {
	for _, how := range []string{"declared", "streamed", "second frame", "past what a chunk may hold"} {
		t.Run(how, func(t *testing.T) {
			if how == "past what a chunk may hold" {
				// Its zeros past the most a chunk may hold here, not only past what it says: still
				// the chunk's damage, not a fault that ends the read.
				setMaxChunkBytes(t, 1<<20)
				how = "declared"
			}
			path := filepath.Join(t.TempDir(), "overfull.mcap")
			comp := &overfull{how: how}
			// Messages over the chunk size: a chunk each.
			writeMCAP(t, path, mcap.WriterOptions{Chunked: true, ChunkSize: 1 << 10, Compressor: mcap.NewCustomCompressor(mcap.CompressionZSTD, comp)},
				mcapMessage{1, 2 << 10}, mcapMessage{2, 2 << 10}, mcapMessage{3, 2 << 10})
			require.Equal(t, 3, comp.chunks)

			var times []int64
			var damaged []error
			var warnings []string
			allocated := allocatedBy(func() {
				r, err := Open(path)
				require.NoError(t, err)
				defer r.Close()
				warnings = r.Info().Warnings
				for m, err := range r.Messages() {
					require.NoError(t, err)
					times = append(times, m.LogTime)
					damaged = append(damaged, m.Damaged)
				}
			})
			require.Empty(t, warnings, "read through the index")
			require.Equal(t, []int64{1, 2, 3}, times)
			require.NoError(t, damaged[0])
			require.NoError(t, damaged[2])
			require.Regexp(t, `^bag file `+path+` is truncated or corrupt: message on /blob at 2: the chunk at offset \d+ cannot be read: `+
				`it decompresses to more than the \d+ bytes it says$`, damaged[1])
			require.Less(t, allocated, uint64(overfullZeros/2), "bytes allocated reading the file")
		})
	}
}
