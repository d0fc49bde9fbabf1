package openloop_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/evaluation/openloop"
)

// The machine the caller names is printed under the configuration, as the closed-loop reports print it.
func TestTableNamesTheMachine(t *testing.T) {
	rep := &openloop.Report{Model: "m", DySL: "tau 0.5", Machine: "AMD EPYC, 2 cores, ONNX Runtime 1.24.1, provider cpu"}
	var out bytes.Buffer
	openloop.WriteTable(&out, rep)
	require.Contains(t, out.String(), "dysl config: tau 0.5\nmachine: AMD EPYC, 2 cores, ONNX Runtime 1.24.1, provider cpu\n\n")
	rep.Machine = ""
	out.Reset()
	openloop.WriteTable(&out, rep)
	require.Contains(t, out.String(), "dysl config: tau 0.5\n\n")
	require.NotContains(t, out.String(), "machine:")
}
