package skipping

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// A tiny η1 that the parameter range admits (live, via ros2 param set) must not break the machine: the
// adaptive stride saturates at the segment instead of overflowing int.
func TestTinyEtaMoveSaturatesTheStride(t *testing.T) {
	for _, eta := range []float64{1e-20, 1e-300, math.SmallestNonzeroFloat64} {
		cfg := DefaultConfig()
		cfg.ContinuityWindow = 2
		cfg.EtaMove = eta
		m, err := NewMachine(mustLayout(t, 8, 3, 7), cfg)
		require.NoError(t, err)
		for _, x := range []float64{0, 0, 1} { // the drop at 1 moves the allow points
			inferKeepsAllowPointsInSegments(t, m, x)
			require.GreaterOrEqual(t, m.Last().Stride, -1, "eta %g", eta)
		}
		require.Equal(t, []int{3, 7}, m.AllowPoints(), "eta %g: a drop moves the allow points to the static layers", eta)
		require.Equal(t, 8, m.Last().Stride, "eta %g: the stride saturates at L, the depth of the stack (docs/ALGORITHM.md)", eta)
		require.NotPanics(t, func() { m.Plan() }, "eta %g", eta)
	}
}

// Extreme but finite actions give a finite continuity: no -Inf from an overflowing square, no 0 from an
// underflowing one (which would hide a real drop).
func TestContinuityOfExtremeActions(t *testing.T) {
	big := [][]float64{{1e300, -1e300}, {-1e300, 1e300}}
	c := continuity(big, 2)
	require.InEpsilon(t, -2*math.Sqrt2*1e300, c, 1e-15, "the distance itself, not the saturated -MaxFloat64")

	// Swings of 2·MaxFloat64 overflow the mean: the continuity saturates at the least smooth value, so
	// that the swing reads as a drop and not as the smoothest motion there is.
	huge := [][]float64{{math.MaxFloat64}, {-math.MaxFloat64}, {math.MaxFloat64}}
	require.Equal(t, -math.MaxFloat64, continuity(huge, 3))

	tiny := [][]float64{{0, 0}, {3e-200, 4e-200}}
	require.InDelta(t, -5e-200, continuity(tiny, 2), 1e-212, "no underflow to 0")
	// A square of 1e-320 is subnormal, with few significant bits: its plain root is 6 parts in a million off.
	require.Equal(t, -1e-160, continuity([][]float64{{0}, {1e-160}}, 2), "no precision lost to a subnormal square")

	require.InDelta(t, -5.0, continuity([][]float64{{0, 0}, {3, 4}}, 2), 1e-12, "ordinary values unchanged")
}

// A machine fed extreme actions keeps deciding: its allow points stay inside their segments and its
// continuity change stays a number.
func TestMachineSurvivesExtremeActions(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ContinuityWindow = 2
	m, err := NewMachine(mustLayout(t, 8, 3, 7), cfg)
	require.NoError(t, err)
	for _, x := range []float64{0, 1e-300, math.MaxFloat64, -math.MaxFloat64, 0, math.Inf(1), 0, 0} {
		inferKeepsAllowPointsInSegments(t, m, x)
	}
}

// inferKeepsAllowPointsInSegments runs one inference whose chunk is the single action x and checks that
// every allow point stays inside its segment.
func inferKeepsAllowPointsInSegments(t *testing.T, m *Machine, x float64) {
	t.Helper()
	tr, err := m.Plan().Walk(memRunner{0})
	require.NoError(t, err)
	m.Report([][]float64{{x}}, tr)
	for i, s := range m.Layout().Segments {
		a := m.AllowPoints()[i]
		require.True(t, a >= s.First && a <= s.Static, "config %v, action %g: allow point %d outside segment %v", m.Config(), x, a, s)
	}
}

// Every strategy the package defines is listed, parses back, and plans.
func TestEveryStrategyIsListedAndPlans(t *testing.T) {
	names := StrategyNames()
	require.Len(t, names, len(strategies))
	l := mustLayout(t, 8, 3, 7)
	for _, name := range names {
		s, err := ParseStrategy(name)
		require.NoError(t, err)
		cfg := DefaultConfig()
		cfg.Strategy = s
		m, err := NewMachine(l, cfg)
		require.NoError(t, err)
		p := m.Plan()
		require.Len(t, p.Steps, 8, name)
	}
}
