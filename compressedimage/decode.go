// Package compressedimage decodes sensor_msgs/msg/CompressedImage, the frames of image_transport's
// "compressed" transport, into the raw sensor_msgs/msg/Image the rest of the node takes: JPEG and PNG
// of 8-bit colour (rgb8) or gray (mono8), with the standard library's decoders (pure Go, no cgo).
//
// What compressed_image_transport would not give an 8-bit colour or gray camera frame is refused with
// an error naming the format and what was expected: 16-bit PNG, compressedDepth, TIFF, CMYK or YCCK
// JPEG, data whose first bytes are not of the container its format names. The size a frame's header
// claims is checked before any pixel is decoded, so a few hundred bytes claiming 65535x65535 pixels
// cost nothing. A Bayer mosaic compressed as gray is refused, as a raw bayer Image is.
//
// What other decoders take, this one takes too: an empty format, read by the data's first bytes, and a
// webcam's Motion-JPEG frame without Huffman tables, given the standard's (Annex K.3).
//
// Encode writes such frames, for sample bags and tests.
package compressedimage

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"slices"
	"strings"

	"dysl_vla/msgs"
)

// MaxSide is the largest width or height of a frame Decode takes. Its rgb8 pixels are then at most
// 192 MiB (an 8K UHD camera, 7680x4320, is 95 MiB), under the 300 MiB a raw Image may hold in a bag
// (bag.MaxMessageBytes), and as large as a model's input may be (bundle.MaxImageSide). Raw Images need
// no such bound: their pixels arrive with them. A compressed frame's do not, and without it a JPEG of
// a few hundred bytes claiming 65535x65535 pixels would have the decoder allocate gigabytes.
const MaxSide = 8192

// Container is the file format of a compressed frame's data.
type Container int

const (
	JPEG Container = 1 + iota
	PNG
)

func (c Container) String() string {
	switch c {
	case JPEG:
		return "jpeg"
	case PNG:
		return "png"
	}
	return fmt.Sprintf("Container(%d)", int(c))
}

// expectedFormats is what ParseFormat takes, for its errors.
const expectedFormats = `expected "<encoding>; jpeg compressed <encoding>" or "<encoding>; png compressed <encoding>" ` +
	`as compressed_image_transport writes it, or "jpeg", "jpg" or "png"`

// eightBit are the target encodings compressed_image_transport writes after "compressed" for 8-bit
// frames: bgr8 for colour (bgra8 for PNG with alpha), nothing for gray (mono8 from other publishers).
var eightBit = []string{"bgr8", "rgb8", "bgra8", "rgba8", "mono8"}

// ParseFormat returns the container a CompressedImage's format names. compressed_image_transport
// writes "<original encoding>; jpeg compressed <encoding>" ("rgb8; jpeg compressed bgr8", "mono8; png
// compressed "), older publishers and cv_bridge just "jpeg", "jpg" or "png". The pixels' encoding
// after "compressed" must be 8-bit; the original one before ";" says what the camera sent and is not
// needed, since a JPEG or PNG says its own colours.
func ParseFormat(format string) (Container, error) {
	if strings.Contains(strings.ToLower(format), "compresseddepth") {
		return 0, fmt.Errorf("compressedimage: format %.64q is a depth image (compressed_depth_image_transport), %s", format, expectedFormats)
	}
	i := strings.IndexByte(format, ';')
	if i < 0 {
		switch f := strings.TrimSpace(format); {
		case strings.EqualFold(f, "jpeg"), strings.EqualFold(f, "jpg"):
			return JPEG, nil
		case strings.EqualFold(f, "png"):
			return PNG, nil
		}
		return 0, fmt.Errorf("compressedimage: format %.64q is not one this node decodes, %s", format, expectedFormats)
	}
	fields := strings.Fields(format[i+1:])
	if len(fields) < 2 || len(fields) > 3 || !strings.EqualFold(fields[1], "compressed") {
		return 0, fmt.Errorf("compressedimage: format %.64q is not one this node decodes, %s", format, expectedFormats)
	}
	var c Container
	switch strings.ToLower(fields[0]) {
	case "jpeg":
		c = JPEG
	case "png":
		c = PNG
	default:
		return 0, fmt.Errorf("compressedimage: format %.64q compresses as %.16q, %s", format, fields[0], expectedFormats)
	}
	if len(fields) == 3 && !slices.Contains(eightBit, fields[2]) {
		return 0, fmt.Errorf("compressedimage: format %.64q holds %.16q pixels, expected 8-bit colour or gray (one of %s)",
			format, fields[2], strings.Join(eightBit, ", "))
	}
	// A Bayer mosaic compressed as it is (gray pixels, or none named) would reach the model as a
	// checkerboard; a raw bayer Image is refused too.
	original := strings.TrimSpace(format[:i])
	if strings.HasPrefix(original, "bayer_") && (len(fields) == 2 || fields[2] == "mono8") {
		return 0, fmt.Errorf("compressedimage: format %.64q holds an undebayered %.16s mosaic, expected colour or gray pixels (debayer before compressing)",
			format, original)
	}
	return c, nil
}

// The first bytes of each container.
var (
	jpegMagic = []byte{0xff, 0xd8, 0xff}
	pngMagic  = []byte("\x89PNG\r\n\x1a\n")
)

// sniff names the container data's first bytes show, or "" for neither.
func sniff(data []byte) Container {
	switch {
	case bytes.HasPrefix(data, jpegMagic):
		return JPEG
	case bytes.HasPrefix(data, pngMagic):
		return PNG
	}
	return 0
}

// Decode decodes m into dst: m's header, and its pixels as rgb8 (colour) or mono8 (gray), rows packed
// (Step is Width times the bytes of a pixel), in dst.Data's storage when it is large enough, so a
// camera's frames decoded into the same Image reuse one pixel buffer. The decoders of image/jpeg and
// image/png still allocate their own image for every frame. On an error dst is left unspecified.
func Decode(m *msgs.CompressedImage, dst *msgs.Image) error {
	f, err := Check(m)
	if err != nil {
		return err
	}
	return f.Decode(dst)
}

// Checked is a compressed frame whose format and header Check has read and accepted: Decode decodes
// its pixels without reading them again. It holds m's data, which must not change until then.
type Checked struct {
	header    msgs.Header
	container Container
	data      []byte // what the decoder reads: m.Data, or a Motion-JPEG frame with its Huffman tables
	cfg       image.Config
}

// Check refuses what Decode would refuse from m's format and header alone, decoding no pixel: a node
// says a camera's wrong format or size before reasons that waiting could cure, on frames it may never
// decode.
func Check(m *msgs.CompressedImage) (Checked, error) {
	c, data, cfg, err := readHeader(m)
	if err != nil {
		return Checked{}, err
	}
	return Checked{header: m.Header, container: c, data: data, cfg: cfg}, nil
}

// Decode decodes the checked frame into dst, as the package's Decode does.
func (f Checked) Decode(dst *msgs.Image) error {
	c, cfg := f.container, f.cfg
	decode := jpeg.Decode
	if c == PNG {
		decode = png.Decode
	}
	img, err := decode(bytes.NewReader(f.data))
	if err != nil {
		return fmt.Errorf("compressedimage: %s of %dx%d pixels: %w", c, cfg.Width, cfg.Height, err)
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return fmt.Errorf("compressedimage: %s decoded to %dx%d pixels, its header says %dx%d", c, b.Dx(), b.Dy(), cfg.Width, cfg.Height)
	}
	dst.Header = f.header
	dst.Width, dst.Height, dst.IsBigEndian = uint32(cfg.Width), uint32(cfg.Height), 0
	return toRaw(img, dst)
}

// readHeader reads m's container and header and checks them: the format against the data, the size,
// the colour model, and that the data is long enough for the pixels the header claims. data is what
// the decoder is to read (a Motion-JPEG frame with the Huffman tables it lacks).
func readHeader(m *msgs.CompressedImage) (c Container, data []byte, cfg image.Config, err error) {
	// Some drivers leave the format empty; JPEG and PNG say what they are.
	got := sniff(m.Data)
	c = got
	if strings.TrimSpace(m.Format) != "" {
		if c, err = ParseFormat(m.Format); err != nil {
			return 0, nil, cfg, err
		}
	} else if c == 0 {
		return 0, nil, cfg, fmt.Errorf("compressedimage: the format is empty and the data (starting % x) is neither a JPEG nor a PNG, %s",
			m.Data[:min(len(m.Data), 8)], expectedFormats)
	}
	if got != c {
		what := "neither a JPEG nor a PNG"
		if got != 0 {
			what = "a " + strings.ToUpper(got.String())
		}
		// No byte count: the error is a notice's reason, throttled per text, and should read the same
		// for every frame of a misconfigured camera.
		return 0, nil, cfg, fmt.Errorf("compressedimage: format %.64q says %s, but the data (starting % x) is %s",
			m.Format, c, m.Data[:min(len(m.Data), 8)], what)
	}
	data = m.Data
	decodeConfig := jpeg.DecodeConfig
	if c == PNG {
		decodeConfig = png.DecodeConfig
	} else {
		data = withHuffmanTables(data)
	}
	if cfg, err = decodeConfig(bytes.NewReader(data)); err != nil {
		return 0, nil, cfg, fmt.Errorf("compressedimage: %s header: %w", c, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > MaxSide || cfg.Height > MaxSide {
		return 0, nil, cfg, fmt.Errorf("compressedimage: %s of %dx%d pixels, expected a positive size of at most %d a side", c, cfg.Width, cfg.Height, MaxSide)
	}
	if err := checkColorModel(c, cfg.ColorModel); err != nil {
		return 0, nil, cfg, err
	}
	if least := leastBytes(c, cfg.Width, cfg.Height); len(data) < least {
		return 0, nil, cfg, fmt.Errorf("compressedimage: %s of %dx%d pixels in %d bytes, fewer than any %s of that size takes (%d): "+
			"its header claims pixels its data cannot hold", c, cfg.Width, cfg.Height, len(data), c, least)
	}
	return c, data, cfg, nil
}

// leastBytes is the fewest bytes a JPEG or PNG of w×h pixels can take: the decoders allocate the
// frame's pixels before they find the data short, so a 74-byte PNG claiming 8192x8192 pixels cost
// 256 MiB. A PNG's rows, at one bit a pixel at least and one filter byte each, pass through deflate,
// which shrinks at most 1032 to 1. A JPEG codes the DC coefficient of every 8x8 block of luma, one bit
// at least (Huffman codes), in baseline and progressive files alike.
func leastBytes(c Container, w, h int) int {
	if c == PNG {
		return h * (1 + (w+7)/8) / 1032
	}
	return ((w + 7) / 8) * ((h + 7) / 8) / 8
}

// checkColorModel refuses what is not 8-bit colour or gray before the pixels are decoded.
func checkColorModel(c Container, model color.Model) error {
	switch model {
	case color.GrayModel, color.YCbCrModel, color.RGBAModel, color.NRGBAModel:
		return nil
	case color.Gray16Model, color.RGBA64Model, color.NRGBA64Model:
		return fmt.Errorf("compressedimage: %s of 16-bit pixels, expected 8-bit colour or gray (a depth image belongs on compressedDepth)", c)
	case color.CMYKModel:
		// Go's decoder gives YCCK as CMYK too.
		return fmt.Errorf("compressedimage: %s of CMYK or YCCK pixels (4 components, as print software writes), expected 8-bit colour or gray", c)
	}
	if _, ok := model.(color.Palette); ok {
		return nil
	}
	return fmt.Errorf("compressedimage: %s of %T pixels, expected 8-bit colour or gray", c, model)
}

// toRaw writes img's pixels into dst as mono8 (gray) or rgb8 (anything else), dst.Width by dst.Height of
// them, which must be img's size; alpha is dropped, as the model input drops it from rgba8.
func toRaw(img image.Image, dst *msgs.Image) error {
	w, h := int(dst.Width), int(dst.Height)
	// Every conversion below indexes by these: one size, not the header's for the output and the
	// image's for the planes.
	if size := img.Bounds().Size(); size.X != w || size.Y != h {
		return fmt.Errorf("compressedimage: %dx%d pixels decoded into a %dx%d frame", size.X, size.Y, w, h)
	}
	if g, ok := img.(*image.Gray); ok {
		dst.Encoding, dst.Step = msgs.EncodingMono8, uint32(w)
		dst.Data = resize(dst.Data, w*h)
		for y := range h {
			copy(dst.Data[y*w:(y+1)*w], g.Pix[y*g.Stride:])
		}
		return nil
	}
	dst.Encoding, dst.Step = msgs.EncodingRGB8, uint32(3*w)
	dst.Data = resize(dst.Data, 3*w*h)
	out := dst.Data
	switch im := img.(type) {
	case *image.YCbCr:
		return ycbcrToRGB(out, im)
	case *image.RGBA: // PNG without alpha: every pixel opaque, so not premultiplied in effect
		copyRGB(out, im.Pix, im.Stride, 4, w, h)
	case *image.NRGBA:
		copyRGB(out, im.Pix, im.Stride, 4, w, h)
	case *image.Paletted:
		var rgb [256][3]byte
		for i, c := range im.Palette {
			if n, ok := c.(color.NRGBA); ok { // tRNS entries: their colour, not darkened by alpha
				rgb[i] = [3]byte{n.R, n.G, n.B}
				continue
			}
			r, g, b, _ := c.RGBA()
			rgb[i] = [3]byte{byte(r >> 8), byte(g >> 8), byte(b >> 8)}
		}
		for y := range h {
			row, src := out[3*w*y:], im.Pix[y*im.Stride:]
			for x := range w {
				copy(row[3*x:3*x+3], rgb[src[x]][:])
			}
		}
	default:
		return fmt.Errorf("compressedimage: decoded %T pixels, expected 8-bit colour or gray", img)
	}
	return nil
}

// copyRGB copies the first three bytes of each pixel of size px.
func copyRGB(out, pix []byte, stride, px, w, h int) {
	for y := range h {
		row, src := out[3*w*y:], pix[y*stride:]
		for x := range w {
			copy(row[3*x:3*x+3], src[px*x:px*x+3])
		}
	}
}

// ycbcrToRGB writes im's pixels into out as packed rgb8, each exactly as color.YCbCrToRGB converts it.
// That function is called for no pixel (it is not inlined, and its branches mispredict on colours near
// the gamut's edge): its arithmetic is done here over the planes, each chroma sample's share of it once
// for the two or four luma samples it covers in 4:2:x and 4:1:x (BenchmarkToRaw).
func ycbcrToRGB(out []byte, im *image.YCbCr) error {
	r := im.Rect
	// Luma columns per chroma sample. COffset places a row's chroma, whatever the vertical ratio.
	perChroma := 1
	switch im.SubsampleRatio {
	case image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420:
		perChroma = 2
	case image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410:
		perChroma = 4
	}
	if r.Min.X < 0 {
		// Go's YCbCr groups the columns around 0 differently (x/2 rounds towards 0); decoders' frames
		// start at 0.
		return fmt.Errorf("compressedimage: decoded YCbCr pixels from column %d, expected a frame from column 0 or right of it", r.Min.X)
	}
	w := r.Dx()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		luma := im.Y[im.YOffset(r.Min.X, y):][:w]
		ci := im.COffset(r.Min.X, y)
		cb, cr := im.Cb[ci:], im.Cr[ci:]
		rgb := out[3*w*(y-r.Min.Y):][:3*w]
		// The frame may start inside a chroma sample's columns: its first sample covers fewer.
		first, end := 0, perChroma-r.Min.X%perChroma
		for c := 0; first < w; c++ {
			end = min(end, w)
			// color.YCbCrToRGB's terms of Cb and Cr, shared by the luma samples of this chroma sample.
			cb1, cr1 := int32(cb[c])-128, int32(cr[c])-128
			toR, toG, toB := 91881*cr1, -22554*cb1-46802*cr1, 116130*cb1
			for x := first; x < end; x++ {
				yy1 := int32(luma[x]) * 0x10101
				px := rgb[3*x : 3*x+3]
				px[0], px[1], px[2] = clampShifted(yy1+toR), clampShifted(yy1+toG), clampShifted(yy1+toB)
			}
			first, end = end, end+perChroma
		}
	}
	return nil
}

// clampShifted is v>>16 clamped to 0..255, as color.YCbCrToRGB clamps it (without a branch, which
// colours near the gamut's edge would mispredict).
func clampShifted(v int32) byte {
	return byte(min(max(v>>16, 0), 255))
}

// resize is buf with n bytes, in its own storage when that holds them.
func resize(buf []byte, n int) []byte {
	if cap(buf) >= n {
		return buf[:n]
	}
	return make([]byte, n)
}
