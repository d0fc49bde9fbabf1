package mavbridge

import "time"

// linkWatch decides whether the controller is there, from the times its heartbeats arrive. It takes time
// as an argument and does no I/O, so tests drive it with any clock.
type linkWatch struct {
	timeout       time.Duration
	up            bool
	everUp        bool
	lostOnce      bool // the link has been lost at least once; a heartbeat after that is a resumption
	lastHeartbeat time.Time
}

// heartbeat records a controller heartbeat at now; it reports whether the link just came up.
func (w *linkWatch) heartbeat(now time.Time) (cameUp bool) {
	w.lastHeartbeat = now
	cameUp = !w.up
	w.up, w.everUp = true, true
	return cameUp
}

// check reports whether the link was just lost: no heartbeat for timeout or longer.
func (w *linkWatch) check(now time.Time) (lost bool) {
	if w.up && now.Sub(w.lastHeartbeat) >= w.timeout {
		w.up, w.lostOnce = false, true
		return true
	}
	return false
}

// heartbeatAge is the time since the last heartbeat, and false before the first.
func (w *linkWatch) heartbeatAge(now time.Time) (time.Duration, bool) {
	if !w.everUp {
		return 0, false
	}
	return now.Sub(w.lastHeartbeat), true
}

// restartSilence is the least silence before a frame whose sequence number reads as a restart: a
// controller takes longer than that to start again, while a datagram overtaken by the next one comes
// within a frame period of a controller that sends more than heartbeats.
const restartSilence = 250 * time.Millisecond

// firstFrames are the sequence numbers a controller's first frames after it starts carry.
const firstFrames = 8

// maxLostInARow is how many frames lost in a row may explain a jump to one of the firstFrames numbers
// (sequenceWatch.framesLost).
const maxLostInARow = 2

// sequenceWatch tells from the sequence numbers of the controller's frames on one channel whether the
// controller restarted: it then numbers its frames from 0 again, and what it had been commanded (the
// gripper's state) is lost. A link lost and back covers a restart slower than the link timeout; this
// one a fast one, which heartbeats never stop long enough to show.
type sequenceWatch struct {
	heard  bool
	last   uint8
	lastAt time.Time
	// cadence is the longest time between two frames numbered in turn, of late: the controller's
	// slowest cadence, which tells frames lost at the wrap from a restart (framesLost).
	cadence recentLongestGap
}

// cadenceSpan is how many frames numbered in turn the longest gap is kept for: one turn of the
// sequence numbers, whose wrap is where a lost frame and a restart look alike.
const cadenceSpan = 256

// recentLongestGap is the longest gap among the latest cadenceSpan to 2·cadenceSpan gaps: a
// controller's slowest cadence of late, 1 s for one that sends heartbeats alone. The longest gap
// ever seen would keep one stall (a 50 Hz controller silent 2 s) for the session, and with it read
// every later fast restart as lost frames.
type recentLongestGap struct {
	current, previous time.Duration // the longest gap of this span of frames and of the one before
	inSpan            int
}

func (g *recentLongestGap) add(gap time.Duration) {
	if g.inSpan == cadenceSpan {
		g.previous, g.current, g.inSpan = g.current, 0, 0
	}
	g.current = max(g.current, gap)
	g.inSpan++
}

// longest is the longest gap of late; zero before the first.
func (g *recentLongestGap) longest() time.Duration { return max(g.current, g.previous) }

// restarted records a frame numbered seq arriving at now, and says whether it reads as the first frames
// of a controller started again: among the firstFrames, out of turn, after restartSilence, and not a
// frame or two lost as the numbers wrap (framesLost). A restart missed so is one whose first frames
// were all lost, or that left the numbers where a loss would (from 254 for a controller that sends
// heartbeats alone, for instance); the link timeout covers those that take longer than it.
func (w *sequenceWatch) restarted(seq uint8, now time.Time) bool {
	heard, last, silence := w.heard, w.last, now.Sub(w.lastAt)
	w.heard, w.last, w.lastAt = true, seq, now
	inTurn := heard && seq == last+1
	if inTurn {
		w.cadence.add(silence)
	}
	if !heard || inTurn || seq == last || seq >= firstFrames || silence < restartSilence {
		return false
	}
	return !w.framesLost(seq-last-1, silence)
}

// framesLost says whether skipped frames, lost in a row, explain the jump: no more than maxLostInARow
// of them, and a silence no longer than their periods and one more (jitter). A controller that sends
// heartbeats alone, once a second, is silent longer than restartSilence before every frame: one lost
// as the numbers wrap (254, then 0 two seconds later) is no restart. A controller that sends more
// has a short period, so its restarts, silent for longer, never read as lost frames.
func (w *sequenceWatch) framesLost(skipped uint8, silence time.Duration) bool {
	return skipped <= maxLostInARow && silence <= time.Duration(skipped+2)*w.cadence.longest()
}
