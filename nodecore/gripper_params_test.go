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
		nodecore.ParamGripperOpen:   paramserver.Double(open),
		nodecore.ParamGripperClosed: paramserver.Double(closed),
	}, nil)
	return s, err
}

// gripper_open and gripper_closed are the bundles' convention by default, -1 open and +1 closed, and
// read-only: the bridge takes them once, when it starts. They are top-level parameters, beside
// gripper_lead and gripper_min_hold: the policy's column means the same to the whole node.
func TestGripperParametersDefaultToTheBundlesConvention(t *testing.T) {
	srv, settings, err := nodecore.NewParamServer("/dysl_vla_node", nil, nil)
	require.NoError(t, err)
	require.Equal(t, float32(-1), settings.Gripper.Open)
	require.Equal(t, float32(1), settings.Gripper.Closed)
	for _, name := range []string{nodecore.ParamGripperOpen, nodecore.ParamGripperClosed} {
		desc, err := srv.Describe(name)
		require.NoError(t, err)
		require.True(t, desc[0].ReadOnly, name)
		res := srv.Set(paramserver.Parameter{Name: name, Value: paramserver.Double(0)})
		require.Equal(t, "parameter '"+name+"' cannot be set because it is read-only", res[0].Reason)
	}
	for _, old := range []string{"mavlink.gripper_open", "mavlink.gripper_closed"} {
		_, err := srv.Get(old)
		require.Error(t, err, "%s: no alias of the name before the rename", old)
	}
}

// A 0..1 gripper and an inverted one (the high value opens) are what the parameters are for.
func TestGripperParametersTakeAnotherConvention(t *testing.T) {
	for _, c := range []struct{ open, closed float64 }{{0, 1}, {1, -1}, {85, 0}} {
		s, err := gripperParams(c.open, c.closed)
		require.NoError(t, err)
		require.Equal(t, float32(c.open), s.Gripper.Open)
		require.Equal(t, float32(c.closed), s.Gripper.Closed)
	}
}

// A value that is no number, or out of the declared range, is refused at start-up with the
// parameter's name.
func TestGripperParametersRefuseNonFiniteValues(t *testing.T) {
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), 1001} {
		_, err := gripperParams(bad, 1)
		require.ErrorContains(t, err, "parameter 'gripper_open' could not be set", "%v", bad)
		_, err = gripperParams(-1, bad)
		require.ErrorContains(t, err, "parameter 'gripper_closed' could not be set", "%v", bad)
	}
}

// Equal open and closed values have no middle to tell a close from an open by: refused at start-up
// naming both parameters, also when two doubles become one float32, the values the rule compares, and
// for two zeros (which the bridge would silently take for its default, -1 and +1).
func TestGripperParametersRefuseEqualValues(t *testing.T) {
	for _, c := range []struct {
		open, closed float64
		shown        string
	}{{1, 1, "1"}, {0, 0, "0"}, {0.1, 0.1 + 1e-12, "0.1"}} {
		_, err := gripperParams(c.open, c.closed)
		require.EqualError(t, err, "parameters gripper_open and gripper_closed are both "+c.shown+
			": expected two different values, the gripper column's fully open and fully closed")
	}
}

// A params file sets them as top-level keys; equal values are the file's to fix.
func TestGripperParametersFromAParamsFile(t *testing.T) {
	dir := t.TempDir()
	write := func(open, closed string) string {
		path := filepath.Join(dir, "arm.yaml")
		require.NoError(t, os.WriteFile(path, []byte("dysl_vla_node:\n  ros__parameters:\n    gripper_open: "+open+
			"\n    gripper_closed: "+closed+"\n"), 0o644))
		return path
	}
	_, s, err := nodecore.LoadParams(write("1.0", "0.0"), "/dysl_vla_node", nil)
	require.NoError(t, err)
	require.Equal(t, float32(1), s.Gripper.Open)
	require.Equal(t, float32(0), s.Gripper.Closed)

	path := write("0.5", "0.5")
	_, _, err = nodecore.LoadParams(path, "/dysl_vla_node", nil)
	require.EqualError(t, err, "params file "+path+": parameters gripper_open and gripper_closed are both 0.5: "+
		"expected two different values, the gripper column's fully open and fully closed")
}
