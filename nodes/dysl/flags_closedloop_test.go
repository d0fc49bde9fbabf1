package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The commands that play the policy in the closed-loop simulator refuse a --gripper-lead or
// --gripper-min-hold the node would refuse, naming the flag, before any episode is played (the
// node core used to refuse them inside the first variant's run, naming only the parameter).
func TestPlayedGripperFlagsAreRefusedByName(t *testing.T) {
	model := filepath.Join("..", "..", "models", "reference", "tiny")
	commands := [][]string{
		{"evaluate", "--closed-loop", "--model", model, "--episodes", "1", "--variants", "full,dysl"},
		{"sweep", "--model", model, "--episodes", "1"},
		{"train", "dagger", "--model", model, "--episodes", "1", "--out", filepath.Join(t.TempDir(), "states.json")},
	}
	for _, args := range commands {
		for _, bad := range []struct{ flag, want string }{
			{"--gripper-lead=65", "--gripper-lead 65: nodecore: parameter 'gripper_lead' could not be set to 65 (range 0 to 64)"},
			{"--gripper-min-hold=11s", "--gripper-min-hold 11s: nodecore: parameter 'gripper_min_hold' could not be set to 11 (range 0 to 10)"},
			{"--gripper-open=2000", "--gripper-open 2000, --gripper-closed 1: nodecore: parameter 'gripper_open' could not be set to 2000 (range -1000 to 1000)"},
		} {
			_, _, err := runDysl(append(args, bad.flag, "--ort-lib", "/nonexistent/libonnxruntime.so")...)
			require.Error(t, err, "dysl %s %s", strings.Join(args, " "), bad.flag)
			require.True(t, strings.HasPrefix(err.Error(), bad.want), "dysl %s %s: %v", strings.Join(args, " "), bad.flag, err)
		}
	}
}
