package nodecore_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"dysl_vla/msgs"
	"dysl_vla/nodecore"
)

// A 30 Hz camera before the first instruction: one line, then nothing for the period, then a line
// that says how many were left out. Each kind is throttled on its own; instructions a line a second.
func TestNoticeThrottleLogsEachKindOncePerPeriod(t *testing.T) {
	var th nodecore.NoticeThrottle // the default period, 5 s
	at := func(ms int) time.Time { return time.Unix(100, 0).Add(time.Duration(ms) * time.Millisecond) }
	noInstruction := func(ms int) nodecore.Event {
		return nodecore.EventNoInstruction{Stamp: msgs.TimeFromNanos(at(ms).UnixNano())}
	}

	var logged []string
	for ms := 0; ms < 5000; ms += 33 { // 152 frames in the first 5 s
		if line, ok := th.Line(noInstruction(ms), at(ms)); ok {
			logged = append(logged, line)
		}
	}
	require.Equal(t, []string{"frame 100.000000000 not acted on: no instruction received yet"}, logged)

	bad := nodecore.EventBadFrame{Stamp: msgs.TimeFromNanos(at(4000).UnixNano()), Err: errors.New("encoding yuv422")}
	line, ok := th.Line(bad, at(4000))
	require.True(t, ok, "another kind has a period of its own")
	require.Equal(t, "frame 104.000000000 refused: encoding yuv422", line)

	line, ok = th.Line(nodecore.EventInstruction{Text: "pick"}, at(4100))
	require.True(t, ok, "an instruction is logged")
	require.Equal(t, `new instruction "pick": episode reset`, line)
	line, ok = th.Line(nodecore.EventInstruction{Text: "place"}, at(5200))
	require.True(t, ok, "one a second is logged")
	require.Equal(t, `new instruction "place": episode reset`, line)
	// Two publishers alternating at 20 Hz: a line a second, saying how many it left out and why.
	for ms := 5250; ms < 6200; ms += 50 {
		_, ok = th.Line(nodecore.EventInstruction{Text: fmt.Sprint(ms)}, at(ms))
		require.False(t, ok, "%d ms", ms)
	}
	line, ok = th.Line(nodecore.EventInstruction{Text: "pick"}, at(6200))
	require.True(t, ok)
	require.Equal(t, `new instruction "pick": episode reset (after 19 other new instructions in the last 1s, not logged, each an episode reset: is more than one node publishing on the topic?)`, line)

	line, ok = th.Line(noInstruction(5016), at(5016))
	require.True(t, ok)
	require.Equal(t, "frame 105.016000000 not acted on: no instruction received yet (and 151 more like it in the last 5.016s, not logged; the diagnostics count them)", line)
	_, ok = th.Line(noInstruction(5049), at(5049))
	require.False(t, ok)

	// The instruction in force, held back, is said a second after the last line, not five.
	_, ok = th.Line(nodecore.EventInstruction{Text: "place"}, at(6300))
	require.False(t, ok)
	require.Empty(t, th.Held(at(7100)))
	held := th.Held(at(7200))
	require.Len(t, held, 1)
	require.Equal(t, `1 other new instructions in the last 1s, not logged, each an episode reset (is more than one node publishing on the topic?); in force: "place"`, held[0].Line)
}

// A refused frame for a new reason is a new problem: its first line is logged even within the period
// of the old reason's, which stays held back. Reasons past a handful share one line per period, so an
// error text that changes with every frame cannot flood the log.
func TestNoticeThrottleKeepsReasonsApart(t *testing.T) {
	var th nodecore.NoticeThrottle
	at := func(ms int) time.Time { return time.Unix(100, 0).Add(time.Duration(ms) * time.Millisecond) }
	refused := func(ms int, reason string) (string, bool) {
		return th.Line(nodecore.EventBadFrame{Stamp: msgs.TimeFromNanos(at(ms).UnixNano()), Err: errors.New(reason)}, at(ms))
	}
	_, ok := refused(0, "encoding yuv422")
	require.True(t, ok)
	_, ok = refused(33, "encoding yuv422")
	require.False(t, ok)
	line, ok := refused(66, "encoding 16UC1")
	require.True(t, ok, "a new reason is logged at once")
	require.Equal(t, "frame 100.066000000 refused: encoding 16UC1", line)
	_, ok = refused(99, "encoding yuv422")
	require.False(t, ok, "the old reason is still held back")

	logged := 0
	for i := range 20 {
		if _, ok := refused(200+i, fmt.Sprintf("data of %d bytes", i)); ok {
			logged++
		}
	}
	require.Equal(t, 7, logged, "six more reasons of their own (eight in all), then one line for the rest")
}

// Notices held back of a problem that then stopped are reported once their period has passed, not
// when (if ever) the problem comes back; "no instruction yet" and "withdrawn" are two problems.
func TestNoticeThrottleReportsWhatItHeldWhenAProblemStops(t *testing.T) {
	var th nodecore.NoticeThrottle
	at := func(ms int) time.Time { return time.Unix(100, 0).Add(time.Duration(ms) * time.Millisecond) }
	refused := func(ms int) nodecore.Event {
		return nodecore.EventBadFrame{Stamp: msgs.TimeFromNanos(at(ms).UnixNano()), Err: errors.New("encoding yuv422")}
	}
	for _, ms := range []int{0, 33, 66} {
		th.Line(refused(ms), at(ms))
	}
	require.Empty(t, th.Held(at(4000)), "within the period: the next yuv422 line may still carry the count")
	held := th.Held(at(5100))
	require.Len(t, held, 1)
	require.Equal(t, "2 more like this in the last 5.1s, not logged (the diagnostics count them); the latest: frame 100.066000000 refused: encoding yuv422", held[0].Line)
	require.IsType(t, nodecore.EventBadFrame{}, held[0].Last)
	require.Empty(t, th.Held(at(20000)), "reported once")

	_, ok := th.Line(nodecore.EventNoInstruction{Stamp: msgs.TimeFromNanos(at(30000).UnixNano())}, at(30000))
	require.True(t, ok)
	line, ok := th.Line(nodecore.EventNoInstruction{Stamp: msgs.TimeFromNanos(at(30100).UnixNano()), Withdrawn: true}, at(30100))
	require.True(t, ok, "withdrawn is not the held 'none yet'")
	require.Contains(t, line, "an empty instruction withdrew the last one")
}
