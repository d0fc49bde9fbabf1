package modelinput

import (
	"fmt"
	"math"
	"strings"

	"dysl_vla/policy/bundle"
)

// StateNormalizer writes the robot's state (proprioception, in the robot's units and in the order of
// the bundle's state.names) as the model's state input: (value - mean) / std per value, float32.
//
// The state comes from encoders and whatever the driver computes from them, so a wrong count or a NaN
// is a fault of the observation the node must drop and count, not of the model: both are an
// *InputError. Normalize writes into a buffer the caller owns, so the engine does not allocate per frame.
type StateNormalizer struct {
	names []string
	// Kept as mean and std, not folded into a scale and bias, so the input is bit for bit what the
	// builder and training compute: (v - mean) / std in float64, then rounded to float32.
	mean, std []float64
}

// NewStateNormalizer checks spec: the names must be there and every std finite and non-zero.
func NewStateNormalizer(spec bundle.StateSpec) (*StateNormalizer, error) {
	n := len(spec.Names)
	if n == 0 {
		return nil, fmt.Errorf("modelinput: the state block names no values")
	}
	if len(spec.Mean) != n || len(spec.Std) != n {
		return nil, fmt.Errorf("modelinput: state mean and std need one value per name (%d), got %d and %d", n, len(spec.Mean), len(spec.Std))
	}
	for i, name := range spec.Names {
		mean, std := spec.Mean[i], spec.Std[i]
		if std == 0 || math.IsNaN(mean+std) || math.IsInf(mean+std, 0) {
			return nil, fmt.Errorf("modelinput: state %q has mean %v and std %v (expected finite values, std not 0)", name, mean, std)
		}
	}
	return &StateNormalizer{names: spec.Names, mean: spec.Mean, std: spec.Std}, nil
}

// Names are the state's value names, in the order Normalize reads them.
func (n *StateNormalizer) Names() []string { return n.names }

// Normalize writes values, one per name in order, into dst (len(Names()) values). A wrong count or a
// value that is not finite (before or after normalization) gives an *InputError naming it, and leaves
// dst unspecified.
func (n *StateNormalizer) Normalize(values []float64, dst []float32) error {
	if len(dst) != len(n.names) {
		return fmt.Errorf("modelinput: state destination holds %d values, expected %d", len(dst), len(n.names))
	}
	if len(values) != len(n.names) {
		return &InputError{"state", fmt.Sprintf("%d values, expected %d (%s)", len(values), len(n.names), strings.Join(n.names, ", "))}
	}
	for i, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return &InputError{"state", fmt.Sprintf("%q is %v (expected a finite value)", n.names[i], v)}
		}
		// A finite value far outside the training range can still overflow float32 once normalized,
		// and an Inf in the model's input is a NaN in its output.
		out := float32((v - n.mean[i]) / n.std[i])
		if math.IsInf(float64(out), 0) {
			return &InputError{"state", fmt.Sprintf("%q is %v, out of range of the model's float32 input once normalized with mean %v and std %v", n.names[i], v, n.mean[i], n.std[i])}
		}
		dst[i] = out
	}
	return nil
}

// StateInput normalizes one state into a new model input slice, for tools that feed the model outside
// the engine: they must compute what the engine will.
func StateInput(values []float64, spec bundle.StateSpec) ([]float32, error) {
	n, err := NewStateNormalizer(spec)
	if err != nil {
		return nil, err
	}
	dst := make([]float32, len(spec.Names))
	if err := n.Normalize(values, dst); err != nil {
		return nil, err
	}
	return dst, nil
}
