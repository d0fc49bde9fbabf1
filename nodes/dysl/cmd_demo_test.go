package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/policy/ortbackend/orttest"
)

// A user runs the demo again into the same directory: it replaces the first run's results.
func TestDemoRunsTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the reference model on a recorded episode, twice")
	}
	lib := orttest.Library(t)
	out := t.TempDir()
	args := []string{"demo", "--out", out, "--episodes", "1", "--ort-lib", lib,
		"--model", filepath.Join("..", "..", "models", "reference", "tiny")}
	for run := range 2 {
		stdout, _, err := runDysl(args...)
		require.NoError(t, err, "run %d", run+1)
		require.Contains(t, stdout, "replayed with strategy dysl")
	}
}
