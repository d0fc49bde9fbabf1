package mavbridge

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFormatReceived(t *testing.T) {
	chunk := Chunk{Seq: 4, Stamp: time.Unix(1_700_000_000, 250_000_000), StepDt: 40 * time.Millisecond,
		Frame: "base_link", Steps: 2, Dims: 3, Values: []float32{0.1, -0.2, 1, 0.12345, 0, 0}}
	cases := []struct {
		r    Received
		want string
	}{
		{ReceivedHeartbeat{SystemID: 1, ComponentID: 191, Type: "MAV_TYPE_ONBOARD_CONTROLLER"},
			"heartbeat sys=1 comp=191 type=MAV_TYPE_ONBOARD_CONTROLLER\n"},
		{ReceivedChunk{SystemID: 1, Chunk: chunk},
			"chunk seq=4 stamp=2023-11-14T22:13:20.25Z dt=40ms frame=\"base_link\" steps=2 dims=3\n" +
				"  [0] 0.1000 -0.2000 1.0000\n  [1] 0.1235 0.0000 0.0000\n"},
		{ReceivedGripper{SystemID: 1, ComponentID: 191, Action: GripperClose, Instance: 1, Acked: true},
			"gripper close instance=1 confirmation=0 from sys=1 comp=191 acked\n"},
		{ReceivedGripper{SystemID: 2, ComponentID: 1, Action: GripperOpen, Instance: 0, Confirmation: 1},
			"gripper open instance=0 confirmation=1 from sys=2 comp=1\n"},
		{ReceivedChunk{SystemID: 1, Chunk: Chunk{Seq: 5, Stamp: time.Unix(1_700_000_000, 0), Steps: 0}, Target: Target{2, 1}, ForOthers: true},
			"chunk seq=5 stamp=2023-11-14T22:13:20Z dt=0s frame=\"\" steps=0 dims=0 (addressed to sys=2 comp=1, not to this listener: a controller with its ids ignores it)\n"},
		{ReceivedGripper{SystemID: 1, ComponentID: 191, Action: GripperOpen, Instance: 1, Target: Target{2, 1}, ForOthers: true},
			"gripper open instance=1 confirmation=0 from sys=1 comp=191 (addressed to sys=2 comp=1, not to this listener: a controller with its ids ignores it)\n"},
		{ReceivedMalformed{Err: errors.New("bad crc"), Malformed: 1}, "malformed: bad crc\n"},
		{ReceivedMalformed{Err: errors.New("invalid magic byte: 55"), Malformed: 212},
			"malformed: invalid magic byte: 55 (212 malformed frames since the previous report)\n"},
		{ReceivedChannelRefused{Endpoint: "udp-server:0.0.0.0:14550", Peer: "10.0.0.7:40000", Limit: 16, Refused: 212},
			"udp-server:0.0.0.0:14550 refused a connection from 10.0.0.7:40000: it has 16 channels open, its limit " +
				"(212 refused since the previous report)\n"},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, FormatReceived(tc.r))
	}
}

// PrintReceived stops after the chunks asked for, however many other things arrived between them, and
// when the channel closes or the context ends before that.
func TestPrintReceivedStopsAfterChunks(t *testing.T) {
	heartbeat := ReceivedHeartbeat{SystemID: 1, ComponentID: 191, Type: "MAV_TYPE_GCS"}
	chunk := ReceivedChunk{Chunk: Chunk{Seq: 1, Steps: 1, Dims: 1, Values: []float32{0.5}}}
	received := make(chan Received, 8)
	for _, r := range []Received{heartbeat, chunk, heartbeat, chunk, chunk} {
		received <- r
	}
	var out bytes.Buffer
	require.NoError(t, PrintReceived(context.Background(), &out, received, 2))
	require.Equal(t, FormatReceived(heartbeat)+FormatReceived(chunk)+FormatReceived(heartbeat)+FormatReceived(chunk),
		out.String())
	require.Len(t, received, 1, "the third chunk is left unread")

	close(received)
	out.Reset()
	require.NoError(t, PrintReceived(context.Background(), &out, received, 5))
	require.Equal(t, FormatReceived(chunk), out.String(), "ends when the channel closes")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, PrintReceived(ctx, &out, make(chan Received), 0), "ends with the context")
}

// A bridge pointed at a monitor sees the link come up within AwaitLink; one pointed at nothing does not,
// and reports so once the timeout has passed.
func TestAwaitLink(t *testing.T) {
	monitor := &Monitor{Endpoint: "udp-server:127.0.0.1:0"}
	require.NoError(t, monitor.Initialize())
	defer monitor.Close()
	go func() {
		for range monitor.Received() {
		}
	}()
	bridge := &Bridge{Endpoint: "udp-client:" + monitor.ListenAddr().String(), HeartbeatPeriod: 100 * time.Millisecond,
		LinkTimeout: time.Minute} // the monitor heartbeats once a second: a stalled one must not lose the link here
	require.NoError(t, bridge.Initialize())
	defer bridge.Close()
	require.True(t, bridge.AwaitLink(deadline))
	require.NoError(t, bridge.Send(testChunk(1, 0)))
	require.True(t, bridge.Drain(deadline))
	s := bridge.Stats()
	require.Equal(t, uint64(1), s.ChunksSent)
	require.Contains(t, s.Carried(), "1 chunks sent, 0 discarded (link down, or no channel could take them); ")

	alone := &Bridge{Endpoint: "udp-server:127.0.0.1:0"}
	require.NoError(t, alone.Initialize())
	defer alone.Close()
	start := time.Now()
	require.False(t, alone.AwaitLink(100*time.Millisecond))
	require.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)
}

// A message is for a node when its target is the node's ids, or MAVLink's broadcast 0 in either.
func TestTargetAddressedTo(t *testing.T) {
	for _, c := range []struct {
		target Target
		want   bool
	}{
		{Target{1, 1}, true}, {Target{0, 0}, true}, {Target{1, 0}, true}, {Target{0, 1}, true},
		{Target{2, 1}, false}, {Target{1, 2}, false}, {Target{0, 2}, false},
	} {
		require.Equal(t, c.want, c.target.addressedTo(1, 1), "%+v", c.target)
	}
}
