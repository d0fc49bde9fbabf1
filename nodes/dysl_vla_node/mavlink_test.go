package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/mavbridge"
	"dysl_vla/msgs"
	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
)

// The mavlink.* parameters become a running bridge; an endpoint in another syntax is refused at
// start-up with the parameter's name and the kinds the bridge reads.
func TestStartMavlinkFromParameters(t *testing.T) {
	settingsWith := func(endpoint string) nodecore.Settings {
		_, s, err := nodecore.NewParamServer("/dysl_vla_node", map[string]paramserver.Value{
			nodecore.ParamMavlinkEnabled:         paramserver.Bool(true),
			nodecore.ParamMavlinkEndpoint:        paramserver.String(endpoint),
			nodecore.ParamMavlinkLinkTimeout:     paramserver.Double(1.5),
			nodecore.ParamMavlinkTargetComponent: paramserver.Integer(2),
			nodecore.ParamMavlinkMaxChannels:     paramserver.Integer(5),
			nodecore.ParamMavlinkGripperProgress: paramserver.Double(8),
			nodecore.ParamMavlinkMaxChunkWait:    paramserver.Double(0.25),
		}, nil)
		require.NoError(t, err)
		return s
	}

	t.Run("valid endpoint", func(t *testing.T) {
		fwd, err := startMavlink(settingsWith("udp-server:127.0.0.1:0"), 8, 7, 6)
		require.NoError(t, err)
		defer fwd.Bridge.Close()
		require.Equal(t, 6, fwd.GripperDim)
		require.Equal(t, 1500*time.Millisecond, fwd.Bridge.LinkTimeout)
		require.Equal(t, uint8(1), fwd.Bridge.TargetSystem)
		require.Equal(t, uint8(2), fwd.Bridge.TargetComponent)
		require.Equal(t, 5, fwd.Bridge.MaxChannels)
		require.Equal(t, 8*time.Second, fwd.Bridge.GripperProgressTimeout)
		require.Equal(t, 250*time.Millisecond, fwd.Bridge.MaxChunkWait)
		require.False(t, fwd.Bridge.StampsOffClock, "stamps on the system clock")
		require.Equal(t, float32(-1), fwd.Bridge.GripperOpenValue, "the bundles' convention")
		require.Equal(t, float32(1), fwd.Bridge.GripperClosedValue)
	})
	t.Run("gripper convention", func(t *testing.T) {
		s := settingsWith("udp-server:127.0.0.1:0")
		s.Gripper.Open, s.Gripper.Closed = 85, 0
		fwd, err := startMavlink(s, 8, 7, 6)
		require.NoError(t, err)
		defer fwd.Bridge.Close()
		require.Equal(t, float32(85), fwd.Bridge.GripperOpenValue)
		require.Equal(t, float32(0), fwd.Bridge.GripperClosedValue)
	})
	t.Run("sim time", func(t *testing.T) {
		s := settingsWith("udp-server:127.0.0.1:0")
		s.UseSimTime = true
		fwd, err := startMavlink(s, 8, 7, 6)
		require.NoError(t, err)
		defer fwd.Bridge.Close()
		require.True(t, fwd.Bridge.StampsOffClock, "sim-time stamps count from each chunk's arrival")
	})
	t.Run("old udpout syntax", func(t *testing.T) {
		_, err := startMavlink(settingsWith("udpout:127.0.0.1:14550"), 8, 7, mavbridge.NoGripper)
		require.ErrorContains(t, err, "parameter mavlink.endpoint: ")
		require.ErrorContains(t, err, "the udpout form of other MAVLink tools is udp-client here: udp-client:127.0.0.1:14550")
	})
	t.Run("a bundle whose chunks the link cannot carry", func(t *testing.T) {
		_, err := startMavlink(settingsWith("udp-server:127.0.0.1:0"), 255, 54, mavbridge.NoGripper)
		require.EqualError(t, err, "mavlink.enabled: the bundle's chunks cannot go over MAVLink: 255 steps of 54 values take 255 "+
			"VLA_ACTION_CHUNK messages, expected at most 64 (a channel holds no more at once; fewer steps or dimensions)")
	})
	t.Run("client without a port", func(t *testing.T) {
		_, err := startMavlink(settingsWith("udp-client:127.0.0.1:0"), 8, 7, mavbridge.NoGripper)
		require.ErrorContains(t, err, "parameter mavlink.endpoint: ")
	})
}

// The node's mavlink.link_timeout, max_channels, gripper_progress_timeout and max_chunk_wait default to
// the bridge's own defaults: nodecore, which does not import the bridge, writes the numbers down.
func TestMavlinkParametersDefaultToTheBridgesDefaults(t *testing.T) {
	_, s, err := nodecore.NewParamServer("/dysl_vla_node", nil, nil)
	require.NoError(t, err)
	require.Equal(t, mavbridge.DefaultLinkTimeout, s.Mavlink.LinkTimeout)
	require.Equal(t, mavbridge.DefaultMaxChannels, s.Mavlink.MaxChannels)
	require.Equal(t, mavbridge.DefaultGripperProgressTimeout, s.Mavlink.GripperProgressTimeout)
	require.Equal(t, mavbridge.DefaultMaxChunkWait, s.Mavlink.MaxChunkWait)
}

// With gripper_open 1 and gripper_closed 0 (a 0..1 gripper where 1 is open), a chunk
// whose gripper column goes from 1 to 0 opens the gripper, then closes it: the controller gets the
// MAV_CMD_DO_GRIPPER of that convention, not of the bundles' default, under which 1 closes. A Monitor
// stands in for the controller and accepts the commands.
func TestNodeGripperConventionReachesTheController(t *testing.T) {
	monitor := &mavbridge.Monitor{Endpoint: "udp-server:127.0.0.1:0", AckGripper: true}
	require.NoError(t, monitor.Initialize())
	defer monitor.Close()
	_, settings, err := nodecore.NewParamServer("/dysl_vla_node", map[string]paramserver.Value{
		nodecore.ParamMavlinkEnabled:  paramserver.Bool(true),
		nodecore.ParamMavlinkEndpoint: paramserver.String("udp-client:" + monitor.ListenAddr().String()),
		nodecore.ParamGripperOpen:     paramserver.Double(1),
		nodecore.ParamGripperClosed:   paramserver.Double(0),
	}, nil)
	require.NoError(t, err)
	fwd, err := startMavlink(settings, 8, 7, 1)
	require.NoError(t, err)
	defer fwd.Bridge.Close()

	// The monitor waits for its reader: read everything, keep the gripper commands.
	commands := make(chan mavbridge.GripperAction, 16)
	go func() {
		for r := range monitor.Received() {
			if g, ok := r.(mavbridge.ReceivedGripper); ok {
				commands <- g.Action
			}
		}
	}()
	require.Eventually(t, func() bool { return fwd.Bridge.Stats().LinkUp }, 20*time.Second, 10*time.Millisecond, "monitor heartbeats")

	// Stamped at 0, far before the bridge's clock: its steps count from the arrival, so step 0 (open) is
	// commanded as the chunk arrives and step 1 (closed) a step later, in that order.
	require.NoError(t, fwd.ForwardChunk(&msgs.ActionChunk{Header: msgs.Header{FrameID: "base_link"},
		StepDt: msgs.DurationFromGo(100 * time.Millisecond), Sequence: 1, Steps: 2, ActionDim: 2,
		Actions: []float32{0, 1, 0, 0}}, 0))
	var got []mavbridge.GripperAction
	for len(got) < 2 {
		select {
		case a := <-commands:
			got = append(got, a)
		case <-time.After(20 * time.Second):
			t.Fatalf("the controller got %v, expected open then close", got)
		}
	}
	require.Equal(t, []mavbridge.GripperAction{mavbridge.GripperOpen, mavbridge.GripperClose}, got)
}
