package mavbridge

import (
	"fmt"
	"time"
)

// A sender that runs through recorded data rather than live (dysl replay) may be done in less time than a
// heartbeat period: it waits for the link before its first chunk, since the bridge discards chunks until
// the controller has been heard, and for the queued frames before it closes the bridge.

// AwaitLink waits up to timeout for the controller's heartbeats to bring the link up, and reports whether
// they did.
func (b *Bridge) AwaitLink(timeout time.Duration) bool {
	return pollUntil(timeout, func() bool { return b.Stats().LinkUp })
}

// Drain waits up to timeout for the frames still queued in the transport to be written or dropped, and
// reports whether none is left.
func (b *Bridge) Drain(timeout time.Duration) bool {
	return pollUntil(timeout, func() bool { return b.Stats().FramesInFlight == 0 })
}

// Carried says what the link carried, in one line: chunks sent and discarded, frames written and
// dropped, gripper commands acknowledged and failed.
func (s Stats) Carried() string {
	return fmt.Sprintf("%d chunks sent, %d discarded (link down, or no channel could take them); %d frames written, %d dropped; "+
		"gripper commands %d acked, %d failed", s.ChunksSent, s.ChunksDiscarded,
		s.FramesWritten, s.FramesDropped, s.GripperAcked, s.GripperFailed)
}

// pollUntil checks cond every 20 ms until it holds or timeout passes, and reports whether it held.
func pollUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
