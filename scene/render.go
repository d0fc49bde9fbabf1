package scene

import (
	"math"
	"math/rand/v2"
)

// Image is an rgb8 frame: Height rows of Width pixels, 3 bytes each, no row padding
// (sensor_msgs/Image step = 3*Width).
type Image struct {
	Width, Height int
	RGB           []byte
}

// At returns the pixel in row r, column c.
func (im Image) At(r, c int) [3]byte {
	i := 3 * (r*im.Width + c)
	return [3]byte{im.RGB[i], im.RGB[i+1], im.RGB[i+2]}
}

// cameraHeight is the pinhole's height above the table: things nearer the camera look bigger,
// which is how the frame shows the gripper's height.
const cameraHeight = 0.8

var (
	tableRGB       = [3]byte{150, 110, 70}
	fingerOpenRGB  = [3]byte{60, 60, 60}
	fingerShutRGB  = [3]byte{235, 235, 235}
	shadowDarkness = 0.6
)

// TableRGB is the table's colour under the scene's normal light: the median of every frame, since
// the table fills most of it. A model trained on these frames balances its camera to it
// (bundle.ImageSpec.Balance).
func TableRGB() [3]byte { return tableRGB }

// fingerHalfSize is half the side of a finger as the camera sees it from above (fingertip and the
// finger's top together, 2.4 cm): the fingers are how a frame shows where the gripper is and whether it
// is closed, so they must cover whole pixels at the model's resolution.
const fingerHalfSize = 0.012

// subpixels is the side of the grid of samples averaged into each pixel. A camera integrates the light
// falling on a pixel's whole area, so a finger or block edge that crosses a pixel shows as a blend. Sampling
// only the pixel centre would make sub-pixel motion invisible and let a finger about a pixel wide blink in
// and out of the frame, which hides exactly what a policy must read off it: where the gripper is.
const subpixels = 4

// Render draws s as seen by the camera straight above the table: the table, the pads, the
// blocks (and their shadows once lifted) and the gripper's two fingers, which sit wide apart when
// open and together when closed. Each pixel averages subpixels x subpixels samples of its area,
// scaled by the episode's lighting (1+s.Light). noise plus s.Noise is the standard deviation of
// per-channel pixel noise in 0..255 units, drawn from a generator seeded by (s.Seed, s.Tick): a
// frame is a pure function of the state. Width and height must be positive; the pixels are square,
// the table filling the frame's largest centred square (a 640x480 frame is a 480x480 view of the
// table with 80 columns more of it on either side), as a camera's wider frame shows more.
func Render(s State, width, height int, noise float64) Image {
	im := Image{Width: width, Height: height, RGB: make([]byte, 3*width*height)}
	fingerRGB := fingerOpenRGB
	fingerGap := 0.035 // tip centre to finger centre, open
	if s.Gripper > 0 {
		fingerRGB = fingerShutRGB
		fingerGap = BlockHalfSize + fingerHalfSize - 0.002 // the pads press 2 mm into the block's outline
	}
	eeScale := perspective(s.EE.Z)
	fingerOffset := Vec3{-math.Sin(s.Yaw), math.Cos(s.Yaw), 0}.Scale(fingerGap * eeScale)
	fingerHalf := fingerHalfSize * eeScale
	// Painted in order, later shapes over earlier ones: pads, the shadows of lifted blocks, blocks,
	// fingers.
	shapes := make([]paintedSquare, 0, len(s.Pads)+2*len(s.Blocks)+2)
	for _, p := range s.Pads {
		shapes = append(shapes, newPaintedSquare(p.Pos, 0, PadHalfSize, colourRGB[p.Colour], false))
	}
	for _, b := range s.Blocks {
		if b.Pos.Z > BlockHalfSize+1e-9 {
			shapes = append(shapes, newPaintedSquare(Vec3{X: b.Pos.X, Y: b.Pos.Y}, b.Yaw, BlockHalfSize, [3]byte{}, true))
		}
	}
	for _, b := range s.Blocks {
		shapes = append(shapes, newPaintedSquare(b.Pos, b.Yaw, BlockHalfSize*perspective(b.Pos.Z), colourRGB[b.Colour], false))
	}
	shapes = append(shapes,
		newPaintedSquare(s.EE.Add(fingerOffset), s.Yaw, fingerHalf, fingerRGB, false),
		newPaintedSquare(s.EE.Sub(fingerOffset), s.Yaw, fingerHalf, fingerRGB, false),
	)
	noise += s.Noise
	var rng *rand.Rand
	if noise > 0 {
		rng = rand.New(rand.NewPCG(uint64(s.Seed), uint64(s.Tick)))
	}
	near := make([]paintedSquare, 0, len(shapes))
	for r := range height {
		for c := range width {
			mean := pixelMean(shapes, near, r, c, width, height)
			if s.Light != 0 {
				for ch := range mean {
					mean[ch] *= 1 + s.Light
				}
			}
			i := 3 * (r*width + c)
			for ch := range 3 {
				v := mean[ch]
				if rng != nil {
					v += rng.NormFloat64() * noise
				}
				im.RGB[i+ch] = byte(math.Max(0, math.Min(255, math.Round(v))))
			}
		}
	}
	return im
}

// ImagePoint is where the camera shows a point of the table plane, in the [-1, 1] image coordinates
// whose u grows with the column (rightwards) and v with the row (downwards): image up is +x, image
// left is +y, and the table fills the frame (a square one; the largest centred square of another). The camera's projection is orthographic for positions
// (perspective only scales sizes, see Render), so it holds at any height.
func ImagePoint(p Vec3) (u, v float64) { return -p.Y / TableHalfSize, -p.X / TableHalfSize }

// NumColours is how many object and pad colours there are (Red .. Pink).
const NumColours = numColours

// pixelMean is the mean colour of the samples of pixel (r, c). Only the shapes near the pixel can
// cover one of its samples: the bound (the pixel's half diagonal plus a square's, half·√2) never
// cuts off a sample a shape covers, as a sample lies at most 3/8 of a pixel's diagonal from its
// centre. So the samples are tested against those shapes alone, kept in their painting order in
// near (scratch space of Render's, as long as shapes), and a pixel no shape comes near is plain
// table. Leaving out shapes that cover no sample changes no sample: the frames are those of testing
// every shape (TestTabletopFramesUnchanged, TestSingleTaskEpisodesUnchanged).
func pixelMean(shapes, near []paintedSquare, r, c, width, height int) [3]float64 {
	// Image up is +x, image left is +y. Pixels are square, as a camera's are: the table fills the
	// frame's largest centred square, and a frame wider (or taller) than square shows more of the
	// table on either side.
	side := min(width, height)
	pixelX := 2 * TableHalfSize / float64(side)
	pixelY := pixelX
	top := TableHalfSize + float64(height-side)/2*pixelX - float64(r)*pixelX
	left := TableHalfSize + float64(width-side)/2*pixelY - float64(c)*pixelY
	reach := 0.5 * math.Hypot(pixelX, pixelY)
	near = near[:0]
	for _, sq := range shapes {
		dx, dy := top-0.5*pixelX-sq.centre.X, left-0.5*pixelY-sq.centre.Y
		if bound := reach + sq.half*math.Sqrt2; dx*dx+dy*dy <= bound*bound {
			near = append(near, sq)
		}
	}
	if len(near) == 0 {
		return [3]float64{float64(tableRGB[0]), float64(tableRGB[1]), float64(tableRGB[2])}
	}
	var sum [3]float64
	for sr := range subpixels {
		for sc := range subpixels {
			p := Vec3{X: top - (float64(sr)+0.5)*pixelX/subpixels, Y: left - (float64(sc)+0.5)*pixelY/subpixels}
			px := tableRGB
			for _, sq := range near {
				if sq.contains(p) {
					px = sq.paint(px)
				}
			}
			for ch := range 3 {
				sum[ch] += float64(px[ch])
			}
		}
	}
	for ch := range sum {
		sum[ch] /= subpixels * subpixels
	}
	return sum
}

// paintedSquare is one shape of the frame: a square on the table, turned by a yaw, that either covers
// what is under it with a colour or darkens it (a shadow).
type paintedSquare struct {
	centre   Vec3
	cos, sin float64
	half     float64
	rgb      [3]byte
	shadow   bool
}

func newPaintedSquare(centre Vec3, yaw, half float64, rgb [3]byte, shadow bool) paintedSquare {
	return paintedSquare{centre: centre, cos: math.Cos(yaw), sin: math.Sin(yaw), half: half, rgb: rgb, shadow: shadow}
}

func (q paintedSquare) contains(p Vec3) bool {
	dx, dy := p.X-q.centre.X, p.Y-q.centre.Y
	u := q.cos*dx + q.sin*dy
	v := -q.sin*dx + q.cos*dy
	return math.Abs(u) <= q.half && math.Abs(v) <= q.half
}

func (q paintedSquare) paint(under [3]byte) [3]byte {
	if q.shadow {
		return darken(under, shadowDarkness)
	}
	return q.rgb
}

// perspective is how much bigger than on the table something at height z looks.
func perspective(z float64) float64 {
	return cameraHeight / (cameraHeight - math.Min(z, cameraHeight/2))
}

func darken(px [3]byte, k float64) [3]byte {
	return [3]byte{byte(float64(px[0]) * k), byte(float64(px[1]) * k), byte(float64(px[2]) * k)}
}
