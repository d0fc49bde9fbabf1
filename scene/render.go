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

// Render draws s as seen by the camera straight above the table: the table, the pad, the
// block (and its shadow once lifted) and the gripper's two fingers, which sit wide apart when
// open and together when closed. noise is the standard deviation of per-channel pixel noise in
// 0..255 units, drawn from a generator seeded by (s.Seed, s.Tick): a frame is a pure function of
// the state. Width and height must be positive.
func Render(s State, width, height int, noise float64) Image {
	im := Image{Width: width, Height: height, RGB: make([]byte, 3*width*height)}
	fingerRGB := fingerOpenRGB
	fingerGap := 0.035 // tip centre to finger centre, open
	if s.Gripper > 0 {
		fingerRGB = fingerShutRGB
		fingerGap = BlockHalfSize + 0.006
	}
	eeScale := perspective(s.EE.Z)
	blockScale := perspective(s.Object.Z)
	fingerOffset := Vec3{-math.Sin(s.Yaw), math.Cos(s.Yaw), 0}.Scale(fingerGap * eeScale)
	var rng *rand.Rand
	if noise > 0 {
		rng = rand.New(rand.NewPCG(uint64(s.Seed), uint64(s.Tick)))
	}
	for r := range height {
		for c := range width {
			// Pixel centre on the table: image up is +x, image left is +y.
			p := Vec3{
				X: TableHalfSize - (float64(r)+0.5)/float64(height)*2*TableHalfSize,
				Y: TableHalfSize - (float64(c)+0.5)/float64(width)*2*TableHalfSize,
			}
			px := tableRGB
			if insideSquare(p, s.Goal, 0, PadHalfSize) {
				px = colourRGB[s.GoalColour]
			}
			lifted := s.Object.Z > BlockHalfSize+1e-9
			if lifted && insideSquare(p, Vec3{X: s.Object.X, Y: s.Object.Y}, s.ObjectYaw, BlockHalfSize) {
				px = darken(px, shadowDarkness)
			}
			if insideSquare(p, s.Object, s.ObjectYaw, BlockHalfSize*blockScale) {
				px = colourRGB[s.ObjectColour]
			}
			fingerHalf := 0.008 * eeScale
			if insideSquare(p, s.EE.Add(fingerOffset), s.Yaw, fingerHalf) || insideSquare(p, s.EE.Sub(fingerOffset), s.Yaw, fingerHalf) {
				px = fingerRGB
			}
			i := 3 * (r*width + c)
			for ch := range 3 {
				v := float64(px[ch])
				if rng != nil {
					v += rng.NormFloat64() * noise
				}
				im.RGB[i+ch] = byte(math.Max(0, math.Min(255, math.Round(v))))
			}
		}
	}
	return im
}

// perspective is how much bigger than on the table something at height z looks.
func perspective(z float64) float64 {
	return cameraHeight / (cameraHeight - math.Min(z, cameraHeight/2))
}

// insideSquare reports whether table point p lies in the square of the given half size centred
// at centre (x, y only) and turned by yaw.
func insideSquare(p, centre Vec3, yaw, half float64) bool {
	dx, dy := p.X-centre.X, p.Y-centre.Y
	cos, sin := math.Cos(yaw), math.Sin(yaw)
	u := cos*dx + sin*dy
	v := -sin*dx + cos*dy
	return math.Abs(u) <= half && math.Abs(v) <= half
}

func darken(px [3]byte, k float64) [3]byte {
	return [3]byte{byte(float64(px[0]) * k), byte(float64(px[1]) * k), byte(float64(px[2]) * k)}
}
