package mavbridge

import (
	"bytes"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/stretchr/testify/require"

	"dysl_vla/msgs"
)

// TestMonitorStandsInForController: a Bridge pointed at a Monitor sees its link come up, its chunk arrives
// at the Monitor, and its gripper command is acknowledged by it.
func TestMonitorStandsInForController(t *testing.T) {
	monitor := &Monitor{Endpoint: "udp-server:127.0.0.1:0", AckGripper: true}
	require.NoError(t, monitor.Initialize())
	defer monitor.Close()

	bridge := &Bridge{Endpoint: "udp-client:" + monitor.ListenAddr().String(), HeartbeatPeriod: 100 * time.Millisecond,
		LinkTimeout: time.Minute} // the monitor heartbeats once a second: a stalled one must not lose the link here
	require.NoError(t, bridge.Initialize())
	defer bridge.Close()

	var heartbeat ReceivedHeartbeat
	require.Eventually(t, func() bool {
		select {
		case r := <-monitor.Received():
			heartbeat, _ = r.(ReceivedHeartbeat)
		default:
		}
		return heartbeat.ComponentID == 191
	}, deadline, poll)
	require.Equal(t, "MAV_TYPE_ONBOARD_CONTROLLER", heartbeat.Type)
	require.Eventually(t, func() bool { return bridge.Stats().LinkUp }, deadline, poll, "monitor heartbeats")

	sent := testChunk(7, 1)
	require.NoError(t, bridge.Send(sent))
	var chunk *ReceivedChunk
	var gripper *ReceivedGripper
	timeout := time.After(deadline)
	for chunk == nil || gripper == nil {
		select {
		case r := <-monitor.Received():
			switch r := r.(type) {
			case ReceivedChunk:
				chunk = &r
			case ReceivedGripper:
				gripper = &r
			}
		case <-timeout:
			t.Fatal("no chunk or gripper command reached the monitor")
		}
	}
	require.Equal(t, sent.Values, chunk.Chunk.Values)
	require.Equal(t, ReceivedGripper{SystemID: 1, ComponentID: 191, Action: GripperClose, Instance: 1, Acked: true,
		Target: Target{1, 1}}, *gripper)
	require.Equal(t, Target{1, 1}, chunk.Target)
	require.False(t, chunk.ForOthers, "addressed to the monitor's ids")
	require.Eventually(t, func() bool { return bridge.Stats().GripperAcked == 1 }, deadline, poll)
}

// A client endpoint that cannot connect says why, once per reason, while the transport retries: the
// monitor as a line to print, the bridge in its stats and in the forwarder's diagnostics.
func TestConnectFailuresAreReported(t *testing.T) {
	device := filepath.Join(t.TempDir(), "ttyNone")
	want := "open serial device " + device + " at 57600 baud: no such file or directory"

	monitor := &Monitor{Endpoint: "serial:" + device + ":57600"}
	require.NoError(t, monitor.Initialize())
	select {
	case r := <-monitor.Received():
		require.Equal(t, "cannot connect on serial:"+device+":57600: "+want+" (retrying)\n", FormatReceived(r))
	case <-time.After(deadline):
		t.Fatal("the monitor did not say why it cannot connect")
	}
	monitor.Close()

	bridge := &Bridge{Endpoint: "serial:" + device + ":57600"}
	require.NoError(t, bridge.Initialize())
	defer bridge.Close()
	forwarder := &Forwarder{Bridge: bridge, GripperDim: NoGripper}
	require.Eventually(t, func() bool { return bridge.Stats().ConnectError == want }, deadline, poll)
	status := forwarder.LinkStatus()
	require.Equal(t, msgs.DiagnosticWarn, status.Level)
	require.Contains(t, status.Message, "; cannot connect on serial:"+device+":57600: "+want+" (retrying)")
}

// The retries' repeated reason is heard once; a new reason, or the same one after a connection, again.
func TestConnectFailureHeardOncePerReason(t *testing.T) {
	reg := newTransports()
	var heard []string
	reg.onConnectFailed = func(err error) { heard = append(heard, err.Error()) }
	refused, missing := errors.New("connection refused"), errors.New("no such device")
	for _, err := range []error{refused, refused, missing, missing, nil, missing} {
		reg.connected(err)
	}
	require.Equal(t, []string{"connection refused", "no such device", "no such device"}, heard)
	require.Equal(t, missing, reg.connectFailure())
	reg.connected(nil)
	require.NoError(t, reg.connectFailure())
}

// Line noise is one malformed frame a byte: the monitor reports a channel's first, then one at most
// every 10 s counting those held back, as the bridge does, so that `dysl mavlink listen` prints a
// line a period rather than one a byte.
func TestMonitorReportsLineNoiseOncePerPeriod(t *testing.T) {
	clock := newManualClock()
	monitor := &Monitor{Endpoint: "tcp-server:127.0.0.1:0", now: clock.now}
	require.NoError(t, monitor.Initialize())
	defer monitor.Close()
	conn, err := net.Dial("tcp4", monitor.ListenAddr().String())
	require.NoError(t, err)
	defer conn.Close()
	writer := frameDialect{}.streamWriter(t, conn)

	// noiseThenHeartbeat writes noise bytes of line noise and a heartbeat, and returns the malformed
	// reports that came before the heartbeat.
	noiseThenHeartbeat := func(noise int) []ReceivedMalformed {
		_, err := conn.Write(bytes.Repeat([]byte{0x55}, noise))
		require.NoError(t, err)
		require.NoError(t, writer.Write(&common.MessageHeartbeat{Type: common.MAV_TYPE_GENERIC, MavlinkVersion: 3}))
		var reports []ReceivedMalformed
		for {
			select {
			case r := <-monitor.Received():
				switch r := r.(type) {
				case ReceivedMalformed:
					reports = append(reports, r)
				case ReceivedHeartbeat:
					return reports
				}
			case <-time.After(deadline):
				t.Fatal("the heartbeat after the noise did not arrive")
				return nil
			}
		}
	}
	first := noiseThenHeartbeat(100)
	require.Len(t, first, 1, "the first, alone")
	require.EqualValues(t, 1, first[0].Malformed)
	clock.advance(crowdingReportPeriod)
	again := noiseThenHeartbeat(1)
	require.Len(t, again, 1)
	require.GreaterOrEqual(t, again[0].Malformed, uint64(100), "those held back, and this one")
}

// Only the frames of the ids that sent a chunk on a channel are the bridge's: another peer sharing
// the channel (a ground station behind the same router, heartbeating) must not keep the channel's
// place as the bridge's frames do, nor may the bridge lose it for its heartbeats between chunks.
func TestMonitorTellsTheBridgesFramesByItsIDs(t *testing.T) {
	frameFrom := func(sys, comp uint8, m message.Message) *gomavlib.EventFrame {
		return &gomavlib.EventFrame{Frame: &frame.V2Frame{SystemID: sys, ComponentID: comp, Message: m}}
	}
	heartbeat := &common.MessageHeartbeat{Type: common.MAV_TYPE_ONBOARD_CONTROLLER}
	parts, err := EncodeChunk(testChunk(1, 0), 1, 1)
	require.NoError(t, err)

	var ch monitoredChannel
	require.False(t, ch.fromBridge(frameFrom(1, 191, heartbeat)), "no chunk yet: no bridge known")
	require.True(t, ch.fromBridge(frameFrom(1, 191, parts[0])))
	require.True(t, ch.fromBridge(frameFrom(1, 191, heartbeat)), "the bridge's heartbeat")
	require.False(t, ch.fromBridge(frameFrom(255, 190, heartbeat)), "a ground station's")
	require.False(t, ch.fromBridge(frameFrom(1, 192, heartbeat)), "another component of the bridge's system")
}
