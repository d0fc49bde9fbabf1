package training

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Series is one named line of a plot.
type Series struct {
	Name string
	X, Y []float64
}

// palette gives each line of a plot a distinct colour.
var palette = []color.RGBA{
	{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, {R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, {R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, {R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, {R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
}

// SaveLinePlot writes a PNG line plot (the extension of path picks the format; .png is what the tools
// write).
func SaveLinePlot(path, title, xLabel, yLabel string, series ...Series) error {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, xLabel, yLabel
	p.Add(plotter.NewGrid())
	for i, s := range series {
		points := make(plotter.XYs, len(s.X))
		for k := range s.X {
			points[k].X, points[k].Y = s.X[k], s.Y[k]
		}
		line, dots, err := plotter.NewLinePoints(points)
		if err != nil {
			return fmt.Errorf("training: plot %s: %w", s.Name, err)
		}
		line.Color, dots.Color = palette[i%len(palette)], palette[i%len(palette)]
		dots.Radius = vg.Points(1.5)
		if len(points) > 60 {
			dots.Radius = 0 // long loss curves read better as plain lines
		}
		p.Add(line, dots)
		if s.Name != "" {
			p.Legend.Add(s.Name, line)
		}
	}
	p.Legend.Top = true
	return p.Save(7*vg.Inch, 4*vg.Inch, path)
}

// smooth is the running mean of the last window values, for readable loss curves.
func smooth(values []float64, window int) []float64 {
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
