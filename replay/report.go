package replay

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"dysl_vla/percentile"
	"dysl_vla/plots"

	"github.com/google/renameio/v2"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Step is what one replayed frame produced, as the report needs it.
type Step struct {
	Index   int
	BagTime time.Duration // since the bag's first message
	// Latency of the skipping engine's inference, and its split.
	LatencyMs                                             float64
	PrefixMs, LayersMs, AdaptersMs, ControllersMs, HeadMs float64
	VerificationMs                                        float64
	LayersExecuted                                        int // over both passes when verification fired
	LayersTotal                                           int // the backbone's layers (SkipStats.layers_total)
	SkipRatio                                             float64
	Continuity, ContinuityDelta                           float64 // NaN while undefined
	AllowPoints                                           []int
	Verification                                          bool
	// With --compare full: the full model's latency on the same frame, and how far the skipping
	// engine's chunk was from the full model's.
	Compared       bool
	FullLatencyMs  float64
	ActionErrorMAE float64 // mean absolute error over the chunk, robot units
	GripperAgree   bool
}

// Skip is an input message that was not acted on, and why: a frame that gave no chunk, or another
// input message (an instruction) that could not be used. Each input message gives at most one.
type Skip struct {
	BagTime time.Duration // since the bag's first message
	Topic   string
	Frame   bool // a message of the image topic
	Kind    SkipKind
	Reason  string
	Age     time.Duration // SkipStale: how old the frame was by the node's clock
	// Unstamped (SkipStale): the frame's header.stamp was 0, so Age means nothing.
	Unstamped bool
}

// SkipKind is the reason class of a Skip.
type SkipKind string

// The reasons a message is not acted on.
const (
	SkipStale           SkipKind = "stale (older than max_image_age)"
	SkipNoInstruction   SkipKind = "no instruction yet"
	SkipNoClock         SkipKind = "no /clock yet (use_sim_time)"
	SkipNoState         SkipKind = "no robot state (missing, or further than state_max_age from the frame)"
	SkipBadFrame        SkipKind = "bad frame"
	SkipInferenceFailed SkipKind = "inference failed"
	SkipNonFinite       SkipKind = "non-finite chunk"
	SkipDecodeError     SkipKind = "decode error"
	SkipSuperseded      SkipKind = "superseded"
	SkipOther           SkipKind = "other"
)

// Summary is the report's numbers.
type Summary struct {
	// Frames were acted on (a chunk published); Skipped frames were not, for the reasons counted in
	// SkippedBy; DroppedMessages are other input messages not acted on: instructions, joint states and
	// /clock messages that were damaged in the bag, did not decode or failed their checks.
	// Every image of the bag is in exactly one of Frames and Skipped.
	Frames, Skipped             int
	SkippedBy                   map[SkipKind]int
	DroppedMessages             int
	StaleAgeMin, StaleAgeMedian time.Duration // of the stale frames with a stamp
	StaleAgeMax                 time.Duration
	Unstamped                   int // stale frames whose header.stamp was 0
	ForwardFailures             int // chunks published but not forwarded (MAVLink)
	// ControllersOutOfRange counts the controller outputs that were no probability (NaN, or outside
	// [0, 1]): a controller that gives a logit skips at random against the threshold, and every frame
	// is still acted on.
	ControllersOutOfRange int
	Clock                 ClockSource
	Hint                  string   // what to do when the run acted on nothing; empty otherwise
	BagWarnings           []string // what the bag said of itself when opened (bag.Info.Warnings)
	// StoppedEarly, when set, says why the replay ended before the bag did (Ctrl-C, a fault in the
	// file): the figures cover only the messages before it.
	StoppedEarly                       string
	LatencyP50, LatencyP95, LatencyMax float64
	MeanLatency                        float64
	MeanExecutedLayers, LayersTotal    float64
	SkipRatio                          float64
	VerificationRate                   float64
	Compared                           bool
	FullLatencyP50, FullMeanLatency    float64
	Speedup                            float64 // full mean latency / skipping mean latency
	ActionMAE, ActionMAEMax            float64
	GripperAgreement                   float64
	DecodeFramesPerSecond              float64 // bag decoding alone, on the first camera frames; 0 when not measured
	// Camera is the topic the frames were read from, with its type; CameraNote says why it is not
	// the one the parameters name, when it is not.
	Camera, CameraNote string
}

// Summarize computes the summary of a run.
func Summarize(steps []Step, skips []Skip) Summary {
	s := Summary{Frames: len(steps), SkippedBy: map[SkipKind]int{}}
	var ages []time.Duration
	for _, sk := range skips {
		if !sk.Frame {
			s.DroppedMessages++
			continue
		}
		s.Skipped++
		s.SkippedBy[sk.Kind]++
		switch {
		case sk.Kind == SkipStale && sk.Unstamped:
			s.Unstamped++
		case sk.Kind == SkipStale:
			ages = append(ages, sk.Age)
		}
	}
	if len(ages) > 0 {
		slices.Sort(ages)
		s.StaleAgeMin, s.StaleAgeMedian, s.StaleAgeMax = ages[0], percentile.Sorted(ages, 0.5), ages[len(ages)-1]
	}
	if len(steps) == 0 {
		return s
	}
	var lat, full []float64
	var verif, agree int
	for _, st := range steps {
		lat = append(lat, st.LatencyMs)
		s.MeanLatency += st.LatencyMs
		s.MeanExecutedLayers += float64(st.LayersExecuted)
		s.LayersTotal = float64(st.LayersTotal)
		s.SkipRatio += st.SkipRatio
		if st.Verification {
			verif++
		}
		if st.Compared {
			s.Compared = true
			full = append(full, st.FullLatencyMs)
			s.FullMeanLatency += st.FullLatencyMs
			s.ActionMAE += st.ActionErrorMAE
			s.ActionMAEMax = math.Max(s.ActionMAEMax, st.ActionErrorMAE)
			if st.GripperAgree {
				agree++
			}
		}
	}
	n := float64(len(steps))
	s.MeanLatency /= n
	s.MeanExecutedLayers /= n
	s.SkipRatio /= n
	s.VerificationRate = float64(verif) / n
	s.LatencyP50, s.LatencyP95, s.LatencyMax = percentile.Of(lat, 0.5), percentile.Of(lat, 0.95), percentile.Of(lat, 1)
	if s.Compared {
		m := float64(len(full))
		s.FullMeanLatency /= m
		s.FullLatencyP50 = percentile.Of(full, 0.5)
		s.ActionMAE /= m
		s.GripperAgreement = float64(agree) / m
		s.Speedup = s.FullMeanLatency / s.MeanLatency
	}
	return s
}

// WriteReport writes report.md and its PNG plots into dir.
func WriteReport(dir, title string, steps []Step, skips []Skip, sum Summary, config string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	figures := []struct {
		file string
		make func([]Step) (*plot.Plot, error)
	}{
		{"latency_hist.png", latencyHistogram},
		{"executed_layers.png", executedLayersPlot},
		{"continuity.png", continuityPlot},
	}
	var made []string
	if len(steps) > 0 {
		for _, p := range figures {
			pl, err := p.make(steps)
			if err != nil {
				return fmt.Errorf("replay: plot %s: %w", p.file, err)
			}
			if err := plots.Save(pl, 8*vg.Inch, 4*vg.Inch, filepath.Join(dir, p.file)); err != nil {
				return fmt.Errorf("replay: plot %s: %w", p.file, err)
			}
			made = append(made, p.file)
		}
	}
	var report bytes.Buffer
	writeMarkdown(&report, title, skips, sum, config, made)
	return renameio.WriteFile(filepath.Join(dir, "report.md"), report.Bytes(), 0o644)
}

func writeMarkdown(w io.Writer, title string, skips []Skip, s Summary, config string, figures []string) {
	fmt.Fprintf(w, "# Replay report: %s\n\n", title)
	fmt.Fprintf(w, "Skipping configuration: `%s`\n\n", config)
	if s.StoppedEarly != "" {
		fmt.Fprintf(w, "**STOPPED before the end of the bag:** %s. The figures cover the messages before it.\n\n", s.StoppedEarly)
	}
	fmt.Fprintf(w, "| measure | value |\n|---|---|\n")
	row := func(k, format string, v ...any) { fmt.Fprintf(w, "| %s | %s |\n", k, fmt.Sprintf(format, v...)) }
	if s.Camera != "" {
		row("camera", "%s", s.Camera)
	}
	row("frames acted on", "%d", s.Frames)
	row("frames not acted on (see below)", "%d", s.Skipped)
	for _, kind := range s.skipKinds() {
		row("&nbsp;&nbsp;"+string(kind), "%d", s.SkippedBy[kind])
	}
	if s.SkippedBy[SkipStale] > 0 {
		row("age of the stale frames, min / median / max", "%v / %v / %v", s.StaleAgeMin, s.StaleAgeMedian, s.StaleAgeMax)
	}
	if s.DroppedMessages > 0 {
		row("other input messages not acted on", "%d", s.DroppedMessages)
	}
	if s.ForwardFailures > 0 {
		row("chunks published but not forwarded", "%d", s.ForwardFailures)
	}
	row("controller outputs out of range (NaN, or outside [0, 1])", "%d", s.ControllersOutOfRange)
	if s.Clock != "" {
		row("node clock", "%s", s.Clock)
	}
	row("latency mean / p50 / p95 / max", "%.2f / %.2f / %.2f / %.2f ms", s.MeanLatency, s.LatencyP50, s.LatencyP95, s.LatencyMax)
	row("mean executed layers a frame (verification re-runs included)", "%.2f, of %.0f a pass", s.MeanExecutedLayers, s.LayersTotal)
	row("skip ratio", "%.1f%%", 100*s.SkipRatio)
	row("verification rate", "%.1f%%", 100*s.VerificationRate)
	if s.Compared {
		row("full model latency mean / p50", "%.2f / %.2f ms", s.FullMeanLatency, s.FullLatencyP50)
		row("speedup (mean full / mean skipping)", "%.2fx", s.Speedup)
		row("action error vs full, mean / max (MAE, robot units)", "%.4f / %.4f", s.ActionMAE, s.ActionMAEMax)
		row("gripper agreement with full", "%.1f%%", 100*s.GripperAgreement)
	}
	if s.DecodeFramesPerSecond > 0 {
		row("bag decoding alone", "%.0f frames/s", s.DecodeFramesPerSecond)
	}
	fmt.Fprintln(w)
	if s.CameraNote != "" {
		fmt.Fprintf(w, "**Camera:** %s.\n\n", s.CameraNote)
	}
	for _, warning := range s.BagWarnings {
		fmt.Fprintf(w, "**Input bag:** %s\n\n", warning)
	}
	if s.Hint != "" {
		fmt.Fprintf(w, "**Nothing was acted on.** %s\n\n", s.Hint)
	}
	for _, p := range figures {
		fmt.Fprintf(w, "![%s](%s)\n\n", strings.TrimSuffix(p, ".png"), p)
	}
	if len(skips) > 0 {
		fmt.Fprintf(w, "## Messages not acted on\n\n| bag time | topic | reason |\n|---|---|---|\n")
		for i, sk := range skips {
			if i == 50 {
				fmt.Fprintf(w, "| ... | | %d more |\n", len(skips)-50)
				break
			}
			fmt.Fprintf(w, "| %.3f s | %s | %s |\n", sk.BagTime.Seconds(), sk.Topic, strings.ReplaceAll(sk.Reason, "|", "/"))
		}
	}
}

// skipKinds lists the reasons frames were skipped for, most frequent first.
func (s Summary) skipKinds() []SkipKind {
	var kinds []SkipKind
	for k, n := range s.SkippedBy {
		if n > 0 {
			kinds = append(kinds, k)
		}
	}
	slices.SortFunc(kinds, func(a, b SkipKind) int {
		if d := s.SkippedBy[b] - s.SkippedBy[a]; d != 0 {
			return d
		}
		return strings.Compare(string(a), string(b))
	})
	return kinds
}

func latencyHistogram(steps []Step) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Inference latency"
	p.X.Label.Text = "ms"
	p.Y.Label.Text = "frames"
	v := make(plotter.Values, len(steps))
	for i, s := range steps {
		v[i] = s.LatencyMs
	}
	h, err := plotter.NewHist(v, 30)
	if err != nil {
		return nil, err
	}
	p.Add(h)
	return p, nil
}

func executedLayersPlot(steps []Step) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Executed layers per step"
	p.X.Label.Text = "step"
	p.Y.Label.Text = "layers"
	pts := make(plotter.XYs, len(steps))
	for i, s := range steps {
		pts[i] = plotter.XY{X: float64(s.Index), Y: float64(s.LayersExecuted)}
	}
	l, err := plotter.NewLine(pts)
	if err != nil {
		return nil, err
	}
	p.Add(l)
	return p, nil
}

// continuityPlot draws C_t and the mean allow point over time (on a second scale folded into [0, 1] of
// the segment), with verification events marked.
func continuityPlot(steps []Step) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Continuity C_t, allow points and verification"
	p.X.Label.Text = "step"
	var c, allow, verif plotter.XYs
	for _, s := range steps {
		x := float64(s.Index)
		if !math.IsNaN(s.Continuity) {
			c = append(c, plotter.XY{X: x, Y: s.Continuity})
		}
		if len(s.AllowPoints) > 0 {
			var sum float64
			for _, a := range s.AllowPoints {
				sum += float64(a)
			}
			allow = append(allow, plotter.XY{X: x, Y: sum / float64(len(s.AllowPoints)) / math.Max(1, float64(s.LayersTotal))})
		}
		if s.Verification {
			y := 0.0
			if !math.IsNaN(s.Continuity) {
				y = s.Continuity
			}
			verif = append(verif, plotter.XY{X: x, Y: y})
		}
	}
	if len(c) > 0 {
		l, err := plotter.NewLine(c)
		if err != nil {
			return nil, err
		}
		l.Color = color.RGBA{B: 200, A: 255}
		p.Add(l)
		p.Legend.Add("C_t", l)
	}
	if len(allow) > 0 {
		l, err := plotter.NewLine(allow)
		if err != nil {
			return nil, err
		}
		l.Color = color.RGBA{G: 150, A: 255}
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		p.Add(l)
		p.Legend.Add("mean allow point / layers", l)
	}
	if len(verif) > 0 {
		sc, err := plotter.NewScatter(verif)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle.Color = color.RGBA{R: 220, A: 255}
		sc.GlyphStyle.Shape = draw.CrossGlyph{}
		sc.GlyphStyle.Radius = vg.Points(4)
		p.Add(sc)
		p.Legend.Add("verification", sc)
	}
	p.Legend.Top = true
	return p, nil
}
