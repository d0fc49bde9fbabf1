package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// The training commands refuse contradictory or unknown options before they load or train anything.
func TestTrainingCommandsRefuseBadOptions(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "w.safetensors")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"train", "bc", "--out", out, "--resume", "--init", out}, "--init and --resume exclude each other"},
		{[]string{"train", "bc", "--out", out, "--tasks", "maze"}, `--tasks "maze": expected single, tabletop or chain`},
		{[]string{"train", "bc", "--out", out, "--start-spread", "0.5"}, "--start-spread 0.5: expected metres in [0, 0.3] (the table's half size)"},
		{[]string{"train", "bc", "--out", out, "--preset", "huge"}, `unknown preset "huge"`},
		{[]string{"calibrate", "--model", dir, "--data", "bag"}, `--data "bag": only 'generated' (scene episodes) is supported so far`},
		{[]string{"distill", "--model", dir, "--adapters", "random"}, `--adapters "random": want bundle or identity`},
		{[]string{"distill", "--model", dir, "--tasks", "maze"}, `--tasks "maze": expected single, tabletop or chain`},
		{[]string{"train", "dagger", "--out", out}, "--model and --out are required"},
	}
	for _, tc := range cases {
		_, _, err := runDysl(tc.args...)
		require.ErrorContains(t, err, tc.want, tc.args)
	}
	require.NoFileExists(t, out)
}

func TestActionIndicesByTheBundlesNames(t *testing.T) {
	columns := []string{"x", "y", "z", "roll", "pitch", "yaw", "gripper"}
	got, err := actionIndices(columns, []string{"gripper", "x"})
	require.NoError(t, err)
	require.Equal(t, []int{6, 0}, got)
	_, err = actionIndices(columns, []string{"dx"})
	require.ErrorContains(t, err, `--expert-dims "dx": expected action names of the bundle: x, y, z, roll, pitch, yaw, gripper`)
}
