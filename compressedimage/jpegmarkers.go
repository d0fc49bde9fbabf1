package compressedimage

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"sync"
)

// JPEG markers this package looks for before the entropy-coded data.
const (
	markerDHT = 0xc4 // Huffman tables
	markerSOS = 0xda // start of the first scan: entropy-coded data follows
)

// jpegLayout is what Decode needs to know of a JPEG's segments before its first scan.
type jpegLayout struct {
	huffman   bool // a DHT segment came before the first scan
	firstScan int  // offset of the first SOS marker
}

// readJPEGLayout walks a JPEG's marker segments from SOI to its first scan. It does not judge the
// segments themselves: the decoder does.
func readJPEGLayout(data []byte) (jpegLayout, error) {
	var l jpegLayout
	for i := 2; i+4 <= len(data); { // after SOI
		if data[i] != 0xff {
			return l, errors.New("a marker segment does not start with 0xff")
		}
		marker := data[i+1]
		switch {
		case marker == 0xff: // fill byte
			i++
			continue
		case marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7): // no length
			i += 2
			continue
		case marker == markerSOS:
			l.firstScan = i
			return l, nil
		case marker == markerDHT:
			l.huffman = true
		}
		i += 2 + (int(data[i+2])<<8 | int(data[i+3]))
	}
	return l, errors.New("no scan")
}

// standardHuffman is a DHT segment holding the four Huffman tables of the JPEG standard's Annex K.3,
// made once by the standard library's encoder, which writes exactly those.
var standardHuffman = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewYCbCr(image.Rect(0, 0, 16, 16), image.YCbCrSubsampleRatio420), nil); err != nil {
		panic("compressedimage: encoding a blank JPEG: " + err.Error())
	}
	data := b.Bytes()
	var tables []byte
	for i := 2; i+4 <= len(data) && data[i+1] != markerSOS; {
		n := 2 + (int(data[i+2])<<8 | int(data[i+3]))
		if data[i+1] == markerDHT {
			tables = append(tables, data[i:i+n]...)
		}
		i += n
	}
	return tables
})

// withStandardHuffman is data, a JPEG without Huffman tables, with the standard ones put before its
// first scan. Webcams' Motion-JPEG frames leave them out, the decoder being meant to use Annex K.3's
// (libjpeg, and so OpenCV and image_transport's own subscribers, do); Go's decoder refuses them.
func withStandardHuffman(data []byte, firstScan int) []byte {
	tables := standardHuffman()
	out := make([]byte, 0, len(data)+len(tables))
	out = append(out, data[:firstScan]...)
	out = append(out, tables...)
	return append(out, data[firstScan:]...)
}
