package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
)

// A replay's chunks are stamped on the bag's time: the bridge counts their gripper steps from their
// arrival, whatever the bag's stamps say about the time now.
func TestReplayBridgeTakesStampsAsOffItsClock(t *testing.T) {
	var m mavlinkFlags
	f := pflag.NewFlagSet("replay", pflag.ContinueOnError)
	m.register(f)
	require.NoError(t, f.Parse([]string{"--mavlink", "udp-server:127.0.0.1:0"}))
	require.NoError(t, m.check())
	b, err := m.newBridge()
	require.NoError(t, err)
	defer b.Close()
	require.True(t, b.StampsOffClock)
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
