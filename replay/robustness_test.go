package replay

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foxglove/mcap/go/mcap"
	"github.com/stretchr/testify/require"

	"dysl_vla/bag"
	"dysl_vla/msgs"
	"dysl_vla/policy/policytest"
)

// Diagnostics follow the messages: across a day without messages (or from a metadata start time of
// 0) the replay publishes one diagnostics message, not one per period.
func TestReplayDiagnosticsAcrossAGap(t *testing.T) {
	b := newBagWriter(t)
	b.instruction(base, "pick")
	for i := range 5 {
		b.image(base + int64(i+1)*int64(100*time.Millisecond))
	}
	b.image(base + int64(24*time.Hour))
	dir := b.close()

	check := func(t *testing.T) {
		res, err := fakeReplay(t, dir, nil, nil)
		require.NoError(t, err)
		require.Equal(t, 6, res.Summary.Frames)
		// one due at base+1s, published when the late image arrives; one at the end
		require.Equal(t, 2, outputCounts(t, res.OutBag)[TopicDiagnostics])
	}
	t.Run("a message a day later", check)
	editMetadata(t, dir, "nanoseconds_since_epoch: "+strconv.FormatInt(base, 10), "nanoseconds_since_epoch: 0")
	t.Run("metadata starting at time 0", check)
}

// An empty bag, as Humble records one (starting_time int64 max) or as bag.Writer does (0), replays to
// an empty, complete output.
func TestReplayEmptyBag(t *testing.T) {
	for _, start := range []string{"0", "9223372036854775807"} {
		t.Run("start "+start, func(t *testing.T) {
			dir := newBagWriter(t).close()
			editMetadata(t, dir, "nanoseconds_since_epoch: 0", "nanoseconds_since_epoch: "+start)
			res, err := fakeReplay(t, dir, nil, nil)
			require.NoError(t, err)
			require.Zero(t, res.Summary.Frames)
			require.Empty(t, outputCounts(t, res.OutBag))
			require.FileExists(t, res.ReportPath)
		})
	}
}

// Each frame counts once: a frame that does not decode is one skip, and a chunk the forwarder refuses
// is an acted-on frame with a forwarding failure, not a skip.
func TestReplayCountsEachFrameOnce(t *testing.T) {
	t.Run("decode error", func(t *testing.T) {
		b := newBagWriter(t)
		b.instruction(base, "pick")
		b.image(base + 1e8)
		require.NoError(t, b.w.Write("/image", base+2e8, []byte{0, 1, 0, 0, 9, 9}))
		b.image(base + 3e8)
		require.NoError(t, b.w.Write("/instruction", base+4e8, []byte{0, 1, 0, 0, 200, 0, 0, 0}))
		b.image(base + 5e8)
		res, err := fakeReplay(t, b.close(), nil, nil)
		require.NoError(t, err)
		require.Equal(t, 3, res.Summary.Frames)
		require.Equal(t, 1, res.Summary.Skipped)
		require.Equal(t, map[SkipKind]int{SkipDecodeError: 1}, res.Summary.SkippedBy)
		require.Equal(t, 1, res.Summary.DroppedMessages, "the undecodable instruction")
		require.Len(t, res.Skips, 2)
		require.Equal(t, "/image", res.Skips[0].Topic)
		require.Equal(t, "/instruction", res.Skips[1].Topic)
	})
	t.Run("forwarding failure", func(t *testing.T) {
		res, err := fakeReplay(t, pickBag(t, 4), nil, func(c *Config) { c.Forwarder = refusingForwarder{} })
		require.NoError(t, err)
		require.Equal(t, 4, res.Summary.Frames)
		require.Zero(t, res.Summary.Skipped)
		require.Empty(t, res.Skips)
		require.Equal(t, 4, res.Summary.ForwardFailures)
	})
}

type refusingForwarder struct{}

func (refusingForwarder) ForwardChunk(*msgs.ActionChunk, int) error { return errors.New("link down") }
func (refusingForwarder) LinkStatus() msgs.DiagnosticStatus {
	return msgs.DiagnosticStatus{Level: msgs.DiagnosticError, Message: "link down"}
}

// A metadata file listing its storage file twice does not make replay act on every frame twice.
func TestReplayStorageFileListedTwice(t *testing.T) {
	dir := pickBag(t, 3)
	editMetadata(t, dir, "relative_file_paths:\n        - in_0.mcap\n", "relative_file_paths:\n        - in_0.mcap\n        - in_0.mcap\n")
	res, err := fakeReplay(t, dir, nil, nil)
	require.NoError(t, err)
	require.Equal(t, 3, res.Summary.Frames)
	require.Len(t, res.Chunks, 3)
}

// The image and instruction topics are checked against the bag's recorded types, and refused by name.
func TestReplayRefusesWrongTopicTypes(t *testing.T) {
	cases := []struct {
		name   string
		topics [][2]string
		want   string
	}{
		{"string on the image topic", [][2]string{{"/instruction", instructionType}, {"/image", "std_msgs/msg/String"}},
			"is std_msgs/msg/String, expected sensor_msgs/msg/Image or sensor_msgs/msg/CompressedImage"},
		{"image on the instruction topic", [][2]string{{"/instruction", imageType}, {"/image", imageType}},
			"topic /instruction of bag %s is sensor_msgs/msg/Image, expected std_msgs/msg/String"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := newBagWriter(t, tc.topics...).close()
			_, err := fakeReplay(t, dir, nil, nil)
			require.Error(t, err)
			require.Contains(t, err.Error(), fmtOrPlain(tc.want, dir))
		})
	}
	t.Run("two channels of different types on one topic", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "two_types.mcap")
		f, err := os.Create(dir)
		require.NoError(t, err)
		w, err := mcap.NewWriter(f, &mcap.WriterOptions{Chunked: true})
		require.NoError(t, err)
		require.NoError(t, w.WriteHeader(&mcap.Header{Profile: "ros2"}))
		for i, typ := range []string{instructionType, imageType, "std_msgs/msg/String"} {
			id := uint16(i + 1)
			topic := "/image"
			if i == 0 {
				topic = "/instruction"
			}
			require.NoError(t, w.WriteSchema(&mcap.Schema{ID: id, Name: typ, Encoding: "ros2msg", Data: []byte("x")}))
			require.NoError(t, w.WriteChannel(&mcap.Channel{ID: id, SchemaID: id, Topic: topic, MessageEncoding: "cdr"}))
		}
		require.NoError(t, w.Close())
		require.NoError(t, f.Close())
		_, err = fakeReplay(t, dir, nil, nil)
		require.ErrorContains(t, err, "topic /image of bag "+dir+" is recorded with 2 types (sensor_msgs/msg/Image, std_msgs/msg/String), expected only sensor_msgs/msg/Image")
	})
}

// fmtOrPlain fills the bag path into a wanted message that names it.
func fmtOrPlain(want, dir string) string {
	if strings.Contains(want, "%s") {
		return fmt.Sprintf(want, dir)
	}
	return want
}

// The output directory may not be the input bag, nor inside it, nor hold it where the output bag goes.
func TestReplayRefusesOutputOverInput(t *testing.T) {
	dir := pickBag(t, 0)
	for _, out := range []string{dir, filepath.Join(dir, "sub"), filepath.Dir(dir) + "/./" + filepath.Base(dir)} {
		_, err := fakeReplay(t, dir, nil, func(c *Config) { c.OutDir = out })
		require.ErrorContains(t, err, "is the input bag")
	}
	moved := filepath.Join(t.TempDir(), "bag")
	require.NoError(t, os.Rename(dir, moved))
	_, err := fakeReplay(t, moved, nil, func(c *Config) { c.OutDir = filepath.Dir(moved) })
	require.ErrorContains(t, err, "where the input bag")
	entries, err := os.ReadDir(moved)
	require.NoError(t, err)
	require.Len(t, entries, 2, "the input bag is untouched")

	// Through a link to the bag's directory, and directories not made yet below it.
	link := filepath.Join(t.TempDir(), "link")
	require.NoError(t, os.Symlink(filepath.Dir(moved), link))
	for _, out := range []string{filepath.Join(link, "bag", "a"), filepath.Join(link, "bag", "a", "b")} {
		_, err = fakeReplay(t, moved, nil, func(c *Config) { c.OutDir = out })
		require.ErrorContains(t, err, "is the input bag", out)
	}

	// Nor among the model bundle's graphs.
	model := t.TempDir()
	for _, out := range []string{model, filepath.Join(model, "replay")} {
		_, err = fakeReplay(t, moved, nil, func(c *Config) { c.OutDir, c.ModelDir = out, model })
		require.ErrorContains(t, err, "is the model bundle "+model+" or inside it")
	}
	entries, err = os.ReadDir(model)
	require.NoError(t, err)
	require.Empty(t, entries)
}

// Interrupted (Ctrl-C), a replay still leaves a complete output bag and its report.
func TestReplayInterruptedLeavesACompleteOutput(t *testing.T) {
	dir := pickBag(t, 20)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seen := 0
	res, err := fakeReplay(t, dir, nil, func(c *Config) {
		c.Context = ctx
		c.Progress = func(time.Duration, time.Duration) {
			if seen++; seen == 6 {
				cancel()
			}
		}
	})
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "interrupted")
	require.Equal(t, 5, res.Summary.Frames)
	require.Zero(t, res.Summary.DecodeFramesPerSecond, "no pass over the bag to measure decoding after Ctrl-C")
	require.FileExists(t, filepath.Join(res.OutBag, bag.MetadataFileName))
	require.FileExists(t, res.ReportPath)
	require.Equal(t, 5, outputCounts(t, res.OutBag)[TopicActionChunk])
	// The report does not pass for one of the whole bag.
	report, err := os.ReadFile(res.ReportPath)
	require.NoError(t, err)
	require.Contains(t, string(report), "**STOPPED before the end of the bag:** interrupted: context canceled (at bag time 500ms of 2s).")
	var summary strings.Builder
	WriteSummary(&summary, res.Summary)
	require.True(t, strings.HasPrefix(summary.String(), "STOPPED before the end of the bag: interrupted"), summary.String())

	complete, err := fakeReplay(t, dir, nil, nil)
	require.NoError(t, err)
	report, err = os.ReadFile(complete.ReportPath)
	require.NoError(t, err)
	require.NotContains(t, string(report), "STOPPED")
}

// The report's skip ratio is the one the node publishes in ActionChunk.skip_ratio, and its layer
// count the backbone's, whether verification fired or not.
func TestReplaySkipRatioIsTheChunks(t *testing.T) {
	b := newBagWriter(t)
	b.instruction(base, "pick")
	for i := range 40 {
		at := base + int64(i+1)*1e8
		img := staleImage(at)
		gray := byte(i * i * 37 % 256) // jumps that move the chunks and make verification fire
		for k := range img.Data {
			img.Data[k] = gray
		}
		b.write("/image", at, img)
	}
	res, err := fakeReplay(t, b.close(), nil, nil)
	require.NoError(t, err)
	require.Len(t, res.Steps, 40)
	verified := 0
	for i, st := range res.Steps {
		require.InDelta(t, float64(res.Chunks[i].SkipRatio), st.SkipRatio, 1e-6, "step %d", i)
		require.Equal(t, 8, st.LayersTotal, "step %d: the backbone's layers, also when verification fired", i)
		if st.Verification {
			verified++
		}
	}
	require.Positive(t, verified, "the fixture must exercise verification")
	require.Equal(t, 8.0, res.Summary.LayersTotal)
}

// A controller that gives a logit instead of a probability decides at random against the threshold,
// and the replay still acts on every frame: the report says how many controller outputs were no
// probability, as the node's diagnostics count them.
func TestReplayCountsControllerOutputsOutOfRange(t *testing.T) {
	var dynamic int
	res, err := fakeReplay(t, pickBag(t, 4), nil, func(c *Config) {
		fake := c.Engine.Backend.(*policytest.Fake)
		for j := range fake.SkipProb {
			fake.SkipProb[j] = 1.5
		}
		dynamic = len(c.Engine.Manifest.DynamicLayers())
	})
	require.NoError(t, err)
	require.Equal(t, 4, res.Summary.Frames)
	require.Positive(t, res.Summary.ControllersOutOfRange)
	require.LessOrEqual(t, res.Summary.ControllersOutOfRange, 4*2*dynamic, "at most every controller of both passes of every frame")
	var text strings.Builder
	WriteSummary(&text, res.Summary)
	require.Contains(t, text.String(), fmt.Sprintf("controller outputs out of range: %d (NaN, or outside [0, 1])", res.Summary.ControllersOutOfRange))
	report, err := os.ReadFile(res.ReportPath)
	require.NoError(t, err)
	require.Contains(t, string(report), fmt.Sprintf("| controller outputs out of range (NaN, or outside [0, 1]) | %d |", res.Summary.ControllersOutOfRange))

	res, err = fakeReplay(t, pickBag(t, 2), nil, nil)
	require.NoError(t, err)
	require.Zero(t, res.Summary.ControllersOutOfRange)
	text.Reset()
	WriteSummary(&text, res.Summary)
	require.NotContains(t, text.String(), "controller outputs out of range")
}

// Without KeepChunks (dysl replay) the chunks are not kept in memory, which grew by about 1.4 KB a
// frame over a long bag; the output bag holds them, and a forward failure is counted, not kept.
func TestReplayKeepsChunksOnlyWhenAsked(t *testing.T) {
	dir := pickBag(t, 3)
	res, err := fakeReplay(t, dir, nil, func(c *Config) { c.KeepChunks = false; c.Forwarder = refusingForwarder{} })
	require.NoError(t, err)
	require.Equal(t, 3, res.Summary.Frames)
	require.Empty(t, res.Chunks)
	require.Equal(t, 3, res.Summary.ForwardFailures)
	out, err := bag.Open(res.OutBag)
	require.NoError(t, err)
	defer out.Close()
	chunks := 0
	for m, err := range out.Messages() {
		require.NoError(t, err)
		if m.Topic == "/action_chunk" {
			chunks++
		}
	}
	require.Equal(t, 3, chunks, "the output bag holds every chunk")
}
