package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strings"

	"dysl_vla/policy/ortbackend"
)

// machine describes what a run computes on, for reports whose figures depend on it beyond their
// timings: the processor, how many cores Go sees, the ONNX Runtime these flags load (loaded here, as
// the run would) and the execution provider. Two processors can give a closed-loop evaluation
// different successes from the same binary and bundle, as their kernels sum floats in different
// orders.
func (f *engineFlags) machine() (string, error) {
	cfg, err := f.ortConfig()
	if err != nil {
		return "", err
	}
	runtimeName, err := ortbackend.LoadRuntime(cfg.LibraryPath)
	if err != nil {
		return "", err
	}
	return machineDescription(runtimeName, f.provider), nil
}

// machineDescription is this computer's processor and cores, then the runtime and provider named.
func machineDescription(runtimeName, provider string) string {
	cpuinfo, _ := os.ReadFile("/proc/cpuinfo")
	board, _ := os.ReadFile("/proc/device-tree/model") // ARM boards (a Jetson) name themselves here
	return fmt.Sprintf("%s, %d cores, %s, provider %s", processorName(cpuinfo, board, runtime.GOARCH), runtime.NumCPU(), runtimeName, provider)
}

// processorName is the board's model where the device tree has one, else the first "model name" of
// /proc/cpuinfo (x86), else the architecture alone (arm64's /proc/cpuinfo gives part numbers only).
func processorName(cpuinfo, deviceTreeModel []byte, goarch string) string {
	if board := strings.TrimSpace(strings.TrimRight(string(deviceTreeModel), "\x00")); board != "" {
		return board + " (" + goarch + ")"
	}
	lines := bufio.NewScanner(bytes.NewReader(cpuinfo))
	for lines.Scan() {
		key, value, ok := strings.Cut(lines.Text(), ":")
		if ok && strings.TrimSpace(key) == "model name" && strings.TrimSpace(value) != "" {
			return strings.Join(strings.Fields(value), " ")
		}
	}
	return goarch
}
