package compressedimage

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math/bits"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/msgs"
)

// Adobe's APP14 colour transforms of a 4-component JPEG.
const (
	adobeCMYK = 0 // the components are C, M, Y and K, stored inverted (255 is no ink)
	adobeYCCK = 2 // Y, Cb, Cr (of inverted C, M, Y) and K
)

// adobeJPEG is an 8x8 baseline JPEG of four components, as Adobe's tools write for print (Go's
// encoder writes none): the APP14 segment naming transform, and each component one flat block of its
// level. It holds as little as such a file takes: one quantization table of 8s, so a block's DC
// coefficient is its level less 128; a DC Huffman table coding each magnitude category 0..8 as its
// own 4-bit number; an AC table of the end of block alone, coded "0".
func adobeJPEG(transform byte, levels [4]uint8) []byte {
	out := []byte{0xff, 0xd8} // SOI
	segment := func(marker byte, body ...byte) {
		out = append(out, 0xff, marker, byte((len(body)+2)>>8), byte(len(body)+2))
		out = append(out, body...)
	}
	// APP14: version 100, no flags, the transform.
	segment(0xee, append([]byte("Adobe"), 0, 100, 0, 0, 0, 0, transform)...)
	// DQT: table 0, of 8-bit values.
	segment(0xdb, append([]byte{0x00}, bytes.Repeat([]byte{8}, 64)...)...)
	// SOF0: 8-bit samples, 8 high, 8 wide, 4 components, each not subsampled and of quantization
	// table 0; SOS: the 4 components, each of DC table 0 and AC table 0.
	sof, sos := []byte{8, 0, 8, 0, 8, 4}, []byte{4}
	for id := byte(1); id <= 4; id++ {
		sof = append(sof, id, 0x11, 0)
		sos = append(sos, id, 0x00)
	}
	segment(0xc0, sof...)
	// DHT: DC table 0 of nine 4-bit codes, one per category; AC table 0 of one 1-bit code, the end of
	// block (0x00). Each table: its class and id, its count of codes of each length 1..16, its symbols.
	segment(0xc4,
		0x00, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
		0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00)
	segment(0xda, append(sos, 0, 63, 0)...) // spectral selection 0..63, no successive approximation

	// One MCU: a block of each component, its DC difference (the first block's predictor is 0) as a
	// category code and the category's bits, then the end of block.
	var scan bitWriter
	for _, level := range levels {
		diff := int(level) - 128
		category := bits.Len(uint(max(diff, -diff)))
		value := diff
		if diff < 0 {
			value = diff + 1<<category - 1 // negatives in one's complement, as T.81 F.1.2.1 codes them
		}
		scan.write(uint32(category), 4)
		scan.write(uint32(value), category)
		scan.write(0, 1)
	}
	out = append(out, scan.flush()...)
	return append(out, 0xff, 0xd9) // EOI
}

// bitWriter packs an entropy-coded segment: bits most significant first, a 0x00 stuffed after each
// 0xff byte, the last byte padded with 1s.
type bitWriter struct {
	out   []byte
	acc   uint32
	nbits int
}

func (w *bitWriter) write(v uint32, n int) {
	for i := n - 1; i >= 0; i-- {
		w.acc = w.acc<<1 | (v>>i)&1
		if w.nbits++; w.nbits == 8 {
			w.emit()
		}
	}
}

func (w *bitWriter) emit() {
	w.out = append(w.out, byte(w.acc))
	if byte(w.acc) == 0xff {
		w.out = append(w.out, 0x00)
	}
	w.acc, w.nbits = 0, 0
}

func (w *bitWriter) flush() []byte {
	for w.nbits != 0 {
		w.write(1, 1)
	}
	return w.out
}

// A JPEG of four components, CMYK or YCCK as print software writes (no camera does), is refused from
// its header by a message naming it. The files are real: Go's decoder gives the levels they hold.
func TestDecodeRefusesCMYKAndYCCK(t *testing.T) {
	levels := [4]uint8{200, 100, 0, 255}
	for _, tc := range []struct {
		name      string
		transform byte
		want      color.CMYK // at every pixel
	}{
		{"CMYK", adobeCMYK, color.CMYK{C: 55, M: 155, Y: 255, K: 0}}, // stored inverted
		{"YCCK", adobeYCCK, ycckAsCMYK(levels)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := adobeJPEG(tc.transform, levels)
			img, err := jpeg.Decode(bytes.NewReader(data))
			require.NoError(t, err)
			cmyk, ok := img.(*image.CMYK)
			require.True(t, ok, "decoded %T", img)
			require.Equal(t, image.Rect(0, 0, 8, 8), cmyk.Rect)
			for y := range 8 {
				for x := range 8 {
					require.Equal(t, tc.want, cmyk.CMYKAt(x, y), "pixel %d,%d", x, y)
				}
			}

			var dst msgs.Image
			err = Decode(&msgs.CompressedImage{Format: "rgb8; jpeg compressed bgr8", Data: data}, &dst)
			require.EqualError(t, err, "compressedimage: jpeg of CMYK or YCCK pixels (4 components, as print software writes), expected 8-bit colour or gray")
		})
	}
}

// ycckAsCMYK is the CMYK Go's decoder gives for YCCK levels: the YCbCr as RGB is the inverted C, M, Y
// stored, so C, M, Y as they are; K stored inverted.
func ycckAsCMYK(levels [4]uint8) color.CMYK {
	c, m, y := color.YCbCrToRGB(levels[0], levels[1], levels[2])
	return color.CMYK{C: c, M: m, Y: y, K: 255 - levels[3]}
}
