package main

import (
	"testing"

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
