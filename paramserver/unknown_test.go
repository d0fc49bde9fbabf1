package paramserver

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// A misspelt key in a params file is an override no declared parameter takes: the server names it, so
// the caller can warn instead of silently running with the default.
func TestUndeclaredOverridesNamesMisspeltKeys(t *testing.T) {
	s := newTestServer(t, map[string]Value{"controler_threshold": Double(0.7), "camera.topic": String("/cam"), "rate_hz": Double(5)})
	mustDeclare(t, s, "rate_hz", Double(1), Descriptor{})
	require.Equal(t, []string{"camera.topic", "controler_threshold"}, s.UndeclaredOverrides())
	mustDeclare(t, s, "camera.topic", String("/x"), Descriptor{})
	require.Equal(t, []string{"controler_threshold"}, s.UndeclaredOverrides())
}

// A node block that matches no node name (another node's, or a misspelt one) is listed.
func TestUnmatchedNodeKeys(t *testing.T) {
	got, err := UnmatchedNodeKeys("testdata/vla_node.yaml", "/robot/vla_node")
	require.NoError(t, err)
	require.Equal(t, []string{"/vla_node"}, got, "/** and /robot/vla_node match; the root vla_node does not")

	got, err = UnmatchedNodeKeys("testdata/wildcards.yaml", "/robot/arm/vla_node")
	require.NoError(t, err)
	require.Equal(t, []string{"/robot/*", "/*/vla_node", "/other/vla_node"}, got, "in file order")

	path := filepath.Join(t.TempDir(), "p.yaml")
	require.NoError(t, os.WriteFile(path, []byte("/dysl_vla_nod:\n  ros__parameters:\n    eta_move: 0.1\n/**:\n  ros__parameters:\n    seed: 2\n"), 0o644))
	got, err = UnmatchedNodeKeys(path, "/dysl_vla_node")
	require.NoError(t, err)
	require.Equal(t, []string{"/dysl_vla_nod"}, got)

	_, err = UnmatchedNodeKeys("testdata/bad_syntax.yaml", "/x")
	require.Error(t, err)
}
