package bag

import (
	"errors"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// The zstd decoder allocates the window a frame's header declares before it decodes a byte: the
// window and 1 MiB more where it streams (an MCAP chunk, a file-compressed storage file), the
// declared content where it decodes a message whole. Its own bound is 512 MiB, whatever the frame
// holds: a chunk of 2 KB declaring that window cost 538 MB to read, a message of 17 bytes declaring
// 290 MiB of content 304 MB. No data uses more window than it unpacks to, and zstd data unpacks to
// 32 KiB per byte at most (a block unpacks to 128 KiB at most and takes 4 bytes at least: an RLE
// block, its 3-byte header and the byte it repeats), so each decoder here is bounded by what its
// data can unpack to. But never below 8 MiB: an encoder that does not know the size of what it
// compresses declares its whole window, which small data does not fill (klauspost's, which Writer
// uses, declares 8 MiB for a chunk of 1 MiB; libzstd's levels 1 to 19 up to 8 MiB; RFC 8878 asks
// encoders to declare no more). A frame that declares more than its data can need is refused as
// damage: only libzstd's ultra levels and long mode write such frames, and only for data smaller
// than their window.
const (
	// zstdCommonWindow is the window every zstd decoder here allows, whatever its data.
	zstdCommonWindow = 8 << 20
	// zstdMostPerByte is the most one byte of zstd data unpacks to.
	zstdMostPerByte = (128 << 10) / 4
)

// zstdWindowBound is the most window (and, for data decoded whole, content) that the frames of packed
// bytes of zstd data, unpacking to limit bytes at most, may declare.
func zstdWindowBound(packed, limit uint64) uint64 {
	unpacks := limit
	if packed < limit/zstdMostPerByte {
		unpacks = packed * zstdMostPerByte
	}
	return max(zstdCommonWindow, min(unpacks, zstd.MaxWindowSize))
}

// newZstdDecoder makes a decoder that refuses a frame declaring more than bound bytes of window (and,
// decoding whole, of content) before allocating it.
func newZstdDecoder(bound uint64) (*zstd.Decoder, error) {
	return zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(bound))
}

// zstdRefused says whether the decoder refused a frame for the window or size it declares.
func zstdRefused(err error) bool {
	return errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrDecoderSizeExceeded)
}

// zstdWindowError is zstd data refused for the window (or size) a frame of it declares: more than its
// data can need.
type zstdWindowError struct {
	declared string // what its first frame declares, where that is over the bound; or empty
	bound    uint64 // the most its frames may declare
	packed   uint64 // its size
}

// newZstdWindowError reads what the first frame of data (at least its first zstd.HeaderMaxSize bytes)
// declares, to name it where it is what the decoder refused.
func newZstdWindowError(data []byte, packed, bound uint64) *zstdWindowError {
	e := &zstdWindowError{bound: bound, packed: packed}
	var h zstd.Header
	if h.Decode(data) != nil {
		return e
	}
	switch {
	case h.SingleSegment && h.FrameContentSize > bound: // its content is its window
		e.declared = fmt.Sprintf("a window of %d bytes", h.FrameContentSize)
	case h.WindowSize > bound:
		e.declared = fmt.Sprintf("a window of %d bytes", h.WindowSize)
	case h.HasFCS && h.FrameContentSize > bound:
		e.declared = fmt.Sprintf("%d bytes of content", h.FrameContentSize)
	}
	return e
}

func (e *zstdWindowError) Error() string {
	if e.declared == "" {
		return fmt.Sprintf("a zstd frame of it declares a window or content over %d bytes, the most its %d bytes of zstd data can need here", e.bound, e.packed)
	}
	return fmt.Sprintf("its zstd frame declares %s, more than the %d bytes its %d bytes of zstd data can need here", e.declared, e.bound, e.packed)
}

// boundedZstd decodes zstd data held in memory through one decoder bounded at zstdCommonWindow, which
// what encoders write at their default levels passes. Data refused there that may declare more is
// decoded again by a decoder made for it, bounded at what that data can need, and closed after.
type boundedZstd struct {
	common      *zstd.Decoder
	commonBound uint64
}

// newBoundedZstd makes the decoder for data that unpacks to limit bytes at most.
func newBoundedZstd(limit uint64) (*boundedZstd, error) {
	bound := min(zstdCommonWindow, limit)
	dec, err := newZstdDecoder(bound)
	if err != nil {
		return nil, err
	}
	return &boundedZstd{common: dec, commonBound: bound}, nil
}

func (z *boundedZstd) close() { z.common.Close() }

// decode runs unpack, which decodes data with the decoder it is given, through a decoder that refuses
// frames declaring more than bound bytes (zstdWindowBound, no less than the common decoder's bound);
// a refused frame is a *zstdWindowError.
func (z *boundedZstd) decode(data []byte, bound uint64, unpack func(*zstd.Decoder) error) error {
	err := unpack(z.common)
	if zstdRefused(err) && bound > z.commonBound {
		dec, errNew := newZstdDecoder(bound)
		if errNew != nil {
			return errNew
		}
		defer dec.Close()
		err = unpack(dec)
	}
	if zstdRefused(err) {
		return newZstdWindowError(data, uint64(len(data)), bound)
	}
	return err
}
