package openloop

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"dysl_vla/evaluation/matching"
	"dysl_vla/percentile"
	"dysl_vla/policy/bundle"
	"dysl_vla/training"
)

// runInterleaved runs every frame through every available variant, in an order rotating by frame, and
// accumulates each row's statistics. variants[0] must be the full model: errors are measured against it.
// It returns the frames played: all of them, or those of the whole episodes played before ctx was
// done.
func runInterleaved(ctx context.Context, cfg Config, variants []*variant, frames []*frame, m *bundle.Manifest) (int, error) {
	gi := m.Action.GripperIndex
	gripperZero := 0.0 // the open/closed boundary (0 in robot units), normalized
	if gi >= 0 {
		gripperZero = -m.Action.Mean[gi] / m.Action.Std[gi]
	}
	h := headingOf(m)
	n := len(variants)
	outs := make([]outcome, n)
	fmt.Fprintf(cfg.Log, "running %d frames through %d variants, interleaved\n", len(frames), n)
	for i, f := range frames {
		if i == 0 || f.episode != frames[i-1].episode {
			if ctx.Err() != nil {
				return i, nil
			}
			for _, v := range variants {
				if v.row.Available {
					v.reset()
				}
			}
		}
		for j := range n {
			v := variants[(i+j)%n]
			if !v.row.Available {
				continue
			}
			if v.before != nil {
				if err := v.before(); err != nil {
					return i, fmt.Errorf("evaluate: %s: %w", v.row.Variant, err)
				}
			}
			t0 := cfg.Now()
			out, err := v.infer(f)
			dt := cfg.Now().Sub(t0)
			if err != nil {
				return i, fmt.Errorf("evaluate: %s, frame %d: %w", v.row.Variant, i, err)
			}
			outs[(i+j)%n] = out
			v.row.latencies = append(v.row.latencies, dt)
		}
		full := outs[0].chunk
		for k, v := range variants {
			if !v.row.Available {
				continue
			}
			accumulate(v.row, outs[k], full, f, gi, gripperZero)
			if f.start {
				v.row.headingSum += h.cosine(outs[k].chunk, f.expert)
				v.row.headingCount++
			}
		}
		if (i+1)%max(1, len(frames)/10) == 0 {
			fmt.Fprintf(cfg.Log, "  %d/%d frames\n", i+1, len(frames))
		}
	}
	return len(frames), nil
}

// heading finds where a chunk takes the gripper over the table: the sum of its x and y steps, in
// robot units (the columns named x and y).
type heading struct {
	x, y   int // column indices; -1 when the bundle has no such action
	sx, sy float64
}

func headingOf(m *bundle.Manifest) heading {
	h := heading{x: slices.Index(m.Action.Names, "x"), y: slices.Index(m.Action.Names, "y")}
	if h.x >= 0 && h.y >= 0 {
		h.sx, h.sy = m.Action.Std[h.x], m.Action.Std[h.y]
	}
	return h
}

// cosine is the cosine between the horizontal headings of two normalized chunks: 1 when the policy's
// chunk sets off where the expert's does, 0 at right angles, -1 the opposite way; NaN when either
// does not move (or the bundle has no x and y).
func (h heading) cosine(policy, expert [][]float64) float64 {
	if h.x < 0 || h.y < 0 {
		return math.NaN()
	}
	px, py := h.of(policy)
	ex, ey := h.of(expert)
	norms := math.Hypot(px, py) * math.Hypot(ex, ey)
	if norms == 0 {
		return math.NaN()
	}
	return (px*ex + py*ey) / norms
}

// of is where a normalized chunk takes the gripper: its x and y steps summed, in robot units.
func (h heading) of(chunk [][]float64) (x, y float64) {
	for _, a := range chunk {
		x += a[h.x] * h.sx
		y += a[h.y] * h.sy
	}
	return x, y
}

func accumulate(r *Row, o outcome, full [][]float64, f *frame, gi int, gripperZero float64) {
	r.Frames++
	r.layersSum += float64(o.executed)
	r.skippedSum += float64(o.skip)
	if o.verificationFire {
		r.verifiedSum++
	}
	var dFull, dExp, values float64
	var gFull, gExp, actions float64
	for k, a := range o.chunk {
		for d, x := range a {
			dFull += math.Abs(x - full[k][d])
			dExp += math.Abs(x - f.expert[k][d])
			values++
		}
		if gi >= 0 {
			closed := a[gi] > gripperZero
			if closed == (full[k][gi] > gripperZero) {
				gFull++
			}
			if closed == (f.expert[k][gi] > gripperZero) {
				gExp++
			}
			actions++
		}
	}
	r.sums[0] += dFull
	r.sums[1] += dExp
	r.counts[0] += values
	if f.critical {
		r.sums[2] += dFull
		r.sums[4] += dExp
		r.counts[1] += values
	} else {
		r.sums[3] += dFull
		r.sums[5] += dExp
		r.counts[2] += values
	}
	r.sums[6] += gFull
	r.sums[7] += gExp
	r.counts[3] += actions
}

// finish turns the sums into the reported figures; rows[0] is the full model.
func finish(rep *Report, L int) {
	div := func(a, b float64) float64 {
		if b == 0 {
			return math.NaN()
		}
		return a / b
	}
	var fullMedian time.Duration
	for i := range rep.Rows {
		r := &rep.Rows[i]
		if !r.Available || r.Frames == 0 {
			continue
		}
		n := float64(r.Frames)
		r.MeanLayers = r.layersSum / n
		r.SkipRatio = r.skippedSum / (n * float64(L))
		r.VerificationRate = r.verifiedSum / n
		med := percentile.Of(r.latencies, 0.5)
		if i == 0 {
			fullMedian = med
		}
		r.MedianMs = ms(med)
		r.P90Ms = ms(percentile.Of(r.latencies, 0.9))
		r.Speedup = div(float64(fullMedian), float64(med))
		r.MAEFull = Metric(div(r.sums[0], r.counts[0]))
		r.MAEExpert = Metric(div(r.sums[1], r.counts[0]))
		r.CritFull = Metric(div(r.sums[2], r.counts[1]))
		r.FreeFull = Metric(div(r.sums[3], r.counts[2]))
		r.CritExpert = Metric(div(r.sums[4], r.counts[1]))
		r.FreeExpert = Metric(div(r.sums[5], r.counts[2]))
		r.GripFull = Metric(div(r.sums[6], r.counts[3]))
		r.GripExpert = Metric(div(r.sums[7], r.counts[3]))
		r.StartHeading = Metric(div(r.headingSum, r.headingCount))
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// WriteTable prints the report for people: the table, then each row's knob and notes.
func WriteTable(w io.Writer, rep *Report) {
	fmt.Fprintf(w, "model %s (preset %s, %d layers, static %v), provider %s\n", rep.Model, rep.Preset, rep.Layers, rep.StaticLayers, rep.Provider)
	fmt.Fprintf(w, "%d episodes (%s), %d frames, %d critical; %s\n",
		rep.Episodes, training.HeldOutSeeds(rep.Seeds[0], rep.Seeds[1]), rep.Frames, rep.CriticalFrames, rep.Mode)
	fmt.Fprintf(w, "dysl config: %s\n", rep.DySL)
	if rep.Machine != "" {
		fmt.Fprintf(w, "machine: %s\n", rep.Machine)
	}
	fmt.Fprintln(w)
	if rep.Stopped != "" {
		fmt.Fprintf(w, "STOPPED before the end: %s\n\n", rep.Stopped)
	}
	fmt.Fprintf(w, "%-16s %6s %5s %5s %8s %7s | %8s %8s | %6s %6s | %8s %8s | %8s %8s | %6s\n",
		"variant", "layers", "skip", "verif", "p50_ms", "speedup", "mae_full", "mae_exp", "grip_f", "grip_e",
		"crit_f", "free_f", "crit_e", "free_e", "head0")
	for _, r := range rep.Rows {
		if !r.Available {
			fmt.Fprintf(w, "%-16s %s\n", r.Variant, r.Note)
			continue
		}
		fmt.Fprintf(w, "%-16s %6.2f %5.3f %5.3f %8.3f %7.3f | %8.4f %8.4f | %6.3f %6.3f | %8.4f %8.4f | %8.4f %8.4f | %+6.2f\n",
			r.Variant, r.MeanLayers, r.SkipRatio, r.VerificationRate, r.MedianMs, r.Speedup, r.MAEFull, r.MAEExpert,
			r.GripFull, r.GripExpert, r.CritFull, r.FreeFull, r.CritExpert, r.FreeExpert, r.StartHeading)
	}
	fmt.Fprintln(w)
	for _, r := range rep.Rows {
		matching.WriteVariantLine(w, r.Variant, r.Description, r.Param, r.Note, r.Available)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "columns: layers = mean executed layers per inference (all passes); skip = mean skipped layers / L; verif = share re-run by verification;")
	fmt.Fprintln(w, "  mae_full/mae_exp = action MAE vs the full model / the expert; grip_f/grip_e = gripper open/closed agreement;")
	fmt.Fprintln(w, "  crit_*/free_* = MAE on critical (grasp/release windows) vs free-space frames, vs full (f) and expert (e);")
	fmt.Fprintln(w, "  head0 = on each episode's first frame, the mean cosine between the chunk's horizontal heading and the expert's")
	fmt.Fprintln(w, "  (1: it sets off towards the block; 0: no better than chance; from the start pose only the image says where the block is)")
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}
