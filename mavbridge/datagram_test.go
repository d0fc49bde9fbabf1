package mavbridge

import (
	"bytes"
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/stretchr/testify/require"
)

// A datagram whose last frame is cut short must not swallow the next datagram: each datagram stands
// alone, so the controller's heartbeat in the next one keeps the link up.
func TestUDPTruncatedFrameDoesNotSwallowTheNextDatagram(t *testing.T) {
	for _, endpoint := range []string{"udp-server:127.0.0.1:0", "udp-client"} {
		t.Run(endpoint, func(t *testing.T) {
			var peer net.Conn
			var bridge *Bridge
			if endpoint == "udp-client" {
				listener, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
				require.NoError(t, err)
				defer listener.Close()
				bridge = &Bridge{Endpoint: "udp-client:" + listener.LocalAddr().String(), LinkTimeout: time.Minute}
				require.NoError(t, bridge.Initialize())
				defer bridge.Close()
				// The bridge announces itself with a heartbeat; answer from the socket it came from.
				buf := make([]byte, 1024)
				require.NoError(t, listener.SetReadDeadline(time.Now().Add(deadline)))
				_, from, err := listener.ReadFromUDP(buf)
				require.NoError(t, err)
				peer = &udpReply{UDPConn: listener, to: from}
			} else {
				bridge = &Bridge{Endpoint: endpoint, LinkTimeout: time.Minute}
				require.NoError(t, bridge.Initialize())
				defer bridge.Close()
				conn, err := net.Dial("udp4", bridge.ListenAddr().String())
				require.NoError(t, err)
				defer conn.Close()
				peer = conn
			}

			var heartbeat bytes.Buffer
			require.NoError(t, frameDialect{}.streamWriter(t, &heartbeat).Write(&common.MessageHeartbeat{Type: common.MAV_TYPE_GENERIC}))
			whole := heartbeat.Bytes()
			// A datagram holding a valid frame followed by the first half of another, then the heartbeat.
			cut := append(append([]byte(nil), whole...), whole[:len(whole)/2]...)
			_, err := peer.Write(cut)
			require.NoError(t, err)
			time.Sleep(50 * time.Millisecond) // the first datagram must not be the one that raises the link
			require.Eventually(t, func() bool { return bridge.Stats().LinkUp }, deadline, poll)

			// Now only the truncated datagram, then a lone heartbeat: the heartbeat is read whole.
			bridge.mu.Lock()
			bridge.link = linkWatch{timeout: bridge.LinkTimeout}
			bridge.mu.Unlock()
			require.False(t, bridge.Stats().LinkUp)
			_, err = peer.Write(whole[:len(whole)/2])
			require.NoError(t, err)
			_, err = peer.Write(whole)
			require.NoError(t, err)
			require.Eventually(t, func() bool { return bridge.Stats().LinkUp }, deadline, poll,
				"the heartbeat after a truncated datagram was swallowed")
			require.Eventually(t, func() bool { return bridge.Stats().MalformedFrames >= 2 }, deadline, poll,
				"each cut frame counts as malformed")
		})
	}
}

// udpReply writes to one address through a listening socket.
type udpReply struct {
	*net.UDPConn
	to *net.UDPAddr
}

func (u *udpReply) Write(p []byte) (int, error) { return u.WriteToUDP(p, u.to) }

// Every snapshot adds up, even while frames are being written: FramesAttempted is always written +
// dropped + in flight.
func TestStatsAddUpUnderASendFlood(t *testing.T) {
	listener, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer listener.Close()
	bridge := &Bridge{Endpoint: "udp-client:" + listener.LocalAddr().String(), LinkTimeout: time.Minute,
		HeartbeatPeriod: time.Millisecond}
	require.NoError(t, bridge.Initialize())
	defer bridge.Close()
	require.Eventually(t, func() bool { return bridge.Stats().Channels == 1 }, deadline, poll)

	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // drain the socket so writes keep succeeding
		defer wg.Done()
		buf := make([]byte, 2048)
		for !stop.Load() {
			_ = listener.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
			_, _, _ = listener.ReadFromUDP(buf)
		}
	}()
	wg.Add(1)
	go func() { // the flood: heartbeats every tick of the bridge's own loop, plus direct writes
		defer wg.Done()
		for !stop.Load() {
			bridge.mu.Lock()
			bridge.writeAll(bridge.heartbeatMessage())
			bridge.mu.Unlock()
		}
	}()
	bad := 0
	var last Stats
	for start := time.Now(); time.Since(start) < 2*time.Second && bad == 0; {
		s := bridge.Stats()
		if s.FramesAttempted != s.FramesWritten+s.FramesDropped+s.FramesEvicted+s.FramesSuperseded+s.FramesInFlight {
			bad++
			last = s
		}
	}
	stop.Store(true)
	wg.Wait()
	require.Zero(t, bad, "a snapshot that does not add up: %+v", last)
}

// A connection attempt that runs out of gomavlib's per-attempt time (a controller behind a firewall
// that drops SYNs) is a failure to report; one the closing bridge cancels is not.
func TestConnectTimeoutIsReportedAndCancelIsNot(t *testing.T) {
	e, err := ParseEndpoint("tcp-client:127.0.0.1:9")
	require.NoError(t, err)
	reg := newTransports()
	conf := gomavlibEndpoint(e, reg, DefaultMaxChannels).(gomavlib.EndpointCustomClient)

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = conf.Connect(cancelled)
	require.Error(t, err)
	require.NoError(t, reg.connectFailure(), "a cancelled attempt is the bridge closing")

	expired, cancel := context.WithTimeout(context.Background(), -time.Second)
	defer cancel()
	_, err = conf.Connect(expired)
	require.Error(t, err)
	require.ErrorIs(t, reg.connectFailure(), context.DeadlineExceeded)
}
