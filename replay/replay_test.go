package replay

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/bag"
	"dysl_vla/bag/samplebag"
	"dysl_vla/mavbridge"
	"dysl_vla/modelbuild"
	"dysl_vla/msgs"
	"dysl_vla/nodecore"
	"dysl_vla/policy"
	"dysl_vla/skipping"
)

// fixture builds the tiny bundle and a two-episode sample bag once for the package's tests.
func fixture(t *testing.T) (model, bagDir string) {
	t.Helper()
	if os.Getenv(policy.LibraryEnvVar) == "" {
		t.Skipf("%s is not set; run `make test` or export %s=$(scripts/fetch-ort.sh)", policy.LibraryEnvVar, policy.LibraryEnvVar)
	}
	dir := t.TempDir()
	model, bagDir = filepath.Join(dir, "model"), filepath.Join(dir, "bag")
	_, err := modelbuild.Build(modelbuild.Options{Preset: "tiny", OutDir: model, Seed: 1})
	require.NoError(t, err)
	_, err = samplebag.Generate(bagDir, samplebag.Options{Episodes: 2, Seed: 3})
	require.NoError(t, err)
	return model, bagDir
}

func replayOnce(t *testing.T, model, bagDir, out string, compare bool) Result {
	t.Helper()
	srv, settings, err := nodecore.LoadParams("", "/dysl_vla_node", nil)
	require.NoError(t, err)
	e, err := policy.Open(model, policy.ORTConfig{}, settings.Live.Skipping)
	require.NoError(t, err)
	defer e.Close()
	res, err := Run(Config{Engine: e, Params: srv, BagPath: bagDir, OutDir: out, CompareFull: compare})
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
			// Layer visits over all passes: 8 per pass, 2 passes when verification re-ran the frame.
			passes := uint32(1)
			if s.VerificationFired {
				passes = 2
			}
			require.Equal(t, 8*passes, s.LayersTotal)
			require.Equal(t, s.LayersTotal, s.LayersExecuted+s.LayersSkipped)
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
	e, err := policy.Open(model, policy.ORTConfig{}, settings.Live.Skipping)
	require.NoError(t, err)
	defer e.Close()
	res, err := Run(Config{Engine: e, Params: srv, BagPath: bagDir, OutDir: t.TempDir(), CompareFull: true})
	require.NoError(t, err)
	require.Less(t, res.Summary.ActionMAEMax, 1e-4)
	require.Equal(t, 1.0, res.Summary.GripperAgreement)
	require.Equal(t, 0.0, res.Summary.SkipRatio)
}

func TestReplayMissingTopicIsAClearError(t *testing.T) {
	model, bagDir := fixture(t)
	srv, settings, err := nodecore.LoadParams("", "/dysl_vla_node", nil)
	require.NoError(t, err)
	e, err := policy.Open(model, policy.ORTConfig{}, settings.Live.Skipping)
	require.NoError(t, err)
	defer e.Close()
	_, err = Run(Config{Engine: e, Params: srv, BagPath: bagDir, OutDir: t.TempDir(), ImageTopic: "/camera/color"})
	require.ErrorContains(t, err, "has no topic /camera/color (topics: ")
}

// With a MAVLink forwarder, every replayed chunk reaches the controller (a Monitor over loopback UDP),
// in order and with the published values.
func TestReplayForwardsEveryChunkOverMAVLink(t *testing.T) {
	model, bagDir := fixture(t)
	bridge := &mavbridge.Bridge{Endpoint: "udp-server:127.0.0.1:0", HeartbeatPeriod: 100 * time.Millisecond}
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
	e, err := policy.Open(model, policy.ORTConfig{}, settings.Live.Skipping)
	require.NoError(t, err)
	defer e.Close()
	fwd := &mavbridge.Forwarder{Bridge: bridge, GripperDim: e.Manifest.Action.GripperIndex}
	res, err := Run(Config{Engine: e, Params: srv, BagPath: bagDir, OutDir: t.TempDir(), Forwarder: fwd})
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
	require.Zero(t, bridge.Stats().ChunksDiscarded)
}
