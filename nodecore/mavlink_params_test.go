package nodecore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
)

// mavlink.max_channels sets how many peers a MAVLink server endpoint serves at once: read-only, as the
// bridge is started once, and refused outside [1, 1024] at start-up with the parameter's name.
func TestMavlinkMaxChannelsParameter(t *testing.T) {
	srv, settings, err := nodecore.NewParamServer("/dysl_vla_node", nil, nil)
	require.NoError(t, err)
	require.Equal(t, 16, settings.Mavlink.MaxChannels)
	desc, err := srv.Describe(nodecore.ParamMavlinkMaxChannels)
	require.NoError(t, err)
	require.True(t, desc[0].ReadOnly)
	res := srv.Set(paramserver.Parameter{Name: nodecore.ParamMavlinkMaxChannels, Value: paramserver.Integer(32)})
	require.Equal(t, "parameter 'mavlink.max_channels' cannot be set because it is read-only", res[0].Reason)

	_, settings, err = nodecore.NewParamServer("/dysl_vla_node",
		map[string]paramserver.Value{nodecore.ParamMavlinkMaxChannels: paramserver.Integer(64)}, nil)
	require.NoError(t, err)
	require.Equal(t, 64, settings.Mavlink.MaxChannels)

	for _, bad := range []int64{0, 1025} {
		_, _, err = nodecore.NewParamServer("/dysl_vla_node",
			map[string]paramserver.Value{nodecore.ParamMavlinkMaxChannels: paramserver.Integer(bad)}, nil)
		require.ErrorContains(t, err, "mavlink.max_channels", "%d channels", bad)
	}
}
