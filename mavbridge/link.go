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
