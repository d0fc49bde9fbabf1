package replay

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
)

// Live recordings by ros2 bag record, compressed or not: every image is acted on or skipped once,
// with its topic, and the only skips are images that came before the first instruction.
func TestReplayHumbleRecordings(t *testing.T) {
	for _, name := range []string{"pub_sqlite3", "pub_sqlite3_file_zstd", "pub_sqlite3_message_zstd", "pub_mcap", "pub_mcap_file_zstd"} {
		t.Run(name, func(t *testing.T) {
			res, err := fakeReplay(t, humbleBag(name), nil, nil)
			require.NoError(t, err)
			images := imageCount(t, humbleBag(name))
			require.Equal(t, images, res.Summary.Frames+res.Summary.Skipped)
			require.GreaterOrEqual(t, res.Summary.Frames, images-2)
			require.Equal(t, res.Summary.Skipped, res.Summary.SkippedBy[SkipNoInstruction])
			for _, sk := range res.Skips {
				require.Equal(t, "/image", sk.Topic)
			}
			require.Equal(t, ClockLogTime, res.Summary.Clock)
			require.Empty(t, res.Summary.Hint)
		})
	}
}

// replayed_sqlite3 is a 2023 recording played by ros2 bag play --clock and recorded again: header
// stamps and /clock from 2023, log times from the day of the recording.
func TestReplayReRecordedPlayback(t *testing.T) {
	const name = "replayed_sqlite3"
	images := imageCount(t, humbleBag(name))
	useSimTime := map[string]paramserver.Value{nodecore.ParamUseSimTime: paramserver.Bool(true)}

	t.Run("use_sim_time false: every frame stale, the report says why and what to do", func(t *testing.T) {
		res, err := fakeReplay(t, humbleBag(name), nil, nil)
		require.NoError(t, err)
		s := res.Summary
		require.Zero(t, s.Frames)
		require.Equal(t, images, s.SkippedBy[SkipStale])
		require.Greater(t, s.StaleAgeMin, 365*24*time.Hour, "stamps of November 2023 against log times of a later day")
		require.Contains(t, s.Hint, "The bag records /clock: replay with `use_sim_time: true`")
		for _, sk := range res.Skips {
			require.Equal(t, "/image", sk.Topic)
			require.Contains(t, sk.Reason, "max_image_age is 500ms")
		}
	})
	t.Run("use_sim_time true: the recorded /clock is the node's time", func(t *testing.T) {
		res, err := fakeReplay(t, humbleBag(name), useSimTime, nil)
		require.NoError(t, err)
		s := res.Summary
		require.Equal(t, ClockRecorded, s.Clock)
		require.Equal(t, images, s.Frames+s.Skipped)
		require.Zero(t, s.SkippedBy[SkipStale])
		require.GreaterOrEqual(t, s.Frames, images-5, "only frames before the first /clock are not acted on: %v", s.SkippedBy)
		require.Equal(t, s.Skipped, s.SkippedBy[SkipNoClock])
		require.Empty(t, s.Hint)
	})
	t.Run("max_image_age 0 turns the check off", func(t *testing.T) {
		res, err := fakeReplay(t, humbleBag(name), map[string]paramserver.Value{nodecore.ParamMaxImageAge: paramserver.Double(0)}, nil)
		require.NoError(t, err)
		require.Equal(t, images, res.Summary.Frames)
	})
}

// Without /clock in the bag, use_sim_time takes the log time, as ros2 bag play --clock publishes it:
// a stale-everything bag stays stale, and the hint says that use_sim_time cannot help.
func TestReplayPlaybackClockWithoutRecordedClock(t *testing.T) {
	b := newBagWriter(t)
	b.instruction(base, "pick")
	for i := range 5 {
		at := base + int64(i+1)*int64(100*time.Millisecond)
		b.write("/image", at, staleImage(at-int64(48*time.Hour)))
	}
	dir := b.close()
	for _, sim := range []bool{false, true} {
		res, err := fakeReplay(t, dir, map[string]paramserver.Value{nodecore.ParamUseSimTime: paramserver.Bool(sim)}, nil)
		require.NoError(t, err)
		require.Zero(t, res.Summary.Frames)
		require.Equal(t, 5, res.Summary.SkippedBy[SkipStale])
		require.Equal(t, 48*time.Hour, res.Summary.StaleAgeMedian)
		require.Contains(t, res.Summary.Hint, "use_sim_time cannot help: set `max_image_age: 0`")
		if sim {
			require.Equal(t, ClockPlayback, res.Summary.Clock)
		} else {
			require.Equal(t, ClockLogTime, res.Summary.Clock)
		}
	}
}
