package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// A misspelt key and a block for another node are warned about before anything runs; the values that
// do apply still apply.
func TestReplayWarnsAboutIgnoredParams(t *testing.T) {
	dir := t.TempDir()
	params := filepath.Join(dir, "params.yaml")
	require.NoError(t, os.WriteFile(params, []byte(`/**:
  ros__parameters:
    controler_threshold: 0.7
    eta_move: 0.2
/dysl_vla_nod:
  ros__parameters:
    seed: 3
`), 0o644))
	_, stderr, err := runDysl("replay", "--model", filepath.Join(dir, "no-model"), "--bag", filepath.Join(dir, "no-bag"),
		"--out", filepath.Join(dir, "out"), "--params", params)
	require.Error(t, err, "the model does not exist")
	require.Contains(t, stderr, "warning: params file "+params+": controler_threshold is not a parameter of /dysl_vla_node; ignored")
	require.Contains(t, stderr, "warning: params file "+params+": node block /dysl_vla_nod does not match /dysl_vla_node; ignored")
	require.NotContains(t, stderr, "eta_move")
}

// The node's own params file draws no warning: every key in it is a parameter of the node.
func TestReplayShippedParamsFileHasNoIgnoredKeys(t *testing.T) {
	dir := t.TempDir()
	_, stderr, err := runDysl("replay", "--model", filepath.Join(dir, "no-model"), "--bag", filepath.Join(dir, "no-bag"),
		"--out", filepath.Join(dir, "out"), "--params", "../../params/dysl_vla.yaml")
	require.Error(t, err, "the model does not exist")
	require.NotContains(t, stderr, "warning")
}
