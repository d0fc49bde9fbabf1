// Package plots draws the PNG figures the tools write (training losses, calibration, the speed-success
// sweep, replay reports) and writes each whole: a plot file is replaced in one rename, so an
// interrupted run leaves the previous figure, never half of a new one.
package plots

import (
	"bytes"
	"fmt"
	"image/color"
	"path/filepath"
	"strings"

	"github.com/google/renameio/v2"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Series is one named line of a plot; with Scatter its points alone, with Ringed a line whose points
// are circled (a Pareto front).
type Series struct {
	Name            string
	X, Y            []float64
	Scatter, Ringed bool
}

// palette gives each line of a plot a distinct colour.
var palette = []color.RGBA{
	{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, {R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, {R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, {R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, {R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
	{R: 0xe3, G: 0x77, B: 0xc2, A: 0xff}, {R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}, {R: 0xbc, G: 0xbd, B: 0x22, A: 0xff},
	{R: 0x17, G: 0xbe, B: 0xcf, A: 0xff},
}

// glyphs give each scatter series of a plot a distinct shape besides its colour.
var glyphs = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.TriangleGlyph{}, draw.BoxGlyph{}, draw.PyramidGlyph{},
	draw.CrossGlyph{}, draw.PlusGlyph{}, draw.RingGlyph{}, draw.SquareGlyph{}}

// SaveLine writes a PNG line plot, scatter series drawn as points (the extension of path picks
// the format; .png is what the tools write).
func SaveLine(path, title, xLabel, yLabel string, series ...Series) error {
	p, err := newPlot(title, xLabel, yLabel, series)
	if err != nil {
		return err
	}
	p.Legend.Top = true
	return Save(p, 7*vg.Inch, 4*vg.Inch, path)
}

// SaveShare is SaveLine with a share (a success rate) on the y axis: it spans 0 to 1 whatever
// the points, and the legend sits right of the data: a speed-success plot has points in every
// corner, and a legend drawn over them hid the ones at zero success.
func SaveShare(path, title, xLabel, yLabel string, series ...Series) error {
	p, err := newPlot(title, xLabel, yLabel, series)
	if err != nil {
		return err
	}
	p.Y.Min, p.Y.Max = -0.03, 1.03
	pad := (p.X.Max - p.X.Min) / 20 // markers at the ends stay whole
	p.X.Min, p.X.Max = p.X.Min-pad, p.X.Max+pad
	legend := p.Legend
	p.Legend = plot.NewLegend() // an empty legend draws nothing over the data
	legend.Top, legend.Left = true, true
	return saveDrawn(path, 9*vg.Inch, 5*vg.Inch, func(c draw.Canvas) {
		box := legend.Rectangle(c)
		width := box.Max.X - box.Min.X + vg.Points(16)
		p.Draw(draw.Crop(c, 0, -width, 0, 0))
		legend.Draw(draw.Crop(c, c.Max.X-c.Min.X-width+vg.Points(8), 0, 0, -p.Title.TextStyle.Rectangle(p.Title.Text).Size().Y-vg.Points(16)))
	})
}

func newPlot(title, xLabel, yLabel string, series []Series) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, xLabel, yLabel
	p.Add(plotter.NewGrid())
	for i, s := range series {
		if len(s.X) == 0 {
			continue // it keeps its colour slot, so that a series is drawn alike in every plot of a kind
		}
		points := make(plotter.XYs, len(s.X))
		for k := range s.X {
			points[k].X, points[k].Y = s.X[k], s.Y[k]
		}
		if s.Scatter {
			dots, err := plotter.NewScatter(points)
			if err != nil {
				return nil, fmt.Errorf("plots: %s: %w", s.Name, err)
			}
			dots.Color, dots.Shape, dots.Radius = palette[i%len(palette)], glyphs[i%len(glyphs)], vg.Points(3)
			p.Add(dots)
			p.Legend.Add(s.Name, dots)
			continue
		}
		line, dots, err := plotter.NewLinePoints(points)
		if err != nil {
			return nil, fmt.Errorf("plots: %s: %w", s.Name, err)
		}
		line.Color, dots.Color = palette[i%len(palette)], palette[i%len(palette)]
		dots.Radius = vg.Points(1.5)
		if len(points) > 60 {
			dots.Radius = 0 // long loss curves read better as plain lines
		}
		if s.Ringed {
			dots.Shape, dots.Radius = draw.RingGlyph{}, vg.Points(6)
		}
		p.Add(line, dots)
		if s.Name != "" {
			p.Legend.Add(s.Name, line)
		}
	}
	return p, nil
}

// CheckFormat refuses a path whose extension names no format Save can write, so that a command can
// refuse it before its work rather than after.
func CheckFormat(path string) error {
	format := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))
	if _, err := plot.New().WriterTo(1, 1, format); err != nil {
		return fmt.Errorf("plots: %s: %w (expected .png, .svg, .pdf, .eps, .jpg or .tif)", path, err)
	}
	return nil
}

// Save writes p to path, its format picked by the extension (.png is what the tools write), as
// plot.Save does, but through a temporary file renamed over path once complete.
func Save(p *plot.Plot, width, height vg.Length, path string) error {
	return saveDrawn(path, width, height, p.Draw)
}

// saveDrawn writes what drawFn draws on a canvas of width by height to path, as Save does.
func saveDrawn(path string, width, height vg.Length, drawFn func(draw.Canvas)) error {
	format := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))
	w, err := draw.NewFormattedCanvas(width, height, format)
	if err != nil {
		return fmt.Errorf("plots: %s: %w", path, err)
	}
	drawFn(draw.New(w))
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return fmt.Errorf("plots: %s: %w", path, err)
	}
	return renameio.WriteFile(path, buf.Bytes(), 0o644)
}

// RunningMean is the running mean of the last window values, for readable loss curves.
func RunningMean(values []float64, window int) []float64 {
	out := make([]float64, len(values))
	var sum float64
	for i, v := range values {
		sum += v
		if i >= window {
			sum -= values[i-window]
		}
		out[i] = sum / float64(min(i+1, window))
	}
	return out
}
