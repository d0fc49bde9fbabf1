package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"dysl_vla/gripper"
	"dysl_vla/mavbridge"
	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
)

// A replay's chunks are stamped on the bag's time: the bridge counts their gripper steps from their
// arrival, whatever the bag's stamps say about the time now.
func TestReplayBridgeTakesStampsAsOffItsClock(t *testing.T) {
	var m mavlinkFlags
	f := pflag.NewFlagSet("replay", pflag.ContinueOnError)
	m.register(f)
	require.NoError(t, f.Parse([]string{"--mavlink", "udp-server:127.0.0.1:0"}))
	require.NoError(t, m.check())
	b, err := m.newBridge(gripper.Default())
	require.NoError(t, err)
	defer b.Close()
	require.True(t, b.StampsOffClock)
	require.True(t, b.KeepLateChunks, "a replay's chunks each reach the controller")
}

// mavlink listen on port 0 says which port the system chose: a bridge has to be told where to send.
func TestListenSaysTheAddressItListensOn(t *testing.T) {
	for _, kind := range []string{"udp-server", "tcp-server"} {
		root := newRootCmd()
		var stderr lockedBuilder
		root.SetOut(io.Discard)
		root.SetErr(&stderr)
		root.SetArgs([]string{"mavlink", "listen", "--endpoint", kind + ":127.0.0.1:0"})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- root.ExecuteContext(ctx) }()
		require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "\n") }, 10*time.Second, 10*time.Millisecond)
		cancel()
		require.NoError(t, <-done)
		require.Regexp(t, `^listening on 127\.0\.0\.1:[1-9]\d*\n`, stderr.String(), kind)
	}
}

// parseMavlinkFlags parses args as a replay's MAVLink flags and checks them.
func parseMavlinkFlags(t *testing.T, args ...string) (*mavlinkFlags, error) {
	t.Helper()
	m := &mavlinkFlags{}
	f := pflag.NewFlagSet("replay", pflag.ContinueOnError)
	m.register(f)
	require.NoError(t, f.Parse(args))
	return m, m.check()
}

// --mavlink-max-channels is the node's mavlink.max_channels: it reaches the bridge, is judged by the
// parameter's range, needs --mavlink, and a replay says when the params file sets another.
func TestMavlinkMaxChannelsFlag(t *testing.T) {
	parse := func(args ...string) (*mavlinkFlags, error) { return parseMavlinkFlags(t, args...) }

	m, err := parse("--mavlink", "tcp-server:127.0.0.1:0", "--mavlink-max-channels", "3")
	require.NoError(t, err)
	b, err := m.newBridge(gripper.Default())
	require.NoError(t, err)
	defer b.Close()
	require.Equal(t, 3, b.MaxChannels)

	for _, bad := range []string{"0", "1025"} {
		_, err = parse("--mavlink", "tcp-server:127.0.0.1:0", "--mavlink-max-channels", bad)
		require.ErrorContains(t, err, "--mavlink-max-channels: nodecore: parameter 'mavlink.max_channels' could not be set to "+bad+
			" (range 1 to 1024)")
	}
	_, err = parse("--mavlink-max-channels", "3")
	require.ErrorContains(t, err, "--mavlink-max-channels")
	require.ErrorContains(t, err, "--mavlink")

	defaults, err := parse("--mavlink", "tcp-server:127.0.0.1:0")
	require.NoError(t, err)
	_, settings, err := nodecore.NewParamServer("/dysl_vla_node", nil, nil)
	require.NoError(t, err)
	given := map[string]paramserver.Value{nodecore.ParamMavlinkMaxChannels: paramserver.Integer(32)}
	settings.Mavlink.MaxChannels = 32
	require.Equal(t, []string{"robot.yaml sets mavlink.max_channels to 32, but a replay runs with --mavlink-max-channels 16"},
		settingsReplayRunsOtherwise("robot.yaml", given, settings, &engineFlags{}, defaults))
	settings.Mavlink.MaxChannels = 16
	require.Empty(t, settingsReplayRunsOtherwise("robot.yaml", given, settings, &engineFlags{}, defaults))
}

// --mavlink-gripper-progress-timeout and --mavlink-max-chunk-wait are the node's
// mavlink.gripper_progress_timeout and max_chunk_wait: they reach the bridge, are judged by the
// parameters' ranges, and a replay says when the params file sets others.
func TestMavlinkWaitFlags(t *testing.T) {
	parse := func(args ...string) (*mavlinkFlags, error) { return parseMavlinkFlags(t, args...) }
	m, err := parse("--mavlink", "tcp-server:127.0.0.1:0", "--mavlink-gripper-progress-timeout", "6s", "--mavlink-max-chunk-wait", "200ms")
	require.NoError(t, err)
	b, err := m.newBridge(gripper.Default())
	require.NoError(t, err)
	defer b.Close()
	require.Equal(t, 6*time.Second, b.GripperProgressTimeout)
	require.Equal(t, 200*time.Millisecond, b.MaxChunkWait)

	_, err = parse("--mavlink", "tcp-server:127.0.0.1:0", "--mavlink-gripper-progress-timeout", "0s")
	require.ErrorContains(t, err, "--mavlink-gripper-progress-timeout: nodecore: parameter 'mavlink.gripper_progress_timeout' could not be set to 0")
	_, err = parse("--mavlink", "tcp-server:127.0.0.1:0", "--mavlink-max-chunk-wait", "2m")
	require.ErrorContains(t, err, "--mavlink-max-chunk-wait: nodecore: parameter 'mavlink.max_chunk_wait' could not be set to 120")

	defaults, err := parse("--mavlink", "tcp-server:127.0.0.1:0")
	require.NoError(t, err)
	_, settings, err := nodecore.NewParamServer("/dysl_vla_node", nil, nil)
	require.NoError(t, err)
	given := map[string]paramserver.Value{
		nodecore.ParamMavlinkGripperProgress: paramserver.Double(5),
		nodecore.ParamMavlinkMaxChunkWait:    paramserver.Double(0.5),
	}
	settings.Mavlink.GripperProgressTimeout = 5 * time.Second
	require.Equal(t, []string{"robot.yaml sets mavlink.gripper_progress_timeout to 5s, but a replay runs with --mavlink-gripper-progress-timeout 3s"},
		settingsReplayRunsOtherwise("robot.yaml", given, settings, &engineFlags{}, defaults))
}

// mavlink listen refuses a channel limit below one, naming its flag.
func TestListenRefusesNoChannels(t *testing.T) {
	_, _, err := runDysl("mavlink", "listen", "--endpoint", "udp-server:127.0.0.1:0", "--max-channels", "0")
	require.EqualError(t, err, "--max-channels is 0, expected 1 or more")
}

// The bridge commands the gripper by the convention the replay's node core reads the column by (its
// gripper_open and gripper_closed): an inverted one (1 open, -1 closed) reaches it as given.
func TestReplayBridgeTakesTheNodesGripperConvention(t *testing.T) {
	var m mavlinkFlags
	f := pflag.NewFlagSet("replay", pflag.ContinueOnError)
	m.register(f)
	require.NoError(t, f.Parse([]string{"--mavlink", "udp-server:127.0.0.1:0"}))
	b, err := m.newBridge(gripper.Convention{Open: 1, Closed: -1})
	require.NoError(t, err)
	defer b.Close()
	require.Equal(t, float32(1), b.GripperOpenValue)
	require.Equal(t, float32(-1), b.GripperClosedValue)
}

// A bundle whose chunks the link cannot carry is refused before the bridge starts, not chunk by chunk.
func TestReplayRefusesABundleTheLinkCannotCarry(t *testing.T) {
	m := &mavlinkFlags{endpoint: "udp-server:127.0.0.1:0"}
	_, _, err := m.newForwarder(255, 54, mavbridge.NoGripper, gripper.Default(), io.Discard)
	require.EqualError(t, err, "--mavlink: the bundle's chunks cannot go over MAVLink: 255 steps of 54 values take 255 "+
		"VLA_ACTION_CHUNK messages, expected at most 64 (a channel holds no more at once; fewer steps or dimensions)")
	none := &mavlinkFlags{}
	fwd, done, err := none.newForwarder(255, 54, mavbridge.NoGripper, gripper.Default(), io.Discard)
	require.NoError(t, err, "without --mavlink the shape is no concern")
	require.Nil(t, fwd)
	done()
}
