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

func TestSequenceWatchTellsARestart(t *testing.T) {
	start := time.Unix(100, 0)
	for _, c := range []struct {
		name      string
		last, seq uint8
		silence   time.Duration
		restarted bool
	}{
		{"in turn after a silence", 41, 42, time.Second, false},
		{"in turn across the wrap", 255, 0, time.Second, false},
		{"a duplicate", 41, 41, time.Second, false},
		{"frames lost", 41, 60, time.Second, false},
		{"back, overtaken datagram", 41, 40, time.Millisecond, false},
		{"back after a silence", 41, 0, time.Second, true},
		{"back after a silence, not from 0", 41, 3, time.Second, true},
		{"from 0 when the numbers had passed half", 200, 0, time.Second, true},
		{"from 0 as frame 255 was lost", 254, 0, time.Millisecond, false},
		{"far ahead, not among the first numbers", 200, 9, time.Second, false},
		{"behind, not among the first numbers", 41, 20, time.Second, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := sequenceWatch{}
			require.False(t, w.restarted(c.last, start), "the first frame heard")
			require.Equal(t, c.restarted, w.restarted(c.seq, start.Add(c.silence)))
		})
	}
}

// A controller that sends heartbeats alone, once a second, is silent for longer than restartSilence
// before each frame: a heartbeat lost as the numbers wrap, or one delayed past the next, is no
// restart, while numbers from 0 that no lost frames explain still are.
func TestSequenceWatchOfAHeartbeatOnlyController(t *testing.T) {
	start := time.Unix(100, 0)
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	for _, c := range []struct {
		name      string
		seq       uint8
		at        int // ms after 252, 253 and 254 a second apart
		restarted bool
	}{
		{"255 lost", 0, 4000, false},
		{"255 and 0 lost", 1, 5000, false},
		{"one frame skipped within a second", 0, 3000, false},
		{"more lost in a row than maxLostInARow", 2, 6000, true},
		{"numbered from 0 again, among the first numbers", 4, 2400, true},
		{"a restart where a lost frame would leave the numbers: missed", 0, 2600, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := sequenceWatch{}
			for i, seq := range []uint8{252, 253, 254} {
				require.False(t, w.restarted(seq, at(1000*i)))
			}
			require.Equal(t, c.restarted, w.restarted(c.seq, at(c.at)))
		})
	}
	t.Run("restarted from the middle of the numbers", func(t *testing.T) {
		w := sequenceWatch{}
		for i, seq := range []uint8{99, 100, 101} {
			require.False(t, w.restarted(seq, at(1000*i)))
		}
		require.True(t, w.restarted(0, at(2500)))
	})
	t.Run("an overtaken frame", func(t *testing.T) {
		w := sequenceWatch{}
		for i, seq := range []uint8{40, 41, 43} {
			require.False(t, w.restarted(seq, at(1000*i)))
		}
		require.False(t, w.restarted(42, at(2300)), "delayed past 43 by 300 ms")
	})
}

// A stall of a fast controller (2 s without a frame, none lost) is forgotten once the numbers have
// gone round twice: kept for the session, it would read every later fast restart as frames lost.
func TestSequenceWatchForgetsAStall(t *testing.T) {
	w := sequenceWatch{}
	at := time.Unix(100, 0)
	seq := uint8(0)
	frame := func(gap time.Duration) bool {
		at = at.Add(gap)
		restarted := w.restarted(seq, at)
		seq++
		return restarted
	}
	for range 100 {
		require.False(t, frame(20*time.Millisecond))
	}
	require.False(t, frame(2*time.Second), "the stall, numbered in turn")
	for range 2*cadenceSpan - 1 {
		require.False(t, frame(20*time.Millisecond))
	}
	for seq != 255 { // on to 254
		require.False(t, frame(20*time.Millisecond))
	}
	seq = 0 // restarted after 1 s: from 0 where frame 255 alone would have been lost
	require.True(t, frame(time.Second), "a fast restart")
}
