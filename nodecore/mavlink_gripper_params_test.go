package nodecore_test

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
)

// gripperParams starts a parameter server with the two gripper values given.
func gripperParams(open, closed float64) (nodecore.Settings, error) {
	_, s, err := nodecore.NewParamServer("/dysl_vla_node", map[string]paramserver.Value{
		nodecore.ParamMavlinkGripperOpen:   paramserver.Double(open),
		nodecore.ParamMavlinkGripperClosed: paramserver.Double(closed),
	}, nil)
	return s, err
}

// mavlink.gripper_open and mavlink.gripper_closed are the bundles' convention by default, -1 open and
// +1 closed, and read-only: the bridge takes them once, when it starts.
func TestMavlinkGripperParametersDefaultToTheBundlesConvention(t *testing.T) {
	srv, settings, err := nodecore.NewParamServer("/dysl_vla_node", nil, nil)
	require.NoError(t, err)
	require.Equal(t, float32(-1), settings.Mavlink.GripperOpen)
	require.Equal(t, float32(1), settings.Mavlink.GripperClosed)
	for _, name := range []string{nodecore.ParamMavlinkGripperOpen, nodecore.ParamMavlinkGripperClosed} {
		desc, err := srv.Describe(name)
		require.NoError(t, err)
		require.True(t, desc[0].ReadOnly, name)
		res := srv.Set(paramserver.Parameter{Name: name, Value: paramserver.Double(0)})
		require.Equal(t, "parameter '"+name+"' cannot be set because it is read-only", res[0].Reason)
	}
}

// A 0..1 gripper and an inverted one (the high value opens) are what the parameters are for.
func TestMavlinkGripperParametersTakeAnotherConvention(t *testing.T) {
	for _, c := range []struct{ open, closed float64 }{{0, 1}, {1, -1}, {85, 0}} {
		s, err := gripperParams(c.open, c.closed)
		require.NoError(t, err)
		require.Equal(t, float32(c.open), s.Mavlink.GripperOpen)
		require.Equal(t, float32(c.closed), s.Mavlink.GripperClosed)
	}
}

// A value that is no number, or out of the declared range, is refused at start-up with the
// parameter's name.
func TestMavlinkGripperParametersRefuseNonFiniteValues(t *testing.T) {
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), 1001} {
		_, err := gripperParams(bad, 1)
		require.ErrorContains(t, err, "parameter 'mavlink.gripper_open' could not be set", "%v", bad)
		_, err = gripperParams(-1, bad)
		require.ErrorContains(t, err, "parameter 'mavlink.gripper_closed' could not be set", "%v", bad)
	}
}

// Equal open and closed values leave the bridge no way to tell them apart: refused at start-up naming
// both parameters, also when two doubles become one float32, the values the bridge compares, and for
// two zeros (which the bridge would silently take for its default, -1 and +1).
func TestMavlinkGripperParametersRefuseEqualValues(t *testing.T) {
	for _, c := range []struct {
		open, closed float64
		shown        string
	}{{1, 1, "1"}, {0, 0, "0"}, {0.1, 0.1 + 1e-12, "0.1"}} {
		_, err := gripperParams(c.open, c.closed)
		require.EqualError(t, err, "parameters mavlink.gripper_open and mavlink.gripper_closed are both "+c.shown+
			": expected two different values, the gripper column's fully open and fully closed")
	}
}

// A params file sets them as the nested map rclcpp reads; equal values are the file's to fix.
func TestMavlinkGripperParametersFromAParamsFile(t *testing.T) {
	dir := t.TempDir()
	write := func(open, closed string) string {
		path := filepath.Join(dir, "arm.yaml")
		require.NoError(t, os.WriteFile(path, []byte("dysl_vla_node:\n  ros__parameters:\n    mavlink:\n      gripper_open: "+open+
			"\n      gripper_closed: "+closed+"\n"), 0o644))
		return path
	}
	_, s, err := nodecore.LoadParams(write("1.0", "0.0"), "/dysl_vla_node", nil)
	require.NoError(t, err)
	require.Equal(t, float32(1), s.Mavlink.GripperOpen)
	require.Equal(t, float32(0), s.Mavlink.GripperClosed)

	path := write("0.5", "0.5")
	_, _, err = nodecore.LoadParams(path, "/dysl_vla_node", nil)
	require.EqualError(t, err, "params file "+path+": parameters mavlink.gripper_open and mavlink.gripper_closed are both 0.5: "+
		"expected two different values, the gripper column's fully open and fully closed")
}
