package realpath_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/realpath"
)

// Paths are compared where they lead: through a directory link, through a link to a file not made
// yet, through a chain of links; a plain path that does not exist is itself.
func TestOf(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	require.NoError(t, err)
	real := filepath.Join(dir, "real")
	require.NoError(t, os.Mkdir(real, 0o755))
	require.NoError(t, os.Symlink("real", filepath.Join(dir, "alias")))
	require.Equal(t, filepath.Join(real, "out"), realpath.Of(filepath.Join(dir, "alias", "out")), "a directory link, the file not made")
	require.Equal(t, filepath.Join(real, "a", "b"), realpath.Of(filepath.Join(dir, "alias", "a", "b")), "a directory link, two levels not made")

	require.NoError(t, os.Symlink("target.json", filepath.Join(dir, "link.json")))
	require.Equal(t, filepath.Join(dir, "target.json"), realpath.Of(filepath.Join(dir, "link.json")), "a link to a file not made yet")
	require.NoError(t, os.Symlink(filepath.Join(dir, "link.json"), filepath.Join(dir, "chain.json")))
	require.Equal(t, filepath.Join(dir, "target.json"), realpath.Of(filepath.Join(dir, "chain.json")), "a chain of links")

	require.Equal(t, filepath.Join(dir, "missing", "x"), realpath.Of(filepath.Join(dir, "missing", ".", "x")))
	t.Chdir(dir)
	require.Equal(t, real, realpath.Of("alias"), "relative to the working directory")

	require.NoError(t, os.Symlink("loop", filepath.Join(dir, "loop")))
	require.Equal(t, filepath.Join(dir, "loop"), realpath.Of("loop"), "a loop ends")
}
