package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"

	"dysl_vla/policy/bundle"
)

// A graph replaced on purpose is recorded by `model check --record-digests` once it passes every
// check; a graph of another model is not, and the manifest is left as it was.
func TestModelCheckRecordsDigests(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tiny")
	_, _, err := runDysl("model", "build", "--preset", "tiny", "--out", dir, "--seed", "3", "--calibration", "8")
	require.NoError(t, err)

	// The same head with a doc string: other bytes, the same computation (a re-export, say).
	reexported := filepath.Join(t.TempDir(), "reexported")
	require.NoError(t, os.CopyFS(reexported, os.DirFS(dir)))
	head := filepath.Join(reexported, "head.onnx")
	data, err := os.ReadFile(head)
	require.NoError(t, err)
	data = protowire.AppendTag(data, 6, protowire.BytesType) // ModelProto.doc_string
	data = protowire.AppendString(data, "re-exported")
	require.NoError(t, os.WriteFile(head, data, 0o644))
	_, stderr, err := runDysl("model", "check", reexported)
	require.Error(t, err)
	require.Contains(t, stderr, "head.onnx: sha256: is not the file the tools wrote")

	out, _, err := runDysl("model", "check", "--record-digests", reexported)
	require.NoError(t, err)
	require.Contains(t, out, "segmented run with every layer matches full.onnx")
	require.Contains(t, out, "digests recorded in manifest.yaml for 1 file(s): head.onnx")
	_, _, err = runDysl("model", "check", reexported)
	require.NoError(t, err, "recorded, the bundle loads")
	out, _, err = runDysl("model", "check", "--record-digests", reexported)
	require.NoError(t, err)
	require.Contains(t, out, "digests: manifest.yaml already records every graph and data file as they are")

	// A head of another model runs and is finite: the comparison with the single graph refuses it,
	// and its digest is not recorded.
	mixed := withSiblingsHead(t, dir)
	before, err := os.ReadFile(filepath.Join(mixed, bundle.ManifestFile))
	require.NoError(t, err)
	_, _, err = runDysl("model", "check", "--record-digests", mixed)
	require.ErrorContains(t, err, "does not match full.onnx")
	require.ErrorContains(t, err, "no digest recorded: manifest.yaml in "+mixed+" is as it was")
	after, err := os.ReadFile(filepath.Join(mixed, bundle.ManifestFile))
	require.NoError(t, err)
	require.Equal(t, before, after)

	_, _, err = runDysl("model", "check", "--record-digests", "--structure-only", reexported)
	require.ErrorContains(t, err, "--record-digests records graphs that ran here")
}
