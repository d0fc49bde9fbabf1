package mavbridge

import (
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"github.com/pion/transport/v2/udp"
	"github.com/stretchr/testify/require"

	"dysl_vla/msgs"
)

// A server endpoint keeps MaxChannels channels open; the connections beyond are closed as they come
// and counted. Each check waits for a condition within a generous deadline; none asserts a duration.
// The channels' standing is measured on a clock that stands still (manualClock): every channel stays
// young, so none is closed for a newcomer (eviction_test.go has those).

// goroutinesSettle reports whether the goroutines come down to at most limit within the deadline: the
// goroutines of closed channels end a moment after their connections close.
func goroutinesSettle(limit int) bool {
	return pollUntil(deadline, func() bool { return runtime.NumGoroutine() <= limit })
}

// heardOrClosed reads from conn until the bridge's first bytes (a heartbeat: the connection has a
// channel) or the end of the connection (it was refused).
func heardOrClosed(t *testing.T, conn net.Conn) (heard bool) {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(deadline)))
	n, err := conn.Read(make([]byte, 64))
	if n > 0 {
		return true
	}
	require.False(t, errors.Is(err, os.ErrDeadlineExceeded), "neither a heartbeat nor the end of the connection")
	return false
}

func refusals(events *eventLog) []EventChannelRefused {
	events.mu.Lock()
	defer events.mu.Unlock()
	var found []EventChannelRefused
	for _, e := range events.events {
		if r, ok := e.(EventChannelRefused); ok {
			found = append(found, r)
		}
	}
	return found
}

func TestTCPServerKeepsMaxChannels(t *testing.T) {
	const limit, extra = 4, 40
	bridge := &Bridge{Endpoint: "tcp-server:127.0.0.1:0", MaxChannels: limit, LinkTimeout: time.Minute, Now: newManualClock().now}
	require.NoError(t, bridge.Initialize())
	defer bridge.Close()
	events := collectEvents(bridge)
	idle := runtime.NumGoroutine()

	var live, refused []net.Conn
	for range limit + extra {
		conn, err := net.Dial("tcp4", bridge.ListenAddr().String())
		require.NoError(t, err)
		defer conn.Close()
		if heardOrClosed(t, conn) {
			live = append(live, conn)
		} else {
			refused = append(refused, conn)
		}
	}
	require.Equal(t, limit, len(live), "connections that heard the bridge")
	require.Equal(t, extra, len(refused), "connections closed at once")
	require.Eventually(t, func() bool { s := bridge.Stats(); return s.Channels == limit && s.ChannelsRefused == extra },
		deadline, poll)
	// Without the limit every connection held three goroutines of gomavlib's.
	require.True(t, goroutinesSettle(idle+3*limit+5), "%d goroutines, %d before the connections", runtime.NumGoroutine(), idle)

	require.Eventually(t, func() bool { return len(refusals(events)) > 0 }, deadline, poll)
	first := refusals(events)[0]
	require.Equal(t, EventChannelRefused{Endpoint: "tcp-server:127.0.0.1:0", Peer: refused[0].LocalAddr().String(),
		Limit: limit, Refused: 1}, first)
	require.Equal(t, "tcp-server:127.0.0.1:0 refused a connection from "+first.Peer+": it has 4 channels open, its limit",
		first.String())

	t.Run("a closed channel frees its place, which the controller takes", func(t *testing.T) {
		require.NoError(t, live[0].Close())
		require.Eventually(t, func() bool { return bridge.Stats().Channels == limit-1 }, deadline, poll)
		startController(t, gomavlib.EndpointTCPClient{Address: bridge.ListenAddr().String()}, 0)
		require.Eventually(t, func() bool { return bridge.Stats().LinkUp }, deadline, poll)
		require.Equal(t, limit, bridge.Stats().Channels)

		late, err := net.Dial("tcp4", bridge.ListenAddr().String())
		require.NoError(t, err)
		defer late.Close()
		require.False(t, heardOrClosed(t, late), "a connection beyond the limit again")
		require.Eventually(t, func() bool { return bridge.Stats().ChannelsRefused == extra+1 }, deadline, poll)
	})
}

func TestUDPServerKeepsMaxChannels(t *testing.T) {
	const limit, extra = 4, 40
	bridge := &Bridge{Endpoint: "udp-server:127.0.0.1:0", MaxChannels: limit, LinkTimeout: time.Minute, Now: newManualClock().now}
	require.NoError(t, bridge.Initialize())
	defer bridge.Close()
	events := collectEvents(bridge)
	idle := runtime.NumGoroutine()

	datagram := noisyHeartbeat(t)
	sources := make([]net.Conn, limit+extra)
	for i := range sources {
		conn, err := net.Dial("udp4", bridge.ListenAddr().String())
		require.NoError(t, err)
		defer conn.Close()
		sources[i] = conn
	}
	sent := uint64(0) // datagrams from sources that have no channel
	send := func() {
		for _, conn := range sources {
			_, err := conn.Write(datagram)
			require.NoError(t, err)
		}
		sent += extra
	}

	send()
	require.Eventually(t, func() bool { s := bridge.Stats(); return s.Channels == limit && s.ChannelsRefused >= extra },
		deadline, poll)
	require.True(t, goroutinesSettle(idle+3*limit+5), "%d goroutines, %d before the sources sent", runtime.NumGoroutine(), idle)

	t.Run("a refused source is refused again at its next datagram, no more often", func(t *testing.T) {
		before := bridge.Stats().ChannelsRefused
		send()
		require.Eventually(t, func() bool { return bridge.Stats().ChannelsRefused > before }, deadline, poll)
		time.Sleep(100 * time.Millisecond) // room for a refusal loop to show, if there were one
		stats := bridge.Stats()
		require.LessOrEqual(t, stats.ChannelsRefused, sent, "more refusals than datagrams from the sources refused")
		require.Equal(t, limit, stats.Channels)
		require.True(t, goroutinesSettle(idle+3*limit+5), "%d goroutines, %d before the sources sent", runtime.NumGoroutine(), idle)

		opened := 0
		events.find(func(e Event) bool {
			if _, ok := e.(EventChannelOpen); ok {
				opened++
			}
			return false
		})
		require.Equal(t, limit, opened)
		// Said at the first refusal, then once a period at most: not once a datagram.
		require.NotEmpty(t, refusals(events))
		require.Less(t, len(refusals(events)), int(stats.ChannelsRefused))
	})
}

// The UDP listener makes a new connection for a source whose connection was closed: one refused
// while the listener is full gets a channel at its first datagram after a place is freed.
func TestUDPSourceRefusedGetsAFreedPlace(t *testing.T) {
	raw, err := udp.Listen("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	reg := newTransports()
	reg.now = newManualClock().now
	listener := newCountingListener(raw, "udp-server:test", reg, true, 1)
	defer listener.Close()
	accepted := make(chan net.Conn)
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- conn
		}
	}()
	next := func() net.Conn {
		select {
		case conn := <-accepted:
			return conn
		case <-time.After(deadline):
			require.FailNow(t, "no connection accepted")
			return nil
		}
	}

	a, err := net.Dial("udp4", raw.Addr().String())
	require.NoError(t, err)
	defer a.Close()
	b, err := net.Dial("udp4", raw.Addr().String())
	require.NoError(t, err)
	defer b.Close()

	_, err = a.Write([]byte{1})
	require.NoError(t, err)
	first := next()
	require.Equal(t, a.LocalAddr().String(), first.RemoteAddr().String())
	_, err = b.Write([]byte{2})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return reg.refused.Load() == 1 }, deadline, poll)

	require.NoError(t, first.Close())
	require.NoError(t, first.Close(), "closed twice (by gomavlib and closeConnections), its place freed once")
	require.EqualValues(t, 0, listener.openChannels())
	_, err = b.Write([]byte{3})
	require.NoError(t, err)
	second := next()
	require.Equal(t, b.LocalAddr().String(), second.RemoteAddr().String())
	require.EqualValues(t, 1, listener.openChannels())
	require.EqualValues(t, 1, reg.refused.Load())
	second.Close()
}

// The first refusal is heard, then one at most every crowdingReportPeriod, with the number refused
// since the one heard before.
func TestRefusalsAreHeardOncePerPeriod(t *testing.T) {
	reg := newTransports()
	now := time.Unix(1_700_000_000, 0)
	reg.now = func() time.Time { return now }
	var heard []EventChannelRefused
	reg.onRefused = func(e EventChannelRefused) { heard = append(heard, e) }
	peer := func(port int) net.Addr { return &net.UDPAddr{IP: net.IPv4(10, 0, 0, 7), Port: port} }

	for port := 1; port <= 5; port++ {
		reg.refuse("udp-server:0.0.0.0:14550", peer(port), 16)
	}
	now = now.Add(crowdingReportPeriod / 2)
	reg.refuse("udp-server:0.0.0.0:14550", peer(6), 16)
	now = now.Add(crowdingReportPeriod / 2)
	reg.refuse("udp-server:0.0.0.0:14550", peer(7), 16)

	require.Equal(t, []EventChannelRefused{
		{Endpoint: "udp-server:0.0.0.0:14550", Peer: "10.0.0.7:1", Limit: 16, Refused: 1},
		{Endpoint: "udp-server:0.0.0.0:14550", Peer: "10.0.0.7:7", Limit: 16, Refused: 6},
	}, heard)
	require.EqualValues(t, 7, reg.refused.Load())
	require.Equal(t, "udp-server:0.0.0.0:14550 refused a connection from 10.0.0.7:7: it has 16 channels open, its limit "+
		"(6 refused since the previous report)", heard[1].String())
}

// The diagnostics say that connections were refused (WARN, with the line of the latest refusal, once)
// while the controller's own channel carries on.
func TestForwarderReportsRefusedConnections(t *testing.T) {
	bridge := &Bridge{Endpoint: "tcp-server:127.0.0.1:0", MaxChannels: 1, LinkTimeout: time.Minute}
	require.NoError(t, bridge.Initialize())
	defer bridge.Close()
	forwarder := &Forwarder{Bridge: bridge, GripperDim: NoGripper}
	startController(t, gomavlib.EndpointTCPClient{Address: bridge.ListenAddr().String()}, 0)
	require.Eventually(t, func() bool { return forwarder.LinkStatus().Level == msgs.DiagnosticOK }, deadline, poll)
	require.Equal(t, "0", statusValue(t, forwarder.LinkStatus(), "channels refused"))

	scan, err := net.Dial("tcp4", bridge.ListenAddr().String())
	require.NoError(t, err)
	defer scan.Close()
	require.False(t, heardOrClosed(t, scan))
	// The refusal is counted, then reported: wait for both, the report being the only event to come.
	require.Eventually(t, func() bool { return bridge.Stats().ChannelsRefused == 1 && len(bridge.events) == 1 }, deadline, poll)

	status := forwarder.LinkStatus()
	require.Equal(t, msgs.DiagnosticWarn, status.Level)
	require.Equal(t, "link up, but since the last report 1 connections were refused: the endpoint's 1 channels were all open "+
		"(a port scan, a flood, or more peers than expected); tcp-server:127.0.0.1:0 refused a connection from "+
		scan.LocalAddr().String()+": it has 1 channels open, its limit", status.Message)
	require.Equal(t, "1", statusValue(t, status, "channels refused"))
	require.Equal(t, "link up", forwarder.LinkStatus().Message, "said once")
	require.True(t, bridge.Stats().LinkUp)
}

func statusValue(t *testing.T, st msgs.DiagnosticStatus, key string) string {
	t.Helper()
	v, ok := st.Value(key)
	require.True(t, ok, "%q not in %v", key, st.Values)
	return v
}

// `dysl mavlink listen` on a server endpoint prints a line for a refused connection.
func TestMonitorReportsRefusedConnections(t *testing.T) {
	monitor := &Monitor{Endpoint: "tcp-server:127.0.0.1:0", MaxChannels: 1, NoHeartbeat: true, now: newManualClock().now}
	require.NoError(t, monitor.Initialize())
	defer monitor.Close()
	kept, err := net.Dial("tcp4", monitor.ListenAddr().String())
	require.NoError(t, err)
	defer kept.Close()
	refused, err := net.Dial("tcp4", monitor.ListenAddr().String())
	require.NoError(t, err)
	defer refused.Close()
	require.NoError(t, refused.SetReadDeadline(time.Now().Add(deadline)))
	_, err = refused.Read(make([]byte, 1))
	require.True(t, errors.Is(err, io.EOF) || strings.Contains(err.Error(), "reset"), "%v", err)

	select {
	case r := <-monitor.Received():
		require.Equal(t, "tcp-server:127.0.0.1:0 refused a connection from "+refused.LocalAddr().String()+
			": it has 1 channels open, its limit\n", FormatReceived(r))
	case <-time.After(deadline):
		t.Fatal("the monitor did not say it refused a connection")
	}
}

func TestNegativeMaxChannelsIsRefused(t *testing.T) {
	bridge := &Bridge{Endpoint: "tcp-server:127.0.0.1:0", MaxChannels: -1}
	require.ErrorContains(t, bridge.Initialize(), "MaxChannels is -1, expected a positive number of channels (0: 16)")
	monitor := &Monitor{Endpoint: "tcp-server:127.0.0.1:0", MaxChannels: -1}
	require.ErrorContains(t, monitor.Initialize(), "MaxChannels is -1")
}

// failingListener fails its first failures calls of Accept as a process out of file descriptors does.
type failingListener struct {
	net.Listener
	failures int
}

func (l *failingListener) Accept() (net.Conn, error) {
	if l.failures > 0 {
		l.failures--
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// A failure to accept (EMFILE) is said and retried, not handed to gomavlib, whose server endpoint would
// stop accepting for good: the controller connects once descriptors are free again. Closing the
// listener still ends Accept.
func TestAcceptFailureIsRetriedAndSaid(t *testing.T) {
	raw, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	reg := newTransports()
	heard := make(chan error, 8)
	reg.onConnectFailed = func(err error) { heard <- err }
	listener := newCountingListener(&failingListener{Listener: raw, failures: 3}, "tcp-server:test", reg, false, 2)
	accepted := make(chan net.Conn)
	ended := make(chan error, 1)
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				ended <- err
				return
			}
			accepted <- conn
		}
	}()

	controller, err := net.Dial("tcp4", raw.Addr().String())
	require.NoError(t, err)
	defer controller.Close()
	select {
	case conn := <-accepted:
		defer conn.Close()
	case err := <-ended:
		require.FailNow(t, "Accept gave up", "%v", err)
	case <-time.After(deadline):
		require.FailNow(t, "the controller's connection was never accepted")
	}
	require.Len(t, heard, 1, "the same reason, repeated by the retries, is said once")
	failure := <-heard
	require.EqualError(t, failure, "accept tcp: accept4: too many open files")
	require.Equal(t, "cannot accept connections on tcp-server::5760: accept tcp: accept4: too many open files (retrying)",
		openFailure("tcp-server::5760", failure), "said once, with the endpoint and the verb of a server")
	require.NoError(t, reg.connectFailure(), "taken back once a connection was accepted")

	require.NoError(t, listener.Close())
	select {
	case <-ended:
	case <-time.After(deadline):
		require.FailNow(t, "Accept did not return after Close")
	}
}
