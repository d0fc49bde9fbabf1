package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/mavbridge"
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
		}, nil)
		require.NoError(t, err)
		return s
	}

	t.Run("valid endpoint", func(t *testing.T) {
		fwd, err := startMavlink(settingsWith("udp-server:127.0.0.1:0"), 6)
		require.NoError(t, err)
		defer fwd.Bridge.Close()
		require.Equal(t, 6, fwd.GripperDim)
		require.Equal(t, 1500*time.Millisecond, fwd.Bridge.LinkTimeout)
		require.Equal(t, uint8(1), fwd.Bridge.TargetSystem)
		require.Equal(t, uint8(2), fwd.Bridge.TargetComponent)
		require.Equal(t, 5, fwd.Bridge.MaxChannels)
		require.False(t, fwd.Bridge.StampsOffClock, "stamps on the system clock")
	})
	t.Run("sim time", func(t *testing.T) {
		s := settingsWith("udp-server:127.0.0.1:0")
		s.UseSimTime = true
		fwd, err := startMavlink(s, 6)
		require.NoError(t, err)
		defer fwd.Bridge.Close()
		require.True(t, fwd.Bridge.StampsOffClock, "sim-time stamps count from each chunk's arrival")
	})
	t.Run("old udpout syntax", func(t *testing.T) {
		_, err := startMavlink(settingsWith("udpout:127.0.0.1:14550"), mavbridge.NoGripper)
		require.ErrorContains(t, err, "parameter mavlink.endpoint: ")
		require.ErrorContains(t, err, "the udpout form of other MAVLink tools is udp-client here: udp-client:127.0.0.1:14550")
	})
	t.Run("client without a port", func(t *testing.T) {
		_, err := startMavlink(settingsWith("udp-client:127.0.0.1:0"), mavbridge.NoGripper)
		require.ErrorContains(t, err, "parameter mavlink.endpoint: ")
	})
}

// The node's mavlink.max_channels defaults to the bridge's own default: nodecore, which does not import
// the bridge, writes the number down.
func TestMaxChannelsParameterDefaultsToTheBridgesDefault(t *testing.T) {
	_, s, err := nodecore.NewParamServer("/dysl_vla_node", nil, nil)
	require.NoError(t, err)
	require.Equal(t, mavbridge.DefaultMaxChannels, s.Mavlink.MaxChannels)
}
