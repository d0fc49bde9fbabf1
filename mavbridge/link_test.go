package mavbridge

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLinkWatch(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	w := linkWatch{timeout: 300 * time.Millisecond}

	_, heard := w.heartbeatAge(at(0))
	require.False(t, heard)
	require.False(t, w.check(at(10_000)), "never up, so never lost")

	require.True(t, w.heartbeat(at(0)), "first heartbeat brings the link up")
	require.False(t, w.heartbeat(at(100)))
	require.False(t, w.check(at(399)), "299 ms of silence is within the timeout")
	require.True(t, w.check(at(400)), "300 ms of silence loses the link")
	require.False(t, w.check(at(500)), "reported once")
	require.True(t, w.lostOnce)
	age, heard := w.heartbeatAge(at(500))
	require.True(t, heard)
	require.Equal(t, 400*time.Millisecond, age)

	require.True(t, w.heartbeat(at(600)), "heartbeat after the loss resumes the link")
	require.True(t, w.up)
}
