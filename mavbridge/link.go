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
// controller takes longer than that to start again, while a datagram overtaken by the next one, or a
// frame lost as the numbers wrap, comes within a frame period.
const restartSilence = 250 * time.Millisecond

// firstFrames are the sequence numbers a controller's first frames after it starts carry.
const firstFrames = 8

// sequenceWatch tells from the sequence numbers of the controller's frames on one channel whether the
// controller restarted: it then numbers its frames from 0 again, and what it had been commanded (the
// gripper's state) is lost. A link lost and back covers a restart slower than the link timeout; this
// one a fast one, which heartbeats never stop long enough to show.
type sequenceWatch struct {
	heard  bool
	last   uint8
	lastAt time.Time
}

// restarted records a frame numbered seq arriving at now, and says whether it reads as the first frames
// of a controller started again: after restartSilence, out of turn, with a number behind the last one
// (by less than half the range: further behind reads as frames lost) or among the firstFrames. A
// restart while the numbers were past half their range, whose first frames were lost, is missed.
func (w *sequenceWatch) restarted(seq uint8, now time.Time) bool {
	heard, last, silence := w.heard, w.last, now.Sub(w.lastAt)
	w.heard, w.last, w.lastAt = true, seq, now
	if !heard || seq == last+1 || seq == last || silence < restartSilence {
		return false
	}
	behind := last - seq // mod 256
	return behind < 128 || seq < firstFrames
}
