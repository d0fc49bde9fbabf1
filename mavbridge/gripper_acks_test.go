package mavbridge

import (
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/stretchr/testify/require"
)

// run moves the offline bridge's clock on by d in ticks of 10 ms at most, the controller heartbeating
// at each, so that the link stays up and every follow-up falls on its due tick.
func (o *offlineBridge) run(d time.Duration) {
	for d > 0 {
		step := min(d, 10*time.Millisecond)
		o.heartbeat()
		o.advance(step)
		d -= step
	}
}

// gripperEvents are the gripper's acks and failures among the bridge's events since the last call.
func (o *offlineBridge) gripperEvents() []Event {
	var got []Event
	for _, e := range o.drainEvents() {
		switch e.(type) {
		case EventGripperAcked, EventGripperFailed:
			got = append(got, e)
		}
	}
	return got
}

// A COMMAND_ACK names the command, not the transmission it answers: an ack that may answer an ended
// command (replaced, or accepted while another of its sends was due an answer) counts for none, or a
// close accepted late would count as the open that replaced it, and the open, never sent again, would
// leave the gripper shut on an object the policy means to release. The offline bridge's ack timeout is 100 ms, its
// progress timeout 3 s.
func TestAnAckThatMayAnswerAnEndedCommandNeverCounts(t *testing.T) {
	superseded := EventGripperFailed{Action: GripperClose, Attempts: 1, Reason: "superseded by open before it was accepted"}

	t.Run("the late outcome of a replaced command in progress", func(t *testing.T) {
		o := newOfflineBridge(t)
		o.heartbeat()
		o.gripperValue(t, 1) // close at 0
		o.run(10 * time.Millisecond)
		o.ack(common.MAV_RESULT_IN_PROGRESS) // the close's: its outcome may come until 3010 ms
		o.run(50 * time.Millisecond)
		o.gripperValue(t, 0) // open at 60, sent again at 160: it may have been lost
		o.run(150 * time.Millisecond)
		o.ack(common.MAV_RESULT_ACCEPTED) // the close's outcome, at 210
		require.Equal(t, []Event{superseded}, o.gripperEvents(), "the open is not taken as accepted")
		require.Equal(t, GripperOpen, o.gripper.pending.action)

		o.run(2800 * time.Millisecond) // 3010 ms
		require.EqualValues(t, 3, o.Stats().GripperCommands, "close, open, open: nothing after an ACCEPTED, maybe the open's")
		o.run(10 * time.Millisecond)
		require.EqualValues(t, 4, o.Stats().GripperCommands, "sent again once the close's outcome is past due")
		o.ack(common.MAV_RESULT_ACCEPTED)
		require.Equal(t, []Event{EventGripperAcked{Action: GripperOpen, Attempts: 3}}, o.gripperEvents())
	})

	t.Run("the progress of a replaced command does not hold the one replacing it", func(t *testing.T) {
		o := newOfflineBridge(t)
		o.heartbeat()
		o.gripperValue(t, 1)
		o.run(10 * time.Millisecond)
		o.ack(common.MAV_RESULT_IN_PROGRESS)
		o.run(50 * time.Millisecond)
		o.gripperValue(t, 0)
		o.run(140 * time.Millisecond)
		o.ack(common.MAV_RESULT_IN_PROGRESS) // at 200: the close's progress, or the open's
		o.run(3000 * time.Millisecond)       // 3200 ms: an outcome of either would have come
		require.EqualValues(t, 3, o.Stats().GripperCommands, "close, open, open, then nothing while one may be in progress")
		o.run(10 * time.Millisecond)
		require.EqualValues(t, 4, o.Stats().GripperCommands, "sent again once no outcome can come")
		require.Equal(t, []Event{superseded}, o.gripperEvents(), "the open has not failed")
		o.ack(common.MAV_RESULT_ACCEPTED)
		require.Equal(t, []Event{EventGripperAcked{Action: GripperOpen, Attempts: 3}}, o.gripperEvents())
	})

	t.Run("the other answer of a command accepted after two sends that overlap", func(t *testing.T) {
		o := newOfflineBridge(t)
		o.heartbeat()
		o.gripperValue(t, 1)
		o.run(50 * time.Millisecond)
		o.gripperValue(t, 0) // open at 50, in doubt until 100
		o.run(10 * time.Millisecond)
		o.ack(common.MAV_RESULT_ACCEPTED) // the close's or the open's
		o.run(41 * time.Millisecond)      // the open is sent again at 101, the first send due until 150
		o.run(4 * time.Millisecond)
		o.ack(common.MAV_RESULT_ACCEPTED) // at 105: the answer to either send
		require.Equal(t, []Event{superseded, EventGripperAcked{Action: GripperOpen, Attempts: 2}}, o.gripperEvents())
		o.run(5 * time.Millisecond)
		o.gripperValue(t, 1) // close at 110
		o.run(10 * time.Millisecond)
		o.ack(common.MAV_RESULT_ACCEPTED) // at 120: maybe the open's other answer
		require.Empty(t, o.gripperEvents())
		o.run(82 * time.Millisecond) // 202 ms: the open's answers are past due
		require.EqualValues(t, 5, o.Stats().GripperCommands, "close, open, open, close, close")
		o.ack(common.MAV_RESULT_ACCEPTED)
		require.Equal(t, []Event{EventGripperAcked{Action: GripperClose, Attempts: 2}}, o.gripperEvents())
	})

	t.Run("sends whose answers could not count are not retries", func(t *testing.T) {
		o := newOfflineBridge(t) // GripperRetries 2
		o.heartbeat()
		o.gripperValue(t, 1)
		o.ack(common.MAV_RESULT_IN_PROGRESS)
		o.gripperValue(t, 0)
		for range 300 { // the controller, busy closing, refuses the open until the close's outcome is past due
			sent := o.Stats().GripperCommands
			o.run(10 * time.Millisecond)
			if o.Stats().GripperCommands > sent {
				o.ack(common.MAV_RESULT_TEMPORARILY_REJECTED)
			}
		}
		inDoubt := o.Stats().GripperCommands - 1
		require.Greater(t, inDoubt, uint64(3), "the open went out every ack timeout")
		o.run(10 * time.Millisecond) // 3010 ms
		o.run(100 * time.Millisecond)
		require.Equal(t, inDoubt+3, o.Stats().GripperCommands, "sent once the doubt ended, then retried")
		o.ack(common.MAV_RESULT_ACCEPTED)
		require.Equal(t, []Event{superseded, EventGripperAcked{Action: GripperOpen, Attempts: int(inDoubt) + 2}}, o.gripperEvents())
	})
}

// The first answer of a command that replaced another counts once the replaced one's answers are
// past due, and one ignored before is asked for again then, not a whole ack timeout after the send.
func TestAReplacingCommandIsConfirmedOnceTheReplacedOnesAnswerIsPastDue(t *testing.T) {
	t.Run("answered after", func(t *testing.T) {
		o := newOfflineBridge(t)
		o.heartbeat()
		o.gripperValue(t, 1) // close at 0: its answer due until 100 ms
		o.run(90 * time.Millisecond)
		o.gripperValue(t, 0)
		o.run(11 * time.Millisecond)
		o.ack(common.MAV_RESULT_ACCEPTED)
		require.Contains(t, o.gripperEvents(), Event(EventGripperAcked{Action: GripperOpen, Attempts: 1}))
		require.EqualValues(t, 2, o.Stats().GripperCommands)
	})
	t.Run("answered before", func(t *testing.T) {
		o := newOfflineBridge(t)
		o.heartbeat()
		o.gripperValue(t, 1)
		o.run(50 * time.Millisecond)
		o.gripperValue(t, 0)
		o.run(10 * time.Millisecond)
		o.ack(common.MAV_RESULT_ACCEPTED) // at 60: the close's or the open's
		o.run(40 * time.Millisecond)
		require.EqualValues(t, 2, o.Stats().GripperCommands)
		o.run(time.Millisecond)
		require.EqualValues(t, 3, o.Stats().GripperCommands, "sent again at 101 ms")
		o.ack(common.MAV_RESULT_ACCEPTED)
		require.Contains(t, o.gripperEvents(), Event(EventGripperAcked{Action: GripperOpen, Attempts: 2}))
	})
}

// An acceptance of a command sent more than once may answer any of its sends, and one controller on
// two links answers each copy: until its last send's answer is past due, another ack may be the
// same command's, and taken for the next command it would leave that one, lost on the way, never
// sent again. The offline bridge's ack timeout is 100 ms.
func TestAnAcceptedCommandsOtherAnswersDoNotCountForTheNext(t *testing.T) {
	t.Run("a late answer to the first send", func(t *testing.T) {
		o := newOfflineBridge(t)
		o.heartbeat()
		o.gripperValue(t, 1) // close at 0
		o.run(100 * time.Millisecond)
		require.EqualValues(t, 2, o.Stats().GripperCommands, "sent again at 100")
		o.run(10 * time.Millisecond)
		o.ack(common.MAV_RESULT_ACCEPTED) // at 110: the first send's late answer, or the second's
		require.Equal(t, []Event{EventGripperAcked{Action: GripperClose, Attempts: 2}}, o.gripperEvents())
		o.run(10 * time.Millisecond)
		o.gripperValue(t, 0) // open at 120, lost on the way
		o.run(10 * time.Millisecond)
		o.ack(common.MAV_RESULT_ACCEPTED) // at 130: the second close's answer
		require.Empty(t, o.gripperEvents(), "not the open's")
		o.run(80 * time.Millisecond) // 210: the close's answers are past due, the open goes out again
		require.EqualValues(t, 4, o.Stats().GripperCommands, "close, close, open, open")
		o.ack(common.MAV_RESULT_ACCEPTED)
		require.Equal(t, []Event{EventGripperAcked{Action: GripperOpen, Attempts: 2}}, o.gripperEvents())
	})
	t.Run("one send on two links", func(t *testing.T) {
		o := newOfflineBridge(t)
		a, b := o.openChannel(), o.openChannel()
		heartbeat := &common.MessageHeartbeat{Type: common.MAV_TYPE_GENERIC}
		o.controllerFrame(a, 0, heartbeat)
		o.controllerFrame(b, 0, heartbeat)
		o.gripperValue(t, 1) // one close, written to both channels
		o.drainEvents()
		accepted := &common.MessageCommandAck{Command: common.MAV_CMD_DO_GRIPPER, Result: common.MAV_RESULT_ACCEPTED}
		o.controllerFrame(a, 1, accepted)
		require.Equal(t, []Event{EventGripperAcked{Action: GripperClose, Attempts: 1}}, o.gripperEvents())
		o.advance(5 * time.Millisecond)
		o.gripperValue(t, 0)              // open, lost on both
		o.controllerFrame(b, 1, accepted) // the close's copy on the other link
		require.Empty(t, o.gripperEvents(), "not the open's")
		require.Equal(t, GripperOpen, o.gripper.pending.action)
	})
}
