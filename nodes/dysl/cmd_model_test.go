package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// runDysl runs the dysl command tree with args and returns stdout, stderr and the error.
func runDysl(args ...string) (string, string, error) {
	root := newRootCmd()
	var stdout, stderr bytes.Buffer
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetArgs(args)
	err := root.Execute()
	return stdout.String(), stderr.String(), err
}

func TestModelBuildAndCheck(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tiny")
	out, _, err := runDysl("model", "build", "--preset", "tiny", "--out", dir, "--seed", "3", "--calibration", "8")
	require.NoError(t, err)
	require.Contains(t, out, "wrote "+dir+" (dysl-tiny-seed3")

	t.Run("check prints the summary", func(t *testing.T) {
		out, _, err := runDysl("model", "check", dir)
		require.NoError(t, err)
		for _, want := range []string{
			"dims: 8 layers, hidden 64, 4 heads",
			"static layers: [",
			"layer_07.onnx",
			"full.onnx",
			"FLOPs per inference:",
			"adapters: closed form, not trained",
		} {
			require.Contains(t, out, want)
		}
	})

	t.Run("check lists every problem and fails", func(t *testing.T) {
		require.NoError(t, os.Remove(filepath.Join(dir, "layer_02.onnx")))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "head.onnx"), []byte("not a model"), 0o644))
		_, stderr, err := runDysl("model", "check", dir)
		require.ErrorContains(t, err, "is invalid: 2 problem(s)")
		require.Contains(t, stderr, "files.layers[2]: file layer_02.onnx does not exist")
		require.Contains(t, stderr, "head.onnx: corrupt")
	})

	t.Run("build rejects an unknown preset", func(t *testing.T) {
		_, _, err := runDysl("model", "build", "--preset", "huge", "--out", t.TempDir())
		require.ErrorContains(t, err, `unknown preset "huge"`)
	})
}
