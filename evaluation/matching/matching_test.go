package matching

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/skipping"
)

func TestDitherTracksTheTarget(t *testing.T) {
	layout, err := skipping.NewLayout(8, []int{2, 7})
	require.NoError(t, err)
	d := NewDither(skipping.StrategyRandomSkip, layout, 3.57)
	require.Equal(t, []int{0, 1, 2, 3, 4, 5, 6}, d.Counts())
	var sum float64
	for i := 1; i <= 100; i++ {
		ratio := d.Next()
		skipped := float64(int(ratio*float64(layout.DynamicLayers()) + 0.5)) // how random skip rounds
		sum += skipped
		require.InDelta(t, 3.57*float64(i), sum, 0.5, "the running total stays within half a layer")
	}
}

// A linear figure is found within the tolerance, from a poor start, in few runs, and the search
// stops as soon as it is.
func TestSearchFindsALinearTarget(t *testing.T) {
	var runs int
	rising := func(x float64) (float64, error) { runs++; return 8 * x, nil }
	res, err := Search{Measure: rising, Target: 3, Tolerance: 0.1, Rising: true, Bracket: [2]float64{0, 1},
		Known: []Probe{{1, 8}}, Start: 0.9, MaxRuns: 10}.Run()
	require.NoError(t, err)
	require.True(t, res.Met)
	require.InDelta(t, 3, res.Got, 0.1)
	require.InDelta(t, res.Got/8, res.Knob, 1e-12)
	require.Equal(t, runs, res.Runs)
	require.Len(t, res.Probes, runs)
	require.Equal(t, 2, runs, "the secant through the start and the known end lands on a straight line's target: %v", res.Probes)
}

// A falling figure with a tolerance of 0 keeps measuring until its cap or an empty bracket, and homes
// in on the target.
func TestSearchFallingUsesEveryRunWithoutTolerance(t *testing.T) {
	falling := func(x float64) (float64, error) { return 1 - x*x, nil }
	res, err := Search{Measure: falling, Target: 0.25, Bracket: [2]float64{0, 1}, Known: []Probe{{0, 1}}, Start: math.NaN(), MaxRuns: 14}.Run()
	require.NoError(t, err)
	require.LessOrEqual(t, res.Runs, 14)
	require.Greater(t, res.Runs, 5)
	require.InDelta(t, math.Sqrt(0.75), res.Knob, 1e-6)
	require.Equal(t, 0.5, res.Probes[0].Knob, "no start: the midpoint")
}

// A step-shaped figure (whole layers) that jumps over the target cannot meet a tight tolerance: the
// search says so, returns the closest step, and stops within its run cap.
func TestSearchReportsAnUnmetTolerance(t *testing.T) {
	steps := func(x float64) (float64, error) { return math.Floor(8 * x), nil }
	res, err := Search{Measure: steps, Target: 4.5, Tolerance: 0.1, Rising: true, Bracket: [2]float64{0, 1}, Start: 0.3, MaxRuns: 6}.Run()
	require.NoError(t, err)
	require.False(t, res.Met)
	require.Equal(t, 6, res.Runs)
	require.InDelta(t, 0.5, math.Abs(res.Got-4.5), 1e-12, "4 or 5 layers, the steps either side of the target")
}

// A known figure within the tolerance costs no run; an empty bracket is an error.
func TestSearchKnownAnswerAndBadBracket(t *testing.T) {
	measure := func(float64) (float64, error) { t.Fatal("measured"); return 0, nil }
	res, err := Search{Measure: measure, Target: 7.95, Tolerance: 0.1, Rising: true, Bracket: [2]float64{0, 1}, Known: []Probe{{1, 8}}, MaxRuns: 5}.Run()
	require.NoError(t, err)
	require.True(t, res.Met)
	require.Equal(t, 0, res.Runs)
	require.Equal(t, 1.0, res.Knob)
	_, err = Search{Measure: measure, Bracket: [2]float64{1, 1}, MaxRuns: 5}.Run()
	require.ErrorContains(t, err, "bracket")
}

// A figure that is not monotone everywhere (closed loop: the knob changes what is visited) still
// ends at the closest figure seen, and every probe stays inside the bracket.
func TestSearchSurvivesANonMonotoneFigure(t *testing.T) {
	bumpy := func(x float64) (float64, error) { return 8*x + 0.8*math.Sin(40*x), nil }
	res, err := Search{Measure: bumpy, Target: 5, Tolerance: 0.05, Rising: true, Bracket: [2]float64{0, 1}, Start: 0.2, MaxRuns: 12}.Run()
	require.NoError(t, err)
	for _, p := range res.Probes {
		require.Greater(t, p.Knob, 0.0)
		require.Less(t, p.Knob, 1.0)
		require.LessOrEqual(t, math.Abs(res.Got-5), math.Abs(p.Got-5))
	}
	require.True(t, res.Met, "%v", res.Probes)
}

// A figure steep at one end, where the line through the ends keeps landing on the same side, is
// still found in a few runs: after two probes that moved the same end the search halves.
func TestSearchHalvesWhereTheLineMisjudges(t *testing.T) {
	steep := func(x float64) (float64, error) { return 8 * (1 - math.Exp(-40*x)), nil }
	res, err := Search{Measure: steep, Target: 4, Tolerance: 0.1, Rising: true, Bracket: [2]float64{0, 1},
		Known: []Probe{{0, 0}, {1, 8 * (1 - math.Exp(-40))}}, Start: math.NaN(), MaxRuns: 10}.Run()
	require.NoError(t, err)
	require.True(t, res.Met, "%v", res.Probes)
	require.LessOrEqual(t, res.Runs, 7, "%v", res.Probes)
}
