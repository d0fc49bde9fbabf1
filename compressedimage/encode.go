package compressedimage

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"

	"dysl_vla/msgs"
)

// JPEGQuality is the quality Encode writes JPEGs with: compressed_image_transport's default
// jpeg_quality.
const JPEGQuality = 95

// Encode compresses an rgb8 or mono8 image as compressed_image_transport would publish it: its header,
// the format "rgb8; jpeg compressed bgr8" ("mono8; png compressed " for gray), and the file in Data.
// For sample bags and tests: the node only decodes.
func Encode(img *msgs.Image, c Container) (*msgs.CompressedImage, error) {
	w, h, step := int(img.Width), int(img.Height), int(img.Step)
	var pixels image.Image
	target := "bgr8" // what the transport names a colour frame's pixels; the file holds true colours
	switch img.Encoding {
	case msgs.EncodingRGB8:
		if err := img.CheckLayout(3); err != nil {
			return nil, fmt.Errorf("compressedimage: %w", err)
		}
		rgba := image.NewRGBA(image.Rect(0, 0, w, h))
		for y := range h {
			src, dst := img.Data[y*step:], rgba.Pix[y*rgba.Stride:]
			for x := range w {
				dst[4*x], dst[4*x+1], dst[4*x+2], dst[4*x+3] = src[3*x], src[3*x+1], src[3*x+2], 255
			}
		}
		pixels = rgba
	case msgs.EncodingMono8:
		if err := img.CheckLayout(1); err != nil {
			return nil, fmt.Errorf("compressedimage: %w", err)
		}
		pixels = &image.Gray{Pix: img.Data, Stride: step, Rect: image.Rect(0, 0, w, h)}
		target = ""
	default:
		return nil, fmt.Errorf("compressedimage: cannot encode an image of encoding %.32q, expected rgb8 or mono8", img.Encoding)
	}
	var buf bytes.Buffer
	var err error
	switch c {
	case JPEG:
		err = jpeg.Encode(&buf, pixels, &jpeg.Options{Quality: JPEGQuality})
	case PNG:
		err = png.Encode(&buf, pixels)
	default:
		return nil, fmt.Errorf("compressedimage: cannot encode as %v, expected jpeg or png", c)
	}
	if err != nil {
		return nil, fmt.Errorf("compressedimage: %s: %w", c, err)
	}
	return &msgs.CompressedImage{Header: img.Header, Format: fmt.Sprintf("%s; %s compressed %s", img.Encoding, c, target), Data: buf.Bytes()}, nil
}
