package modelinput

import (
	"fmt"
	"math"

	"dysl_vla/policy/bundle"
)

// ImageConverter writes camera frames as the model's image input ([1,3,H,W] float32, normalized,
// channel-major) following a bundle's ImageSpec: "center_crop_resize" takes the largest centered
// region with the model's aspect ratio and resizes it; "stretch" resizes the whole frame. A spec with a
// Balance then scales each channel so that its median is the training frames' (balance).
//
// Along an axis where the region is larger than the model's input, each output pixel is the mean of
// the source pixels its footprint covers, weighted by how much of each it covers (area averaging).
// The training frames are rendered at the model's size with every pixel averaging its whole area, as a
// camera's sensor does; sampling a 640x480 frame at 64 points per row instead would alias edges and
// fine texture into patterns those frames never show. Along an axis that is enlarged, or kept at its
// size, the output samples the region bilinearly at pixel centres (clamped to the frame).
//
// It works out where each output column and row samples the frame once per frame size and keeps that,
// so a stream of frames of one size is converted without allocating and without per-pixel geometry.
// An ImageConverter is not safe for concurrent use.
type ImageConverter struct {
	spec bundle.ImageSpec
	// scale and bias normalize a channel value v in [0, 255]: (v/255 - mean) / std = v*scale + bias.
	scale, bias [3]float32
	// exactValue is the normalized value of each byte, per channel, computed in float64: what a sample
	// that falls on a source pixel yields, bit for bit as the float64 resampler did.
	exactValue [3][256]float32
	cols, rows []tap
	// planned is the frame geometry cols and rows were computed for; the zero value plans nothing.
	planned frameGeometry
	// exact says every sample falls on a source pixel (same size, or a crop): a gather, no arithmetic.
	exact bool
	// areaCols and areaRows are the weighted source pixels of each output column and row when an axis
	// is reduced (area); nil otherwise, and cols and rows are used. acc sums one output row, as RGB
	// triples.
	areaCols, areaRows *weightTable
	acc                []float32
	// balanceTo is spec.Balance in [0, 255] units; nil when the spec has none.
	balanceTo []float64
	// gains is what the balance multiplied each channel of the last frame by (1 without a balance).
	gains [3]float64
}

// tap is where one output column (or row) samples the frame: between source offsets a and b, with
// weight t on b. Column offsets are in bytes within a row; row offsets are in bytes within the data.
type tap struct {
	a, b int
	t    float32
}

type frameGeometry struct{ width, height, step, bytesPerPixel int }

// weightTable lists, for each output pixel i along an axis, the source offsets it reads and their
// weights (summing to 1): entries start[i] to start[i+1] of offset and weight. Offsets are in bytes, as
// in tap.
type weightTable struct {
	start  []int
	offset []int
	weight []float32
}

// NewImageConverter checks spec and allocates the sampling tables for its output size.
func NewImageConverter(spec bundle.ImageSpec) (*ImageConverter, error) {
	if spec.Width <= 0 || spec.Height <= 0 {
		return nil, fmt.Errorf("modelinput: image size %dx%d must be positive", spec.Width, spec.Height)
	}
	if len(spec.Mean) != 3 || len(spec.Std) != 3 {
		return nil, fmt.Errorf("modelinput: image mean and std need 3 values (RGB), got %d and %d", len(spec.Mean), len(spec.Std))
	}
	c := &ImageConverter{spec: spec, cols: make([]tap, spec.Width), rows: make([]tap, spec.Height), gains: [3]float64{1, 1, 1}}
	for ch := range 3 {
		mean, std := spec.Mean[ch], spec.Std[ch]
		if std == 0 || math.IsNaN(mean+std) || math.IsInf(mean+std, 0) {
			return nil, fmt.Errorf("modelinput: image channel %d has mean %v and std %v (expected finite values, std not 0)", ch, mean, std)
		}
		c.scale[ch] = float32(1 / (255 * std))
		c.bias[ch] = float32(-mean / std)
		for v := range 256 {
			c.exactValue[ch][v] = float32((float64(v)/255 - mean) / std)
		}
	}
	if spec.Balance != nil {
		if len(spec.Balance) != 3 {
			return nil, fmt.Errorf("modelinput: image balance needs 3 values (RGB), got %d", len(spec.Balance))
		}
		for ch, b := range spec.Balance {
			if !(b > 0 && b <= 1) {
				return nil, fmt.Errorf("modelinput: image balance of channel %d is %v (expected a median in (0, 1])", ch, b)
			}
			c.balanceTo = append(c.balanceTo, 255*b)
		}
	}
	return c, nil
}

// Convert writes img into dst, which holds 3 x Width x Height values. A frame that cannot be read
// gives an *InputError and leaves dst unspecified.
func (c *ImageConverter) Convert(img Image, dst []float32) error {
	px, err := img.layout()
	if err != nil {
		return err
	}
	w, h := c.spec.Width, c.spec.Height
	plane := w * h
	if len(dst) != 3*plane {
		return fmt.Errorf("modelinput: destination holds %d values, expected 3 x %d x %d = %d", len(dst), w, h, 3*plane)
	}
	if g := (frameGeometry{img.Width, img.Height, img.Step, px.bytes}); g != c.planned {
		c.plan(g)
	}
	// Validated above: every offset in the tables lies within rows of Step bytes, and Step*Height bytes
	// are there.
	rowBytes := img.Step
	outR, outG, outB := dst[:plane], dst[plane:2*plane], dst[2*plane:]
	if c.areaRows != nil {
		c.reduce(img.Data, rowBytes, px, outR, outG, outB)
	} else {
		c.interpolate(img.Data, rowBytes, px, outR, outG, outB)
	}
	if c.balanceTo != nil {
		c.balance(dst, plane)
	}
	return nil
}

// interpolate writes the output when no axis is reduced: a gather where every sample falls on a
// source pixel, else bilinear between the rows and columns of the tables.
func (c *ImageConverter) interpolate(data []byte, rowBytes int, px pixelLayout, outR, outG, outB []float32) {
	w := c.spec.Width
	for oy, r := range c.rows {
		rowA := data[r.a : r.a+rowBytes]
		o := oy * w
		dr, dg, db := outR[o:o+w], outG[o:o+w], outB[o:o+w]
		if c.exact {
			c.gatherRow(rowA, px, dr, dg, db)
			continue
		}
		rowB := data[r.b : r.b+rowBytes]
		c.blendRow(rowA, rowB, r.t, px, dr, dg, db)
	}
}

// Gains is what the image balance multiplied each channel (RGB) of the last converted frame by: 1
// without a balance, MinBalanceGain or MaxBalanceGain where the frame lay outside the light it corrects.
func (c *ImageConverter) Gains() [3]float64 { return c.gains }

// balance scales each channel of the converted frame dst so that its median is the spec's Balance
// (bundle.ImageSpec). The median comes from a histogram of the samples' values in [0, 255], which the
// normalization maps back exactly for samples that fall on a source pixel. A channel already at its
// median is left bit for bit as it was.
func (c *ImageConverter) balance(dst []float32, plane int) {
	for ch := range 3 {
		out := dst[ch*plane : (ch+1)*plane]
		bias := c.bias[ch]
		// raw = (v - bias)/scale, rounded: v·inv + offset, truncated (raw >= -0.5 where it counts).
		inv := 1 / c.scale[ch]
		offset := 0.5 - bias*inv
		var hist [256]int32
		for _, v := range out {
			raw := int32(v*inv + offset)
			if raw < 0 {
				raw = 0
			} else if raw > 255 {
				raw = 255
			}
			hist[raw]++
		}
		median, seen := 0, 0
		for median = range hist {
			if seen += int(hist[median]); 2*seen >= plane {
				break
			}
		}
		gain := math.Max(bundle.MinBalanceGain, math.Min(bundle.MaxBalanceGain, c.balanceTo[ch]/float64(median)))
		c.gains[ch] = gain
		if gain == 1 {
			continue
		}
		// v = raw·scale + bias, and the balanced value is gain·raw·scale + bias.
		g, offset := float32(gain), float32(1-gain)*bias
		for i, v := range out {
			out[i] = v*g + offset
		}
	}
}

// gatherRow writes a row of output whose samples all fall on source pixels: a table lookup each.
func (c *ImageConverter) gatherRow(row []byte, px pixelLayout, dr, dg, db []float32) {
	vr, vg, vb := &c.exactValue[0], &c.exactValue[1], &c.exactValue[2]
	dg, db = dg[:len(dr)], db[:len(dr)]
	for ox, col := range c.cols[:len(dr)] {
		p := row[col.a : col.a+px.bytes]
		dr[ox] = vr[p[px.r]]
		dg[ox] = vg[p[px.g]]
		db[ox] = vb[p[px.b]]
	}
}

// blendRow interpolates a row of output between source rows a and b (weight ty on b).
func (c *ImageConverter) blendRow(rowA, rowB []byte, ty float32, px pixelLayout, dr, dg, db []float32) {
	dg, db = dg[:len(dr)], db[:len(dr)]
	for ox, col := range c.cols[:len(dr)] {
		ar, br := col.a+px.r, col.b+px.r
		ag, bg := col.a+px.g, col.b+px.g
		ab, bb := col.a+px.b, col.b+px.b
		dr[ox] = bilinear(rowA[ar], rowA[br], rowB[ar], rowB[br], col.t, ty)*c.scale[0] + c.bias[0]
		dg[ox] = bilinear(rowA[ag], rowA[bg], rowB[ag], rowB[bg], col.t, ty)*c.scale[1] + c.bias[1]
		db[ox] = bilinear(rowA[ab], rowA[bb], rowB[ab], rowB[bb], col.t, ty)*c.scale[2] + c.bias[2]
	}
}

// bilinear interpolates four neighbours: a, b on the upper row, c, d below; tx and ty weigh the
// right and lower ones.
func bilinear(a, b, c, d byte, tx, ty float32) float32 {
	top := float32(a) + (float32(b)-float32(a))*tx
	bottom := float32(c) + (float32(d)-float32(c))*tx
	return top + (bottom-top)*ty
}

// reduce writes the output when an axis is reduced: each output pixel is the weighted sum of the source
// pixels in its row and column weight lists. Each source row is read once per output row that
// covers it (twice at most where footprints share a row), through its column weights.
func (c *ImageConverter) reduce(data []byte, rowBytes int, px pixelLayout, outR, outG, outB []float32) {
	w := c.spec.Width
	cs := c.areaCols
	acc := c.acc[:3*w]
	for oy := range c.spec.Height {
		clear(acc)
		for k := c.areaRows.start[oy]; k < c.areaRows.start[oy+1]; k++ {
			row := data[c.areaRows.offset[k] : c.areaRows.offset[k]+rowBytes]
			wy := c.areaRows.weight[k]
			pr, pg, pb := row[px.r:], row[px.g:], row[px.b:]
			for ox := range w {
				var r, g, b float32
				offsets := cs.offset[cs.start[ox]:cs.start[ox+1]]
				weights := cs.weight[cs.start[ox]:cs.start[ox+1]]
				weights = weights[:len(offsets)]
				for j, off := range offsets {
					wx := weights[j]
					r += wx * float32(pr[off])
					g += wx * float32(pg[off])
					b += wx * float32(pb[off])
				}
				a := acc[3*ox : 3*ox+3]
				a[0] += wy * r
				a[1] += wy * g
				a[2] += wy * b
			}
		}
		o := oy * w
		for ox := range w {
			a := acc[3*ox : 3*ox+3]
			outR[o+ox] = a[0]*c.scale[0] + c.bias[0]
			outG[o+ox] = a[1]*c.scale[1] + c.bias[1]
			outB[o+ox] = a[2]*c.scale[2] + c.bias[2]
		}
	}
}

// plan computes the sampling tables for frames of geometry g.
func (c *ImageConverter) plan(g frameGeometry) {
	w, h := c.spec.Width, c.spec.Height
	fw, fh := float64(g.width), float64(g.height)
	// Source region in pixels.
	x0, y0, cw, ch := 0.0, 0.0, fw, fh
	if c.spec.Resize != "stretch" {
		// The aspect ratios are compared in integers, and a frame of the model's ratio is taken whole:
		// through w/h in floating point, 72 / (72/56) is not 56, and a frame of a 72x56 model's own size
		// was resampled over a region a hair off the frame instead of gathered bit for bit. With the
		// model's sides within bundle.MaxImageSide the products overflow only for rows of 2^50 bytes.
		switch wide, tall := g.width*h, g.height*w; {
		case wide > tall:
			cw = fh * float64(w) / float64(h)
			x0 = (fw - cw) / 2
		case wide < tall:
			ch = fw * float64(h) / float64(w)
			y0 = (fh - ch) / 2
		}
	}
	c.planned = g
	sx, sy := cw/float64(w), ch/float64(h)
	c.areaCols, c.areaRows = nil, nil
	if sx > 1 || sy > 1 {
		c.areaCols = axisWeights(x0, sx, w, g.width, g.bytesPerPixel)
		c.areaRows = axisWeights(y0, sy, h, g.height, g.step)
		if len(c.acc) < 3*w {
			c.acc = make([]float32, 3*w)
		}
		c.exact = false
		return
	}
	c.exact = true
	for ox := range c.cols {
		a, b, t := sample(x0, sx, ox, g.width)
		c.cols[ox] = tap{a * g.bytesPerPixel, b * g.bytesPerPixel, t}
		c.exact = c.exact && t == 0
	}
	for oy := range c.rows {
		a, b, t := sample(y0, sy, oy, g.height)
		c.rows[oy] = tap{a * g.step, b * g.step, t}
		c.exact = c.exact && t == 0
	}
}

// axisWeights is the weight table of an axis of n source pixels whose region starts at origin and
// advances by scale per output pixel, for out output pixels, stride bytes apart per source pixel. Where
// scale > 1 output pixel i covers [origin + i·scale, origin + (i+1)·scale) and each source pixel j,
// covering [j, j+1), weighs the length they share; otherwise it samples bilinearly at its centre.
func axisWeights(origin, scale float64, out, n, stride int) *weightTable {
	// Sized once: a camera whose frame size changes makes a table per frame, and grown entry by entry
	// a table of a wide frame cost many times the frame's bytes. An output pixel of a region wider
	// than one source pixel covers at most ceil(scale)+1 of them, and the regions meet end to end.
	entries := 2 * out
	if scale > 1 {
		entries = min(out*(int(math.Ceil(scale))+1), n+out)
	}
	t := &weightTable{start: make([]int, 0, out+1), offset: make([]int, 0, entries), weight: make([]float32, 0, entries)}
	for i := range out {
		t.start = append(t.start, len(t.offset))
		if scale <= 1 {
			a, b, w := sample(origin, scale, i, n)
			t.offset = append(t.offset, a*stride, b*stride)
			t.weight = append(t.weight, 1-w, w)
			continue
		}
		lo := math.Max(0, origin+float64(i)*scale)
		hi := math.Min(float64(n), origin+float64(i+1)*scale)
		first := len(t.weight)
		total := 0.0
		for j := int(lo); j < n && float64(j) < hi; j++ {
			share := math.Min(hi, float64(j+1)) - math.Max(lo, float64(j))
			if share <= 0 {
				continue
			}
			t.offset = append(t.offset, j*stride)
			t.weight = append(t.weight, float32(share))
			total += share
		}
		// The shares sum to scale but for rounding at the frame's edge.
		for k := first; k < len(t.weight); k++ {
			t.weight[k] = float32(float64(t.weight[k]) / total)
		}
	}
	t.start = append(t.start, len(t.offset))
	return t
}

// sample is where output pixel i samples a source axis of n pixels whose region starts at origin and
// advances by scale per output pixel: at pixel centers, clamped to the frame. It returns the two source
// pixels and the weight of the second.
func sample(origin, scale float64, i, n int) (a, b int, t float32) {
	f := math.Max(0, math.Min(float64(n-1), origin+(float64(i)+0.5)*scale-0.5))
	a = int(f)
	return a, min(a+1, n-1), float32(f - float64(a))
}

// ImageInput converts one frame into a new model input slice, for tools that convert a few frames
// outside the engine: calibration and training must see what the engine will see.
func ImageInput(img Image, spec bundle.ImageSpec) ([]float32, error) {
	c, err := NewImageConverter(spec)
	if err != nil {
		return nil, err
	}
	dst := make([]float32, 3*spec.Width*spec.Height)
	if err := c.Convert(img, dst); err != nil {
		return nil, err
	}
	return dst, nil
}
