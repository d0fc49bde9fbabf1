package bundle_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"dysl_vla/policy/bundle"
)

// A graph replaced on purpose: RecordDigests records what the files are now, names what it changed,
// and the bundle loads; a second call finds nothing to change and leaves the manifest alone; restore
// puts back the manifest as it was, which refuses the replaced graph again.
func TestRecordDigestsOfAReplacedGraph(t *testing.T) {
	dir, m := copyBundle(t)
	writeHeadWithExternalData(t, dir, m.Dims.Tokens)
	requireProblem(t, problems(t, dir), "head.onnx: sha256: is not the file the tools wrote")
	manifest := filepath.Join(dir, bundle.ManifestFile)
	before, err := os.ReadFile(manifest)
	require.NoError(t, err)

	changed, restore, err := bundle.RecordDigests(dir)
	require.NoError(t, err)
	require.Equal(t, []string{"head.onnx", "head.onnx.data"}, changed)
	_, err = bundle.Load(dir)
	require.NoError(t, err)

	recorded, err := os.ReadFile(manifest)
	require.NoError(t, err)
	again, _, err := bundle.RecordDigests(dir)
	require.NoError(t, err)
	require.Empty(t, again)
	now, err := os.ReadFile(manifest)
	require.NoError(t, err)
	require.Equal(t, recorded, now, "nothing to record, nothing written")

	require.NoError(t, restore())
	now, err = os.ReadFile(manifest)
	require.NoError(t, err)
	require.Equal(t, before, now)
	requireProblem(t, problems(t, dir), "head.onnx: sha256: is not the file the tools wrote")
}

// A digest of a file the manifest no longer names is dropped, and said to be.
func TestRecordDigestsDropsFilesNoLongerNamed(t *testing.T) {
	dir, m := copyBundle(t)
	m.SHA256["gone.onnx"] = "00"
	require.NoError(t, writeManifestAsIs(dir, m))
	changed, _, err := bundle.RecordDigests(dir)
	require.NoError(t, err)
	require.Equal(t, []string{"gone.onnx"}, changed)
	m, err = bundle.ReadManifest(dir)
	require.NoError(t, err)
	require.NotContains(t, m.SHA256, "gone.onnx")
}

// Digests are recorded only for a bundle that passes every other check: a missing graph is named,
// and the manifest is left as it was.
func TestRecordDigestsRefusesAnInvalidBundle(t *testing.T) {
	dir, m := copyBundle(t)
	require.NoError(t, os.Remove(filepath.Join(dir, m.Files.Layers[1])))
	manifest := filepath.Join(dir, bundle.ManifestFile)
	before, err := os.ReadFile(manifest)
	require.NoError(t, err)
	_, _, err = bundle.RecordDigests(dir)
	require.ErrorIs(t, err, bundle.ErrInvalid)
	require.ErrorContains(t, err, m.Files.Layers[1])
	now, err := os.ReadFile(manifest)
	require.NoError(t, err)
	require.Equal(t, before, now)
}

// writeManifestAsIs writes m as the bundle's manifest, its sha256 table as given (bundle.Write
// would record the files' digests).
func writeManifestAsIs(dir string, m *bundle.Manifest) error {
	text, err := yaml.Marshal(m)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, bundle.ManifestFile), text, 0o644)
}
