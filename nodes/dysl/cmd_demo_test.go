package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/policy/ortbackend/orttest"
)

// dysl demo hands its flags to the demo and prints its lines on the command's output.
func TestDemoCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the reference model on a recorded episode")
	}
	lib := orttest.Library(t)
	out := t.TempDir()
	stdout, _, err := runDysl("demo", "--out", out, "--episodes", "1", "--ort-lib", lib,
		"--model", filepath.Join("..", "..", "models", "reference", "tiny"))
	require.NoError(t, err)
	require.Contains(t, stdout, "replayed with strategy dysl: report "+filepath.Join(out, "replay_dysl", "report.md"))
}

// A thread count out of range is refused before anything is built or recorded.
func TestDemoRefusesBadThreadsFirst(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo")
	_, _, err := runDysl("demo", "--out", out, "--threads", "0")
	require.ErrorContains(t, err, "--threads 0: expected 1..64")
	require.NoDirExists(t, out)
}

// A count of episodes too large to record is refused before a model is built or a bag begun.
func TestDemoRefusesTooManyEpisodesFirst(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo")
	_, _, err := runDysl("demo", "--out", out, "--episodes", "1000001")
	require.EqualError(t, err, "demo: episodes (1000001): expected at most 1000000 episodes")
	require.NoDirExists(t, out)
}

// --seed seeds only a random backbone: with a bundle or weights it would change nothing, so it is
// refused before anything is built or recorded. Without either, and with no reference under the
// working directory (the test's), it is the model's seed.
func TestDemoRefusesASeedItWouldNotUse(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo")
	_, _, err := runDysl("demo", "--out", out, "--seed", "5", "--model", filepath.Join("..", "..", "models", "reference", "tiny"))
	require.ErrorContains(t, err, "--seed: only with a random backbone (no --model, no --weights")
	require.NoDirExists(t, out)
	_, _, err = runDysl("demo", "--out", out, "--seed", "5", "--episodes", "1000001")
	require.EqualError(t, err, "demo: episodes (1000001): expected at most 1000000 episodes", "a random backbone takes --seed")
}
