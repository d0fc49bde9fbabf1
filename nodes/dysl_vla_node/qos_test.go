package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The pairs DDS refuses to match are the ones rclcpp warns about; every other pair delivers.
func TestQoSMismatch(t *testing.T) {
	reliableLatched := endpointQoS{reliable: true, transientLocal: true}
	volatileReliable := endpointQoS{reliable: true}
	bestEffort := endpointQoS{}
	require.Contains(t, qosMismatch(reliableLatched, volatileReliable), "it offers volatile durability and this node's subscription asks for transient local")
	require.Contains(t, qosMismatch(volatileReliable, bestEffort), "it offers best-effort reliability and this node's subscription asks for reliable")
	require.Contains(t, qosMismatch(reliableLatched, bestEffort), "best-effort reliability", "reliability is named first")
	for _, ok := range [][2]endpointQoS{
		{bestEffort, bestEffort}, {bestEffort, volatileReliable}, {bestEffort, reliableLatched},
		{volatileReliable, volatileReliable}, {volatileReliable, reliableLatched}, {reliableLatched, reliableLatched},
	} {
		require.Empty(t, qosMismatch(ok[0], ok[1]), "request %+v, offer %+v", ok[0], ok[1])
	}
}
