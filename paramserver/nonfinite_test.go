package paramserver

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/msgs"
)

// rclcpp's tolerance formula |x-y| <= eps*|x+y|*100 holds for x = ±Inf against any bound, so an infinite
// value would pass every range; where a range is declared, a value must be a number.
func TestRangesRefuseNonFiniteDoubles(t *testing.T) {
	ranged := Descriptor{FloatingPointRange: []msgs.FloatingPointRange{{FromValue: 0, ToValue: 60}}}
	for _, v := range []float64{math.Inf(1), math.Inf(-1), math.NaN()} {
		s := newTestServer(t, nil)
		mustDeclare(t, s, "max_image_age", Double(0.5), ranged)
		result := s.SetAtomically(Parameter{Name: "max_image_age", Value: Double(v)})
		require.False(t, result.Successful, "%v", v)
		require.Contains(t, result.Reason, "Parameter {max_image_age} doesn't comply with floating point range")
		require.Contains(t, result.Reason, "not a finite number", "%v", v)

		mustDeclare(t, s, "limits", DoubleArray(1), ranged)
		result = s.SetAtomically(Parameter{Name: "limits", Value: DoubleArray(1, v)})
		require.Contains(t, result.Reason, "not a finite number", "%v in an array", v)
	}
	// Without a range a double may be anything, as in rclcpp.
	s := newTestServer(t, nil)
	mustDeclare(t, s, "free", Double(0), Descriptor{})
	require.True(t, s.SetAtomically(Parameter{Name: "free", Value: Double(math.Inf(1))}).Successful)
}

func TestParamsFileInfinityIsRefusedAtDeclare(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.yaml")
	require.NoError(t, os.WriteFile(path, []byte("/**:\n  ros__parameters:\n    link_timeout: .inf\n"), 0o644))
	overrides, err := LoadParamsFile(path, "/robot/vla_node")
	require.NoError(t, err)
	s := newTestServer(t, overrides)
	_, err = s.Declare("link_timeout", Double(2), Descriptor{FloatingPointRange: []msgs.FloatingPointRange{{FromValue: 0.1, ToValue: 60}}})
	require.ErrorContains(t, err, "parameter 'link_timeout' could not be set")
	require.ErrorContains(t, err, "+Inf is not a finite number")
}
