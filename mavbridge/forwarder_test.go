package mavbridge_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/mavbridge"
	"dysl_vla/msgs"
	"dysl_vla/nodecore"
	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
	"dysl_vla/policy/policytest"
)

// The node core with a Forwarder to a real Bridge, and a Monitor as the arm controller, over UDP on
// 127.0.0.1. Links and heartbeats run on real time, so every check waits "eventually, within a generous
// deadline" and none asserts how long something took.

const (
	waitFor = 20 * time.Second
	poll    = 10 * time.Millisecond
)

// The node core takes a Forwarder as its ChunkForwarder. Asserted here, not in the package, so that
// mavbridge does not import nodecore.
var _ nodecore.ChunkForwarder = (*mavbridge.Forwarder)(nil)

// t0 stamps the frames; the core's clock is t0-based too, the bridge's is real time.
var t0 = time.Unix(1_700_000_000, 0)

// sink records what the core publishes.
type sink struct {
	mu     sync.Mutex
	chunks []*msgs.ActionChunk
	events []nodecore.Event
}

func (s *sink) PublishActionChunk(c *msgs.ActionChunk) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chunks = append(s.chunks, c)
}
func (s *sink) PublishSkipStats(*msgs.SkipStats)         {}
func (s *sink) PublishDiagnostics(*msgs.DiagnosticArray) {}
func (s *sink) Notice(e nodecore.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
}

// newCore is the node core on a real policy.Engine over a Fake backend: chunks of 4 steps of
// (x, y, gripper), the gripper in column 2.
func newCore(t *testing.T, fwd nodecore.ChunkForwarder) (*nodecore.Core, *sink, *bundle.Manifest) {
	t.Helper()
	m := &bundle.Manifest{
		Format: bundle.FormatVersion, Name: "fake-bundle",
		Dims: bundle.Dims{Layers: 4, Hidden: 4, Heads: 1, Tokens: 4, InstructionTokens: 8, Chunk: 4, ActionDim: 3},
		Image: bundle.ImageSpec{Width: 4, Height: 4, Resize: "center_crop_resize",
			Mean: []float64{0, 0, 0}, Std: []float64{1, 1, 1}},
		Tokenizer: bundle.Tokenizer{Kind: "bytes"},
		Action: bundle.ActionSpec{Names: []string{"x", "y", "gripper"}, Mean: []float64{0, 0, 0},
			Std: []float64{1, 1, 1}, GripperIndex: 2, DtSeconds: 0.05},
		StaticLayers: []int{3},
	}
	engine := &policy.Engine{Manifest: m, Backend: policytest.NewFake(m), Now: func() time.Time { return t0 }}
	require.NoError(t, engine.Initialize())
	params, _, err := nodecore.NewParamServer("/dysl_vla_node", nil, func() time.Time { return t0 })
	require.NoError(t, err)
	s := &sink{}
	core, err := nodecore.New(nodecore.Config{Engine: engine, Params: params, Sink: s, Forwarder: fwd})
	require.NoError(t, err)
	t.Cleanup(core.Close)
	return core, s, m
}

// frame is a 4x4 rgb8 image of one gray level stamped at t0 + at.
func frame(at time.Duration, gray byte) msgs.Image {
	data := make([]byte, 4*4*3)
	for i := range data {
		data[i] = gray
	}
	return msgs.Image{Header: msgs.Header{Stamp: msgs.TimeFromGo(t0.Add(at)), FrameID: "camera"},
		Height: 4, Width: 4, Encoding: "rgb8", Step: 12, Data: data}
}

// collectChunks reads everything the monitor receives until it is closed and passes on the chunks.
func collectChunks(m *mavbridge.Monitor) <-chan mavbridge.Chunk {
	chunks := make(chan mavbridge.Chunk, 1024)
	go func() {
		defer close(chunks)
		for r := range m.Received() {
			if c, ok := r.(mavbridge.ReceivedChunk); ok {
				chunks <- c.Chunk
			}
		}
	}()
	return chunks
}

func value(t *testing.T, st msgs.DiagnosticStatus, key string) string {
	t.Helper()
	v, ok := st.Value(key)
	require.True(t, ok, "%q not in %v", key, st.Values)
	return v
}

// Chunks the node core publishes reach the controller with their values, in order; the link status
// goes WARN (no controller yet), OK (heartbeats), ERROR (heartbeats stopped).
func TestForwarderSendsPublishedChunksAndReportsTheLink(t *testing.T) {
	// The monitor heartbeats once a second, half the default link timeout: one heartbeat a loaded
	// machine delayed a second would lose the link before the test closes the monitor.
	bridge := &mavbridge.Bridge{Endpoint: "udp-server:127.0.0.1:0", HeartbeatPeriod: 100 * time.Millisecond,
		LinkTimeout: 5 * time.Second}
	require.NoError(t, bridge.Initialize())
	defer bridge.Close()
	fwd := &mavbridge.Forwarder{Bridge: bridge}
	core, published, manifest := newCore(t, fwd)
	fwd.GripperDim = manifest.Action.GripperIndex

	// No controller yet: WARN, and the core names the status and counts what it could not forward.
	d := core.Diagnostics(t0)
	require.Len(t, d.Status, 2)
	link := d.Status[1]
	require.Equal(t, "dysl_vla_node: mavlink", link.Name)
	require.Equal(t, msgs.DiagnosticWarn, link.Level, link.Message)
	require.Contains(t, link.Message, "waiting for the first heartbeat")
	require.Equal(t, "udp-server:127.0.0.1:0", link.HardwareID, "the bridge's own endpoint, not the parameter's")
	require.Equal(t, "n/a", value(t, link, "heartbeat age (s)"))
	require.Equal(t, "0", value(t, link, "chunks not forwarded"))

	// The controller connects and heartbeats: OK.
	monitor := &mavbridge.Monitor{Endpoint: "udp-client:" + bridge.ListenAddr().String(), AckGripper: true}
	require.NoError(t, monitor.Initialize())
	monitorClosed := false
	defer func() {
		if !monitorClosed {
			monitor.Close()
		}
	}()
	received := collectChunks(monitor)
	require.Eventually(t, func() bool { return fwd.LinkStatus().Level == msgs.DiagnosticOK }, waitFor, poll)

	core.SetInstruction("pick up the cube")
	const n = 6
	for i := range n {
		at := time.Duration(i) * 50 * time.Millisecond
		core.OfferFrame(frame(at, byte(30*i)))
		require.True(t, core.Step(t0.Add(at+5*time.Millisecond)))
	}
	published.mu.Lock()
	sent := append([]*msgs.ActionChunk(nil), published.chunks...)
	require.Empty(t, published.events[1:], "only the instruction notice: every chunk was forwarded")
	published.mu.Unlock()
	require.Len(t, sent, n)

	for i, want := range sent {
		var got mavbridge.Chunk
		select {
		case got = <-received:
		case <-time.After(waitFor):
			require.FailNow(t, "chunk did not arrive", "chunk %d of %d", i, n)
		}
		require.Equal(t, uint32(want.Sequence), got.Seq, "in order, none lost")
		require.True(t, want.Header.Stamp.Go().Equal(got.Stamp), "stamp %v, want %v", got.Stamp, want.Header.Stamp.Go())
		require.Equal(t, 50*time.Millisecond, got.StepDt)
		require.Equal(t, "camera", got.Frame)
		require.Equal(t, 4, got.Steps)
		require.Equal(t, 3, got.Dims)
		require.Equal(t, want.Actions, got.Values)
	}

	link = core.Diagnostics(t0.Add(time.Second)).Status[1]
	require.Equal(t, msgs.DiagnosticOK, link.Level, link.Message)
	require.Equal(t, "6", value(t, link, "chunks sent"))
	require.Equal(t, "0", value(t, link, "chunks discarded"))
	require.Equal(t, "0", value(t, link, "frames dropped"))
	require.NotEqual(t, "n/a", value(t, link, "heartbeat age (s)"))

	// The controller goes silent: after the link timeout, ERROR, and chunks are discarded.
	monitor.Close()
	monitorClosed = true
	require.Eventually(t, func() bool { return fwd.LinkStatus().Level == msgs.DiagnosticError }, waitFor, poll)
	core.OfferFrame(frame(time.Second, 200))
	require.True(t, core.Step(t0.Add(time.Second+5*time.Millisecond)))
	link = core.Diagnostics(t0.Add(2 * time.Second)).Status[1]
	require.Equal(t, msgs.DiagnosticError, link.Level)
	require.Contains(t, link.Message, "link lost: no heartbeat from the controller")
	require.Equal(t, "1", value(t, link, "chunks discarded"))
	require.Equal(t, "0", value(t, link, "chunks not forwarded"), "discarded by the bridge is not a forwarding error")

	// Another chunk is lost while the link is down, then the controller comes back before the next
	// status: a chunk lost to a link that was down is not news of a link that is up but loses chunks.
	core.OfferFrame(frame(2*time.Second, 250))
	require.True(t, core.Step(t0.Add(2*time.Second+5*time.Millisecond)))
	require.Equal(t, uint64(2), bridge.Stats().ChunksDiscarded)
	back := &mavbridge.Monitor{Endpoint: "udp-client:" + bridge.ListenAddr().String()}
	require.NoError(t, back.Initialize())
	defer back.Close()
	require.Eventually(t, func() bool { return bridge.Stats().LinkUp }, waitFor, poll)
	status := fwd.LinkStatus()
	require.Equal(t, msgs.DiagnosticOK, status.Level, status.Message)
	require.Equal(t, "0", value(t, status, "chunks discarded with the link up"))
}

// A frame_id longer than the wire's 16 bytes (a RealSense camera's) still reaches the controller, as its
// stable WireFrame id, and nothing counts as not forwarded.
func TestForwarderCarriesALongFrameIDAsAStableID(t *testing.T) {
	bridge := &mavbridge.Bridge{Endpoint: "udp-server:127.0.0.1:0", HeartbeatPeriod: 100 * time.Millisecond,
		LinkTimeout: time.Minute} // the monitor heartbeats once a second: a stalled one must not lose the link here
	require.NoError(t, bridge.Initialize())
	defer bridge.Close()
	fwd := &mavbridge.Forwarder{Bridge: bridge, GripperDim: mavbridge.NoGripper}
	core, published, _ := newCore(t, fwd)
	monitor := &mavbridge.Monitor{Endpoint: "udp-client:" + bridge.ListenAddr().String()}
	require.NoError(t, monitor.Initialize())
	defer monitor.Close()
	received := collectChunks(monitor)
	require.Eventually(t, func() bool { return fwd.LinkStatus().Level == msgs.DiagnosticOK }, waitFor, poll)

	core.SetInstruction("pick")
	img := frame(0, 100)
	img.Header.FrameID = "camera_color_optical_frame"
	core.OfferFrame(img)
	require.True(t, core.Step(t0.Add(5*time.Millisecond)))

	select {
	case got := <-received:
		require.Equal(t, mavbridge.WireFrame("camera_color_optical_frame"), got.Frame)
	case <-time.After(waitFor):
		require.FailNow(t, "the chunk did not reach the controller")
	}
	published.mu.Lock()
	defer published.mu.Unlock()
	require.Len(t, published.chunks, 1)
	require.Equal(t, "camera_color_optical_frame", published.chunks[0].Header.FrameID, "ROS keeps the full frame_id")
	require.Equal(t, "0", value(t, core.Diagnostics(t0.Add(time.Second)).Status[1], "chunks not forwarded"))
}

func TestWireFrame(t *testing.T) {
	require.Equal(t, "tool0", mavbridge.WireFrame("tool0"))
	require.Equal(t, "0123456789abcdef", mavbridge.WireFrame("0123456789abcdef"), "16 bytes fit")
	color := mavbridge.WireFrame("camera_color_optical_frame")
	depth := mavbridge.WireFrame("camera_depth_optical_frame")
	require.Len(t, color, 16)
	require.Regexp(t, `^camera_~[0-9a-f]{8}$`, color)
	require.NotEqual(t, color, depth, "frames that share a prefix stay apart")
	require.Equal(t, color, mavbridge.WireFrame("camera_color_optical_frame"), "stable")
}

// A chunk the link cannot carry is refused with its reason, and the mavlink status says so instead of
// reading OK "link up" while nothing reaches the controller.
func TestForwarderStatusSaysWhenChunksAreRefused(t *testing.T) {
	bridge := &mavbridge.Bridge{Endpoint: "udp-server:127.0.0.1:0", HeartbeatPeriod: 100 * time.Millisecond,
		LinkTimeout: time.Minute} // the monitor heartbeats once a second: a stalled one must not lose the link here
	require.NoError(t, bridge.Initialize())
	defer bridge.Close()
	fwd := &mavbridge.Forwarder{Bridge: bridge, GripperDim: mavbridge.NoGripper}
	monitor := &mavbridge.Monitor{Endpoint: "udp-client:" + bridge.ListenAddr().String()}
	require.NoError(t, monitor.Initialize())
	defer monitor.Close()
	require.Eventually(t, func() bool { return fwd.LinkStatus().Level == msgs.DiagnosticOK }, waitFor, poll)

	wide := &msgs.ActionChunk{Header: msgs.Header{Stamp: msgs.TimeFromGo(t0)}, StepDt: msgs.DurationFromGo(50 * time.Millisecond),
		Sequence: 1, Steps: 1, ActionDim: 60, Actions: make([]float32, 60)}
	require.ErrorContains(t, fwd.ForwardChunk(wide, 0), "60 values a step")
	st := fwd.LinkStatus()
	require.Equal(t, msgs.DiagnosticError, st.Level, st.Message)
	require.Contains(t, st.Message, "chunks are refused before they reach the controller")
	require.Contains(t, st.Message, "60 values a step")
	require.Equal(t, "1", value(t, st, "chunks refused"))

	ok := &msgs.ActionChunk{Header: msgs.Header{Stamp: msgs.TimeFromGo(t0)}, StepDt: msgs.DurationFromGo(50 * time.Millisecond),
		Sequence: 2, Steps: 1, ActionDim: 3, Actions: make([]float32, 3)}
	require.NoError(t, fwd.ForwardChunk(ok, 0))
	st = fwd.LinkStatus()
	require.Equal(t, msgs.DiagnosticOK, st.Level, "a chunk went out since: %s", st.Message)
	require.Equal(t, "1", value(t, st, "chunks refused"))
}
