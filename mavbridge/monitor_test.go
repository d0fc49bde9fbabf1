package mavbridge

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMonitorStandsInForController: a Bridge pointed at a Monitor sees its link come up, its chunk arrives
// at the Monitor, and its gripper command is acknowledged by it.
func TestMonitorStandsInForController(t *testing.T) {
	monitor := &Monitor{Endpoint: "udp-server:127.0.0.1:0", AckGripper: true}
	require.NoError(t, monitor.Initialize())
	defer monitor.Close()

	bridge := &Bridge{Endpoint: "udp-client:" + monitor.ListenAddr().String(), HeartbeatPeriod: 100 * time.Millisecond}
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
	require.Equal(t, ReceivedGripper{SystemID: 1, ComponentID: 191, Action: GripperClose, Instance: 1, Acked: true},
		*gripper)
	require.Eventually(t, func() bool { return bridge.Stats().GripperAcked == 1 }, deadline, poll)
}
