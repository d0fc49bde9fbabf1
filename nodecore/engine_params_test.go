package nodecore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
)

// trt_fp16 defaults to true, as every dysl command's --trt-fp16 does, so that the node runs the
// TensorRT engines the tool measured (fp16), not fp32 ones; it is read-only, as the engines are built
// at configure. Before, the node had no such parameter and always ran TensorRT with fp16 off.
func TestTRTFP16ParameterFollowsTheTool(t *testing.T) {
	srv, settings, err := nodecore.NewParamServer("/dysl_vla_node", nil, nil)
	require.NoError(t, err)
	require.True(t, settings.TRTFP16)
	desc, err := srv.Describe(nodecore.ParamTRTFP16)
	require.NoError(t, err)
	require.True(t, desc[0].ReadOnly)
	res := srv.Set(paramserver.Parameter{Name: nodecore.ParamTRTFP16, Value: paramserver.Bool(false)})
	require.Equal(t, "parameter 'trt_fp16' cannot be set because it is read-only", res[0].Reason)

	_, settings, err = nodecore.NewParamServer("/dysl_vla_node",
		map[string]paramserver.Value{nodecore.ParamTRTFP16: paramserver.Bool(false)}, nil)
	require.NoError(t, err)
	require.False(t, settings.TRTFP16)
}
