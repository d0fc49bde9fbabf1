package mavbridge

import (
	"bytes"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/bluenviron/gomavlib/v3/pkg/streamwriter"
	"github.com/stretchr/testify/require"

	"dysl_vla/msgs"
)

// The Forwarder passes its GripperDim on with every chunk: a node's gripper column becomes
// MAV_CMD_DO_GRIPPER commands on the controller, or the arm would reach the cube and never close on it.
// The bridge runs over UDP against the test controller (which heartbeats and acks) on an injected clock,
// so the close step comes due when the test says, not after a real wait. The first step opens: the
// gripper's state is unknown when the bridge starts, so its first decisive value is a command too.
func TestForwarderSendsTheGripperColumnAsCommands(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Unix(5000, 0).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	bridge := &Bridge{Endpoint: "udp-server:127.0.0.1:0", GripperAckTimeout: time.Hour, Now: now}
	require.NoError(t, bridge.Initialize())
	defer bridge.Close()
	ctrl := startController(t, gomavlib.EndpointUDPClient{Address: bridge.ListenAddr().String()}, 0)
	require.Eventually(t, func() bool { return bridge.Stats().LinkUp }, deadline, poll)

	fwd := &Forwarder{Bridge: bridge, GripperDim: 1}
	require.NoError(t, fwd.ForwardChunk(&msgs.ActionChunk{Header: msgs.Header{Stamp: msgs.TimeFromGo(now()), FrameID: "base_link"},
		StepDt: msgs.DurationFromGo(100 * time.Millisecond), Sequence: 1, Steps: 2, ActionDim: 2,
		Actions: []float32{0, -1, 0, 1}}, 0))
	require.Eventually(t, func() bool { return bridge.Stats().GripperAcked == 1 }, deadline, poll, "step 0 opens")
	clock.Add(int64(100 * time.Millisecond)) // step 1 comes due at the next tick
	require.Eventually(t, func() bool { return bridge.Stats().GripperAcked == 2 }, deadline, poll, "step 1 closes")

	_, commands := ctrl.received()
	require.Len(t, commands, 2)
	for i, want := range []common.GRIPPER_ACTIONS{common.GRIPPER_ACTION_OPEN, common.GRIPPER_ACTION_CLOSE} {
		require.Equal(t, common.MAV_CMD_DO_GRIPPER, commands[i].Command)
		require.Equal(t, float32(want), commands[i].Param2, "command %d", i)
	}
	require.Equal(t, uint64(2), bridge.Stats().GripperCommands, "one each, no retry")
}

// Only the controller's own heartbeat keeps the link up: a camera or gimbal of the same system
// (another component) heartbeats too, and counting it would send chunks to a controller that is gone.
func TestHeartbeatOfAnotherComponentDoesNotBringTheLinkUp(t *testing.T) {
	o := newOfflineBridge(t)
	heartbeatFrom := func(sys, comp uint8) {
		o.handle(&gomavlib.EventFrame{Frame: &frame.V2Frame{SystemID: sys, ComponentID: comp,
			Message: &common.MessageHeartbeat{Type: common.MAV_TYPE_CAMERA}}})
	}
	for range 3 {
		heartbeatFrom(o.TargetSystem, o.TargetComponent+1)
		heartbeatFrom(o.TargetSystem+1, o.TargetComponent)
		o.advance(100 * time.Millisecond)
	}
	require.NoError(t, o.Send(testChunk(1, 0)))
	s := o.Stats()
	require.False(t, s.LinkUp)
	require.False(t, s.HeardController)
	require.Equal(t, uint64(1), s.ChunksDiscarded)
	require.Equal(t, uint64(0), s.ChunksSent)

	heartbeatFrom(o.TargetSystem, o.TargetComponent) // the controller itself
	require.True(t, o.Stats().LinkUp)
}

// A COMMAND_ACK accepting some other command (an arm/disarm), or a gripper ack addressed to another
// commander on the network (a ground station), is not the controller accepting our gripper command:
// taking it as one would stop the retries while the gripper never moved. The command is sent again
// after GripperAckTimeout.
func TestForeignCommandAcksDoNotAcceptTheGripperCommand(t *testing.T) {
	for _, c := range []struct {
		name string
		ack  common.MessageCommandAck
	}{
		{"another command", common.MessageCommandAck{Command: common.MAV_CMD_COMPONENT_ARM_DISARM, Result: common.MAV_RESULT_ACCEPTED}},
		{"another system", common.MessageCommandAck{Command: common.MAV_CMD_DO_GRIPPER, Result: common.MAV_RESULT_ACCEPTED,
			TargetSystem: 7, TargetComponent: uint8(common.MAV_COMP_ID_ONBOARD_COMPUTER)}},
		{"another component", common.MessageCommandAck{Command: common.MAV_CMD_DO_GRIPPER, Result: common.MAV_RESULT_ACCEPTED,
			TargetSystem: 1, TargetComponent: 190}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := newOfflineBridge(t)
			o.heartbeat()
			o.gripperValue(t, 1)
			o.drainEvents()
			ack := c.ack
			o.handleMessage(&ack, o.now)
			require.NotNil(t, o.gripper.pending, "still waiting for our ack")
			require.Zero(t, o.Stats().GripperAcked)
			require.Nil(t, o.drainEvents())
			o.advance(o.GripperAckTimeout)
			require.Equal(t, uint64(2), o.Stats().GripperCommands, "sent again after the ack timeout")
		})
	}
}

// planGripper counts a chunk's steps from its arrival when its stamp cannot be on the bridge's clock.
// A stamp ahead of now (a camera host whose clock runs fast): counted from the stamp, no step would be
// due yet and the gripper would wait a clock error long. A stamp further back than the chunk's whole
// span (a clock far behind): counted from the stamp every step is past, and the chunk's first steps
// would never be commanded.
func TestGripperPlanFallsBackToTheArrivalForAStampOffTheClock(t *testing.T) {
	chunk := func(stamp time.Time, values ...float32) Chunk {
		c := Chunk{Seq: 1, Stamp: stamp, StepDt: 100 * time.Millisecond, Steps: len(values), Dims: 2, GripperDim: 1}
		for _, v := range values {
			c.Values = append(c.Values, 0, v)
		}
		return c
	}
	t.Run("stamp ahead of the clock", func(t *testing.T) {
		o := newOfflineBridge(t)
		o.heartbeat()
		require.NoError(t, o.Send(chunk(o.now.Add(time.Second), 1, -1)))
		require.NotNil(t, o.gripper.pending, "step 0 is due on arrival")
		require.Equal(t, GripperClose, o.gripper.pending.action)
		o.ack(common.MAV_RESULT_ACCEPTED)
		o.advance(100 * time.Millisecond)
		require.NotNil(t, o.gripper.pending, "step 1 is due 100 ms after the arrival")
		require.Equal(t, GripperOpen, o.gripper.pending.action)
	})
	t.Run("stamp further back than the chunk's span", func(t *testing.T) {
		o := newOfflineBridge(t)
		o.heartbeat()
		require.NoError(t, o.Send(chunk(o.now.Add(-10*time.Second), -1, 1)))
		require.NotNil(t, o.gripper.pending, "step 0 is due on arrival")
		require.Equal(t, GripperOpen, o.gripper.pending.action)
		o.ack(common.MAV_RESULT_ACCEPTED)
		o.advance(100 * time.Millisecond)
		require.NotNil(t, o.gripper.pending, "step 1 is due 100 ms after the arrival")
		require.Equal(t, GripperClose, o.gripper.pending.action)
	})
}

// A gripper state the controller accepted is commanded again when the link returns: a controller
// silent for the link timeout may have restarted (power cut, watchdog) and opened the gripper, while
// the policy holds the object. A gripper already closed stays closed.
func TestGripperStateIsSentAgainWhenTheLinkReturns(t *testing.T) {
	o := newOfflineBridge(t)
	o.heartbeat()
	o.gripperValue(t, 1)
	o.ack(common.MAV_RESULT_ACCEPTED)
	o.advance(o.LinkTimeout) // silence: link lost
	require.False(t, o.Stats().LinkUp)
	o.heartbeat()
	require.True(t, o.Stats().LinkUp)
	require.NotNil(t, o.gripper.pending)
	require.Equal(t, GripperClose, o.gripper.pending.action)
	require.Equal(t, uint64(2), o.Stats().GripperCommands)
}

// rawController is a controller on a socket that numbers its frames itself: restart starts the
// numbers again from 0, as a controller that restarted does.
type rawController struct {
	conn     net.Conn
	writer   *streamwriter.Writer
	commands chan *common.MessageCommandLong
}

// dialRawController connects to bridge's server endpoint over network, udp4 or tcp4.
func dialRawController(t *testing.T, network string, bridge *Bridge) *rawController {
	conn, err := net.Dial(network, bridge.ListenAddr().String())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	c := &rawController{conn: conn, commands: make(chan *common.MessageCommandLong, 16)}
	c.restart(t)
	reader := frameDialect{}.frameReader(t, conn)
	go func() {
		for {
			fr, err := reader.Read()
			var malformed frame.ReadError
			switch {
			case errors.As(err, &malformed):
				continue
			case err != nil:
				return
			}
			if m, ok := fr.GetMessage().(*common.MessageCommandLong); ok {
				c.commands <- m
			}
		}
	}()
	return c
}

func (c *rawController) restart(t *testing.T) { c.writer = frameDialect{}.streamWriter(t, c.conn) }

func (c *rawController) send(t *testing.T, m message.Message) { require.NoError(t, c.writer.Write(m)) }

func (c *rawController) heartbeat(t *testing.T) {
	c.send(t, &common.MessageHeartbeat{Type: common.MAV_TYPE_GENERIC, MavlinkVersion: 3})
}

// nextCommand waits for the next gripper command and answers it with result.
func (c *rawController) nextCommand(t *testing.T, result common.MAV_RESULT) *common.MessageCommandLong {
	t.Helper()
	select {
	case m := <-c.commands:
		c.send(t, &common.MessageCommandAck{Command: m.Command, Result: result, TargetSystem: 1,
			TargetComponent: uint8(common.MAV_COMP_ID_ONBOARD_COMPUTER)})
		return m
	case <-time.After(deadline):
		t.Fatal("no gripper command reached the controller")
		return nil
	}
}

// heartbeatHeard sends a heartbeat and waits for the bridge to have taken it, on a clock that stands still.
func (c *rawController) heartbeatHeard(t *testing.T, bridge *Bridge) {
	c.heartbeat(t)
	require.Eventually(t, func() bool { return bridge.Stats().HeartbeatAge == 0 }, deadline, poll)
}

// A controller that restarts faster than the link timeout numbers its frames from 0 again: the bridge
// takes it as a restart and commands the gripper's state again, which the restart lost. Frames
// numbered in turn after the same silence are no restart.
func TestFastControllerRestartGetsTheGripperStateAgain(t *testing.T) {
	clock := newManualClock()
	bridge := &Bridge{Endpoint: "udp-server:127.0.0.1:0", LinkTimeout: 3 * time.Second, Now: clock.now}
	require.NoError(t, bridge.Initialize())
	defer bridge.Close()
	ctrl := dialRawController(t, "udp4", bridge)
	for range 20 {
		ctrl.heartbeat(t)
	}
	require.Eventually(t, func() bool { return bridge.Stats().LinkUp }, deadline, poll)
	require.NoError(t, bridge.Send(testChunk(1, 1)))
	require.Equal(t, float32(common.GRIPPER_ACTION_CLOSE), ctrl.nextCommand(t, common.MAV_RESULT_ACCEPTED).Param2)
	require.Eventually(t, func() bool { return bridge.Stats().GripperAcked == 1 }, deadline, poll)

	clock.advance(time.Second)
	ctrl.heartbeatHeard(t, bridge) // in turn
	require.Zero(t, bridge.Stats().ControllerRestarts)
	require.Equal(t, uint64(1), bridge.Stats().GripperCommands)

	clock.advance(time.Second)
	ctrl.restart(t)
	ctrl.heartbeatHeard(t, bridge)
	require.Equal(t, uint64(1), bridge.Stats().ControllerRestarts)
	require.Equal(t, float32(common.GRIPPER_ACTION_CLOSE), ctrl.nextCommand(t, common.MAV_RESULT_ACCEPTED).Param2)
	require.Eventually(t, func() bool { return bridge.Stats().GripperAcked == 2 }, deadline, poll)
	require.True(t, bridge.Stats().LinkUp, "no link lost on the way")
}

// A controller that restarts connects anew: from another UDP source port here, its frames numbered
// from 0 on a channel of their own, where no earlier number shows the restart. Back within the link
// timeout, the link never dropped; the bridge still commands the gripper's state again.
func TestControllerBackOnANewChannelGetsTheGripperStateAgain(t *testing.T) {
	clock := newManualClock()
	bridge := &Bridge{Endpoint: "udp-server:127.0.0.1:0", LinkTimeout: 3 * time.Second, Now: clock.now}
	require.NoError(t, bridge.Initialize())
	defer bridge.Close()
	before := dialRawController(t, "udp4", bridge)
	before.heartbeat(t)
	require.Eventually(t, func() bool { return bridge.Stats().LinkUp }, deadline, poll)
	require.NoError(t, bridge.Send(testChunk(1, 1)))
	require.Equal(t, float32(common.GRIPPER_ACTION_CLOSE), before.nextCommand(t, common.MAV_RESULT_ACCEPTED).Param2)
	require.Eventually(t, func() bool { return bridge.Stats().GripperAcked == 1 }, deadline, poll)

	clock.advance(time.Second)
	after := dialRawController(t, "udp4", bridge)
	after.heartbeatHeard(t, bridge)
	require.Equal(t, float32(common.GRIPPER_ACTION_CLOSE), after.nextCommand(t, common.MAV_RESULT_ACCEPTED).Param2)
	require.Eventually(t, func() bool { return bridge.Stats().GripperAcked == 2 }, deadline, poll)
	require.True(t, bridge.Stats().LinkUp, "no link lost on the way")
}

// Line noise is one malformed frame a byte. Reported each, they filled the bridge's events between two
// statuses, and the gripper failure that followed was dropped: the status stayed OK, its last failure
// "none". A channel's malformed frames are now reported once a period, and the status reads the
// failure from the bridge's state, at WARN.
func TestGripperFailureOutlivesLineNoise(t *testing.T) {
	clock := newManualClock()
	bridge := &Bridge{Endpoint: "tcp-server:127.0.0.1:0", Now: clock.now}
	require.NoError(t, bridge.Initialize())
	defer bridge.Close()
	forwarder := &Forwarder{Bridge: bridge, GripperDim: 6}
	ctrl := dialRawController(t, "tcp4", bridge)
	ctrl.heartbeat(t)
	require.Eventually(t, func() bool { return bridge.Stats().LinkUp }, deadline, poll)
	require.Equal(t, msgs.DiagnosticOK, forwarder.LinkStatus().Level)

	const noise = 4 * eventBuffer
	_, err := ctrl.conn.Write(bytes.Repeat([]byte{0x55}, noise))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return bridge.Stats().MalformedFrames >= noise }, deadline, poll)
	require.NoError(t, bridge.Send(testChunk(1, 1)))
	ctrl.nextCommand(t, common.MAV_RESULT_DENIED)
	require.Eventually(t, func() bool { return bridge.Stats().GripperFailed == 1 }, deadline, poll)

	status := forwarder.LinkStatus()
	failure := "gripper close failed after 1 attempts: controller answered MAV_RESULT_DENIED"
	require.Equal(t, msgs.DiagnosticWarn, status.Level, status.Message)
	require.Equal(t, "link up, but since the last report 1 gripper commands failed; "+failure, status.Message)
	require.Equal(t, failure, statusValue(t, status, "last gripper failure"))
	require.Zero(t, bridge.Stats().EventsDropped)

	status = forwarder.LinkStatus()
	require.Equal(t, msgs.DiagnosticOK, status.Level, "said once")
	require.Equal(t, failure, statusValue(t, status, "last gripper failure"), "kept")
}
