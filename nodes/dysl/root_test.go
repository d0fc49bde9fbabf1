package main

import (
	"bytes"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/spf13/cobra"
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

// Every command's output reaches the writers the root was given: a bag written by one command is
// described by the next, and nothing of either lands on the process's own stdout.
func TestCommandsWriteToTheRootsWriters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bag")
	out, stderr, err := runDysl("bag", "gen", "--out", dir, "--episodes", "2", "--width", "16", "--height", "16")
	require.NoError(t, err)
	require.Empty(t, stderr)
	require.Regexp(t, `^wrote `+regexp.QuoteMeta(dir)+`: 2 episodes, \d+ frames, \d+ messages, [0-9.]+m?s of bag time\n$`, out)

	out, stderr, err = runDysl("bag", "info", dir)
	require.NoError(t, err)
	require.Empty(t, stderr)
	for _, want := range []string{
		"Storage id:        mcap",
		"Topic: /image | Type: sensor_msgs/msg/Image | Count: ",
		"Topic: /expert_action_chunk | Type: dysl_vla/msg/ActionChunk | Count: ",
		"Topic: /episode | Type: std_msgs/msg/String | Count: 2 | Serialization Format: cdr",
	} {
		require.Contains(t, out, want)
	}

	out, _, err = runDysl("mavlink", "xml")
	require.NoError(t, err)
	require.Contains(t, out, `<message id="43000" name="VLA_ACTION_CHUNK">`)
}

// The root lists every top-level command once, and a fresh root is built each time.
func TestRootListsEachCommandOnce(t *testing.T) {
	var names []string
	for _, c := range newRootCmd().Commands() {
		names = append(names, c.Name())
	}
	require.ElementsMatch(t, []string{"model", "bench", "bag", "replay", "mavlink", "train", "calibrate",
		"distill", "evaluate", "sweep", "demo", "completion"}, names)
	require.Len(t, newRootCmd().Commands(), len(names), "building the root twice adds nothing twice")
}

// Every command that runs says which positional arguments it takes: a stray word (a path typed without
// its flag) is refused, not ignored while the command runs on its defaults.
func TestEveryCommandRefusesStrayArguments(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c.Runnable() && c.Args == nil {
			t.Errorf("%s has no Args rule: a stray argument would be ignored", c.CommandPath())
		}
	}
	walk(newRootCmd())
	_, _, err := runDysl("bench", "--model", "m", "stray")
	require.ErrorContains(t, err, `unknown command "stray" for "dysl bench"`)
}

// mavlink listen speaks as the controller: an id of 0 is MAVLink's broadcast id, refused rather than
// taken for the default 1 in silence.
func TestMavlinkListenRefusesTheBroadcastID(t *testing.T) {
	for _, flag := range []string{"--system-id", "--component-id"} {
		_, _, err := runDysl("mavlink", "listen", "--endpoint", "udp-server:127.0.0.1:0", flag, "0")
		require.EqualError(t, err, flag+" is 0, MAVLink's broadcast id; a controller speaks as 1 to 255")
	}
}

// A mistyped subcommand is an error, not the group's help with status 0, which a script took for
// success; the group alone still prints its help.
func TestUnknownSubcommandsAreRefused(t *testing.T) {
	for _, group := range []string{"bag", "model", "train", "mavlink", "completion"} {
		_, _, err := runDysl(group, "infp")
		require.EqualError(t, err, `unknown command "infp" for "dysl `+group+`"`)
		stdout, _, err := runDysl(group)
		require.NoError(t, err)
		require.Contains(t, stdout, "Available Commands:", group)
	}
}
