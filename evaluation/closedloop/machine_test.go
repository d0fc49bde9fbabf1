package closedloop

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// The machine that computed a run is printed under the configuration, and kept in the JSON: two
// processors can give the same binary and bundle other successes, so a figure travels with it.
func TestReportNamesTheMachine(t *testing.T) {
	rep := &Report{Model: "m", Layers: 8, DySL: "tau 0.5", Machine: "AMD EPYC, 2 cores, ONNX Runtime 1.24.1, provider cpu"}
	var out bytes.Buffer
	WriteReport(&out, rep)
	require.Contains(t, out.String(), "dysl config: tau 0.5\nmachine: AMD EPYC, 2 cores, ONNX Runtime 1.24.1, provider cpu\n\n")
	js, err := json.Marshal(rep)
	require.NoError(t, err)
	require.Contains(t, string(js), `"machine":"AMD EPYC, 2 cores, ONNX Runtime 1.24.1, provider cpu"`)
}

// The sweep's report names it likewise.
func TestSweepReportNamesTheMachine(t *testing.T) {
	rep := &SweepReport{Model: "m", Layers: 8, Latency: "measured", Machine: "NVIDIA Jetson AGX Orin Developer Kit (arm64), 12 cores, ONNX Runtime 1.24.1, provider cuda"}
	var out bytes.Buffer
	WriteSweep(&out, rep)
	require.Contains(t, out.String(), "latency measured\nmachine: NVIDIA Jetson AGX Orin Developer Kit (arm64), 12 cores, ONNX Runtime 1.24.1, provider cuda\n\nseries ")
}
