package mavbridge

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/stretchr/testify/require"

	"dysl_vla/mavbridge/dialect"
	"dysl_vla/msgs"
)

// These tests run the bridge against real gomavlib peers on 127.0.0.1. Timeouts are short but real, so
// every check waits "eventually, within a generous deadline" and none asserts how long something took.

const deadline = 10 * time.Second
const poll = 10 * time.Millisecond

// controller is a gomavlib node playing the arm controller: it sends heartbeats while not silenced,
// reassembles chunks, and acknowledges gripper commands, ignoring the first ignoreCommands of them.
type controller struct {
	node           *gomavlib.Node
	silent         atomic.Bool
	ignoreCommands int

	mu       sync.Mutex
	chunks   []Chunk
	commands []*common.MessageCommandLong
	fromSys  map[[2]uint8]common.MAV_TYPE

	terminate chan struct{}
	done      sync.WaitGroup
}

func startController(t *testing.T, endpoint gomavlib.EndpointConf, ignoreCommands int) *controller {
	return startControllerWriting(t, endpoint, ignoreCommands, gomavlib.V2)
}

// startControllerWriting is startController with the MAVLink version the controller writes its own
// frames in; it reads both, as gomavlib does.
func startControllerWriting(t *testing.T, endpoint gomavlib.EndpointConf, ignoreCommands int, version gomavlib.Version) *controller {
	c := &controller{ignoreCommands: ignoreCommands, fromSys: map[[2]uint8]common.MAV_TYPE{},
		terminate: make(chan struct{})}
	c.node = &gomavlib.Node{
		Endpoints: []gomavlib.EndpointConf{endpoint}, Dialect: dialect.Dialect, OutVersion: version,
		OutSystemID: 1, OutComponentID: 1, HeartbeatDisable: true,
	}
	require.NoError(t, c.node.Initialize())
	c.done.Add(2)
	go c.heartbeats()
	go c.receive(t)
	t.Cleanup(func() {
		close(c.terminate)
		c.node.Close()
		c.done.Wait()
	})
	return c
}

func (c *controller) heartbeats() {
	defer c.done.Done()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if !c.silent.Load() {
				c.node.WriteMessageAll(&common.MessageHeartbeat{Type: common.MAV_TYPE_GENERIC, //nolint:errcheck
					Autopilot: common.MAV_AUTOPILOT_GENERIC, SystemStatus: common.MAV_STATE_ACTIVE, MavlinkVersion: 3})
			}
		case <-c.terminate:
			return
		}
	}
}

func (c *controller) receive(t *testing.T) {
	defer c.done.Done()
	var assembler ChunkAssembler
	for evt := range c.node.Events() {
		fr, ok := evt.(*gomavlib.EventFrame)
		if !ok {
			continue
		}
		c.mu.Lock()
		switch m := fr.Message().(type) {
		case *common.MessageHeartbeat:
			c.fromSys[[2]uint8{fr.SystemID(), fr.ComponentID()}] = m.Type
		case *dialect.MessageVlaActionChunk:
			if chunk, done, err := assembler.Add(m); err != nil {
				t.Errorf("controller got a malformed chunk part: %v", err)
			} else if done {
				c.chunks = append(c.chunks, chunk)
			}
		case *common.MessageCommandLong:
			c.commands = append(c.commands, m)
			if len(c.commands) > c.ignoreCommands {
				c.node.WriteMessageTo(fr.Channel, &common.MessageCommandAck{ //nolint:errcheck
					Command: m.Command, Result: common.MAV_RESULT_ACCEPTED,
					TargetSystem: fr.SystemID(), TargetComponent: fr.ComponentID()})
			}
		}
		c.mu.Unlock()
	}
}

func (c *controller) received() ([]Chunk, []*common.MessageCommandLong) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Chunk(nil), c.chunks...), append([]*common.MessageCommandLong(nil), c.commands...)
}

// eventLog collects the bridge's events.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func collectEvents(b *Bridge) *eventLog {
	log := &eventLog{}
	go func() {
		for e := range b.Events() {
			log.mu.Lock()
			log.events = append(log.events, e)
			log.mu.Unlock()
		}
	}()
	return log
}

func (l *eventLog) has(want Event) bool {
	return l.find(func(e Event) bool { return e == want })
}

func (l *eventLog) find(match func(Event) bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.events {
		if match(e) {
			return true
		}
	}
	return false
}

// testChunk is an OpenVLA-OFT-shaped chunk (8 steps × 7 dims, so two messages) with values derived from
// seq, and the given gripper value in every step.
func testChunk(seq uint32, gripper float32) Chunk {
	values := make([]float32, 8*7)
	for i := range values {
		values[i] = float32(seq)*0.001 + float32(i)*0.01
		if i%7 == 6 {
			values[i] = gripper
		}
	}
	return Chunk{Seq: seq, Stamp: time.UnixMicro(1_700_000_000_000_000 + int64(seq)*40_000),
		StepDt: 40 * time.Millisecond, Frame: "base_link", Steps: 8, Dims: 7, Values: values, GripperDim: 6}
}

// The bridge's clock (Bridge.Now) moves when the test advances it: its link timeout and the gripper
// command's ack timeout pass when the test says, not when a loaded machine stalls the controller's
// heartbeats or its answers past them.
func TestLoopbackUDP(t *testing.T) {
	clock := newManualClock()
	bridge := &Bridge{Endpoint: "udp-server:127.0.0.1:0", HeartbeatPeriod: 100 * time.Millisecond,
		LinkTimeout: 300 * time.Millisecond, GripperAckTimeout: 100 * time.Millisecond, Now: clock.now}
	require.NoError(t, bridge.Initialize())
	defer bridge.Close()
	events := collectEvents(bridge)
	ctrl := startController(t, gomavlib.EndpointUDPClient{Address: bridge.ListenAddr().String()}, 1)

	require.Eventually(t, func() bool { return bridge.Stats().LinkUp }, deadline, poll)
	require.True(t, events.has(EventLinkUp{SystemID: 1, ComponentID: 1, Resumed: false}))

	t.Run("bridge heartbeats as an onboard computer", func(t *testing.T) {
		require.Eventually(t, func() bool {
			ctrl.mu.Lock()
			defer ctrl.mu.Unlock()
			return ctrl.fromSys[[2]uint8{1, 191}] == common.MAV_TYPE_ONBOARD_CONTROLLER
		}, deadline, poll)
	})

	var sent []Chunk
	t.Run("chunks arrive intact and in order", func(t *testing.T) {
		for seq := uint32(1); seq <= 20; seq++ {
			c := testChunk(seq, 0) // gripper open
			require.NoError(t, bridge.Send(c))
			sent = append(sent, c)
		}
		require.Eventually(t, func() bool { chunks, _ := ctrl.received(); return len(chunks) == len(sent) },
			deadline, poll)
		chunks, _ := ctrl.received()
		for i, got := range chunks {
			want := sent[i]
			want.GripperDim = NoGripper // not on the wire
			require.Equal(t, want.Stamp.UnixMicro(), got.Stamp.UnixMicro())
			got.Stamp = want.Stamp
			require.Equal(t, want, got, "chunk %d", i)
		}
	})

	t.Run("gripper command is retried and acknowledged", func(t *testing.T) {
		// The first chunk opened the gripper, and the controller ignored that command: once its ack
		// timeout passed, the open was sent again and accepted.
		require.Eventually(t, func() bool { _, commands := ctrl.received(); return len(commands) == 1 }, deadline, poll)
		clock.advance(100 * time.Millisecond)
		require.Eventually(t, func() bool { return events.has(EventGripperAcked{Action: GripperOpen, Attempts: 2}) },
			deadline, poll)
		// The close goes out while the open's first send may still be answered (100 ms after the
		// last): the controller's ack may be that answer and counts for neither. Once no answer to
		// the open can come, the close is sent again, and the ack to that send accepts it.
		require.NoError(t, bridge.Send(testChunk(21, 0.9)))
		require.Eventually(t, func() bool {
			bridge.mu.Lock()
			defer bridge.mu.Unlock()
			p := bridge.gripper.pending
			return p != nil && p.action == GripperClose && p.answeredInDoubt
		}, deadline, poll, "the close's ack, taken for neither command")
		clock.advance(100*time.Millisecond + time.Millisecond)
		require.Eventually(t, func() bool { return events.has(EventGripperAcked{Action: GripperClose, Attempts: 2}) },
			deadline, poll)
		_, commands := ctrl.received()
		require.Len(t, commands, 4)
		for i, want := range []struct {
			action       common.GRIPPER_ACTIONS
			confirmation uint8
		}{{common.GRIPPER_ACTION_OPEN, 0}, {common.GRIPPER_ACTION_OPEN, 1}, {common.GRIPPER_ACTION_CLOSE, 0}, {common.GRIPPER_ACTION_CLOSE, 1}} {
			require.Equal(t, common.MAV_CMD_DO_GRIPPER, commands[i].Command)
			require.Equal(t, float32(1), commands[i].Param1, "gripper instance")
			require.Equal(t, float32(want.action), commands[i].Param2, "command %d", i)
			require.Equal(t, want.confirmation, commands[i].Confirmation, "command %d", i)
			require.Equal(t, []uint8{1, 1}, []uint8{commands[i].TargetSystem, commands[i].TargetComponent})
		}
		require.EqualValues(t, 2, bridge.Stats().GripperAcked)
	})

	t.Run("malformed frames are ignored", func(t *testing.T) {
		garbage, err := net.Dial("udp4", bridge.ListenAddr().String())
		require.NoError(t, err)
		defer garbage.Close()
		_, err = garbage.Write([]byte("not mavlink"))
		require.NoError(t, err)
		// A heartbeat from the controller itself, with a wrong checksum.
		require.NoError(t, ctrl.node.WriteFrameAll(&frame.V2Frame{SystemID: 1, ComponentID: 1,
			Message: &common.MessageHeartbeat{Type: common.MAV_TYPE_GENERIC}, Checksum: 0xBEEF}))
		require.Eventually(t, func() bool {
			return events.find(func(e Event) bool {
				m, ok := e.(EventMalformedFrame)
				return ok && strings.Contains(m.Err.Error(), "wrong checksum")
			})
		}, deadline, poll, "the frame with the wrong checksum")
		require.Eventually(t, func() bool {
			return events.find(func(e Event) bool {
				m, ok := e.(EventMalformedFrame)
				return ok && strings.Contains(m.Err.Error(), "invalid magic byte")
			})
		}, deadline, poll, "the garbage datagram")

		require.NoError(t, bridge.Send(testChunk(22, 0.9)))
		require.Eventually(t, func() bool {
			chunks, _ := ctrl.received()
			return chunks[len(chunks)-1].Seq == 22
		}, deadline, poll)
	})

	t.Run("silent controller stops the bridge, its return resumes it", func(t *testing.T) {
		ctrl.silent.Store(true)
		// Heartbeats sent before the silence may still arrive: the clock moves on until the link
		// timeout passes after the last of them.
		require.Eventually(t, func() bool { clock.advance(100 * time.Millisecond); return !bridge.Stats().LinkUp }, deadline, poll)
		require.Eventually(t, func() bool {
			return events.find(func(e Event) bool {
				lost, ok := e.(EventLinkLost)
				return ok && lost.Silence >= 300*time.Millisecond
			})
		}, deadline, poll)
		discardedBefore := bridge.Stats().ChunksDiscarded
		require.NoError(t, bridge.Send(testChunk(23, 0.9)))
		require.Equal(t, discardedBefore+1, bridge.Stats().ChunksDiscarded)

		ctrl.silent.Store(false)
		require.Eventually(t, func() bool { return events.has(EventLinkUp{SystemID: 1, ComponentID: 1, Resumed: true}) },
			deadline, poll)
		require.NoError(t, bridge.Send(testChunk(24, 0.9)))
		require.Eventually(t, func() bool {
			chunks, _ := ctrl.received()
			return chunks[len(chunks)-1].Seq == 24
		}, deadline, poll)
		chunks, _ := ctrl.received()
		for _, c := range chunks {
			require.NotEqual(t, uint32(23), c.Seq, "sent while the link was lost")
		}
	})

	stats := bridge.Stats()
	require.Zero(t, stats.EventsDropped)
	require.Equal(t, stats.FramesAttempted, stats.FramesWritten+stats.FramesDropped+stats.FramesEvicted+stats.FramesSuperseded+stats.FramesInFlight)
}

// TestStalledTCPPeerDropsAreCounted connects the bridge to a TCP peer that sends heartbeats but never
// reads. gomavlib would drop silently once its buffer filled; the bridge must count every frame it could
// not write, and the frames it reports written must be exactly those the peer finally reads.
func TestStalledTCPPeerDropsAreCounted(t *testing.T) {
	listener, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer listener.Close()

	bridge := &Bridge{Endpoint: "tcp-client:" + listener.Addr().String(), LinkTimeout: time.Minute}
	require.NoError(t, bridge.Initialize())
	bridgeClosed := false
	defer func() {
		if !bridgeClosed {
			bridge.Close()
		}
	}()

	peer, err := listener.Accept()
	require.NoError(t, err)
	defer peer.Close()
	require.NoError(t, peer.(*net.TCPConn).SetReadBuffer(4096))

	dialectRW := &frameDialect{}
	writer := dialectRW.streamWriter(t, peer)
	require.NoError(t, writer.Write(&common.MessageHeartbeat{Type: common.MAV_TYPE_GENERIC}))
	require.Eventually(t, func() bool { return bridge.Stats().LinkUp }, deadline, poll)

	// 30 full messages per chunk: the socket buffers fill after a few hundred chunks.
	big := Chunk{Seq: 1, Stamp: time.UnixMicro(1), StepDt: time.Millisecond, Steps: 30, Dims: 54,
		Values: make([]float32, 30*54), GripperDim: NoGripper}
	for i := range big.Values {
		big.Values[i] = float32(i) + 0.5
	}
	require.Eventually(t, func() bool {
		for range 50 {
			big.Seq++
			require.NoError(t, bridge.Send(big))
		}
		return bridge.Stats().FramesDropped > 0
	}, deadline, time.Millisecond, "the stalled peer never made the bridge drop")

	bridge.Close()
	bridgeClosed = true
	stats := bridge.Stats()
	require.Zero(t, stats.FramesInFlight)
	require.Equal(t, stats.FramesAttempted, stats.FramesWritten+stats.FramesDropped+stats.FramesSuperseded)

	// Now read everything the bridge managed to write: exactly FramesWritten frames.
	reader := dialectRW.frameReader(t, peer)
	received := uint64(0)
	for {
		_, err := reader.Read()
		if err == nil {
			received++
			continue
		}
		var parseErr frame.ReadError
		if errors.As(err, &parseErr) {
			continue // the frame cut short by Close
		}
		require.ErrorIs(t, err, io.EOF)
		break
	}
	require.Equal(t, stats.FramesWritten, received)
}

// Between the channel's end (the controller's TCP connection closed) and the link timeout, the link
// still counts as up; a chunk sent then reaches no one and is counted as discarded, not lost unseen.
func TestChunkWithNoChannelIsDiscarded(t *testing.T) {
	listener, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer listener.Close()
	bridge := &Bridge{Endpoint: "tcp-client:" + listener.Addr().String(), LinkTimeout: time.Minute}
	require.NoError(t, bridge.Initialize())
	defer bridge.Close()
	peer, err := listener.Accept()
	require.NoError(t, err)
	require.NoError(t, (&frameDialect{}).streamWriter(t, peer).Write(&common.MessageHeartbeat{Type: common.MAV_TYPE_GENERIC}))
	require.Eventually(t, func() bool { return bridge.Stats().LinkUp }, deadline, poll)
	forwarder := &Forwarder{Bridge: bridge, GripperDim: NoGripper}
	require.Equal(t, "link up", forwarder.LinkStatus().Message)
	listener.Close() // no reconnection to take the next chunk
	peer.Close()
	require.Eventually(t, func() bool { return bridge.Stats().Channels == 0 }, deadline, poll)

	require.NoError(t, bridge.Send(Chunk{Seq: 1, Stamp: time.UnixMicro(1), StepDt: time.Millisecond, Steps: 1, Dims: 1,
		Values: []float32{1}, GripperDim: NoGripper}))
	stats := bridge.Stats()
	require.True(t, stats.LinkUp, "within the link timeout")
	require.Equal(t, uint64(0), stats.ChunksSent)
	require.Equal(t, uint64(1), stats.ChunksDiscarded)

	// The diagnostics say so once, then the link is reported as it is.
	status := forwarder.LinkStatus()
	require.Equal(t, msgs.DiagnosticWarn, status.Level)
	// A frame the bridge had queued when the peer closed counts as dropped at the channel's close,
	// which the scheduler may put before or after this report (11 of 300 runs under load).
	require.Regexp(t, `^link up, but since the last report 1 chunks were discarded and [01] frames dropped: `+
		"no channel is connected, the controller has not been heard on the one connected again, or it does not read what is written to it$", status.Message)
	require.Equal(t, "link up", forwarder.LinkStatus().Message)
}

// On a server endpoint every peer that sends opens a channel: a ground station beside the arm's
// controller hears the bridge's heartbeats, but the chunks and gripper commands go to the channel
// the controller was heard on only (they went to every peer, a copy each).
func TestChunksGoToTheControllerOnly(t *testing.T) {
	bridge := &Bridge{Endpoint: "udp-server:127.0.0.1:0", HeartbeatPeriod: 100 * time.Millisecond,
		LinkTimeout: time.Minute, GripperAckTimeout: 100 * time.Millisecond}
	require.NoError(t, bridge.Initialize())
	defer bridge.Close()
	ctrl := startController(t, gomavlib.EndpointUDPClient{Address: bridge.ListenAddr().String()}, 0)

	station := &gomavlib.Node{Endpoints: []gomavlib.EndpointConf{gomavlib.EndpointUDPClient{Address: bridge.ListenAddr().String()}},
		Dialect: dialect.Dialect, OutVersion: gomavlib.V2, OutSystemID: 255, OutComponentID: 190,
		HeartbeatSystemType: int(common.MAV_TYPE_GCS), HeartbeatPeriod: 50 * time.Millisecond}
	require.NoError(t, station.Initialize())
	defer station.Close()
	var mu sync.Mutex
	heard := map[uint32]int{} // by message id: the station's heartbeat may decode as minimal's or common's
	go func() {
		for evt := range station.Events() {
			if fr, ok := evt.(*gomavlib.EventFrame); ok {
				mu.Lock()
				heard[fr.Message().GetID()]++
				mu.Unlock()
			}
		}
	}()
	require.Eventually(t, func() bool { s := bridge.Stats(); return s.LinkUp && s.Channels == 2 }, deadline, poll)

	for seq := uint32(1); seq <= 3; seq++ {
		require.NoError(t, bridge.Send(testChunk(seq, float32(seq%2)))) // the gripper closes and opens
	}
	require.Eventually(t, func() bool { chunks, cmds := ctrl.received(); return len(chunks) == 3 && len(cmds) > 0 }, deadline, poll)
	time.Sleep(200 * time.Millisecond) // what went to the station would have arrived with the rest
	mu.Lock()
	defer mu.Unlock()
	require.Positive(t, heard[(&common.MessageHeartbeat{}).GetID()], "the station is connected: it hears heartbeats")
	require.Zero(t, heard[(&dialect.MessageVlaActionChunk{}).GetID()], "chunk parts sent to the station")
	require.Zero(t, heard[(&common.MessageCommandLong{}).GetID()], "gripper commands sent to the station")
}

// Two arms both left at the common default ids (system 1, component 1) on one network: the bridge
// sends each of them the chunks, and either keeps the link up, so the status warns, naming the
// channels, while both heartbeat. One controller on one channel is no such warning, and the warning
// ends once the other has been silent for the link timeout.
func TestTwoControllersWithTheSameIDsAreWarnedOf(t *testing.T) {
	bridge := &Bridge{Endpoint: "udp-server:127.0.0.1:0", HeartbeatPeriod: 100 * time.Millisecond,
		LinkTimeout: 2 * time.Second, GripperAckTimeout: 100 * time.Millisecond}
	require.NoError(t, bridge.Initialize())
	defer bridge.Close()
	forwarder := &Forwarder{Bridge: bridge, GripperDim: NoGripper}
	arm := startController(t, gomavlib.EndpointUDPClient{Address: bridge.ListenAddr().String()}, 0)
	require.Eventually(t, func() bool { return len(bridge.Stats().ControllerChannels) == 1 }, deadline, poll)
	status := forwarder.LinkStatus()
	require.Equal(t, msgs.DiagnosticOK, status.Level, status.Message)
	require.Equal(t, "1", statusValue(t, status, "channels the controller heartbeats on"))

	twin := startController(t, gomavlib.EndpointUDPClient{Address: bridge.ListenAddr().String()}, 0)
	require.Eventually(t, func() bool { return len(bridge.Stats().ControllerChannels) == 2 }, deadline, poll)
	status = forwarder.LinkStatus()
	channels := bridge.Stats().ControllerChannels
	require.NotEqual(t, channels[0], channels[1])
	for _, ch := range channels {
		require.True(t, strings.HasPrefix(ch, "udp-server:127.0.0.1:0:127.0.0.1:"), "%q names the peer", ch)
	}
	require.Equal(t, msgs.DiagnosticWarn, status.Level)
	require.Equal(t, "link up, but heartbeats of the controller's ids (system 1, component 1) arrive on 2 channels ("+
		channels[0]+", "+channels[1]+"): if these are two controllers, both get the chunks and gripper commands and either keeps the link up; "+
		"give each controller its own system id and set mavlink.target_system to this arm's (one controller on two links reads so too)",
		status.Message)
	require.Equal(t, "2", statusValue(t, status, "channels the controller heartbeats on"))

	// Both get the chunks: a controller with two links must not lose them to one of its links.
	c := testChunk(1, 0)
	c.GripperDim = NoGripper
	require.NoError(t, bridge.Send(c))
	for _, ctrl := range []*controller{arm, twin} {
		require.Eventually(t, func() bool { chunks, _ := ctrl.received(); return len(chunks) == 1 }, deadline, poll)
	}

	twin.silent.Store(true)
	require.Eventually(t, func() bool { return len(bridge.Stats().ControllerChannels) == 1 }, deadline, poll)
	status = forwarder.LinkStatus()
	require.Equal(t, msgs.DiagnosticOK, status.Level, status.Message)
}

// A controller that writes MAVLink 1 and reads MAVLink 2 gets every chunk and answers every gripper
// command, and the status, warning at first that it may not read MAVLink 2, is OK once it answered one.
// The link and the ack timeouts are long: a loaded machine stalling the heartbeats would lose the
// link and a chunk with it, and one stalling the answers would give a command up after its retries,
// to be sent again only a link timeout later; neither is what this test is about.
func TestLoopbackControllerWritingMAVLink1(t *testing.T) {
	bridge := &Bridge{Endpoint: "udp-server:127.0.0.1:0", HeartbeatPeriod: 100 * time.Millisecond,
		LinkTimeout: time.Minute, GripperAckTimeout: time.Second}
	require.NoError(t, bridge.Initialize())
	defer bridge.Close()
	forwarder := &Forwarder{Bridge: bridge, GripperDim: 6}
	ctrl := startControllerWriting(t, gomavlib.EndpointUDPClient{Address: bridge.ListenAddr().String()}, 0, gomavlib.V1)
	require.Eventually(t, func() bool { return bridge.Stats().LinkUp }, deadline, poll)
	require.Contains(t, forwarder.LinkStatus().Message, "has not yet shown that it reads MAVLink 2")

	for seq := uint32(1); seq <= 20; seq++ {
		require.NoError(t, bridge.Send(testChunk(seq, float32(seq%2)*2-1))) // close, open, close, ...
		time.Sleep(20 * time.Millisecond)
	}
	require.Eventually(t, func() bool { chunks, _ := ctrl.received(); return len(chunks) == 20 }, deadline, poll)
	require.Eventually(t, func() bool { return bridge.Stats().GripperAcked >= 1 }, deadline, poll)
	s := bridge.Stats()
	require.True(t, s.ControllerMAVLink1)
	require.True(t, s.ControllerReadsMAVLink2)
	require.NotContains(t, forwarder.LinkStatus().Message, "MAVLink 1")
}
