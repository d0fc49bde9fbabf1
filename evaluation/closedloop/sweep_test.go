package closedloop

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/skipping"
)

// point builds a sweep point that ran: success rate, backbone speedup and chain length.
// point is a sweep point of a 12-layer model whose executed layers are in proportion to its
// speedup.
func point(series, setting string, success, speedup, chain float64) SweepPoint {
	return SweepPoint{Series: series, Setting: setting, Row: Row{Available: true, Episodes: 20,
		SuccessRate: Metric(success), BackboneSpeedup: Metric(speedup), ChainLength: Metric(chain),
		ExecutedLayers: Metric(12 / speedup)}}
}

func TestParetoFrontKeepsTheBestSuccessForEverySpeedup(t *testing.T) {
	points := []SweepPoint{
		point(SeriesFull, "", 0.95, 1, 4.5),              // 0: the slowest, the most successful
		point(SeriesDySL, "a", 0.95, 1.8, 4.4),           // 1: as successful, faster: beats full
		point(SeriesDySL, "b", 0.90, 2.5, 4.2),           // 2: front
		point("random_skip", "", 0.40, 2.0, 2.0),         // 3: beaten by 2
		point("static_only", "", 0.10, 4.0, 0.5),         // 4: the fastest: front
		point("flexidepth", "", 0.90, 2.5, 4.0),          // 5: ties 2 exactly: neither beats the other
		point("early_exit", "", 0.85, 2.4, 4.0),          // 6: beaten by 2
		{Series: "one_stage", Row: Row{Note: "not run"}}, // 7: never drawn
	}
	points = append(points, point(SeriesDySL, "nan", math.NaN(), 3, 0)) // 8: no figures: left out
	require.Equal(t, []int{1, 2, 5, 4}, ParetoFront(points))
	require.Empty(t, ParetoFront(nil))
}

func TestRecommendTheFastestDySLPointThatKeepsSuccess(t *testing.T) {
	points := []SweepPoint{
		point(SeriesFull, "", 0.90, 1, 4.0),
		point(SeriesDySL, "defaults", 0.90, 1.3, 4.0),
		point(SeriesDySL, "fast", 0.892, 2.1, 3.96), // 99.1% of full's success: qualifies
		point(SeriesDySL, "faster", 0.85, 2.8, 3.9), // too little success
		point("static_only", "", 0.90, 4.0, 4.0),    // a baseline is never recommended
	}
	rec := Recommend(points, false)
	require.True(t, rec.Found)
	require.Equal(t, 2, rec.Point, rec.Reason)
	require.Contains(t, rec.Reason, "setting fast")

	// With chains, the chain length must stay within 0.05 of full's.
	points[2].ChainLength = 3.94
	rec = Recommend(points, true)
	require.Equal(t, 1, rec.Point, rec.Reason)
	require.Contains(t, rec.Reason, "chain length")

	// Another bundle may win; it is named as a bundle.
	points = append(points, point(SeriesDySLBundle, "lambda=0.1", 0.9, 2.5, 4.0))
	rec = Recommend(points, true)
	require.Equal(t, 5, rec.Point)
	require.Contains(t, rec.Reason, "the bundle lambda=0.1")
}

// A speedup is recommended only where compute was saved: a setting that runs every layer (or more,
// verifying), timed faster than full by the noise of a shared machine, is no speedup, and neither
// is a setting that skips but was measured no faster.
func TestRecommendOnlyASettingThatSavesCompute(t *testing.T) {
	noisy := point(SeriesDySL, "controller_threshold=0.9", 0.75, 1.097, 0.75)
	noisy.ExecutedLayers = 12
	verifying := point(SeriesDySL, "controller_threshold=0.7", 0.75, 1.026, 0.75)
	verifying.ExecutedLayers = 12.77
	slow := point(SeriesDySL, "eta_verify=0.05", 0.75, 0.98, 0.75)
	slow.ExecutedLayers = 11.5
	rec := Recommend([]SweepPoint{point(SeriesFull, "", 0.75, 1, 0.75), noisy, verifying, slow}, false)
	require.False(t, rec.Found, rec.Reason)
	require.Contains(t, rec.Reason, "fewer executed layers than full's 12.00 and a backbone speedup above 1")

	fast := point(SeriesDySL, "eta_move=0.025", 0.75, 1.2, 0.75)
	rec = Recommend([]SweepPoint{point(SeriesFull, "", 0.75, 1, 0.75), noisy, fast}, false)
	require.Equal(t, 2, rec.Point, rec.Reason)
}

func TestRecommendSaysPlainlyWhenNothingQualifies(t *testing.T) {
	none := Recommend([]SweepPoint{point(SeriesFull, "", 0.9, 1, 0), point(SeriesDySL, "defaults", 0.5, 2, 0)}, false)
	require.False(t, none.Found)
	require.Equal(t, -1, none.Point)
	require.Contains(t, none.Reason, "no DySL setting meets")

	zero := Recommend([]SweepPoint{point(SeriesFull, "", 0, 1, 0), point(SeriesDySL, "defaults", 0, 2, 0)}, false)
	require.False(t, zero.Found, "0 >= 0.99 x 0, but nothing is kept when there is nothing to keep")
	require.Contains(t, zero.Reason, "succeeds in none")

	require.False(t, Recommend([]SweepPoint{point(SeriesDySL, "defaults", 0.5, 2, 0)}, false).Found)
}

func TestSettingsParseApplyAndRefuse(t *testing.T) {
	s, err := ParseSetting("controller_threshold=0.7, eta_verify=0.2,continuity_window=8")
	require.NoError(t, err)
	require.Equal(t, "controller_threshold=0.7,eta_verify=0.2,continuity_window=8", s.String())
	c, err := s.Apply(skipping.DefaultConfig())
	require.NoError(t, err)
	require.Equal(t, 0.7, c.ControllerThreshold)
	require.Equal(t, 0.2, c.EtaVerify)
	require.Equal(t, 8, c.ContinuityWindow)
	require.Equal(t, skipping.DefaultConfig().EtaMove, c.EtaMove)
	require.Equal(t, "defaults", Setting{}.String())

	for _, bad := range []string{"tau=0.7", "controller_threshold", "eta_move=fast"} {
		_, err := ParseSetting(bad)
		require.Error(t, err, bad)
	}
	_, err = ParseSetting("controller_threshold=0.1,controller_threshold=0.95")
	require.ErrorContains(t, err, "controller_threshold given twice", "the label would show both and play the last")
	for _, bad := range []string{"continuity_window=2.5", "controller_threshold=1.5", "stride=65"} {
		s, err := ParseSetting(bad)
		require.NoError(t, err)
		_, err = s.Apply(skipping.DefaultConfig())
		require.Error(t, err, bad)
	}
	grid := OneAtATime(DefaultSweepValues, DefaultJoint)
	require.Len(t, grid, 12)
	for _, s := range grid {
		_, err := s.Apply(skipping.DefaultConfig())
		require.NoError(t, err, s.String())
	}
}

func TestSaveSweepPlotWritesAPNG(t *testing.T) {
	rep := &SweepReport{Tasks: "single task", Points: []SweepPoint{
		point(SeriesFull, "", 0.9, 1, 1), point(SeriesDySL, "defaults", 0.9, 1.5, 1), point("random_skip", "", 0.3, 1.5, 0.3)}}
	path := filepath.Join(t.TempDir(), "sweep.png")
	require.NoError(t, SaveSweepPlot(path, rep))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	require.NoError(t, err)
	require.Greater(t, cfg.Width, 100)
}

// The sweep's table gives each point's miss, and its legend the gap every point shares.
func TestWriteSweepPrintsTheApproachMiss(t *testing.T) {
	full, dysl := point(SeriesFull, "every layer", 0, 1, 0), point(SeriesDySL, "defaults", 0, 2, 0)
	full.ApproachMissCm, full.ApproachGapCm = 17.3, 17.8
	dysl.ApproachMissCm, dysl.ApproachGapCm = 23.3, 17.8
	var out bytes.Buffer
	WriteSweep(&out, &SweepReport{Seeds: [2]int64{1, 2}, Points: []SweepPoint{full, dysl}})
	require.Regexp(t, `speedup +miss pareto`, out.String())
	require.Regexp(t, `defaults .* 2\.00x +0\.00x +23\.3`, out.String())
	require.Contains(t, out.String(), "moving only up and down: 17.8 cm")
}

func TestWrapWordsBreaksAtSpaces(t *testing.T) {
	require.Equal(t, "single task; gripper\ncommands 3 actions\nearly", wrapWords("single task; gripper commands 3 actions early", 20))
	require.Equal(t, "a\nverylongwordindeed\nb", wrapWords("a verylongwordindeed b", 5))
	require.Equal(t, "", wrapWords("", 10))
}

// The plot's title says, on a PNG alone, that the sweep stopped, on how many episodes its points stand,
// when its seeds are not held out, and the tasks.
func TestSweepTitle(t *testing.T) {
	rep := &SweepReport{Seeds: [2]int64{1_000_000, 1_000_019}, Tasks: "single task",
		Points: []SweepPoint{{Row: Row{Available: true, Episodes: 20}}, {Row: Row{Available: true, Episodes: 20}}, {}}}
	require.Equal(t, "closed-loop sweep, 20 episodes per point\nsingle task", sweepTitle(rep))
	rep.Stopped, rep.Points[1].Episodes, rep.Seeds = "x", 7, [2]int64{0, 19}
	require.Equal(t, "STOPPED sweep, 7 to 20 episodes per point\n"+
		"seeds 0..19, NOT held out (training draws its episodes from seeds below 1000000)\nsingle task", sweepTitle(rep))
}
