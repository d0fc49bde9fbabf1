// Package matching sets a baseline's knob so that it spends the compute DySL spent, for the open-loop
// and the closed-loop evaluations alike: per-inference skip ratios dithered to a mean number of skipped
// layers (random skip, fixed jump points), and thresholds bisected to a target figure (FlexiDepth's
// controller threshold).
package matching

import (
	"fmt"
	"io"
	"math"
	"sort"

	"dysl_vla/skipping"
)

// SkipLevels maps each whole number of skipped layers a strategy can produce to a SkipRatio that
// produces it: random skip rounds SkipRatio·dynamic, fixed ratio rounds it per segment.
func SkipLevels(s skipping.Strategy, layout skipping.Layout) map[int]float64 {
	out := map[int]float64{}
	for step := 0; step <= 1000; step++ {
		r := float64(step) / 1000
		n := 0
		switch s {
		case skipping.StrategyRandomSkip:
			n = int(float64(layout.DynamicLayers())*r + 0.5)
		default:
			for _, seg := range layout.Segments {
				n += int(float64(seg.Dynamic())*r + 0.5)
			}
		}
		if _, ok := out[n]; !ok {
			out[n] = r
		}
	}
	return out
}

// Dither chooses, inference by inference, how many layers a random_skip or fixed_ratio baseline
// skips: always a whole number the strategy can produce, with the running mean tracking Target
// (error diffusion over the whole run).
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

// Bisect searches [0, 1] for the knob whose measure is closest to target, halving steps times; the
// measure must rise with the knob when rising is set and fall with it otherwise. start is the answer
// to beat (a knob and its measure known beforehand).
func Bisect(measure func(knob float64) (float64, error), target float64, rising bool, steps int, start [2]float64) (knob, got float64, err error) {
	knob, got = start[0], start[1]
	lo, hi := 0.0, 1.0
	for range steps {
		mid := (lo + hi) / 2
		r, err := measure(mid)
		if err != nil {
			return 0, 0, err
		}
		if math.Abs(r-target) < math.Abs(got-target) {
			knob, got = mid, r
		}
		if rising && r < target || !rising && r > target {
			lo = mid
		} else {
			hi = mid
		}
	}
	return knob, got, nil
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
