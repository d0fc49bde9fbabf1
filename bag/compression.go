package bag

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// rosbag2's compression, as `ros2 bag record --compression-format zstd --compression-mode file|message`
// writes it: in file mode every storage file is zstd-compressed whole once it is closed (and listed in
// relative_file_paths with a .zstd suffix); in message mode each message's serialized data is a zstd
// frame inside an otherwise ordinary storage file.
const (
	compressionZstd    = "zstd"
	compressedSuffix   = ".zstd"
	compressionFile    = "FILE"
	compressionMessage = "MESSAGE"
)

// compressionMode is how a bag's data is compressed.
type compressionMode int

const (
	compressedNone compressionMode = iota
	compressedFile
	compressedMessage
)

// parseCompression checks metadata.yaml's compression_format and compression_mode. Humble writes the
// mode in upper case ("FILE", "MESSAGE") and leaves both empty for an uncompressed bag.
func parseCompression(format, mode string) (compressionMode, error) {
	var m compressionMode
	switch strings.ToUpper(mode) {
	case "", "NONE":
		m = compressedNone
	case compressionFile:
		m = compressedFile
	case compressionMessage:
		m = compressedMessage
	default:
		return 0, fmt.Errorf("compression_mode %q not supported, expected \"\", \"NONE\", \"FILE\" or \"MESSAGE\"", mode)
	}
	if m != compressedNone && format != compressionZstd {
		return 0, fmt.Errorf("compression_format %q with compression_mode %q not supported, expected %q (the only format rosbag2 ships)",
			format, mode, compressionZstd)
	}
	return m, nil
}

// decompressFile writes the zstd file src, decompressed, into dir under its name without .zstd, and
// returns the new path. Storage engines need a seekable file on disk (SQLite above all), so a
// file-compressed bag is read from such a copy. A zstd stream that is damaged or cut short (a copy
// interrupted) leaves what decompressed before the fault, which is returned as damage: the storage
// file is then read as far as it goes, as an uncompressed file cut at that point would be; so is a
// frame declaring more window than the file can need (zstdWindowBound), refused before the decoder
// allocates it. A failure to write the copy (a full disk) is an error of its own, not the bag's.
func decompressFile(src, dir string) (path string, damage, err error) {
	in, err := os.Open(src)
	if err != nil {
		return "", nil, err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return "", nil, err
	}
	limit := scratchLimit(st.Size())
	window := zstdWindowBound(uint64(st.Size()), uint64(limit))
	dec, err := newZstdDecoder(window)
	if err == nil {
		err = dec.Reset(in)
	}
	if err != nil {
		return "", nil, &CorruptFileError{Path: src, Err: fmt.Errorf("zstd: %w", err)}
	}
	defer dec.Close()
	dst := filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), compressedSuffix))
	out, err := os.Create(dst)
	if err != nil {
		return "", nil, err
	}
	w := &errorKeepingWriter{w: out}
	_, errCopy := io.Copy(w, io.LimitReader(dec, limit))
	if errCopy == nil {
		// One byte more says whether the copy stopped at the limit or at the end.
		if n, err := dec.Read(make([]byte, 1)); n > 0 {
			errCopy = fmt.Errorf("it decompresses to more than %d bytes, the most a storage file of %d bytes may unpack to here "+
				"(%d times its size, or %d bytes; decompress it with zstd -d and open the storage file to read it whole)",
				limit, st.Size(), scratchRatio, scratchFloor)
		} else if !errors.Is(err, io.EOF) {
			errCopy = err
		}
	}
	if zstdRefused(errCopy) {
		head := make([]byte, zstd.HeaderMaxSize)
		n, _ := in.ReadAt(head, 0)
		errCopy = newZstdWindowError(head[:n], uint64(st.Size()), window)
	}
	if err := errors.Join(w.err, out.Close()); err != nil {
		return "", nil, fmt.Errorf("decompressing %s into %s: %w", src, dir, err)
	}
	if errCopy != nil {
		damage = &CorruptFileError{Path: src, Err: fmt.Errorf("zstd decompression: %w", errCopy)}
	}
	return dst, damage, nil
}

// A file-compressed storage file is decompressed to a scratch copy before it is read, and zstd packs
// zeros 30000-fold: a 34 KB file wrote 1 GiB into the temporary directory (often a RAM disk) before
// SQLite saw a page. The copy is cut at scratchRatio times the compressed size, or scratchFloor bytes
// when that is more, and what lies beyond is reported as damage. Recorded data packs far less (camera
// frames and joint states 2 to 10-fold, the Humble recordings here 20-fold, mostly sqlite3's page
// slack); only near-constant data passes 1000-fold. The floor keeps small files, whose headers
// and empty pages weigh most, clear of the ratio. Variables so that tests can lower them.
var (
	scratchRatio int64 = 1000
	scratchFloor int64 = 64 << 20
)

// scratchLimit is how many bytes a file-compressed storage file of size bytes may unpack to.
func scratchLimit(size int64) int64 {
	if size > math.MaxInt64/scratchRatio {
		return math.MaxInt64
	}
	return max(scratchFloor, size*scratchRatio)
}

// errorKeepingWriter keeps the error of its writer, so that a failed copy says which side failed.
type errorKeepingWriter struct {
	w   io.Writer
	err error
}

func (k *errorKeepingWriter) Write(p []byte) (int, error) {
	n, err := k.w.Write(p)
	if err != nil && k.err == nil {
		k.err = err
	}
	return n, err
}

// MaxMessageBytes bounds one message's data once decompressed (compression_mode MESSAGE), and as a
// .db3 row holds it; an MCAP chunk may hold twice this. zstd frames of zeros shrink a thousandfold,
// so a damaged or hostile bag of a few megabytes could otherwise claim all the memory; this holds an
// 8192x8192 rgba8 frame (256 MiB) with room to spare, 12 times a 4K rgb8 one. Decoding grows its
// buffer by doubling, so a refused frame costs up to about three times this: a replay of a
// bag with a 3 GiB frame of zeros peaked at 3.8 GB with a bound of 1 GiB, at 1.45 GB with this one.
const MaxMessageBytes = 300 << 20

// maxMessageBytes is MaxMessageBytes where the reader applies it; tests lower it to show a refusal
// without allocating what it refuses.
var maxMessageBytes uint64 = MaxMessageBytes

// messageDecompressor undoes message-mode compression, one message at a time.
type messageDecompressor struct {
	dec      *boundedZstd
	maxBytes uint64
}

// newMessageDecompressor refuses messages that decompress to more than maxBytes.
func newMessageDecompressor(maxBytes uint64) (*messageDecompressor, error) {
	dec, err := newBoundedZstd(maxBytes)
	if err != nil {
		return nil, err
	}
	return &messageDecompressor{dec: dec, maxBytes: maxBytes}, nil
}

func (d *messageDecompressor) decompress(file string, m Message) (Message, error) {
	// Decoded whole, a frame takes no window apart from its content, but the decoder allocates the
	// content a frame declares: the bound covers both.
	bound := min(d.maxBytes, zstdWindowBound(uint64(len(m.Data)), d.maxBytes))
	var data []byte
	err := d.dec.decode(m.Data, bound, func(dec *zstd.Decoder) (err error) {
		data, err = dec.DecodeAll(m.Data, nil)
		return err
	})
	var refused *zstdWindowError
	if errors.As(err, &refused) && bound == d.maxBytes {
		err = fmt.Errorf("it unpacks to more than %d bytes, the most a message may hold here (bag.MaxMessageBytes)", d.maxBytes)
	}
	if err != nil {
		return Message{}, &CorruptFileError{Path: file,
			Err: fmt.Errorf("message on %s at %d: zstd decompression (compression_mode MESSAGE): %w", m.Topic, m.LogTime, err)}
	}
	m.Data = data
	return m, nil
}

func (d *messageDecompressor) close() { d.dec.close() }
