// Package matching sets a baseline's knob so that it spends the compute DySL spent, for the open-loop
// and the closed-loop evaluations alike: per-inference skip ratios dithered to a mean number of skipped
// layers (random skip, fixed jump points), and thresholds searched to a target figure (FlexiDepth's
// controller threshold, to the layers DySL executed per inference, re-runs included; early exit's eta
// in closed loop).
package matching

import (
	"fmt"
	"io"
	"math"
	"sort"

	"dysl_vla/skipping"
)

// SkipLevels maps each whole number of skipped layers a random_skip or fixed_ratio plan can produce to
// a SkipRatio that produces it (skipping.SkippedLayers).
func SkipLevels(s skipping.Strategy, layout skipping.Layout) map[int]float64 {
	out := map[int]float64{}
	for step := 0; step <= 1000; step++ {
		r := float64(step) / 1000
		n, known := skipping.SkippedLayers(s, layout, r)
		if !known {
			panic(fmt.Sprintf("matching: strategy %v does not skip by a ratio", s))
		}
		if _, ok := out[n]; !ok {
			out[n] = r
		}
	}
	return out
}

// Dither chooses, inference by inference, how many layers a random_skip or fixed_ratio baseline
// skips: always a whole number the strategy can produce, with the running mean tracking Target
// (error diffusion since it was made or last restarted: the closed loop restarts it per episode).
type Dither struct {
	levels     map[int]float64
	counts     []int
	target     float64
	done       float64
	inferences int
}

// NewDither makes the dither of strategy s on layout towards target skipped layers per inference.
func NewDither(s skipping.Strategy, layout skipping.Layout, target float64) *Dither {
	d := &Dither{levels: SkipLevels(s, layout), target: target}
	for n := range d.levels {
		d.counts = append(d.counts, n)
	}
	sort.Ints(d.counts)
	return d
}

// Restart starts the dither over, as a new one: the next inference is its first.
func (d *Dither) Restart() { d.done, d.inferences = 0, 0 }

// Counts lists the skipped-layer counts the strategy can produce, ascending.
func (d *Dither) Counts() []int { return d.counts }

// Next returns the SkipRatio of the next inference.
func (d *Dither) Next() float64 {
	d.inferences++
	want := d.target*float64(d.inferences) - d.done
	best := d.counts[0]
	for _, n := range d.counts {
		if math.Abs(float64(n)-want) < math.Abs(float64(best)-want) {
			best = n
		}
	}
	d.done += float64(best)
	return d.levels[best]
}

// Probe is one figure measured (or known) at one setting of a knob.
type Probe struct{ Knob, Got float64 }

// Search finds the setting of a monotone knob whose measured figure (executed layers per inference,
// a skip ratio) comes within Tolerance of Target, in as few measurements as it can: each may be a
// whole closed-loop run. It keeps a bracket [lo, hi] with the target between the figures at its ends
// and tries, next, the point where the straight line through the ends' figures meets the target
// (regula falsi; the midpoint after two probes that moved the same end, as the line then misjudges
// a curved figure), or while an end's figure is unknown where the line through the last two figures
// does (secant), or else the midpoint; kept at least a tenth of the bracket away from either end, so
// that the bracket shrinks even on a step-shaped figure. A figure
// that breaks monotonicity (closed loop: the knob changes the states visited) only narrows the
// bracket on the side it says; the answer is the closest figure seen.
type Search struct {
	// Measure returns the figure at a knob.
	Measure func(knob float64) (float64, error)
	Target  float64
	// Tolerance ends the search once a figure is within it of Target; 0 runs every allowed measurement.
	Tolerance float64
	// Rising says the figure rises with the knob.
	Rising bool
	// Bracket is the knob's range.
	Bracket [2]float64
	// Known are figures known without measuring (at a knob where every layer runs, say): they seed the
	// bracket and compete for the answer.
	Known []Probe
	// Start is the first knob measured, a guess from a cheaper match; NaN starts at the midpoint.
	Start float64
	// MaxRuns caps the measurements.
	MaxRuns int
}

// SearchResult is where a Search ended.
type SearchResult struct {
	// Knob and Got are the probe closest to the target; Met says it is within the tolerance.
	Knob, Got float64
	Met       bool
	// Runs counts the measurements; Probes lists them in order.
	Runs   int
	Probes []Probe
}

// Run performs the search.
func (s Search) Run() (SearchResult, error) {
	lo, hi := s.Bracket[0], s.Bracket[1]
	if !(lo < hi) {
		return SearchResult{}, fmt.Errorf("matching: search bracket [%v, %v] is empty", lo, hi)
	}
	flo, fhi := math.NaN(), math.NaN()
	var res SearchResult
	best := Probe{Knob: math.NaN(), Got: math.NaN()}
	consider := func(p Probe) {
		if math.IsNaN(best.Got) || math.Abs(p.Got-s.Target) < math.Abs(best.Got-s.Target) {
			best = p
		}
	}
	// narrow keeps the target between the ends' figures: a figure below the target on a rising knob
	// (above it on a falling one) moves the low end up to its knob, otherwise the high end down.
	var moved, movedBefore int // which end the last two probes moved: -1 low, +1 high
	narrow := func(p Probe) {
		if p.Knob < lo || p.Knob > hi {
			return
		}
		movedBefore = moved
		if (p.Got < s.Target) == s.Rising {
			lo, flo, moved = p.Knob, p.Got, -1
		} else {
			hi, fhi, moved = p.Knob, p.Got, +1
		}
	}
	within := func() bool { return !math.IsNaN(best.Got) && math.Abs(best.Got-s.Target) <= s.Tolerance }
	var seen []Probe // known figures, then measured ones, in order
	for _, p := range s.Known {
		consider(p)
		narrow(p)
		seen = append(seen, p)
	}
	next := s.Start
	for res.Runs < s.MaxRuns && !within() {
		if math.IsNaN(next) || next <= lo || next >= hi {
			next = (lo + hi) / 2
		}
		got, err := s.Measure(next)
		if err != nil {
			return res, err
		}
		p := Probe{Knob: next, Got: got}
		res.Runs++
		res.Probes = append(res.Probes, p)
		consider(p)
		narrow(p)
		if hi-lo <= 1e-9*math.Max(1, math.Abs(hi)) {
			break // no knob left between the ends
		}
		next = math.NaN()
		seen = append(seen, p)
		if !math.IsNaN(flo) && !math.IsNaN(fhi) && fhi != flo {
			next = lo + (s.Target-flo)*(hi-lo)/(fhi-flo)
			if moved == movedBefore {
				next = (lo + hi) / 2 // the same end moved twice: the line misjudges a curved figure
			}
		} else if n := len(seen); n >= 2 {
			a, b := seen[n-2], seen[n-1]
			if a.Knob != b.Knob && a.Got != b.Got {
				next = b.Knob + (s.Target-b.Got)*(b.Knob-a.Knob)/(b.Got-a.Got) // the secant through the last two
			}
		}
		if !math.IsNaN(next) {
			margin := (hi - lo) / 10
			next = math.Min(math.Max(next, lo+margin), hi-margin)
		}
	}
	res.Knob, res.Got, res.Met = best.Knob, best.Got, within()
	return res, nil
}

// WriteVariantLine writes the line that says what a variant of a report is: its description, the
// knob matching set (param), and its note when it ran. The open- and closed-loop tables end with one
// per variant.
func WriteVariantLine(w io.Writer, variant, description, param, note string, available bool) {
	line := description
	if param != "" {
		line += "; " + param
	}
	if available && note != "" {
		line += "; " + note
	}
	fmt.Fprintf(w, "%-16s %s\n", variant, line)
}
