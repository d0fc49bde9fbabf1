package compressedimage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/msgs"
)

// tabletop is a w x h test frame: a gradient with two coloured squares, smooth as camera frames are,
// with edges for the JPEG to blur.
func tabletop(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{R: uint8(60 + 100*x/w), G: uint8(90 + 80*y/h), B: 120, A: 255}
			switch {
			case x > w/5 && x < 2*w/5 && y > h/4 && y < h/2:
				c = color.RGBA{R: 200, G: 30, B: 40, A: 255}
			case x > 3*w/5 && x < 4*w/5 && y > h/2 && y < 3*h/4:
				c = color.RGBA{R: 30, G: 60, B: 210, A: 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// noisyYCbCr is a YCbCr image of rect and ratio whose every sample is random: colours far out of the
// RGB gamut as well as in it, so a conversion's clamping is exercised, and no two neighbours alike, so
// a chroma sample read for the wrong pixel shows.
func noisyYCbCr(rect image.Rectangle, ratio image.YCbCrSubsampleRatio) *image.YCbCr {
	img := image.NewYCbCr(rect, ratio)
	rng := rand.New(rand.NewPCG(uint64(ratio), 7))
	for _, plane := range [][]byte{img.Y, img.Cb, img.Cr} {
		for i := range plane {
			plane[i] = uint8(rng.Uint32())
		}
	}
	return img
}

// rgbOf is img's pixels as rgb8, packed: what Decode must give for a lossless file of it.
func rgbOf(img image.Image) []byte {
	b := img.Bounds()
	out := make([]byte, 0, 3*b.Dx()*b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			out = append(out, c.R, c.G, c.B)
		}
	}
	return out
}

func encodePNG(t testing.TB, img image.Image) []byte {
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image, quality int) []byte {
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}))
	return buf.Bytes()
}

var header = msgs.Header{Stamp: msgs.Time{Sec: 1700000000, Nanosec: 5}, FrameID: "camera_color_optical_frame"}

func TestDecodeLosslessFramesExactly(t *testing.T) {
	frame := tabletop(16, 12)
	gray := image.NewGray(frame.Bounds())
	nrgba := image.NewNRGBA(frame.Bounds())
	paletted := image.NewPaletted(frame.Bounds(), color.Palette{color.RGBA{0, 0, 0, 255}, color.RGBA{200, 30, 40, 255}, color.NRGBA{10, 20, 30, 0}})
	for y := range 12 {
		for x := range 16 {
			c := frame.RGBAAt(x, y)
			gray.SetGray(x, y, color.Gray{Y: c.G})
			nrgba.SetNRGBA(x, y, color.NRGBA{R: c.R, G: c.G, B: c.B, A: uint8(x * 16)})
			paletted.SetColorIndex(x, y, uint8((x+y)%3))
		}
	}
	grayBytes := make([]byte, 0, 16*12)
	for y := range 12 {
		grayBytes = append(grayBytes, gray.Pix[y*gray.Stride:y*gray.Stride+16]...)
	}
	cases := []struct {
		name, format string
		img          image.Image
		encoding     string
		pixels       []byte
	}{
		{"rgb8 as compressed_image_transport writes it", "rgb8; png compressed bgr8", frame, "rgb8", rgbOf(frame)},
		{"bgr8 camera: the PNG holds true colours", "bgr8; png compressed bgr8", frame, "rgb8", rgbOf(frame)},
		{"old publisher", "png", frame, "rgb8", rgbOf(frame)},
		{"alpha dropped, colours not darkened", "rgba8; png compressed bgra8", nrgba, "rgb8", rgbOf(nrgba)},
		{"gray as compressed_image_transport writes it", "mono8; png compressed ", gray, "mono8", grayBytes},
		{"palette", "png", paletted, "rgb8", rgbOf(paletted)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got msgs.Image
			require.NoError(t, Decode(&msgs.CompressedImage{Header: header, Format: tc.format, Data: encodePNG(t, tc.img)}, &got))
			bpp := 3
			if tc.encoding == "mono8" {
				bpp = 1
			}
			require.Equal(t, msgs.Image{Header: header, Width: 16, Height: 12, Encoding: tc.encoding, Step: uint32(16 * bpp), Data: tc.pixels}, got)
		})
	}
}

// A JPEG is lossy: its pixels are close to the frame, not equal. Gray JPEGs give mono8.
func TestDecodeJPEG(t *testing.T) {
	frame := tabletop(64, 48)
	want := rgbOf(frame)
	for _, format := range []string{"rgb8; jpeg compressed bgr8", "jpeg", "jpg", "JPEG"} {
		t.Run(format, func(t *testing.T) {
			var got msgs.Image
			require.NoError(t, Decode(&msgs.CompressedImage{Header: header, Format: format, Data: encodeJPEG(t, frame, 95)}, &got))
			require.Equal(t, header, got.Header)
			require.Equal(t, [4]any{uint32(64), uint32(48), "rgb8", uint32(64 * 3)}, [4]any{got.Width, got.Height, got.Encoding, got.Step})
			require.Less(t, meanAbsDiff(want, got.Data), 5.0, "mean error; R and B swapped would be far above")
		})
	}
	t.Run("gray", func(t *testing.T) {
		gray := image.NewGray(image.Rect(0, 0, 16, 8))
		for i := range gray.Pix {
			gray.Pix[i] = uint8(i)
		}
		var got msgs.Image
		require.NoError(t, Decode(&msgs.CompressedImage{Format: "mono8; jpeg compressed ", Data: encodeJPEG(t, gray, 100)}, &got))
		require.Equal(t, [4]any{uint32(16), uint32(8), "mono8", uint32(16)}, [4]any{got.Width, got.Height, got.Encoding, got.Step})
		require.Less(t, meanAbsDiff(gray.Pix, got.Data), 2.0)
	})
}

func meanAbsDiff(a, b []byte) float64 {
	if len(a) != len(b) {
		return 255
	}
	var sum float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		if d < 0 {
			d = -d
		}
		sum += d
	}
	return sum / float64(len(a))
}

// A camera's frames decoded into the same Image reuse its pixel buffer.
func TestDecodeReusesThePixelBuffer(t *testing.T) {
	m := &msgs.CompressedImage{Format: "png", Data: encodePNG(t, tabletop(16, 12))}
	var dst msgs.Image
	require.NoError(t, Decode(m, &dst))
	first := &dst.Data[0]
	require.NoError(t, Decode(m, &dst))
	require.Same(t, first, &dst.Data[0])
}

func TestDecodeRefuses(t *testing.T) {
	frame := tabletop(16, 12)
	sixteen := image.NewRGBA64(image.Rect(0, 0, 4, 4))
	gray16 := image.NewGray16(image.Rect(0, 0, 4, 4))
	pngData, jpegData := encodePNG(t, frame), encodeJPEG(t, tabletop(64, 48), 90)
	cases := []struct {
		name, format string
		data         []byte
		want         string
	}{
		{"compressedDepth", "16UC1; compressedDepth png", append(make([]byte, 12), pngData...), `format "16UC1; compressedDepth png" is a depth image (compressed_depth_image_transport), expected "<encoding>; jpeg compressed <encoding>"`},
		{"16-bit target encoding", "bgr16; png compressed bgr16", encodePNG(t, sixteen), `format "bgr16; png compressed bgr16" holds "bgr16" pixels, expected 8-bit colour or gray (one of bgr8, rgb8, bgra8, rgba8, mono8)`},
		{"16-bit colour PNG", "png", encodePNG(t, sixteen), "png of 16-bit pixels, expected 8-bit colour or gray"},
		{"16-bit gray PNG from mono16", "mono16; png compressed ", encodePNG(t, gray16), "png of 16-bit pixels, expected 8-bit colour or gray"},
		{"tiff", "tiff", []byte("II*\x00"), `format "tiff" is not one this node decodes, expected "<encoding>; jpeg compressed <encoding>" or "<encoding>; png compressed <encoding>" as compressed_image_transport writes it, or "jpeg", "jpg" or "png"`},
		{"no format, and no JPEG or PNG", "", []byte("GIF89a"), `the format is empty and the data (starting 47 49 46 38 39 61) is neither a JPEG nor a PNG`},
		{"Bayer mosaic compressed as gray", "bayer_rggb8; png compressed ", pngData, `format "bayer_rggb8; png compressed " holds an undebayered bayer_rggb8 mosaic, expected colour or gray pixels`},
		{"Bayer mosaic compressed as mono8", "bayer_grbg8; jpeg compressed mono8", jpegData, `holds an undebayered bayer_grbg8 mosaic`},
		{"another compression", "rgb8; webp compressed bgr8", pngData, `format "rgb8; webp compressed bgr8" compresses as "webp"`},
		{"format says jpeg, data is a PNG", "rgb8; jpeg compressed bgr8", pngData, `format "rgb8; jpeg compressed bgr8" says jpeg, but the data (starting 89 50 4e 47 0d 0a 1a 0a) is a PNG`},
		{"format says png, data is a JPEG", "png", jpegData, `format "png" says png, but the data (starting ff d8 ff`},
		{"no data", "jpeg", nil, `format "jpeg" says jpeg, but the data (starting ) is neither a JPEG nor a PNG`},
		{"JPEG cut short", "jpeg", jpegData[:len(jpegData)-100], "compressedimage: jpeg of 64x48 pixels: invalid JPEG format: short Huffman data"},
		{"JPEG cut before its scan", "jpeg", jpegData[:bytes.Index(jpegData, []byte{0xff, markerSOS})], "compressedimage: jpeg header: unexpected EOF"},
		{"PNG cut in its header", "png", pngData[:20], "compressedimage: png header: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var dst msgs.Image
			m := &msgs.CompressedImage{Format: tc.format, Data: tc.data}
			err := Decode(m, &dst)
			require.ErrorContains(t, err, tc.want)
			// Check refuses from the format and header alone, with Decode's words; data that goes wrong
			// only in its pixels passes it.
			checked, checkErr := Check(m)
			if strings.Contains(tc.want, " pixels: ") {
				require.NoError(t, checkErr)
				require.EqualError(t, checked.Decode(&dst), err.Error(), "the checked frame's pixels, as Decode decodes them")
			} else {
				require.EqualError(t, checkErr, err.Error())
			}
		})
	}
}

// A side of MaxSide is taken, one more is refused, whichever side.
func TestDecodeBoundsTheSize(t *testing.T) {
	var dst msgs.Image
	require.NoError(t, Decode(&msgs.CompressedImage{Format: "png", Data: encodePNG(t, image.NewGray(image.Rect(0, 0, MaxSide, 1)))}, &dst))
	require.Equal(t, uint32(MaxSide), dst.Width)
	for _, r := range []image.Rectangle{image.Rect(0, 0, MaxSide+1, 1), image.Rect(0, 0, 1, MaxSide+1)} {
		err := Decode(&msgs.CompressedImage{Format: "png", Data: encodePNG(t, image.NewGray(r))}, &dst)
		require.ErrorContains(t, err, "expected a positive size of at most 8192 a side")
	}
	// A JPEG's header may say 0 lines (the standard leaves their count to a DNL marker, which Go's
	// decoder does not read) or 0 columns: no frame, refused from the header.
	jpegData := encodeJPEG(t, tabletop(64, 48), 90)
	for _, size := range [][2]int{{0, 48}, {64, 0}} {
		_, err := Check(&msgs.CompressedImage{Format: "jpeg", Data: withClaimedSize(t, JPEG, jpegData, size[0], size[1])})
		require.ErrorContains(t, err, fmt.Sprintf("jpeg of %dx%d pixels, expected a positive size of at most 8192 a side", size[0], size[1]))
	}
}

// A few hundred bytes that claim 65535x65535 pixels are refused from their header: nothing near the
// 12 GiB of rgb8 pixels (or the decoder's own planes) is allocated.
func TestDecodeRefusesAClaimedSizeBeforeDecoding(t *testing.T) {
	claimsHuge := withClaimedSize(t, JPEG, encodeJPEG(t, tabletop(8, 8), 90), 65535, 65535)
	pngHuge := withClaimedSize(t, PNG, encodePNG(t, image.NewGray(image.Rect(0, 0, 1, 1))), 65535, 65535)

	for name, m := range map[string]*msgs.CompressedImage{
		"jpeg": {Format: "jpeg", Data: claimsHuge},
		"png":  {Format: "png", Data: pngHuge},
	} {
		t.Run(name, func(t *testing.T) {
			var dst msgs.Image
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			err := Decode(m, &dst)
			runtime.ReadMemStats(&after)
			require.ErrorContains(t, err, name+" of 65535x65535 pixels, expected a positive size of at most 8192 a side")
			require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "bytes allocated")
		})
	}
}

// A header claiming pixels the data is too short to hold is refused before the decoder allocates them;
// the smallest frames real encoders write of a size (one colour throughout) are taken.
func TestDecodeRefusesPixelsTheDataCannotHold(t *testing.T) {
	for _, c := range []Container{JPEG, PNG} {
		t.Run(c.String(), func(t *testing.T) {
			const side = 8192
			flat := image.NewGray(image.Rect(0, 0, side, side)) // all black: as small as a frame this size gets
			data := encodePNG(t, flat)
			if c == JPEG {
				data = encodeJPEG(t, flat, 1)
			}
			require.GreaterOrEqual(t, len(data), leastBytes(c, side, side), "the encoder's smallest frame")
			var dst msgs.Image
			require.NoError(t, Decode(&msgs.CompressedImage{Format: c.String(), Data: data}, &dst))

			small := encodePNG(t, image.NewGray(image.Rect(0, 0, 1, 1)))
			if c == JPEG {
				small = encodeJPEG(t, image.NewGray(image.Rect(0, 0, 8, 8)), 90)
			}
			claims := withClaimedSize(t, c, small, side, side)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			err := Decode(&msgs.CompressedImage{Format: c.String(), Data: claims}, &dst)
			runtime.ReadMemStats(&after)
			require.ErrorContains(t, err, fmt.Sprintf("%s of 8192x8192 pixels in %d bytes, fewer than any %s of that size takes", c, len(claims), c))
			require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "bytes allocated")

			// The bound is the least such a frame takes, not a byte more: data of exactly that length
			// passes the header's check, one byte fewer does not. A PNG: 8192 rows of a filter byte and
			// 1024 bytes of pixels, deflated at most 1032 to 1; a JPEG: a bit for each of 1024x1024 blocks.
			least := map[Container]int{PNG: 8192 * 1025 / 1032, JPEG: 1024 * 1024 / 8}[c]
			padded := append(claims, make([]byte, least-len(claims))...) // after the end marker
			_, err = Check(&msgs.CompressedImage{Format: c.String(), Data: padded})
			require.NoError(t, err)
			_, err = Check(&msgs.CompressedImage{Format: c.String(), Data: padded[:least-1]})
			require.ErrorContains(t, err, fmt.Sprintf("in %d bytes, fewer than any %s of that size takes (%d)", least-1, c, least))
		})
	}
}

// withClaimedSize is data, a baseline JPEG or a PNG, with its header claiming w×h pixels.
func withClaimedSize(t *testing.T, c Container, data []byte, w, h int) []byte {
	t.Helper()
	out := append([]byte(nil), data...)
	if c == JPEG {
		sof := bytes.Index(out, []byte{0xff, 0xc0}) // baseline SOF: length(2) precision(1) height(2) width(2)
		require.Positive(t, sof)
		binary.BigEndian.PutUint16(out[sof+5:], uint16(h))
		binary.BigEndian.PutUint16(out[sof+7:], uint16(w))
		return out
	}
	binary.BigEndian.PutUint32(out[16:], uint32(w)) // IHDR width, height, then its CRC
	binary.BigEndian.PutUint32(out[20:], uint32(h))
	binary.BigEndian.PutUint32(out[29:], crc32.ChecksumIEEE(out[12:29]))
	return out
}

func TestParseFormat(t *testing.T) {
	for format, want := range map[string]Container{
		"rgb8; jpeg compressed bgr8":       JPEG,
		"mono8; jpeg compressed ":          JPEG,
		"bgra8; png compressed bgra8":      PNG,
		"mono8; png compressed mono8":      PNG,
		" jpeg ":                           JPEG,
		"jpg":                              JPEG,
		"PNG":                              PNG,
		"rgb8; JPEG Compressed bgr8":       JPEG,
		"bayer_rggb8; png compressed bgr8": PNG, // debayered before compression
		"; png compressed bgr8":            PNG, // no original encoding: it is not needed
	} {
		got, err := ParseFormat(format)
		require.NoError(t, err, format)
		require.Equal(t, want, got, format)
	}
	for _, format := range []string{"rgb8; jpeg", "rgb8; jpeg compressed bgr8 extra", "rgb8; png squeezed bgr8", "32FC1; compressedDepth", "h264"} {
		_, err := ParseFormat(format)
		require.Error(t, err, format)
	}
}

// Whatever the bytes, Decode returns an error or a frame whose size fits MaxSide and whose data its
// step and height describe.
func FuzzDecode(f *testing.F) {
	frame := tabletop(16, 12)
	f.Add("rgb8; jpeg compressed bgr8", encodeJPEG(f, frame, 75))
	f.Add("png", encodePNG(f, frame))
	f.Add("mono8; png compressed ", encodePNG(f, image.NewGray(image.Rect(0, 0, 5, 3))))
	f.Add("jpeg", encodeJPEG(f, image.NewGray(image.Rect(0, 0, 9, 7)), 50))
	f.Add("jpeg", withoutHuffmanTables(f, encodeJPEG(f, frame, 75))) // a Motion-JPEG frame
	f.Add("", encodePNG(f, frame))                                   // no format: the data says
	f.Add("jpeg", adobeJPEG(adobeYCCK, [4]uint8{200, 100, 0, 255}))  // print software's 4 components
	f.Fuzz(func(t *testing.T, format string, data []byte) {
		var dst msgs.Image
		if err := Decode(&msgs.CompressedImage{Format: format, Data: data}, &dst); err != nil {
			return
		}
		require.LessOrEqual(t, dst.Width, uint32(MaxSide))
		require.LessOrEqual(t, dst.Height, uint32(MaxSide))
		bpp := map[string]uint32{"rgb8": 3, "mono8": 1}[dst.Encoding]
		require.NotZero(t, bpp, dst.Encoding)
		require.Equal(t, dst.Width*bpp, dst.Step)
		require.Len(t, dst.Data, int(dst.Step*dst.Height))
	})
}

// A frame whose format is empty is read by what its data says it is.
func TestDecodeEmptyFormatByItsData(t *testing.T) {
	data := encodePNG(t, tabletop(16, 12))
	var want, got msgs.Image
	require.NoError(t, Decode(&msgs.CompressedImage{Format: "png", Data: data}, &want))
	require.NoError(t, Decode(&msgs.CompressedImage{Format: "", Data: data}, &got))
	require.Equal(t, want, got)
	require.NoError(t, Decode(&msgs.CompressedImage{Format: " ", Data: encodeJPEG(t, tabletop(64, 48), 90)}, &got))
	require.Equal(t, uint32(64), got.Width)
}

// withoutHuffmanTables is data, a JPEG, with its DHT segments taken out: a webcam's Motion-JPEG frame.
func withoutHuffmanTables(t testing.TB, data []byte) []byte {
	stripped := []byte{0xff, 0xd8}
	firstScan, err := eachSegment(data, func(marker byte, segment []byte) {
		if marker != markerDHT {
			stripped = append(stripped, segment...)
		}
	})
	require.NoError(t, err)
	return append(stripped, data[firstScan:]...)
}

// A webcam's Motion-JPEG frame carries no Huffman tables, its decoder being meant to use the
// standard's: it decodes as the same frame with the tables does, extraneous bytes between its segments
// (which Go's decoder passes over) or not.
func TestDecodeMotionJPEGWithoutHuffmanTables(t *testing.T) {
	data := encodeJPEG(t, tabletop(64, 48), 90)
	stripped := withoutHuffmanTables(t, data)
	_, err := jpeg.Decode(bytes.NewReader(stripped))
	require.ErrorContains(t, err, "uninitialized Huffman table", "Go's decoder alone refuses it")
	sos := bytes.Index(stripped, []byte{0xff, markerSOS})
	padded := append(append(append([]byte(nil), stripped[:sos]...), 0x00, 0xff, 0x00, 0xff, 0xff), stripped[sos:]...)
	// Stray restart markers (RST0 to RST7) have no length, and Go's decoder passes over them too.
	restart := append(append(append([]byte(nil), stripped[:sos]...), 0xff, 0xd0, 0xff, 0xd7), stripped[sos:]...)

	var want msgs.Image
	require.NoError(t, Decode(&msgs.CompressedImage{Format: "jpeg", Data: data}, &want))
	for name, frame := range map[string][]byte{"tables left out": stripped, "and extraneous bytes": padded, "and stray RST0 and RST7": restart} {
		var got msgs.Image
		require.NoError(t, Decode(&msgs.CompressedImage{Format: "jpeg", Data: frame}, &got), name)
		require.Equal(t, want.Data, got.Data, name)
	}
}

// The tables put in are the four of the JPEG standard's Annex K.3: their code-length counts.
func TestStandardHuffmanTablesAreAnnexK3(t *testing.T) {
	counts := map[byte][]byte{ // table class and id, then its 16 counts
		0x00: {0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0},
		0x10: {0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d},
		0x01: {0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0},
		0x11: {0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77},
	}
	segment := standardHuffman()
	require.Equal(t, []byte{0xff, markerDHT}, segment[:2])
	tables := segment[4:]
	for len(tables) > 0 {
		id, got := tables[0], tables[1:17]
		require.Equal(t, counts[id], got, "table %#x", id)
		delete(counts, id)
		n := 0
		for _, c := range got {
			n += int(c)
		}
		tables = tables[17+n:]
	}
	require.Empty(t, counts, "tables missing")
}

// The conversion of a JPEG's planes gives every pixel exactly as color.YCbCrToRGB does from the
// image's own YCbCrAt, for each subsampling a JPEG can have, at odd sizes, and for frames that start
// inside a chroma sample (sub-images right of and below the origin).
func TestYCbCrToRGBIsExact(t *testing.T) {
	ratios := []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	}
	for _, ratio := range ratios {
		full := noisyYCbCr(image.Rect(0, 0, 641, 479), ratio)
		// Each column a 4:1:x chroma sample's span can start at; single pixels and rows too.
		for _, rect := range []image.Rectangle{full.Rect, image.Rect(1, 1, 640, 478), image.Rect(2, 3, 301, 200), image.Rect(3, 2, 8, 3), image.Rect(7, 9, 8, 10)} {
			t.Run(fmt.Sprintf("%s %v", ratio, rect), func(t *testing.T) {
				img := full.SubImage(rect).(*image.YCbCr)
				want := make([]byte, 0, 3*rect.Dx()*rect.Dy())
				for y := rect.Min.Y; y < rect.Max.Y; y++ {
					for x := rect.Min.X; x < rect.Max.X; x++ {
						c := img.YCbCrAt(x, y)
						r, g, b := color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
						want = append(want, r, g, b)
					}
				}
				dst := msgs.Image{Width: uint32(rect.Dx()), Height: uint32(rect.Dy())}
				require.NoError(t, toRaw(img, &dst))
				require.Equal(t, "rgb8", dst.Encoding)
				require.True(t, bytes.Equal(want, dst.Data), "first pixel that differs: %d", firstDifference(want, dst.Data)/3)
			})
		}
	}
	// Left of the origin, Go's planes group columns otherwise; no decoder gives such a frame.
	left := noisyYCbCr(image.Rect(-3, 0, 5, 2), image.YCbCrSubsampleRatio420)
	dst := msgs.Image{Width: 8, Height: 2}
	require.EqualError(t, toRaw(left, &dst), "compressedimage: decoded YCbCr pixels from column -3, expected a frame from column 0 or right of it")
	// A frame whose size is not the decoded image's is refused, not written past either's end.
	for _, img := range []image.Image{noisyYCbCr(image.Rect(0, 0, 8, 2), image.YCbCrSubsampleRatio420), image.NewGray(image.Rect(0, 0, 8, 2))} {
		small := msgs.Image{Width: 9, Height: 2}
		require.EqualError(t, toRaw(img, &small), "compressedimage: 8x2 pixels decoded into a 9x2 frame")
	}
}

// Every one of the 2^24 Y, Cb, Cr triples converts as color.YCbCrToRGB converts it: the clamping of
// colours out of the RGB gamut included.
func TestYCbCrToRGBIsExactForEveryColour(t *testing.T) {
	img := image.NewYCbCr(image.Rect(0, 0, 256*256, 256), image.YCbCrSubsampleRatio444) // x: Cb and Cr, y: Y
	want := make([]byte, 0, 3*len(img.Y))
	for y := range 256 {
		for x := range 256 * 256 {
			i := img.YOffset(x, y)
			img.Y[i], img.Cb[i], img.Cr[i] = uint8(y), uint8(x>>8), uint8(x)
			r, g, b := color.YCbCrToRGB(uint8(y), uint8(x>>8), uint8(x))
			want = append(want, r, g, b)
		}
	}
	dst := msgs.Image{Width: 256 * 256, Height: 256}
	require.NoError(t, toRaw(img, &dst))
	i := firstDifference(want, dst.Data)
	require.Equal(t, -1, i, "Y %d, Cb %d, Cr %d", i/3/65536, i/3%65536>>8, i/3%256)
}

// firstDifference is the index of the first byte where a and b differ, or -1 if none.
func firstDifference(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}
