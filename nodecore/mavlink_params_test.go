package nodecore_test

import (
	"testing"
	"time"

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

// mavlink.gripper_progress_timeout and mavlink.max_chunk_wait reach the settings in seconds: read-only,
// as the bridge is started once, and refused outside their ranges at start-up with the parameter's name.
func TestMavlinkWaitParameters(t *testing.T) {
	srv, settings, err := nodecore.NewParamServer("/dysl_vla_node", map[string]paramserver.Value{
		nodecore.ParamMavlinkGripperProgress: paramserver.Double(7.5),
		nodecore.ParamMavlinkMaxChunkWait:    paramserver.Double(0.2),
	}, nil)
	require.NoError(t, err)
	require.Equal(t, 7500*time.Millisecond, settings.Mavlink.GripperProgressTimeout)
	require.Equal(t, 200*time.Millisecond, settings.Mavlink.MaxChunkWait)
	for _, name := range []string{nodecore.ParamMavlinkGripperProgress, nodecore.ParamMavlinkMaxChunkWait} {
		res := srv.Set(paramserver.Parameter{Name: name, Value: paramserver.Double(1)})
		require.Equal(t, "parameter '"+name+"' cannot be set because it is read-only", res[0].Reason)
	}
	for _, bad := range []struct {
		name  string
		value float64
	}{
		{nodecore.ParamMavlinkGripperProgress, 0}, {nodecore.ParamMavlinkGripperProgress, 61},
		{nodecore.ParamMavlinkMaxChunkWait, 0}, {nodecore.ParamMavlinkMaxChunkWait, 61},
	} {
		_, _, err = nodecore.NewParamServer("/dysl_vla_node",
			map[string]paramserver.Value{bad.name: paramserver.Double(bad.value)}, nil)
		require.ErrorContains(t, err, "parameter '"+bad.name+"' could not be set to", "%s %v", bad.name, bad.value)
	}
}
