package mavbridge

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/streamwriter"
	"github.com/stretchr/testify/require"

	"dysl_vla/msgs"
)

// A newcomer to a full server endpoint takes the place of the least useful channel, never the
// controller's while its heartbeat comes within the link timeout (channels.go). The channels' standing
// is measured on a clock that stands still until a test moves it, so which channel goes is decided by
// the test alone.

// manualClock stands still until the test advances it.
type manualClock struct{ nanos atomic.Int64 }

func newManualClock() *manualClock {
	c := &manualClock{}
	c.nanos.Store(time.Unix(1_700_000_000, 0).UnixNano())
	return c
}

func (c *manualClock) now() time.Time          { return time.Unix(0, c.nanos.Load()) }
func (c *manualClock) advance(d time.Duration) { c.nanos.Add(int64(d)) }

// noisyHeartbeat is a datagram holding a heartbeat of system 200: a peer that is not the controller.
func noisyHeartbeat(t *testing.T) []byte {
	var datagram bytes.Buffer
	writer := frameDialect{}.streamWriter(t, &datagram)
	writer.SystemID = 200
	require.NoError(t, writer.Write(&common.MessageHeartbeat{Type: common.MAV_TYPE_GCS}))
	return datagram.Bytes()
}

// controllerChannel is the channel the bridge heard its controller on, or nil.
func controllerChannel(b *Bridge) *gomavlib.Channel {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch, ledger := range b.channels {
		if ledger.controller {
			return ch
		}
	}
	return nil
}

// heardOnEveryChannel says whether every open channel of the server endpoint has carried a valid frame.
func heardOnEveryChannel(reg *transports) bool {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	for _, c := range reg.byLabel {
		c.server.listener.mu.Lock()
		heard := !c.server.heard.IsZero()
		c.server.listener.mu.Unlock()
		if !heard {
			return false
		}
	}
	return true
}

// chunkReaches sends a chunk and waits for the controller to have it.
func chunkReaches(t *testing.T, bridge *Bridge, ctrl *controller, seq uint32) {
	t.Helper()
	c := testChunk(seq, 0)
	c.GripperDim = NoGripper
	require.NoError(t, bridge.Send(c))
	require.Eventually(t, func() bool {
		chunks, _ := ctrl.received()
		return len(chunks) > 0 && chunks[len(chunks)-1].Seq == seq
	}, deadline, poll, "chunk %d did not reach the controller", seq)
}

func TestLeastUsefulChannel(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	at := func(s float64) time.Time { return start.Add(time.Duration(s * float64(time.Second))) }
	now := at(100)
	channel := func(opened, heard float64, protected bool) *serverChannel {
		c := &serverChannel{opened: at(opened)}
		if heard >= 0 {
			c.heard = at(heard)
		}
		if protected {
			c.served = c.heard
		}
		return c
	}
	const never = -1
	places := func(channels ...*serverChannel) map[*serverChannel]struct{} {
		open := map[*serverChannel]struct{}{}
		for _, c := range channels {
			open[c] = struct{}{}
		}
		return open
	}

	controller := channel(0, 0, true) // heard longest ago of all, but protected
	silentOld := channel(10, never, false)
	silentNew := channel(50, never, false)
	idleLong := channel(5, 20, false)
	idleShort := channel(5, 90, false)
	young := channel(99, never, false) // within newcomerGrace of now

	const longLapse = time.Hour // the controller's channel stays protected throughout
	require.Same(t, silentOld, leastUseful(places(controller, silentOld, silentNew, idleLong, idleShort, young), now, longLapse),
		"a channel that carried no valid frame goes first, the oldest of them")
	require.Same(t, silentNew, leastUseful(places(controller, silentNew, idleLong, idleShort, young), now, longLapse))
	require.Same(t, idleLong, leastUseful(places(controller, idleLong, idleShort, young), now, longLapse),
		"then the one whose last valid frame is the oldest")
	require.Same(t, idleShort, leastUseful(places(controller, idleShort, young), now, longLapse))
	require.Nil(t, leastUseful(places(controller, young), now, longLapse), "protected or young: the newcomer is refused")
	require.Same(t, young, leastUseful(places(controller, young), at(99).Add(newcomerGrace), longLapse), "young no more")

	linkTimeout := 3 * time.Second
	heardLately := channel(0, 98, true)
	require.Nil(t, leastUseful(places(heardLately), now, linkTimeout), "protected while its link is up")
	require.Same(t, controller, leastUseful(places(controller, young), now, linkTimeout),
		"its peer silent for the link timeout, its protection lapsed")
}

func TestChannelEvictedReadsAsOneLine(t *testing.T) {
	heard := EventChannelEvicted{Endpoint: "udp-server:0.0.0.0:14550", Peer: "10.0.0.7:40000", Newcomer: "10.0.0.2:14555",
		Limit: 16, Idle: 3210 * time.Millisecond, Evicted: 1}
	require.Equal(t, "udp-server:0.0.0.0:14550 closed the channel of 10.0.0.7:40000 (its last valid frame 3.2s ago, the longest) "+
		"for a connection from 10.0.0.2:14555: it has 16 channels open, its limit", heard.String())
	silent := heard
	silent.Silent, silent.Evicted = true, 7
	require.Equal(t, "udp-server:0.0.0.0:14550 closed the channel of 10.0.0.7:40000 (no valid frame in the 3.2s it was open) "+
		"for a connection from 10.0.0.2:14555: it has 16 channels open, its limit (7 closed so since the previous report)\n",
		FormatReceived(ReceivedChannelEvicted(silent)), "as `dysl mavlink listen` prints it")
}

// Sixteen TCP peers hold every place, then the controller connects: it takes the place of one, and
// newcomers after it take the other peers' places, never its own.
func TestTCPControllerGetsAPlaceFromNoisyPeers(t *testing.T) {
	clock := newManualClock()
	bridge := &Bridge{Endpoint: "tcp-server:127.0.0.1:0", LinkTimeout: time.Minute, Now: clock.now}
	require.NoError(t, bridge.Initialize())
	defer bridge.Close()
	forwarder := &Forwarder{Bridge: bridge, GripperDim: NoGripper} // the reader of the events

	noisy := map[string]net.Conn{}
	for range DefaultMaxChannels {
		conn, err := net.Dial("tcp4", bridge.ListenAddr().String())
		require.NoError(t, err)
		defer conn.Close()
		require.True(t, heardOrClosed(t, conn), "a place for each of the first %d", DefaultMaxChannels)
		_, err = conn.Write(noisyHeartbeat(t))
		require.NoError(t, err)
		noisy[conn.LocalAddr().String()] = conn
	}
	require.Eventually(t, func() bool { return heardOnEveryChannel(bridge.transports) }, deadline, poll)
	clock.advance(newcomerGrace + time.Second)

	ctrl := startController(t, gomavlib.EndpointTCPClient{Address: bridge.ListenAddr().String()}, 0)
	require.Eventually(t, func() bool { return bridge.Stats().LinkUp }, deadline, poll)
	stats := bridge.Stats()
	require.EqualValues(t, 1, stats.ChannelsEvicted)
	require.Zero(t, stats.ChannelsRefused)
	require.Equal(t, DefaultMaxChannels, stats.Channels)
	chunkReaches(t, bridge, ctrl, 1)

	status := forwarder.LinkStatus()
	require.Equal(t, msgs.DiagnosticWarn, status.Level)
	said := regexp.MustCompile(`^link up, but since the last report 1 channels were closed for newcomers: the endpoint's 16 channels ` +
		`were all open \(a port scan, a flood, or more peers than expected\); tcp-server:127\.0\.0\.1:0 closed the channel of ` +
		`(127\.0\.0\.1:\d+) \(its last valid frame 4s ago, the longest\) for a connection from 127\.0\.0\.1:\d+: it has 16 channels open, its limit$`).
		FindStringSubmatch(status.Message)
	require.NotNil(t, said, status.Message)
	require.Equal(t, "1", statusValue(t, status, "channels evicted"))
	evicted, ok := noisy[said[1]]
	require.True(t, ok, "%s is not a noisy peer", said[1])
	require.NoError(t, evicted.SetReadDeadline(time.Now().Add(deadline)))
	_, err := io.Copy(io.Discard, evicted) // what the bridge wrote before, then the end
	require.False(t, errors.Is(err, os.ErrDeadlineExceeded), "the evicted peer's connection did not end")

	t.Run("newcomers take the other places, never the controller's", func(t *testing.T) {
		kept := controllerChannel(bridge)
		require.NotNil(t, kept)
		clock.advance(newcomerGrace)
		const newcomers = DefaultMaxChannels + 4
		placed := 0
		for range newcomers {
			conn, err := net.Dial("tcp4", bridge.ListenAddr().String())
			require.NoError(t, err)
			defer conn.Close()
			if heardOrClosed(t, conn) {
				placed++
			}
		}
		// The 15 noisy peers left go; the newcomers after them find every place protected or young.
		require.Equal(t, DefaultMaxChannels-1, placed)
		require.Eventually(t, func() bool {
			s := bridge.Stats()
			return s.ChannelsEvicted == DefaultMaxChannels && s.ChannelsRefused == newcomers-(DefaultMaxChannels-1)
		}, deadline, poll)
		require.Same(t, kept, controllerChannel(bridge))
		chunkReaches(t, bridge, ctrl, 2)
		require.True(t, bridge.Stats().LinkUp)
	})
}

// noisySources sends the heartbeat of another system from count UDP source addresses to addr, each
// every 20 ms, until the test ends: peers that keep sending, as a misconfigured router does.
func noisySources(t *testing.T, addr net.Addr, count int) {
	datagram := noisyHeartbeat(t)
	stop := make(chan struct{})
	var running sync.WaitGroup
	for range count {
		conn, err := net.Dial("udp4", addr.String())
		require.NoError(t, err)
		running.Add(1)
		go func() {
			defer running.Done()
			defer conn.Close()
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				conn.Write(datagram) //nolint:errcheck // a refused source's datagram may bounce
				select {
				case <-tick.C:
				case <-stop:
					return
				}
			}
		}()
	}
	t.Cleanup(func() {
		close(stop)
		running.Wait()
	})
}

// Sixteen UDP sources that keep sending hold every place, then the controller sends: it takes the place
// of one, and keeps it while the source left without a place takes the others' in turn.
func TestUDPControllerGetsAPlaceFromNoisyPeers(t *testing.T) {
	clock := newManualClock()
	bridge := &Bridge{Endpoint: "udp-server:127.0.0.1:0", LinkTimeout: time.Minute, HeartbeatPeriod: time.Hour, Now: clock.now}
	require.NoError(t, bridge.Initialize())
	defer bridge.Close()
	events := collectEvents(bridge)

	noisySources(t, bridge.ListenAddr(), DefaultMaxChannels)
	require.Eventually(t, func() bool { return bridge.Stats().Channels == DefaultMaxChannels }, deadline, poll)
	require.Zero(t, bridge.Stats().ChannelsEvicted, "every place young")
	clock.advance(newcomerGrace)

	ctrl := startController(t, gomavlib.EndpointUDPClient{Address: bridge.ListenAddr().String()}, 0)
	require.Eventually(t, func() bool { return bridge.Stats().LinkUp }, deadline, poll)
	chunkReaches(t, bridge, ctrl, 1)
	kept := controllerChannel(bridge)
	require.NotNil(t, kept)
	require.True(t, events.find(func(e Event) bool { _, ok := e.(EventChannelEvicted); return ok }))

	// The source left without a place takes the places that are not young in turn, each evicted source
	// doing the same, until it is refused, every place being young or the controller's: evicted
	// channels up to want, then a refusal, and no more evicted.
	turnedOver := func(want uint64, round int) {
		require.Eventually(t, func() bool { return bridge.Stats().ChannelsEvicted >= want }, deadline, poll, "round %d", round)
		refused := bridge.Stats().ChannelsRefused
		require.Eventually(t, func() bool { return bridge.Stats().ChannelsRefused > refused }, deadline, poll, "round %d", round)
		require.Equal(t, want, bridge.Stats().ChannelsEvicted, "round %d", round)
		require.Same(t, kept, controllerChannel(bridge), "round %d", round)
	}
	// The controller took one place, the source it evicted the 15 others.
	turnedOver(DefaultMaxChannels, 0)
	for round := 1; round <= 3; round++ {
		before := bridge.Stats().ChannelsEvicted
		clock.advance(newcomerGrace)
		turnedOver(before+DefaultMaxChannels-1, round)
	}
	chunkReaches(t, bridge, ctrl, 2)
	require.True(t, bridge.Stats().LinkUp)
}

// awaitReceived reads what the monitor received until match holds.
func awaitReceived(t *testing.T, monitor *Monitor, match func(Received) bool) Received {
	t.Helper()
	timeout := time.After(deadline)
	for {
		select {
		case r, ok := <-monitor.Received():
			require.True(t, ok, "the monitor closed")
			if match(r) {
				return r
			}
		case <-timeout:
			require.FailNow(t, "the monitor did not receive what was awaited")
			return nil
		}
	}
}

// A monitor has no controller: the channel of the bridge that sends it chunks keeps its place instead,
// while the bridge is heard on it within bridgeProtectionLapse.
func TestMonitorKeepsTheBridgesPlace(t *testing.T) {
	clock := newManualClock()
	monitor := &Monitor{Endpoint: "tcp-server:127.0.0.1:0", MaxChannels: 2, now: clock.now}
	require.NoError(t, monitor.Initialize())
	defer monitor.Close()

	// No heartbeat after the first: the bridge's channel carries only what the test sends. The
	// monitor's heartbeats come on real time, once a second: a loaded machine stalling them past the
	// default link timeout would lose the link, and a chunk the test waits for with it.
	bridge := &Bridge{Endpoint: "tcp-client:" + monitor.ListenAddr().String(), HeartbeatPeriod: time.Hour, LinkTimeout: time.Minute}
	require.NoError(t, bridge.Initialize())
	defer bridge.Close()
	require.True(t, bridge.AwaitLink(deadline))
	sendChunk := func(seq uint32) {
		c := testChunk(seq, 0)
		c.GripperDim = NoGripper
		require.NoError(t, bridge.Send(c))
		awaitReceived(t, monitor, func(r Received) bool { c, ok := r.(ReceivedChunk); return ok && c.Chunk.Seq == seq })
	}
	sendChunk(1)

	dial := func() net.Conn {
		conn, err := net.Dial("tcp4", monitor.ListenAddr().String())
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	noisy := dial()
	require.True(t, heardOrClosed(t, noisy), "the monitor's heartbeat: it has a place")
	clock.advance(newcomerGrace - time.Second/2)
	sendChunk(2)
	clock.advance(time.Second / 2)
	// Heard after the bridge: without the protection, the bridge's channel would be the one to go.
	_, err := noisy.Write(noisyHeartbeat(t))
	require.NoError(t, err)
	awaitReceived(t, monitor, func(r Received) bool { h, ok := r.(ReceivedHeartbeat); return ok && h.SystemID == 200 })
	clock.advance(time.Second)

	first := dial()
	require.Equal(t, ReceivedChannelEvicted{Endpoint: "tcp-server:127.0.0.1:0", Peer: noisy.LocalAddr().String(),
		Newcomer: first.LocalAddr().String(), Limit: 2, Idle: time.Second, Evicted: 1},
		awaitReceived(t, monitor, func(r Received) bool { _, ok := r.(ReceivedChannelEvicted); return ok }))

	second := dial()
	require.Equal(t, ReceivedChannelRefused{Endpoint: "tcp-server:127.0.0.1:0", Peer: second.LocalAddr().String(), Limit: 2, Refused: 1},
		awaitReceived(t, monitor, func(r Received) bool { _, ok := r.(ReceivedChannelRefused); return ok }),
		"the first newcomer is young, the bridge protected")

	clock.advance(crowdingReportPeriod)
	sendChunk(3)
	third := dial()
	require.Equal(t, ReceivedChannelEvicted{Endpoint: "tcp-server:127.0.0.1:0", Peer: first.LocalAddr().String(),
		Newcomer: third.LocalAddr().String(), Limit: 2, Silent: true, Idle: crowdingReportPeriod, Evicted: 1},
		awaitReceived(t, monitor, func(r Received) bool { _, ok := r.(ReceivedChannelEvicted); return ok }))
	sendChunk(4)
}

// Frames still queued on a channel closed for a newcomer, or failed on it, are not frames dropped:
// counted so, the status would blame a controller that does not read. They are frames evicted, and the
// frames still add up. A channel that closed on its own counts them as dropped.
func TestFramesOfAnEvictedChannelAreNotDropped(t *testing.T) {
	for _, evicted := range []bool{false, true} {
		b := &Bridge{transports: newTransports(), channels: map[*gomavlib.Channel]*channelLedger{}, Now: time.Now}
		server := &serverChannel{}
		if evicted {
			server.evictedFor.Store(&evictedError{newcomer: "10.0.0.2:14555"})
		}
		conn := &countingConn{server: server}
		conn.written.Add(3)
		conn.failed.Add(2)
		ch := &gomavlib.Channel{}
		b.channels[ch] = &channelLedger{conn: conn, handed: 9} // 3 written, 2 failed, 4 still queued
		b.counts.framesAttempted = 9
		b.closeLedger(ch)
		s := b.Stats()
		require.EqualValues(t, 3, s.FramesWritten)
		if evicted {
			require.Zero(t, s.FramesDropped)
			require.EqualValues(t, 6, s.FramesEvicted)
		} else {
			require.EqualValues(t, 6, s.FramesDropped)
			require.Zero(t, s.FramesEvicted)
		}
		require.Equal(t, s.FramesAttempted, s.FramesWritten+s.FramesDropped+s.FramesEvicted+s.FramesSuperseded+s.FramesInFlight)
	}
}

// A TCP controller that lost power leaves its connection open: no FIN reaches the bridge. Connecting
// again after its restart, it finds the one place (max_channels 1) held by the dead connection, whose
// protection lapsed with the link: the newcomer takes it, and the link comes back.
func TestRestartedTCPControllerTakesTheDeadConnectionsPlace(t *testing.T) {
	clock := newManualClock()
	bridge := &Bridge{Endpoint: "tcp-server:127.0.0.1:0", MaxChannels: 1, LinkTimeout: 3 * time.Second, Now: clock.now}
	require.NoError(t, bridge.Initialize())
	defer bridge.Close()
	before := dialRawController(t, "tcp4", bridge)
	before.heartbeat(t)
	require.Eventually(t, func() bool { return bridge.Stats().LinkUp }, deadline, poll)

	clock.advance(bridge.LinkTimeout + time.Second) // the power is cut: silence, the connection open
	require.Eventually(t, func() bool { return !bridge.Stats().LinkUp }, deadline, poll)

	after := dialRawController(t, "tcp4", bridge)
	after.heartbeat(t)
	require.Eventually(t, func() bool { return bridge.Stats().LinkUp }, deadline, poll, "the restarted controller was refused")
	stats := bridge.Stats()
	require.EqualValues(t, 1, stats.ChannelsEvicted)
	require.Zero(t, stats.ChannelsRefused)
	require.Equal(t, 1, stats.Channels)
}

// A bridge that lost power leaves its TCP connection to the monitor open: no FIN arrives. Connecting
// again after its restart, it finds the one place (max_channels 1) held by the dead connection, which
// kept it while the bridge was heard there (its heartbeats) and no longer once the bridge had been
// silent for bridgeProtectionLapse: the newcomer takes it.
func TestMonitorProtectsTheBridgesChannelWhileTheBridgeIsHeard(t *testing.T) {
	clock := newManualClock()
	monitor := &Monitor{Endpoint: "tcp-server:127.0.0.1:0", MaxChannels: 1, now: clock.now}
	require.NoError(t, monitor.Initialize())
	defer monitor.Close()
	const onboard = uint8(common.MAV_COMP_ID_ONBOARD_COMPUTER)
	dialBridge := func() (net.Conn, *streamwriter.Writer) {
		conn, err := net.Dial("tcp4", monitor.ListenAddr().String())
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close() })
		writer := frameDialect{}.streamWriter(t, conn)
		writer.ComponentID = onboard // as a Bridge speaks
		return conn, writer
	}
	sendChunk := func(writer *streamwriter.Writer, seq uint32) {
		c := testChunk(seq, 0)
		c.GripperDim = NoGripper
		parts, err := EncodeChunk(c, 1, 1)
		require.NoError(t, err)
		for _, part := range parts {
			require.NoError(t, writer.Write(part))
		}
		awaitReceived(t, monitor, func(r Received) bool { c, ok := r.(ReceivedChunk); return ok && c.Chunk.Seq == seq })
	}

	before, beforeWriter := dialBridge()
	sendChunk(beforeWriter, 1)
	clock.advance(2 * time.Second)
	require.NoError(t, beforeWriter.Write(&common.MessageHeartbeat{Type: common.MAV_TYPE_ONBOARD_CONTROLLER}))
	awaitReceived(t, monitor, func(r Received) bool { h, ok := r.(ReceivedHeartbeat); return ok && h.ComponentID == onboard })

	clock.advance(2 * time.Second) // past newcomerGrace; the bridge's heartbeat 2 s old
	refused, _ := dialBridge()
	require.Equal(t, ReceivedChannelRefused{Endpoint: "tcp-server:127.0.0.1:0", Peer: refused.LocalAddr().String(), Limit: 1, Refused: 1},
		awaitReceived(t, monitor, func(r Received) bool { _, ok := r.(ReceivedChannelRefused); return ok }),
		"the bridge's heartbeat keeps its channel's place")

	clock.advance(bridgeProtectionLapse) // the power is cut: silence, the connection open
	after, afterWriter := dialBridge()
	require.Equal(t, ReceivedChannelEvicted{Endpoint: "tcp-server:127.0.0.1:0", Peer: before.LocalAddr().String(),
		Newcomer: after.LocalAddr().String(), Limit: 1, Idle: 2*time.Second + bridgeProtectionLapse, Evicted: 1},
		awaitReceived(t, monitor, func(r Received) bool { _, ok := r.(ReceivedChannelEvicted); return ok }),
		"the dead connection still holds the place")
	sendChunk(afterWriter, 2)
}
