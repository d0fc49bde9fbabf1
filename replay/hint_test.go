package replay

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A replay that acted on nothing says what to do, by the reason that held back the most frames; one
// that acted on a frame says nothing.
func TestNothingActedOnHintNamesTheMainReason(t *testing.T) {
	cfg := Config{InstructionTopic: "/instruction", StateTopic: "/joint_states"}
	hint := func(by map[SkipKind]int, median time.Duration) string {
		s := Summary{SkippedBy: by, StaleAgeMedian: median, Clock: ClockLogTime}
		for _, n := range by {
			s.Skipped += n
		}
		return nothingActedOnHint(s, 500*time.Millisecond, false, cfg)
	}
	require.Contains(t, hint(map[SkipKind]int{SkipInferenceFailed: 120, SkipNonFinite: 9}, 0),
		"Every inference failed (120) or gave a chunk holding NaN or Inf (9): the model is not usable on these frames")
	require.Contains(t, hint(map[SkipKind]int{SkipNoInstruction: 30, SkipStale: 2}, time.Second),
		"No instruction was in force for the frames: is it recorded on /instruction? (--instruction-topic)")
	require.Contains(t, hint(map[SkipKind]int{SkipBadFrame: 14}, 0), "The frames were refused")
	require.Contains(t, hint(map[SkipKind]int{SkipDecodeError: 14}, 0), "The frames' messages could not be read")
	require.Contains(t, hint(map[SkipKind]int{SkipNoState: 14}, 0), "is the bundle's state on /joint_states")
	require.Contains(t, hint(map[SkipKind]int{SkipNoClock: 252}, 0), "use_sim_time is true, but no /clock message came before the frames")
	require.Equal(t, "No frame was acted on (most often: superseded): the reasons in report.md say why.",
		hint(map[SkipKind]int{SkipSuperseded: 3}, 0))
	require.Contains(t, hint(map[SkipKind]int{SkipStale: 40}, -100*time.Second),
		"The image header stamps are 1m40s ahead of the node's clock (log time), far beyond max_image_age (500ms)")
	require.Contains(t, hint(map[SkipKind]int{SkipStale: 40}, 48*time.Hour), "are 48h0m0s behind the node's clock")
	unstamped := Summary{SkippedBy: map[SkipKind]int{SkipStale: 40}, Skipped: 40, Unstamped: 40}
	require.Contains(t, nothingActedOnHint(unstamped, time.Second, false, cfg), "40 of the frames have header.stamp 0: the camera driver did not stamp them")

	require.Equal(t, "No frame was read: the bag holds no message on /image in what was replayed (--image-topic).",
		nothingActedOnHint(Summary{}, time.Second, false, Config{ImageTopic: "/image"}))

	acted := Summary{Frames: 1, Skipped: 5, SkippedBy: map[SkipKind]int{SkipInferenceFailed: 5}}
	require.Empty(t, nothingActedOnHint(acted, time.Second, false, cfg))
}

// The stale ages' median is the nearest-rank one every report prints (package percentile): of an even
// count, the lower middle value, a frame age that occurred.
func TestSummarizeStaleAgesUseTheReportsMedian(t *testing.T) {
	var skips []Skip
	for _, age := range []time.Duration{4 * time.Second, time.Second, 3 * time.Second, 2 * time.Second} {
		skips = append(skips, Skip{Frame: true, Kind: SkipStale, Age: age})
	}
	s := Summarize(nil, skips)
	require.Equal(t, time.Second, s.StaleAgeMin)
	require.Equal(t, 2*time.Second, s.StaleAgeMedian)
	require.Equal(t, 4*time.Second, s.StaleAgeMax)
	require.Equal(t, 4, s.SkippedBy[SkipStale])
}

// From nodecore.ClockMismatch (1 min) on, stale frames' median age, behind or ahead of the node's
// clock, points at the clocks, as the node's diagnostics say (nodecore's
// TestStaleMessageHintsAtTheClocksFromClockMismatch); a nanosecond less asks for a larger max_image_age.
func TestStaleHintPointsAtTheClocksFromClockMismatch(t *testing.T) {
	const clocks, raise = "they were stamped in another session", "raise max_image_age in --params"
	for _, c := range []struct {
		median time.Duration
		want   string
	}{
		{time.Minute - 1, raise}, {time.Minute, clocks}, {time.Minute + 1, clocks},
		{-time.Minute + 1, raise}, {-time.Minute, clocks}, {-time.Minute - 1, clocks},
	} {
		s := Summary{SkippedBy: map[SkipKind]int{SkipStale: 40}, Skipped: 40, StaleAgeMedian: c.median, Clock: ClockLogTime}
		hint := staleHint(s, 500*time.Millisecond, false)
		require.Contains(t, hint, c.want, "median age %v", c.median)
	}
}
