package modelinput

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/policy/bundle"
)

func stateSpec() bundle.StateSpec {
	return bundle.StateSpec{
		Names: []string{"ee_z", "gripper"},
		Mean:  []float64{0.15, 0},
		Std:   []float64{0.1, 2},
	}
}

func TestStateNormalize(t *testing.T) {
	n, err := NewStateNormalizer(stateSpec())
	require.NoError(t, err)
	dst := make([]float32, 2)
	require.NoError(t, n.Normalize([]float64{0.35, -1}, dst))
	require.InDeltaSlice(t, []float32{2, -0.5}, dst, 1e-6)

	// InDeltaSlice compares only as many values as got holds: the length is checked first.
	got, err := StateInput([]float64{0.05, 1}, stateSpec())
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.InDeltaSlice(t, []float32{-1, 0.5}, got, 1e-6)

	// The tools that feed the model outside the engine are refused what the engine refuses.
	_, err = StateInput([]float64{0.05, math.NaN()}, stateSpec())
	var inErr *InputError
	require.ErrorAs(t, err, &inErr)
	_, err = StateInput([]float64{0.05, 1}, bundle.StateSpec{})
	require.ErrorContains(t, err, "names no values")
}

func TestStateBadValuesAreInputErrorsNamingTheValue(t *testing.T) {
	n, err := NewStateNormalizer(stateSpec())
	require.NoError(t, err)
	cases := []struct {
		name   string
		values []float64
		want   string
	}{
		{"too few", []float64{0.1}, "observation state: 1 values, expected 2 (ee_z, gripper)"},
		{"too many", []float64{0.1, 0, 3}, "observation state: 3 values, expected 2 (ee_z, gripper)"},
		{"none", nil, "observation state: 0 values, expected 2 (ee_z, gripper)"},
		{"NaN", []float64{0.1, math.NaN()}, `observation state: "gripper" is NaN (expected a finite value)`},
		{"Inf", []float64{math.Inf(-1), 0}, `observation state: "ee_z" is -Inf (expected a finite value)`},
		{"overflows float32 once normalized", []float64{1e300, 0}, `observation state: "ee_z" is 1e+300, out of range`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := n.Normalize(c.values, make([]float32, 2))
			var inErr *InputError
			require.True(t, errors.As(err, &inErr), "got %v, expected an *InputError", err)
			require.Equal(t, "state", inErr.Field)
			require.ErrorContains(t, err, c.want)
		})
	}
}

func TestStateSpecIsChecked(t *testing.T) {
	zeroStd := stateSpec()
	zeroStd.Std = []float64{0.1, 0}
	_, err := NewStateNormalizer(zeroStd)
	require.ErrorContains(t, err, `state "gripper" has mean 0 and std 0`)

	short := stateSpec()
	short.Mean = short.Mean[:1]
	_, err = NewStateNormalizer(short)
	require.ErrorContains(t, err, "one value per name (2), got 1 and 2")

	_, err = NewStateNormalizer(bundle.StateSpec{})
	require.ErrorContains(t, err, "names no values")
}

// The engine normalizes every frame's state into a buffer it allocated once.
func TestStateNormalizeDoesNotAllocate(t *testing.T) {
	n, err := NewStateNormalizer(stateSpec())
	require.NoError(t, err)
	values, dst := []float64{0.2, 1}, make([]float32, 2)
	require.Zero(t, testing.AllocsPerRun(50, func() { _ = n.Normalize(values, dst) }))
}
