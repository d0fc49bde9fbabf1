package samplebag

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/bag"
	"dysl_vla/msgs"
	"dysl_vla/scene"
)

func TestGeneratedBagContents(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sample")
	opts := Options{Episodes: 2, Seed: 10, Scene: scene.Config{Width: 16, Height: 12, ChunkSize: 4}}
	sum, err := Generate(t.Context(), dir, opts)
	require.NoError(t, err)

	ep0, err := scene.Episode(10, scene.Config{Width: 16, Height: 12, ChunkSize: 4})
	require.NoError(t, err)
	ep1, err := scene.Episode(11, scene.Config{Width: 16, Height: 12, ChunkSize: 4})
	require.NoError(t, err)
	frames := len(ep0) + len(ep1)
	require.Equal(t, Summary{Episodes: 2, Frames: frames, Messages: 4 + 4*frames, Duration: sum.Duration}, sum)

	r, err := bag.Open(dir)
	require.NoError(t, err)
	defer r.Close()
	info := r.Info()
	require.Empty(t, info.Warnings)
	counts := map[string]uint64{}
	types := map[string]string{}
	for _, topic := range info.Topics {
		counts[topic.Name], types[topic.Name] = topic.MessageCount, topic.Type
	}
	require.Equal(t, map[string]uint64{
		TopicInstruction: 2, TopicEpisode: 2, TopicImage: uint64(frames), TopicPhase: uint64(frames), TopicExpertChunk: uint64(frames),
		TopicJointStates: uint64(frames),
	}, counts)
	require.Equal(t, "sensor_msgs/msg/JointState", types[TopicJointStates])
	require.Equal(t, "sensor_msgs/msg/Image", types[TopicImage])
	require.Equal(t, "dysl_vla/msg/ActionChunk", types[TopicExpertChunk])
	instruction, _ := info.Topic(TopicInstruction)
	require.Contains(t, instruction.OfferedQoSProfiles, "reliability: 1\n  durability: 1\n", "instructions are latched")
	image, _ := info.Topic(TopicImage)
	require.Contains(t, image.OfferedQoSProfiles, "reliability: 2\n", "camera frames are best effort")

	var instructions, markers []string
	var firstImageAt, instructionAt int64
	var imageMsg msgs.Image
	var chunk msgs.ActionChunk
	var lastImageStamp msgs.Header
	var joints msgs.JointState
	step, states := 0, 0
	for m, err := range r.Messages() {
		require.NoError(t, err)
		switch m.Topic {
		case TopicInstruction:
			var s msgs.String
			require.NoError(t, msgs.Decode(m.Data, &s))
			instructions = append(instructions, s.Data)
			if instructionAt == 0 {
				instructionAt = m.LogTime
			}
		case TopicEpisode:
			var s msgs.String
			require.NoError(t, msgs.Decode(m.Data, &s))
			markers = append(markers, s.Data)
		case TopicJointStates:
			require.NoError(t, msgs.Decode(m.Data, &joints))
			require.Equal(t, m.LogTime, joints.Header.Stamp.Nanos())
			require.Equal(t, scene.RobotStateNames, joints.Name)
			if states < len(ep0) {
				require.Equal(t, ep0[states].State.RobotState(), joints.Position, "state %d is the arm's in the frame's world", states)
			}
			states++
		case TopicImage:
			require.NoError(t, msgs.Decode(m.Data, &imageMsg))
			require.Equal(t, states, step+1, "each frame follows its robot state")
			require.Equal(t, int64(1000), m.LogTime-joints.Header.Stamp.Nanos())
			if firstImageAt == 0 {
				firstImageAt = m.LogTime
			}
			require.Equal(t, CameraFrameID, imageMsg.Header.FrameID)
			require.Equal(t, m.LogTime, imageMsg.Header.Stamp.Nanos())
			require.Equal(t, "rgb8", imageMsg.Encoding)
			require.Equal(t, uint32(16), imageMsg.Width)
			require.Equal(t, uint32(12), imageMsg.Height)
			require.Equal(t, uint32(48), imageMsg.Step)
			require.NoError(t, imageMsg.CheckLayout(3))
			lastImageStamp = imageMsg.Header
		case TopicExpertChunk:
			require.NoError(t, msgs.Decode(m.Data, &chunk))
			require.NoError(t, chunk.Validate())
			require.Equal(t, lastImageStamp, chunk.Header, "a chunk carries its image's header")
			require.Equal(t, uint64(step), chunk.Sequence)
			require.Equal(t, uint32(4), chunk.Steps)
			require.Equal(t, ActionNames(), chunk.ActionNames)
			require.Equal(t, 100*time.Millisecond, chunk.StepDt.Go())
			if step < len(ep0) {
				want := ep0[step]
				require.Equal(t, want.Image.RGB, imageMsg.Data, "step %d: the frame is the scene's render", step)
				for k := range 4 {
					for j := range 7 {
						require.Equal(t, float32(want.Chunk[k][j]), chunk.At(k, j))
					}
				}
			}
			step++
		}
	}
	require.Equal(t, frames, step)
	require.Equal(t, []string{ep0[0].Instruction, ep1[0].Instruction}, instructions)
	require.Equal(t, []string{
		fmt.Sprintf("episode=0 seed=10 steps=%d", len(ep0)),
		fmt.Sprintf("episode=1 seed=11 steps=%d", len(ep1)),
	}, markers)
	require.Less(t, instructionAt, firstImageAt, "the instruction arrives before the first frame")
}

func TestGenerateIsDeterministic(t *testing.T) {
	read := func(dir string) []bag.Message {
		r, err := bag.Open(dir)
		require.NoError(t, err)
		defer r.Close()
		var out []bag.Message
		for m, err := range r.Messages() {
			require.NoError(t, err)
			out = append(out, m)
		}
		return out
	}
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	_, err := Generate(t.Context(), a, Options{Seed: 3})
	require.NoError(t, err)
	_, err = Generate(t.Context(), b, Options{Seed: 3})
	require.NoError(t, err)
	require.Equal(t, read(a), read(b))
}

func TestGenerateRejectsBadOptions(t *testing.T) {
	_, err := Generate(t.Context(), filepath.Join(t.TempDir(), "x"), Options{Episodes: -1, RateHz: -5})
	require.ErrorContains(t, err, "episodes (-1) must be >= 1")
	require.ErrorContains(t, err, "rate (-5 Hz) must be in (0, 1000]")
	_, err = Generate(t.Context(), filepath.Join(t.TempDir(), "x"), Options{Episodes: 2, Seed: math.MaxInt64})
	require.ErrorContains(t, err, "seed (9223372036854775807): 2 episodes from it would pass the largest seed")
}

// A rate so slow that the stamps would pass 2038 (builtin_interfaces/Time's int32 seconds wrap to
// 1901) is refused before anything is written; one just inside is recorded.
func TestGenerateRefusesStampsBeyondWhatATimeHolds(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "slow")
	_, err := Generate(t.Context(), dir, Options{RateHz: 2e-7})
	require.ErrorContains(t, err, "rate (2e-07 Hz): 1 episodes of up to 300 steps would stamp messages up to 3.205e+09 s after 1970, past the last second a ROS 2 stamp holds (2038-01-19T03:14:07Z)")
	require.NoDirExists(t, dir)
	sc := scene.DefaultConfig()
	sc.Width, sc.Height = 8, 8
	_, err = Generate(t.Context(), dir, Options{RateHz: 1e-6, Scene: sc})
	require.NoError(t, err)
}

// Ctrl-C between episodes (here while the free space is asked before episode 3): the bag is closed
// before the next one, and holds whole episodes, readable without a warning.
func TestGenerateStopsBetweenEpisodesWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancelCause(t.Context())
	calls := 0
	dir := filepath.Join(t.TempDir(), "interrupted")
	// FreeBytes is asked before each episode after the first: the third ask is before episode 3.
	sum, err := Generate(ctx, dir, Options{Episodes: 50, FreeBytes: func(string) (uint64, error) {
		if calls++; calls == 3 {
			cancel(errors.New("interrupt signal received"))
		}
		return 1 << 40, nil
	}})
	require.EqualError(t, err, "sample bag: stopped after 3 of 50 episodes; "+dir+" holds them: interrupt signal received")
	require.Equal(t, 3, sum.Episodes)

	r, err := bag.Open(dir)
	require.NoError(t, err)
	defer r.Close()
	info := r.Info()
	require.Empty(t, info.Warnings)
	episodes, _ := info.Topic(TopicEpisode)
	images, _ := info.Topic(TopicImage)
	require.Equal(t, uint64(3), episodes.MessageCount)
	require.Equal(t, uint64(sum.Frames), images.MessageCount)
}

// cancelOnCall is a context that is cancelled, as Ctrl-C cancels dysl bag gen's, when its Err is
// asked for the at-th time: Generate asks once before each episode and once before each frame.
type cancelOnCall struct {
	context.Context
	cancel    context.CancelCauseFunc
	calls, at int
}

func (c *cancelOnCall) Err() error {
	if c.calls++; c.calls == c.at {
		c.cancel(errors.New("interrupt signal received"))
	}
	return c.Context.Err()
}

// Ctrl-C within an episode stops before the next frame: 4096x4096 frames took 7.5 minutes to finish
// the episode after Ctrl-C, and wrote 3.5 GB. The frames so far are kept, and a second /episode marker
// after them says the episode is cut, so that it does not read as a whole one.
func TestGenerateStopsBetweenFramesWhenCancelled(t *testing.T) {
	sc := scene.DefaultConfig()
	sc.Width, sc.Height = 16, 12
	first, err := scene.Episode(0, sc)
	require.NoError(t, err)
	second, err := scene.Episode(1, sc)
	require.NoError(t, err)
	inner, cancel := context.WithCancelCause(t.Context())
	// Asked before episode 0 and its len(first) frames, before episode 1, then before its frames 0 to
	// 5: cancelled there, after 5 of its frames.
	ctx := &cancelOnCall{Context: inner, cancel: cancel, at: 1 + len(first) + 1 + 6}
	dir := filepath.Join(t.TempDir(), "interrupted")
	sum, err := Generate(ctx, dir, Options{Episodes: 50, Scene: sc})
	cut := fmt.Sprintf("episode=1 seed=1 steps=%d cut=5", len(second))
	require.EqualError(t, err, fmt.Sprintf("sample bag: stopped after 1 whole episodes of 50 and 5 of the %d steps of the next; %s holds them, "+
		"the cut one marked on /episode (%q): drop it to train or evaluate on whole episodes: interrupt signal received",
		len(second), dir, cut))
	require.Equal(t, 1, sum.Episodes, "whole episodes")
	require.Equal(t, len(first)+5, sum.Frames)

	markers, images := readEpisodes(t, dir)
	require.Equal(t, []string{
		fmt.Sprintf("episode=0 seed=0 steps=%d", len(first)),
		fmt.Sprintf("episode=1 seed=1 steps=%d", len(second)),
		cut,
	}, markers)
	require.Equal(t, len(first)+5, images)
}

// readEpisodes reads the /episode markers of a bag of raw frames and counts its frames; it checks
// that the bag reads without a warning and that nothing comes after the last marker, as a cut one.
func readEpisodes(t *testing.T, dir string) (markers []string, images int) {
	t.Helper()
	r, err := bag.Open(dir)
	require.NoError(t, err)
	defer r.Close()
	require.Empty(t, r.Info().Warnings)
	var lastTopic string
	for m, err := range r.Messages() {
		require.NoError(t, err)
		lastTopic = m.Topic
		switch m.Topic {
		case TopicEpisode:
			var s msgs.String
			require.NoError(t, msgs.Decode(m.Data, &s))
			markers = append(markers, s.Data)
		case TopicImage:
			images++
		}
	}
	require.Equal(t, TopicEpisode, lastTopic, "an /episode marker comes last")
	return markers, images
}

// heldRender renders as scene.Render does, but its call number at (from 0) is the frame Ctrl-C comes
// in: it cancels the context and holds its frame until release is closed, as a 4096x4096 frame holds
// for seconds.
type heldRender struct {
	calls, at int
	cancel    context.CancelCauseFunc
	release   chan struct{}
	returned  chan struct{} // closed when the held frame is done
}

func (h *heldRender) render(s scene.State, width, height int, noise float64) scene.Image {
	im := scene.Render(s, width, height, noise)
	if h.calls++; h.calls-1 == h.at {
		h.cancel(errors.New("interrupt signal received"))
		<-h.release
		close(h.returned)
	}
	return im
}

// Ctrl-C while a frame is rendered stops without waiting for it (a 4096x4096 frame took 2 s to render
// and 2.8 s more to compress as PNG, so Ctrl-C took seconds): the frame is dropped and the episode cut
// before it, in its first frame too.
func TestGenerateDropsTheFrameBeingRenderedWhenCancelled(t *testing.T) {
	sc := scene.DefaultConfig()
	sc.Width, sc.Height = 16, 12
	first, err := scene.Episode(0, sc)
	require.NoError(t, err)
	for _, heldFrame := range []int{3, 0} {
		t.Run(fmt.Sprint("frame ", heldFrame), func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(t.Context())
			held := &heldRender{at: heldFrame, cancel: cancel, release: make(chan struct{}), returned: make(chan struct{})}
			dir := filepath.Join(t.TempDir(), "interrupted")
			type result struct {
				sum Summary
				err error
			}
			generated := make(chan result, 1)
			go func() {
				sum, err := Generate(ctx, dir, Options{Episodes: 2, Scene: sc, render: held.render})
				generated <- result{sum, err}
			}()
			var got result
			select {
			case got = <-generated:
			case <-time.After(time.Minute): // not a measure: without the fix Generate waits for ever
				close(held.release)
				<-generated
				t.Fatal("Generate waited for the frame being rendered")
			}
			close(held.release)
			<-held.returned

			cut := fmt.Sprintf("episode=0 seed=0 steps=%d cut=%d", len(first), heldFrame)
			require.EqualError(t, got.err, fmt.Sprintf("sample bag: stopped after 0 whole episodes of 2 and %d of the %d steps of the next; %s holds them, "+
				"the cut one marked on /episode (%q): drop it to train or evaluate on whole episodes: interrupt signal received",
				heldFrame, len(first), dir, cut))
			require.Equal(t, heldFrame, got.sum.Frames)
			markers, images := readEpisodes(t, dir)
			require.Equal(t, []string{fmt.Sprintf("episode=0 seed=0 steps=%d", len(first)), cut}, markers)
			require.Equal(t, heldFrame, images)
		})
	}
}

// A bag whose episodes will not fit is stopped once the bytes of the first ones say so, and removed;
// one that fits is recorded whole, the free space asked before each episode.
func TestGenerateStopsBeforeTheDiskFills(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "big")
	const free = 8 << 20
	asked := 0
	sum, err := Generate(t.Context(), dir, Options{Episodes: 1000, FreeBytes: func(string) (uint64, error) { asked++; return free, nil }})
	require.ErrorContains(t, err, "episodes left of 1000 need about")
	require.ErrorContains(t, err, "and 8.0 MiB is free for "+dir+": record fewer")
	require.Less(t, sum.Episodes, 5, "stopped on the first measure, not when the disk is full")
	require.NoDirExists(t, dir)
	require.Equal(t, 1, asked, "asked once a chunk was on disk")

	// An empty directory the user made for it is emptied again, not removed.
	made := t.TempDir()
	_, err = Generate(t.Context(), made, Options{Episodes: 1000, FreeBytes: func(string) (uint64, error) { return free, nil }})
	require.ErrorContains(t, err, "record fewer")
	entries, err := os.ReadDir(made)
	require.NoError(t, err, "the directory is still there")
	require.Empty(t, entries)

	dir = filepath.Join(t.TempDir(), "small")
	asked = 0
	sum, err = Generate(t.Context(), dir, Options{Episodes: 3, FreeBytes: func(string) (uint64, error) { asked++; return free, nil }})
	require.NoError(t, err)
	require.Equal(t, 3, sum.Episodes)
	require.Equal(t, 2, asked, "before each episode after the first")

	_, err = Generate(t.Context(), filepath.Join(t.TempDir(), "x"), Options{Episodes: 3,
		FreeBytes: func(string) (uint64, error) { return 0, errors.New("statfs: no such device") }})
	require.ErrorContains(t, err, "free space for")
	require.ErrorContains(t, err, "no such device")
}

// rawImages decodes sensor_msgs/msg/Image frames, what Generate records by default.
func rawImages() func(data []byte) error {
	var image msgs.Image
	return func(data []byte) error { return msgs.Decode(data, &image) }
}

func TestMeasureDecodeThroughput(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sample")
	sum, err := Generate(t.Context(), dir, Options{Seed: 1})
	require.NoError(t, err)
	got, err := bag.MeasureDecodeThroughput(t.Context(), dir, "/image", rawImages(), 0)
	require.NoError(t, err)
	require.Equal(t, sum.Messages, got.Messages)
	require.Equal(t, sum.Frames, got.Frames)
	require.Positive(t, got.FramesPerSecond())

	// A bound on the frames measured stops the pass there; a done context stops it at once.
	got, err = bag.MeasureDecodeThroughput(t.Context(), dir, "/image", rawImages(), 5)
	require.NoError(t, err)
	require.Equal(t, 5, got.Frames)
	require.Less(t, got.Messages, sum.Messages)
	done, cancel := context.WithCancel(t.Context())
	cancel()
	got, err = bag.MeasureDecodeThroughput(done, dir, "/image", rawImages(), 0)
	require.ErrorIs(t, err, context.Canceled)
	require.Zero(t, got.Frames)
}

// BenchmarkDecode reads and decodes a 3-episode sample bag at two frame sizes; it reports messages/s
// and image frames/s, the rates replay must exceed by far to stay model-bound.
func BenchmarkDecode(b *testing.B) {
	for _, size := range []int{32, 224} {
		b.Run(fmt.Sprintf("%dx%d", size, size), func(b *testing.B) {
			dir := filepath.Join(b.TempDir(), "sample")
			_, err := Generate(b.Context(), dir, Options{Episodes: 3, Scene: scene.Config{Width: size, Height: size, CameraNoise: 2}})
			require.NoError(b, err)
			b.ResetTimer()
			var total bag.Throughput
			for b.Loop() {
				got, err := bag.MeasureDecodeThroughput(b.Context(), dir, "/image", rawImages(), 0)
				require.NoError(b, err)
				total.Messages += got.Messages
				total.Frames += got.Frames
				total.Bytes += got.Bytes
			}
			b.ReportMetric(float64(total.Messages)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(total.Frames)/b.Elapsed().Seconds(), "frames/s")
			b.SetBytes(total.Bytes / int64(max(b.N, 1)))
		})
	}
}
