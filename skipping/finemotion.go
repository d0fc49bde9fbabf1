package skipping

import (
	"fmt"
	"math"
)

// Translation locates the tool's translation in the normalized actions the machine is given, so that
// the fine-motion rule (Config.FineMotionStep) can measure it in metres: for each k,
// metres = normalized[Dims[k]]·Std[k] + Mean[k]. It is a property of the bundle (its action names and
// normalization); the zero value says the actions carry no translation, and the rule then never fires.
type Translation struct {
	Dims      []int
	Mean, Std []float64
}

// Validate checks that the three lists agree and the scales are usable numbers.
func (t Translation) Validate() error {
	if len(t.Mean) != len(t.Dims) || len(t.Std) != len(t.Dims) {
		return fmt.Errorf("skipping: translation: %d dims, %d means and %d stds, expected as many of each", len(t.Dims), len(t.Mean), len(t.Std))
	}
	for k, d := range t.Dims {
		if d < 0 {
			return fmt.Errorf("skipping: translation: dim %d is negative", d)
		}
		if !(t.Std[k] > 0) || math.IsInf(t.Std[k], 0) || math.IsNaN(t.Mean[k]) || math.IsInf(t.Mean[k], 0) {
			return fmt.Errorf("skipping: translation: dim %d has mean %v and std %v, expected a finite mean and a finite std > 0", d, t.Mean[k], t.Std[k])
		}
	}
	return nil
}

// step is the length in metres of the translation one normalized action commands; an action too short
// to hold every translation dim reads as no motion.
func (t Translation) step(action []float64) float64 {
	var sum float64
	for k, d := range t.Dims {
		if d >= len(action) {
			return 0
		}
		v := action[d]*t.Std[k] + t.Mean[k]
		sum += v * v
	}
	return math.Sqrt(sum)
}

// SetTranslation tells the machine where the translation is in the actions it will be reported; call it
// between inferences.
func (m *Machine) SetTranslation(t Translation) error {
	if err := t.Validate(); err != nil {
		return err
	}
	m.translation = Translation{Dims: append([]int(nil), t.Dims...), Mean: append([]float64(nil), t.Mean...), Std: append([]float64(nil), t.Std...)}
	return nil
}

// fineMotion reports whether the actions of history move the tool less than Config.FineMotionStep per
// action on average. An empty history, a machine without a Translation or the rule off never is.
func (m *Machine) fineMotion(history [][]float64) bool {
	if m.cfg.FineMotionStep <= 0 || len(m.translation.Dims) == 0 || len(history) == 0 {
		return false
	}
	var mean float64
	for _, a := range history {
		mean += m.translation.step(a) / float64(len(history))
	}
	return mean < m.cfg.FineMotionStep
}
