package replay

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/bag"
	"dysl_vla/bag/samplebag"
	"dysl_vla/mavbridge"
	"dysl_vla/modelbuild"
	"dysl_vla/modelbuild/modelbuildtest"
	"dysl_vla/msgs"
	"dysl_vla/nodecore"
	"dysl_vla/policy"
	"dysl_vla/policy/ortbackend"
	"dysl_vla/policy/ortbackend/orttest"
	"dysl_vla/skipping"
)

// ortLib is the ONNX Runtime library the tests load, set by fixture.
var ortLib string

// fixture builds the tiny bundle and a two-episode sample bag once for the package's tests.
func fixture(t *testing.T) (model, bagDir string) {
	t.Helper()
	ortLib = orttest.Library(t)
	dir := t.TempDir()
	model, bagDir = filepath.Join(dir, "model"), filepath.Join(dir, "bag")
	testBundles.Copy(t, modelbuild.Options{Preset: "tiny", Seed: 1}, model)
	require.NoError(t, os.CopyFS(bagDir, os.DirFS(sampleBag.get(t))))
	return model, bagDir
}

// The tiny model of seed 1 and the two-episode bag of seed 3 are built once per test binary: both
// are deterministic, and under -race each build takes seconds that eight tests would otherwise
// spend again. Each test gets its own copy to change as it likes.
var (
	testBundles modelbuildtest.Cache
	sampleBag   generatedBag
)

// generatedBag is the sample bag, generated on first use into a directory TestMain removes.
type generatedBag struct {
	once sync.Once
	dir  string
	err  error
}

func (g *generatedBag) get(t *testing.T) string {
	t.Helper()
	g.once.Do(func() {
		if g.dir, g.err = os.MkdirTemp("", "dysl-replay-bag-"); g.err == nil {
			_, g.err = samplebag.Generate(context.Background(), filepath.Join(g.dir, "bag"), samplebag.Options{Episodes: 2, Seed: 3})
		}
	})
	require.NoError(t, g.err, "generating the sample bag")
	return filepath.Join(g.dir, "bag")
}

func TestMain(m *testing.M) {
	code := m.Run()
	testBundles.Remove()
	if sampleBag.dir != "" {
		os.RemoveAll(sampleBag.dir)
	}
	os.Exit(code)
}

func replayOnce(t *testing.T, model, bagDir, out string, compare bool) Result {
	t.Helper()
	srv, settings, err := nodecore.LoadParams("", "/dysl_vla_node", nil)
	require.NoError(t, err)
	e, err := policy.Open(model, ortbackend.Opener(ortbackend.Config{LibraryPath: ortLib}), settings.Live.Skipping)
	require.NoError(t, err)
	defer e.Close()
	res, err := Run(Config{Engine: e, Params: srv, BagPath: bagDir, OutDir: out, CompareFull: compare, KeepChunks: true})
	require.NoError(t, err)
	return res
}

func TestReplayGeneratedBagEndToEnd(t *testing.T) {
	model, bagDir := fixture(t)
	out := t.TempDir()
	res := replayOnce(t, model, bagDir, out, true)

	in, err := bag.Open(bagDir)
	require.NoError(t, err)
	images, _ := in.Info().Topic("/image")
	in.Close()
	require.Equal(t, int(images.MessageCount), res.Summary.Frames, "every frame acted on: the instruction precedes the first image")
	require.True(t, res.Summary.Compared)
	require.Greater(t, res.Summary.DecodeFramesPerSecond, 0.0)
	require.FileExists(t, res.ReportPath)
	for _, png := range []string{"latency_hist.png", "executed_layers.png", "continuity.png"} {
		require.FileExists(t, filepath.Join(out, png))
	}

	// The output bag holds the node's publications with their schemas, readable by our own reader.
	ob, err := bag.Open(res.OutBag)
	require.NoError(t, err)
	defer ob.Close()
	info := ob.Info()
	for _, want := range []struct {
		topic, typ string
	}{{TopicActionChunk, "dysl_vla/msg/ActionChunk"}, {TopicSkipStats, "dysl_vla/msg/SkipStats"}, {TopicDiagnostics, "diagnostic_msgs/msg/DiagnosticArray"}} {
		ti, ok := info.Topic(want.topic)
		require.True(t, ok, want.topic)
		require.Equal(t, want.typ, ti.Type)
	}
	ti, _ := info.Topic(TopicActionChunk)
	require.Equal(t, uint64(res.Summary.Frames), ti.MessageCount)

	var seq uint64
	for m, err := range ob.Messages(TopicActionChunk, TopicSkipStats) {
		require.NoError(t, err)
		switch m.Topic {
		case TopicActionChunk:
			var c msgs.ActionChunk
			require.NoError(t, msgs.Decode(m.Data, &c))
			require.NoError(t, c.Validate())
			require.Equal(t, seq, c.Sequence)
			require.Equal(t, samplebag.CameraFrameID, c.Header.FrameID)
			require.Equal(t, m.LogTime, c.Header.Stamp.Nanos(), "chunk stamped with its image's stamp")
			require.Equal(t, uint32(8), c.Steps)
			require.Len(t, c.ActionNames, 7)
			for _, v := range c.Actions {
				require.False(t, math.IsNaN(float64(v)))
			}
			seq++
		case TopicSkipStats:
			var s msgs.SkipStats
			require.NoError(t, msgs.Decode(m.Data, &s))
			// layers_total is the backbone's; executed counts the full re-run when verification fired.
			passes := uint32(1)
			if s.VerificationFired {
				passes = 2
			}
			require.Equal(t, uint32(8), s.LayersTotal)
			require.Equal(t, 8*passes, s.LayersExecuted+s.LayersSkipped)
		}
	}
}

// The same bag and parameters give the same decisions and the same chunks.
func TestReplayIsDeterministic(t *testing.T) {
	model, bagDir := fixture(t)
	a := replayOnce(t, model, bagDir, t.TempDir(), false)
	b := replayOnce(t, model, bagDir, t.TempDir(), false)
	require.Equal(t, len(a.Chunks), len(b.Chunks))
	for i := range a.Chunks {
		require.Equal(t, a.Chunks[i].Actions, b.Chunks[i].Actions, "chunk %d", i)
		require.Equal(t, a.Chunks[i].LayersExecuted, b.Chunks[i].LayersExecuted, "chunk %d", i)
		require.Equal(t, a.Steps[i].AllowPoints, b.Steps[i].AllowPoints, "step %d", i)
	}
}

// With skipping off, the segmented engine's chunks equal the single graph's: the comparison reports
// (near) zero error and full gripper agreement.
func TestReplayCompareFullWithSkippingOff(t *testing.T) {
	model, bagDir := fixture(t)
	params := filepath.Join(t.TempDir(), "params.yaml")
	require.NoError(t, os.WriteFile(params, []byte("/**:\n  ros__parameters:\n    strategy: full\n"), 0o644))
	srv, settings, err := nodecore.LoadParams(params, "/dysl_vla_node", nil)
	require.NoError(t, err)
	require.Equal(t, skipping.StrategyFull, settings.Live.Skipping.Strategy)
	e, err := policy.Open(model, ortbackend.Opener(ortbackend.Config{LibraryPath: ortLib}), settings.Live.Skipping)
	require.NoError(t, err)
	defer e.Close()
	res, err := Run(Config{Engine: e, Params: srv, BagPath: bagDir, OutDir: t.TempDir(), CompareFull: true})
	require.NoError(t, err)
	require.Less(t, res.Summary.ActionMAEMax, 1e-4)
	require.Equal(t, 1.0, res.Summary.GripperAgreement)
	require.Equal(t, 0.0, res.Summary.SkipRatio)
}

// The output bag holds the chunks on action_chunk_topic as the node resolves it, and each output
// topic with the QoS the node offers, as a recording of the live node would.
func TestReplayOutputFollowsTheNodesTopicsAndQoS(t *testing.T) {
	model, bagDir := fixture(t)
	for _, c := range []struct{ param, want string }{{"arm/vla_chunks", "/arm/vla_chunks"}, {"~/chunks", "/dysl_vla_node/chunks"}} {
		params := filepath.Join(t.TempDir(), "params.yaml")
		require.NoError(t, os.WriteFile(params, []byte("/**:\n  ros__parameters:\n    action_chunk_topic: "+c.param+"\n"), 0o644))
		srv, settings, err := nodecore.LoadParams(params, "/dysl_vla_node", nil)
		require.NoError(t, err)
		e, err := policy.Open(model, ortbackend.Opener(ortbackend.Config{LibraryPath: ortLib}), settings.Live.Skipping)
		require.NoError(t, err)
		res, err := Run(Config{Engine: e, Params: srv, BagPath: bagDir, OutDir: t.TempDir()})
		e.Close()
		require.NoError(t, err)
		ob, err := bag.Open(res.OutBag)
		require.NoError(t, err)
		info := ob.Info()
		ti, ok := info.Topic(c.want)
		require.True(t, ok, "%s: topics %v", c.param, info.Topics)
		require.Equal(t, uint64(res.Summary.Frames), ti.MessageCount)
		_, old := info.Topic(TopicActionChunk)
		require.False(t, old)
		diag, _ := info.Topic(TopicDiagnostics)
		require.Contains(t, diag.OfferedQoSProfiles, "depth: 1\n")
		ob.Close()
	}
}

func TestReplayMissingTopicIsAClearError(t *testing.T) {
	model, bagDir := fixture(t)
	srv, settings, err := nodecore.LoadParams("", "/dysl_vla_node", nil)
	require.NoError(t, err)
	e, err := policy.Open(model, ortbackend.Opener(ortbackend.Config{LibraryPath: ortLib}), settings.Live.Skipping)
	require.NoError(t, err)
	defer e.Close()
	_, err = Run(Config{Engine: e, Params: srv, BagPath: bagDir, OutDir: t.TempDir(), ImageTopic: "/camera/color"})
	require.ErrorContains(t, err, "has no topic /camera/color (topics: ")
	require.NotContains(t, err.Error(), "readable only up to a fault")

	// A lone MCAP file cut short holds no topic that can be read: the error says the file is damaged,
	// not only that the topic is missing.
	files, err := filepath.Glob(filepath.Join(bagDir, "*.mcap"))
	require.NoError(t, err)
	whole, err := os.ReadFile(files[0])
	require.NoError(t, err)
	cut := filepath.Join(t.TempDir(), "cut.mcap")
	require.NoError(t, os.WriteFile(cut, whole[:100], 0o644))
	_, err = Run(Config{Engine: e, Params: srv, BagPath: cut, OutDir: t.TempDir()})
	require.ErrorContains(t, err, "has no topic /image (topics: ); "+cut+": readable only up to a fault (0 messages counted): bag file "+cut+" is truncated or corrupt")
}

// With a MAVLink forwarder, every replayed chunk reaches the controller (a Monitor over loopback UDP),
// in order and with the published values.
func TestReplayForwardsEveryChunkOverMAVLink(t *testing.T) {
	model, bagDir := fixture(t)
	// KeepLateChunks, as dysl replay has it: on a loaded machine the writer may fall a step behind.
	// LinkTimeout a minute, not DefaultLinkTimeout's 2 s: the monitor heartbeats once a second, and
	// on a loaded machine (the race tests, ~90 s for this package) one heartbeat late by a second
	// would take the link down and discard a chunk. Link loss is mavbridge's to test, not this one.
	bridge := &mavbridge.Bridge{Endpoint: "udp-server:127.0.0.1:0", HeartbeatPeriod: 100 * time.Millisecond,
		LinkTimeout: time.Minute, KeepLateChunks: true}
	require.NoError(t, bridge.Initialize())
	defer bridge.Close()
	monitor := &mavbridge.Monitor{Endpoint: "udp-client:" + bridge.ListenAddr().String(), AckGripper: true}
	require.NoError(t, monitor.Initialize())
	defer monitor.Close()
	received := make(chan mavbridge.Chunk, 4096)
	go func() {
		for r := range monitor.Received() {
			if c, ok := r.(mavbridge.ReceivedChunk); ok {
				received <- c.Chunk
			}
		}
	}()
	// Chunks sent before the controller's first heartbeat are discarded; replay only once it is heard.
	require.Eventually(t, func() bool { return bridge.Stats().LinkUp }, 20*time.Second, 10*time.Millisecond)

	srv, settings, err := nodecore.LoadParams("", "/dysl_vla_node", nil)
	require.NoError(t, err)
	e, err := policy.Open(model, ortbackend.Opener(ortbackend.Config{LibraryPath: ortLib}), settings.Live.Skipping)
	require.NoError(t, err)
	defer e.Close()
	fwd := &mavbridge.Forwarder{Bridge: bridge, GripperDim: e.Manifest.Action.GripperIndex}
	res, err := Run(Config{Engine: e, Params: srv, BagPath: bagDir, OutDir: t.TempDir(), Forwarder: fwd, KeepChunks: true})
	require.NoError(t, err)
	require.NotEmpty(t, res.Chunks)

	for i, want := range res.Chunks {
		var got mavbridge.Chunk
		select {
		case got = <-received:
		case <-time.After(20 * time.Second):
			require.FailNow(t, "chunk did not arrive", "chunk %d of %d; bridge %+v", i, len(res.Chunks), bridge.Stats())
		}
		require.Equal(t, uint32(want.Sequence), got.Seq)
		require.Equal(t, want.Actions, got.Values, "chunk %d", i)
	}
	stats := bridge.Stats()
	require.Zero(t, stats.ChunksDiscarded, "bridge %+v", stats)
}

// A truncated storage file stops the replay with an error, but every frame read before the fault is
// replayed, reported, and written to a properly closed output bag.
func TestReplayKeepsWhatWasComputedBeforeACorruptFile(t *testing.T) {
	model, bagDir := fixture(t)
	mcaps, err := filepath.Glob(filepath.Join(bagDir, "*.mcap"))
	require.NoError(t, err)
	require.Len(t, mcaps, 1)
	info, err := os.Stat(mcaps[0])
	require.NoError(t, err)
	require.NoError(t, os.Truncate(mcaps[0], info.Size()*6/10))

	srv, settings, err := nodecore.LoadParams("", "/dysl_vla_node", nil)
	require.NoError(t, err)
	e, err := policy.Open(model, ortbackend.Opener(ortbackend.Config{LibraryPath: ortLib}), settings.Live.Skipping)
	require.NoError(t, err)
	defer e.Close()
	out := t.TempDir()
	res, err := Run(Config{Engine: e, Params: srv, BagPath: bagDir, OutDir: out})
	require.ErrorContains(t, err, "input bag stopped early")
	var corrupt *bag.CorruptFileError
	require.ErrorAs(t, err, &corrupt)
	require.Positive(t, res.Summary.Frames)
	require.FileExists(t, res.ReportPath)

	ob, err := bag.Open(res.OutBag)
	require.NoError(t, err, "the output bag was closed properly")
	defer ob.Close()
	ti, ok := ob.Info().Topic(TopicActionChunk)
	require.True(t, ok)
	require.Equal(t, uint64(res.Summary.Frames), ti.MessageCount)
}

// Frames the model cannot use (unknown encoding, wrong size) are counted and reported, and the frames
// after them are served.
func TestReplayBadFramesAreReportedSkips(t *testing.T) {
	model, _ := fixture(t)
	dir := filepath.Join(t.TempDir(), "bad")
	w, err := bag.Create(dir, bag.WriterOptions{})
	require.NoError(t, err)
	for _, tp := range []struct{ name, typ string }{{"/instruction", "std_msgs/msg/String"}, {"/image", "sensor_msgs/msg/Image"}} {
		ti, ok := msgs.Lookup(tp.typ)
		require.True(t, ok)
		require.NoError(t, w.AddTopic(bag.Topic{Name: tp.name, Type: tp.typ, Definition: ti.Schema}))
	}
	write := func(topic string, at int64, m msgs.Message) {
		data, err := msgs.Encode(nil, m)
		require.NoError(t, err)
		require.NoError(t, w.Write(topic, at, data))
	}
	base := int64(1_700_000_000_000_000_000)
	write("/instruction", base, &msgs.String{Data: "pick up the red block"})
	image := func(i int, enc string, w, h, step, size int) *msgs.Image {
		return &msgs.Image{Header: msgs.Header{Stamp: msgs.TimeFromNanos(base + int64(i)*1e8), FrameID: "camera"},
			Width: uint32(w), Height: uint32(h), Encoding: enc, Step: uint32(step), Data: make([]byte, size)}
	}
	write("/image", base+1e8, image(1, "rgb8", 48, 32, 144, 144*32))
	write("/image", base+2e8, image(2, "yuv422", 32, 32, 64, 64*32))
	write("/image", base+3e8, image(3, "rgb8", 32, 32, 96, 100)) // data shorter than step x height
	write("/image", base+4e8, image(4, "mono8", 640, 480, 640, 640*480))
	require.NoError(t, w.Close())

	srv, settings, err := nodecore.LoadParams("", "/dysl_vla_node", nil)
	require.NoError(t, err)
	e, err := policy.Open(model, ortbackend.Opener(ortbackend.Config{LibraryPath: ortLib}), settings.Live.Skipping)
	require.NoError(t, err)
	defer e.Close()
	res, err := Run(Config{Engine: e, Params: srv, BagPath: dir, OutDir: t.TempDir()})
	require.NoError(t, err)
	require.Equal(t, 2, res.Summary.Frames, "the rgb8 48x32 and mono8 640x480 frames are served")
	var reasons []string
	for _, s := range res.Skips {
		reasons = append(reasons, s.Reason)
	}
	require.Len(t, reasons, 2)
	require.Contains(t, reasons[0], `unsupported encoding "yuv422"`)
	require.Contains(t, reasons[1], "image.data: 100 bytes")
}
