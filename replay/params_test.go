package replay

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// A misspelt key and a block for another node come back as warnings; the values that do apply apply.
func TestLoadParamsWarnsAboutIgnoredSettings(t *testing.T) {
	params := filepath.Join("testdata", "ignored_params.yaml")
	srv, settings, warnings, err := LoadParams(params)
	require.NoError(t, err)
	require.NotNil(t, srv)
	require.Equal(t, 0.2, settings.Live.Skipping.EtaMove)
	require.Equal(t, []string{
		"params file " + params + ": controler_threshold is not a parameter of " + NodeName + "; ignored",
		"params file " + params + ": node block /dysl_vla_nod does not match " + NodeName + "; ignored",
	}, warnings)

	_, _, warnings, err = LoadParams("")
	require.NoError(t, err)
	require.Empty(t, warnings, "the defaults leave nothing out")

	_, _, _, err = LoadParams(filepath.Join(t.TempDir(), "missing.yaml"))
	require.ErrorContains(t, err, "missing.yaml")

	// A value the node refuses is the file's to fix: the error names the file.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("/**:\n  ros__parameters:\n    strategy: dysll\n"), 0o644))
	_, _, _, err = LoadParams(bad)
	require.ErrorContains(t, err, "params file "+bad+": ")
	require.ErrorContains(t, err, `unknown strategy "dysll"`)
}
