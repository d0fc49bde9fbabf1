package main

import (
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/policy/ortbackend/orttest"
)

// A misspelt key and a block for another node are warned about before anything runs; the values that
// do apply still apply.
func TestReplayWarnsAboutIgnoredParams(t *testing.T) {
	dir := t.TempDir()
	params := filepath.Join("..", "..", "replay", "testdata", "ignored_params.yaml")
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

// The link's settings without --mavlink would change nothing: they are refused before the bag or the
// model is opened.
func TestReplayRefusesLinkFlagsWithoutMavlink(t *testing.T) {
	dir := t.TempDir()
	_, _, err := runDysl("replay", "--model", filepath.Join(dir, "no-model"), "--bag", filepath.Join(dir, "no-bag"),
		"--out", filepath.Join(dir, "out"), "--mavlink-gripper-closed", "-1", "--mavlink-target-system", "2")
	require.EqualError(t, err, "--mavlink-gripper-closed, --mavlink-target-system: only with --mavlink")
	require.NoDirExists(t, filepath.Join(dir, "out"))
}

// dysl replay --mavlink sends its chunks to a controller that dysl mavlink listen stands in for; each
// command prints on its own root's output.
func TestReplaySendsChunksToMavlinkListen(t *testing.T) {
	if testing.Short() {
		t.Skip("replays an episode on the reference model")
	}
	lib := orttest.Library(t)
	dir := t.TempDir()
	bagDir := filepath.Join(dir, "bag")
	_, _, err := runDysl("bag", "gen", "--out", bagDir, "--episodes", "1")
	require.NoError(t, err)

	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := conn.LocalAddr().String()
	require.NoError(t, conn.Close())

	type output struct {
		stdout string
		err    error
	}
	listened := make(chan output, 1)
	go func() {
		stdout, _, err := runDysl("mavlink", "listen", "--endpoint", "udp-server:"+addr, "--count", "2")
		listened <- output{stdout, err}
	}()
	stdout, _, err := runDysl("replay", "--model", filepath.Join("..", "..", "models", "reference", "tiny"),
		"--ort-lib", lib, "--bag", bagDir, "--out", filepath.Join(dir, "out"), "--mavlink", "udp-client:"+addr)
	require.NoError(t, err)
	require.Contains(t, stdout, "report: "+filepath.Join(dir, "out", "report.md"))
	require.Regexp(t, `mavlink udp-client:`+regexp.QuoteMeta(addr)+`: [1-9]\d* chunks sent, `, stdout)

	select {
	case l := <-listened:
		require.NoError(t, l.err)
		require.Contains(t, l.stdout, "heartbeat sys=1 comp=191 type=MAV_TYPE_ONBOARD_CONTROLLER\n")
		require.Equal(t, 2, strings.Count(l.stdout, "\nchunk seq="), l.stdout)
	case <-time.After(30 * time.Second):
		t.Fatal("dysl mavlink listen did not see two chunks")
	}
}
