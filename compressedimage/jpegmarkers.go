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
	markerSOS = 0xda // start of a scan: entropy-coded data follows
)

// errNoScan: the marker segments end before any scan.
var errNoScan = errors.New("no scan")

// eachSegment calls visit with each marker segment of a JPEG (marker and length included) after SOI,
// up to its first scan, whose offset it returns. Bytes between segments that are no marker, and
// 0xff 0x00, are passed over as Go's decoder passes over them; fill bytes (0xff 0xff) too. It does not
// judge the segments themselves: the decoder does.
func eachSegment(data []byte, visit func(marker byte, segment []byte)) (firstScan int, err error) {
	for i := 2; i+4 <= len(data); {
		if data[i] != 0xff || data[i+1] == 0x00 || data[i+1] == 0xff {
			i++
			continue
		}
		marker := data[i+1]
		if marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7) { // TEM, RSTn: no length
			i += 2
			continue
		}
		if marker == markerSOS {
			return i, nil
		}
		end := i + 2 + (int(data[i+2])<<8 | int(data[i+3]))
		if end > len(data) {
			return 0, errors.New("a marker segment runs past the data")
		}
		visit(marker, data[i:end])
		i = end
	}
	return 0, errNoScan
}

// standardHuffman is a DHT segment holding the four Huffman tables of the JPEG standard's Annex K.3,
// made once by the standard library's encoder, which writes exactly those.
var standardHuffman = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewYCbCr(image.Rect(0, 0, 16, 16), image.YCbCrSubsampleRatio420), nil); err != nil {
		panic("compressedimage: encoding a blank JPEG: " + err.Error())
	}
	var tables []byte
	if _, err := eachSegment(b.Bytes(), func(marker byte, segment []byte) {
		if marker == markerDHT {
			tables = append(tables, segment...)
		}
	}); err != nil {
		panic("compressedimage: reading a blank JPEG: " + err.Error())
	}
	return tables
})

// withHuffmanTables is data, a JPEG, with the standard Huffman tables put before its first scan when
// it has none there, and data itself otherwise (or when its segments cannot be read: the decoder then
// says what is wrong). Webcams' Motion-JPEG frames leave the tables out, the decoder being meant to
// use Annex K.3's (libjpeg, and so OpenCV and image_transport's own subscribers, do); Go's decoder
// refuses them.
func withHuffmanTables(data []byte) []byte {
	tables := false
	firstScan, err := eachSegment(data, func(marker byte, _ []byte) { tables = tables || marker == markerDHT })
	if err != nil || tables {
		return data
	}
	standard := standardHuffman()
	out := make([]byte, 0, len(data)+len(standard))
	out = append(out, data[:firstScan]...)
	out = append(out, standard...)
	return append(out, data[firstScan:]...)
}
