package nodecore_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/nodecore"
)

// A value of a params file the node refuses is said once, naming the file, with what to write: the
// file's author reads it in a launch log or from dysl replay.
func TestParamsFileValueRefusedNamesTheFileOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "arm.yaml")
	require.NoError(t, os.WriteFile(path, []byte("/**:\n  ros__parameters:\n    controller_threshold: 1\n"), 0o644))
	_, _, err := nodecore.LoadParams(path, "/dysl_vla_node", nil)
	require.EqualError(t, err, "params file "+path+": nodecore: parameter 'controller_threshold' has invalid type: "+
		"Wrong parameter type, parameter {controller_threshold} is of type {double}, setting it to {integer} is not allowed. (write 1.0 for a double)")
}
