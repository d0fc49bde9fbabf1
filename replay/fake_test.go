package replay

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foxglove/mcap/go/mcap"
	"github.com/stretchr/testify/require"

	"dysl_vla/bag"
	"dysl_vla/msgs"
	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
	"dysl_vla/policy"
	"dysl_vla/policy/policytest"
)

// fakeReplay replays bagPath on a policy.Engine over policytest's Fake backend (no ONNX Runtime),
// with the node's parameters overridden as a params file would.
func fakeReplay(t *testing.T, bagPath string, overrides map[string]paramserver.Value, edit func(*Config)) (Result, error) {
	t.Helper()
	m := policytest.Manifest()
	fake := policytest.NewFake(m)
	for j := range fake.SkipProb {
		fake.SkipProb[j] = 1
	}
	e := &policy.Engine{Manifest: m, Backend: fake}
	require.NoError(t, e.Initialize())
	t.Cleanup(func() { e.Close() })
	srv, _, err := nodecore.NewParamServer("/dysl_vla_node", overrides, nil)
	require.NoError(t, err)
	cfg := Config{Engine: e, Params: srv, BagPath: bagPath, OutDir: filepath.Join(t.TempDir(), "out"), KeepChunks: true}
	if edit != nil {
		edit(&cfg)
	}
	return Run(cfg)
}

// humbleBag is a recording of bag/testdata/humble, made by ROS 2 Humble's ros2 bag record.
func humbleBag(name string) string { return filepath.Join("..", "bag", "testdata", "humble", name) }

// humbleBagEdited copies the Humble recording name and replaces old by new in its metadata.yaml.
func humbleBagEdited(t *testing.T, name, old, new string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.CopyFS(dir, os.DirFS(humbleBag(name))))
	meta := filepath.Join(dir, "metadata.yaml")
	data, err := os.ReadFile(meta)
	require.NoError(t, err)
	edited := strings.Replace(string(data), old, new, 1)
	require.NotEqual(t, string(data), edited, "%q is not in %s", old, meta)
	require.NoError(t, os.WriteFile(meta, []byte(edited), 0o644))
	return dir
}

// imageCount reads how many images a bag holds.
func imageCount(t *testing.T, path string) int {
	t.Helper()
	r, err := bag.Open(path)
	require.NoError(t, err)
	defer r.Close()
	n := 0
	for _, err := range r.Messages("/image") {
		require.NoError(t, err)
		n++
	}
	return n
}

// bagWriter records a small bag of instructions and 4x4 rgb8 images for a test.
type bagWriter struct {
	t   *testing.T
	dir string
	w   *bag.Writer
}

func newBagWriter(t *testing.T, topics ...[2]string) *bagWriter {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "in")
	w, err := bag.Create(dir, bag.WriterOptions{})
	require.NoError(t, err)
	if len(topics) == 0 {
		topics = [][2]string{{"/instruction", instructionType}, {"/image", imageType}}
	}
	for _, tp := range topics {
		def, ok := msgs.Schema(tp[1])
		if !ok {
			def = "# a type msgs does not know\n"
		}
		require.NoError(t, w.AddTopic(bag.Topic{Name: tp[0], Type: tp[1], Definition: def}))
	}
	return &bagWriter{t: t, dir: dir, w: w}
}

func (b *bagWriter) write(topic string, at int64, m msgs.Message) {
	b.t.Helper()
	data, err := msgs.Encode(nil, m)
	require.NoError(b.t, err)
	require.NoError(b.t, b.w.Write(topic, at, data))
}

func (b *bagWriter) instruction(at int64, text string) {
	b.write("/instruction", at, &msgs.String{Data: text})
}

// image writes a gray 4x4 frame stamped at its log time.
func (b *bagWriter) image(at int64) {
	b.write("/image", at, &msgs.Image{Header: msgs.Header{Stamp: msgs.TimeFromNanos(at), FrameID: "camera"},
		Height: 4, Width: 4, Encoding: "rgb8", Step: 12, Data: make([]byte, 48)})
}

func (b *bagWriter) close() string {
	b.t.Helper()
	require.NoError(b.t, b.w.Close())
	return b.dir
}

// pickBag records an instruction and then n images 100 ms apart.
func pickBag(t *testing.T, n int) string {
	t.Helper()
	b := newBagWriter(t)
	b.instruction(base, "pick")
	for i := range n {
		b.image(base + int64(i+1)*1e8)
	}
	return b.close()
}

// editMetadata replaces old by new in the bag's metadata.yaml.
func editMetadata(t *testing.T, dir, old, new string) {
	t.Helper()
	path := filepath.Join(dir, bag.MetadataFileName)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(raw), old)
	require.NoError(t, os.WriteFile(path, []byte(strings.Replace(string(raw), old, new, 1)), 0o644))
}

// outputCounts counts the output bag's messages per topic.
func outputCounts(t *testing.T, outBag string) map[string]int {
	t.Helper()
	r, err := bag.Open(outBag)
	require.NoError(t, err)
	defer r.Close()
	counts := map[string]int{}
	for m, err := range r.Messages() {
		require.NoError(t, err)
		counts[m.Topic]++
	}
	return counts
}

const base = int64(1_700_000_000_000_000_000)

// staleImage is a 4x4 frame stamped at stamp (ns).
func staleImage(stamp int64) *msgs.Image {
	return &msgs.Image{Header: msgs.Header{Stamp: msgs.TimeFromNanos(stamp), FrameID: "camera"},
		Height: 4, Width: 4, Encoding: "rgb8", Step: 12, Data: make([]byte, 48)}
}

// A report that cannot be written (a directory in its place) is an error, and the printed result
// does not name it as written; the summary of what was replayed is still printed.
func TestReportNotWrittenIsNotAnnounced(t *testing.T) {
	res, err := fakeReplay(t, humbleBag("pub_sqlite3"), nil, func(c *Config) {
		require.NoError(t, os.MkdirAll(filepath.Join(c.OutDir, "report.md"), 0o755))
	})
	require.Error(t, err)
	require.Empty(t, res.ReportPath)
	var out strings.Builder
	WriteResult(&out, res)
	require.Contains(t, out.String(), "frames acted on ")
	require.NotContains(t, out.String(), "report: ")
}

// A bag whose messages' own data is damaged (its metadata says zstd per message; the data is not)
// replays to its end: every damaged message is counted as one that does not decode, as an
// undecodable CDR message is, instead of ending the replay at the first.
func TestDamagedMessagesAreCountedAndTheReplayGoesOn(t *testing.T) {
	dir := humbleBagEdited(t, "pub_sqlite3", "compression_format: \"\"\n  compression_mode: \"\"", "compression_format: zstd\n  compression_mode: MESSAGE")
	res, err := fakeReplay(t, dir, nil, nil)
	require.NoError(t, err)
	require.Zero(t, res.Summary.Frames)
	require.Equal(t, imageCount(t, humbleBag("pub_sqlite3")), res.Summary.SkippedBy[SkipDecodeError])
	require.Contains(t, res.Summary.Hint, "The frames' messages could not be read")
}

// A bag that declares /clock but records none of it before its frames, replayed with use_sim_time:
// no frame is acted on, and the hint says why instead of leaving a replay that tested nothing silent.
func TestAnEmptyClockExplainsAReplayThatActedOnNothing(t *testing.T) {
	b := newBagWriter(t, [2]string{"/instruction", instructionType}, [2]string{"/image", imageType},
		[2]string{TopicClock, (*msgs.Clock)(nil).TypeName()})
	b.instruction(base, "pick")
	for i := range 3 {
		b.image(base + int64(i+1)*1e8)
	}
	res, err := fakeReplay(t, b.close(), map[string]paramserver.Value{nodecore.ParamUseSimTime: paramserver.Bool(true)}, nil)
	require.NoError(t, err)
	require.Zero(t, res.Summary.Frames)
	require.Equal(t, 3, res.Summary.SkippedBy[SkipNoClock])
	require.Contains(t, res.Summary.Hint, "use_sim_time is true, but no /clock message came before the frames")
}

// What the bag says of itself when opened (here, metadata.yaml's count disagreeing with the files) is
// printed with the replay and written into the report, not left to `dysl bag info`.
func TestReplayShowsTheBagsWarnings(t *testing.T) {
	dir := humbleBagEdited(t, "pub_sqlite3", "  message_count: 28\n", "  message_count: 29\n")
	res, err := fakeReplay(t, dir, nil, nil)
	require.NoError(t, err)
	require.Len(t, res.Summary.BagWarnings, 1)
	require.Contains(t, res.Summary.BagWarnings[0], "29")
	var out strings.Builder
	WriteResult(&out, res)
	require.Contains(t, out.String(), "input bag: "+res.Summary.BagWarnings[0]+"\n")
	report, err := os.ReadFile(res.ReportPath)
	require.NoError(t, err)
	require.Contains(t, string(report), "**Input bag:** "+res.Summary.BagWarnings[0])
}

// A message the bag reader passes over in silence (an MCAP message on a channel its file never
// declares, here made by rewriting one image's channel id) is not lost without a word: the replay
// compares the images read with the count the file's index gives.
func TestImagesTheReaderPassedOverAreSaid(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "in")
	w, err := bag.Create(dir, bag.WriterOptions{Compression: "none"})
	require.NoError(t, err)
	def, _ := msgs.Schema(imageType)
	require.NoError(t, w.AddTopic(bag.Topic{Name: "/image", Type: imageType, Definition: def}))
	def, _ = msgs.Schema(instructionType)
	require.NoError(t, w.AddTopic(bag.Topic{Name: "/instruction", Type: instructionType, Definition: def}))
	text, err := msgs.Encode(nil, &msgs.String{Data: "pick"})
	require.NoError(t, err)
	require.NoError(t, w.Write("/instruction", base, text))
	for i := range 5 {
		at := base + int64(i+1)*1e8
		data, err := msgs.Encode(nil, &msgs.Image{Header: msgs.Header{Stamp: msgs.TimeFromNanos(at)}, Height: 4, Width: 4, Encoding: "rgb8", Step: 12, Data: make([]byte, 48)})
		require.NoError(t, err)
		require.NoError(t, w.Write("/image", at, data))
	}
	require.NoError(t, w.Close())

	// A message record: opcode 0x05, record length (8), channel id (2), sequence (4), log time (8), ...
	// The third image's log time first appears in its message record, before the chunk's message index.
	path := filepath.Join(dir, "in_0.mcap")
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var logTime [8]byte
	binary.LittleEndian.PutUint64(logTime[:], uint64(base+3e8))
	at := bytes.Index(raw, logTime[:])
	require.Positive(t, at)
	require.Equal(t, byte(0x05), raw[at-15], "the record's opcode")
	binary.LittleEndian.PutUint16(raw[at-6:], 99)
	// The chunk's CRC would now call the whole chunk damaged; Humble writes none (0), and so does this
	// chunk after the edit: a chunk record is opcode (1), length (8), start and end times (8 each),
	// uncompressed size (8), then the CRC (4).
	r, err := mcap.NewReader(bytes.NewReader(raw))
	require.NoError(t, err)
	info, err := r.Info()
	require.NoError(t, err)
	require.Len(t, info.ChunkIndexes, 1)
	chunk := info.ChunkIndexes[0].ChunkStartOffset
	require.Equal(t, byte(0x06), raw[chunk], "the chunk record's opcode")
	binary.LittleEndian.PutUint32(raw[chunk+33:], 0)
	require.NoError(t, os.WriteFile(path, raw, 0o644))

	res, err := fakeReplay(t, dir, nil, nil)
	require.NoError(t, err)
	require.Equal(t, 4, res.Summary.Frames+res.Summary.Skipped)
	require.Contains(t, res.Summary.BagWarnings, "the storage files say they hold 5 messages on /image, and 4 were read: "+
		"the reader passed over the others (in an MCAP file, a message on a channel the file does not declare)")
}

// Frames whose header.stamp is 0 (a driver that does not stamp) are stale of unknown age: counted as
// such, kept out of the age figures, and the hint says what they are instead of blaming the clocks.
func TestUnstampedFramesAreSaidToBe(t *testing.T) {
	b := newBagWriter(t)
	b.instruction(base, "pick")
	for i := range 3 {
		b.write("/image", base+int64(i+1)*1e8, &msgs.Image{Header: msgs.Header{FrameID: "camera"},
			Height: 4, Width: 4, Encoding: "rgb8", Step: 12, Data: make([]byte, 48)})
	}
	res, err := fakeReplay(t, b.close(), nil, nil)
	require.NoError(t, err)
	require.Equal(t, 3, res.Summary.Unstamped)
	require.Zero(t, res.Summary.StaleAgeMax, "no age to speak of")
	require.Contains(t, res.Summary.Hint, "3 of the frames have header.stamp 0")
	var out strings.Builder
	WriteSummary(&out, res.Summary)
	require.Contains(t, out.String(), "  stale (older than max_image_age): 3 (3 with header.stamp 0)\n")
}

// A bag recorded on a robot whose camera and instruction topics are set in the node's parameters file
// replays with that file alone: the topics are the parameters', resolved as the node resolves them,
// unless the caller names others.
func TestReplayReadsTheParametersTopics(t *testing.T) {
	b := newBagWriter(t, [2]string{"/robot1/task", instructionType}, [2]string{"/camera/color/image_raw", imageType})
	b.write("/robot1/task", base, &msgs.String{Data: "pick"})
	for i := range 3 {
		at := base + int64(i+1)*1e8
		b.write("/camera/color/image_raw", at, &msgs.Image{Header: msgs.Header{Stamp: msgs.TimeFromNanos(at)},
			Height: 4, Width: 4, Encoding: "rgb8", Step: 12, Data: make([]byte, 48)})
	}
	dir := b.close()
	overrides := map[string]paramserver.Value{
		nodecore.ParamImageTopic:       paramserver.String("/camera/color/image_raw"),
		nodecore.ParamInstructionTopic: paramserver.String("robot1/task"),
	}
	res, err := fakeReplay(t, dir, overrides, nil)
	require.NoError(t, err)
	require.Equal(t, 3, res.Summary.Frames)

	_, err = fakeReplay(t, dir, nil, nil)
	require.ErrorContains(t, err, "has no topic /image (topics: ")
	_, err = fakeReplay(t, dir, overrides, func(c *Config) { c.ImageTopic = "/image" })
	require.ErrorContains(t, err, "has no topic /image (topics: ")
}
