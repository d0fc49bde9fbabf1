package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestProcessorName(t *testing.T) {
	x86 := []byte("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R)  Platinum 8481C CPU @ 2.70GHz\n\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz\n")
	arm := []byte("processor\t: 0\nBogoMIPS\t: 62.50\nCPU implementer\t: 0x41\nCPU part\t: 0xd42\n")
	for _, c := range []struct {
		name         string
		cpuinfo, dev []byte
		want         string
	}{
		{"x86: the first model name, spaces folded", x86, nil, "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz"},
		{"a Jetson: the device tree's model, its NUL dropped", arm, []byte("NVIDIA Jetson AGX Orin Developer Kit\x00"), "NVIDIA Jetson AGX Orin Developer Kit (arm64)"},
		{"arm64 without a device tree: the architecture", arm, nil, "arm64"},
		{"nothing readable", nil, nil, "arm64"},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, processorName(c.cpuinfo, c.dev, "arm64"))
		})
	}
}

// The description names the runtime and provider it is given and the cores Go sees, whatever the
// machine.
func TestMachineDescription(t *testing.T) {
	d := machineDescription("ONNX Runtime 1.24.1", "cuda")
	require.True(t, strings.HasSuffix(d, ", ONNX Runtime 1.24.1, provider cuda"), d)
	require.Regexp(t, `, [0-9]+ cores, `, d)
}
