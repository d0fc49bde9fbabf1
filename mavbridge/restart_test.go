package mavbridge

import (
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/stretchr/testify/require"
)

// openChannel gives the offline bridge a channel, as gomavlib's EventChannelOpen does; what the bridge
// writes to it is counted as dropped, there being no transport.
func (o *offlineBridge) openChannel() *gomavlib.Channel {
	ch := &gomavlib.Channel{}
	o.channels[ch] = &channelLedger{}
	return ch
}

// controllerFrame hands the bridge m from the controller on ch, numbered seq, as gomavlib does.
func (o *offlineBridge) controllerFrame(ch *gomavlib.Channel, seq uint8, m message.Message) {
	o.handle(&gomavlib.EventFrame{Channel: ch,
		Frame: &frame.V2Frame{SequenceNumber: seq, SystemID: 1, ComponentID: 1, Message: m}})
}

// A controller that restarts while a gripper command is pending forgot it, though it had answered
// IN_PROGRESS: the command goes out again at once and is confirmed, instead of failing for want of
// an outcome and leaving the gripper in whatever state the restart left it.
func TestRestartWhileAGripperCommandIsPendingSendsItAgain(t *testing.T) {
	o := newOfflineBridge(t) // link timeout 1 s, ack timeout 100 ms, progress timeout 3 s
	ch := o.openChannel()
	heartbeat := &common.MessageHeartbeat{Type: common.MAV_TYPE_GENERIC}
	for seq := range uint8(5) {
		o.controllerFrame(ch, seq, heartbeat)
		o.advance(10 * time.Millisecond)
	}
	o.gripperValue(t, 1)
	o.controllerFrame(ch, 5, &common.MessageCommandAck{Command: common.MAV_CMD_DO_GRIPPER, Result: common.MAV_RESULT_IN_PROGRESS})
	o.advance(500 * time.Millisecond) // the controller restarts, within the link timeout
	require.EqualValues(t, 1, o.Stats().GripperCommands)

	o.controllerFrame(ch, 0, heartbeat)
	require.EqualValues(t, 1, o.Stats().ControllerRestarts)
	require.EqualValues(t, 2, o.Stats().GripperCommands, "the close is sent again at once")
	require.Equal(t, 1, o.gripper.pending.attempts, "its retries start over")
	accept := &common.MessageCommandAck{Command: common.MAV_CMD_DO_GRIPPER, Result: common.MAV_RESULT_ACCEPTED}
	o.controllerFrame(ch, 1, accept) // maybe the outcome owed before the restart: it cannot count
	seq := uint8(2)
	for waited := time.Duration(0); o.Stats().GripperCommands == 2; waited += 10 * time.Millisecond {
		require.Less(t, waited, 4*time.Second, "sent again once no outcome owed before can come")
		o.controllerFrame(ch, seq, heartbeat)
		seq++
		o.advance(10 * time.Millisecond)
	}
	o.controllerFrame(ch, seq, accept)
	require.Equal(t, []Event{EventGripperAcked{Action: GripperClose, Attempts: 2}}, o.gripperEvents(),
		"accepted, never failed")
}

// ControllerRestarts counts the restarts faster than the link timeout, which only the numbers of
// the frames show: a controller silent longer lost the link, and its return is EventLinkUp
// {Resumed: true}, though its first frame is numbered 0 too.
func TestARestartSlowerThanTheLinkTimeoutIsNotCountedAsFast(t *testing.T) {
	o := newOfflineBridge(t) // link timeout 1 s
	ch := o.openChannel()
	heartbeat := &common.MessageHeartbeat{Type: common.MAV_TYPE_GENERIC}
	for seq := range uint8(20) {
		o.controllerFrame(ch, seq, heartbeat)
		o.advance(100 * time.Millisecond)
	}
	o.advance(5 * time.Second)
	require.False(t, o.Stats().LinkUp)
	o.drainEvents()
	o.controllerFrame(ch, 0, heartbeat)
	require.Contains(t, o.drainEvents(), Event(EventLinkUp{SystemID: 1, ComponentID: 1, Resumed: true}))
	require.Zero(t, o.Stats().ControllerRestarts)
}
