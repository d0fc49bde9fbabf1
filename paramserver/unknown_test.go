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

// What the node warns about at start-up: each undeclared key, said to come from the one params file
// when there is one, and each node block that is not this node's, by file.
func TestIgnoredSettings(t *testing.T) {
	start := func(t *testing.T, files ...string) *Server {
		args := []string{"--ros-args", "-r", "__ns:=/robot"}
		for _, f := range files {
			args = append(args, "--params-file", f)
		}
		parsed, err := ParseArgs(args, "vla_node", "/")
		require.NoError(t, err)
		s, err := New(Config{Node: parsed.FullyQualifiedName(), Overrides: parsed.Overrides})
		require.NoError(t, err)
		mustDeclare(t, s, "rate_hz", Double(1), Descriptor{})
		mustDeclare(t, s, "use_sim_time", Bool(false), Descriptor{})
		return s
	}
	t.Run("one file", func(t *testing.T) {
		got, err := IgnoredSettings(start(t, "testdata/vla_node.yaml"), []string{"testdata/vla_node.yaml"})
		require.NoError(t, err)
		require.Equal(t, []string{
			"params file testdata/vla_node.yaml: engine_path is not a parameter of /robot/vla_node; ignored",
			"params file testdata/vla_node.yaml: node block /vla_node does not match /robot/vla_node; ignored",
		}, got)
	})
	t.Run("several files", func(t *testing.T) {
		files := []string{"testdata/vla_node.yaml", "testdata/wildcards.yaml"}
		got, err := IgnoredSettings(start(t, files...), files)
		require.NoError(t, err)
		require.Equal(t, []string{
			// Which file gave a key is lost in the merge: the warning names them all.
			"start-up overrides (params files and -p): any_depth is not a parameter of /robot/vla_node; ignored",
			"start-up overrides (params files and -p): any_namespace_one_level is not a parameter of /robot/vla_node; ignored",
			"start-up overrides (params files and -p): engine_path is not a parameter of /robot/vla_node; ignored",
			"start-up overrides (params files and -p): one_token is not a parameter of /robot/vla_node; ignored",
			"params file testdata/vla_node.yaml: node block /vla_node does not match /robot/vla_node; ignored",
			"params file testdata/wildcards.yaml: node block /other/vla_node does not match /robot/vla_node; ignored",
		}, got)
	})
	t.Run("unreadable file", func(t *testing.T) {
		_, err := IgnoredSettings(start(t), []string{"testdata/missing.yaml"})
		require.ErrorContains(t, err, "params file: open testdata/missing.yaml: no such file or directory")
	})
}
