package mavbridge

import (
	"math"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/stretchr/testify/require"

	"dysl_vla/msgs"
)

// offlineBridge is a Bridge without a transport, driven by a fake clock: it exercises the gripper and link
// logic deterministically. Frames it would write are counted as dropped, since no channel is open.
type offlineBridge struct {
	*Bridge
	now time.Time
}

func newOfflineBridge(t *testing.T) *offlineBridge {
	o := &offlineBridge{now: time.Unix(5000, 0)}
	o.Bridge = &Bridge{Endpoint: "udp-client:127.0.0.1:14550", LinkTimeout: time.Second,
		GripperAckTimeout: 100 * time.Millisecond, GripperRetries: 2, Now: func() time.Time { return o.now }}
	o.applyDefaults()
	require.NoError(t, o.validate())
	o.initState()
	return o
}

func (o *offlineBridge) advance(d time.Duration) {
	o.now = o.now.Add(d)
	o.onTick(o.now)
}

func (o *offlineBridge) heartbeat() {
	o.handleMessage(&common.MessageHeartbeat{Type: common.MAV_TYPE_GENERIC}, o.now)
}

func (o *offlineBridge) ack(result common.MAV_RESULT) {
	o.handleMessage(&common.MessageCommandAck{Command: common.MAV_CMD_DO_GRIPPER, Result: result}, o.now)
}

func (o *offlineBridge) gripperValue(t *testing.T, v float32) {
	require.NoError(t, o.Send(Chunk{Seq: 1, Stamp: o.now, StepDt: time.Millisecond, Steps: 1, Dims: 2,
		Values: []float32{0, v}, GripperDim: 1}))
}

func (o *offlineBridge) drainEvents() []Event {
	var got []Event
	for {
		select {
		case e := <-o.events:
			got = append(got, e)
		default:
			return got
		}
	}
}

func TestGripperCommandLifecycle(t *testing.T) {
	t.Run("accepted on the first attempt", func(t *testing.T) {
		o := newOfflineBridge(t)
		o.heartbeat()
		o.gripperValue(t, 1)
		require.EqualValues(t, 1, o.counts.gripperCommands)
		o.ack(common.MAV_RESULT_ACCEPTED)
		o.advance(time.Second)
		require.EqualValues(t, 1, o.counts.gripperCommands, "no retry after acceptance")
		require.Contains(t, o.drainEvents(), Event(EventGripperAcked{Action: GripperClose, Attempts: 1}))
	})
	t.Run("retried until accepted", func(t *testing.T) {
		o := newOfflineBridge(t)
		o.heartbeat()
		o.gripperValue(t, 0)
		o.advance(99 * time.Millisecond)
		require.EqualValues(t, 1, o.counts.gripperCommands, "within the ack timeout")
		o.advance(time.Millisecond)
		require.EqualValues(t, 2, o.counts.gripperCommands)
		o.ack(common.MAV_RESULT_ACCEPTED)
		require.Contains(t, o.drainEvents(), Event(EventGripperAcked{Action: GripperOpen, Attempts: 2}))
	})
	t.Run("fails after the retries", func(t *testing.T) {
		o := newOfflineBridge(t)
		o.heartbeat()
		o.gripperValue(t, 1)
		for range 5 {
			o.heartbeat() // keep the link up
			o.advance(100 * time.Millisecond)
		}
		require.EqualValues(t, 3, o.counts.gripperCommands, "first attempt and two retries")
		require.EqualValues(t, 1, o.counts.gripperFailed)
		require.Contains(t, o.drainEvents(), Event(EventGripperFailed{Action: GripperClose, Attempts: 3,
			Reason: "no COMMAND_ACK accepting it after 3 attempts"}))
	})
	keepLinkUp := func(o *offlineBridge, d time.Duration) {
		for range d / (100 * time.Millisecond) {
			o.heartbeat()
			o.advance(100 * time.Millisecond)
		}
	}
	t.Run("in progress waits for the outcome without sending again", func(t *testing.T) {
		o := newOfflineBridge(t)
		o.heartbeat()
		o.gripperValue(t, 1)
		o.advance(10 * time.Millisecond)
		o.ack(common.MAV_RESULT_IN_PROGRESS)
		keepLinkUp(o, 2500*time.Millisecond) // 25 ack timeouts
		require.EqualValues(t, 1, o.counts.gripperCommands, "not sent again while the controller works on it")
		o.ack(common.MAV_RESULT_ACCEPTED)
		require.Contains(t, o.drainEvents(), Event(EventGripperAcked{Action: GripperClose, Attempts: 1}))
	})
	t.Run("in progress without an outcome fails, naming it", func(t *testing.T) {
		o := newOfflineBridge(t)
		o.heartbeat()
		o.gripperValue(t, 1)
		o.ack(common.MAV_RESULT_IN_PROGRESS)
		keepLinkUp(o, o.GripperProgressTimeout)
		require.EqualValues(t, 1, o.counts.gripperCommands)
		require.Contains(t, o.drainEvents(), Event(EventGripperFailed{Action: GripperClose, Attempts: 1,
			Reason: "no final COMMAND_ACK within 3s of MAV_RESULT_IN_PROGRESS"}))
	})
	t.Run("a failure after the retries names the last answer", func(t *testing.T) {
		o := newOfflineBridge(t)
		o.heartbeat()
		o.gripperValue(t, 1)
		for range 3 {
			o.ack(common.MAV_RESULT_TEMPORARILY_REJECTED)
			keepLinkUp(o, o.GripperAckTimeout)
		}
		require.Contains(t, o.drainEvents(), Event(EventGripperFailed{Action: GripperClose, Attempts: 3,
			Reason: "no COMMAND_ACK accepting it after 3 attempts; the last answer was MAV_RESULT_TEMPORARILY_REJECTED"}))
	})
	t.Run("denied fails at once", func(t *testing.T) {
		o := newOfflineBridge(t)
		o.heartbeat()
		o.gripperValue(t, 1)
		o.ack(common.MAV_RESULT_DENIED)
		o.advance(time.Second)
		require.EqualValues(t, 1, o.counts.gripperCommands)
		require.Contains(t, o.drainEvents(), Event(EventGripperFailed{Action: GripperClose, Attempts: 1,
			Reason: "controller answered MAV_RESULT_DENIED"}))
	})
	t.Run("opposite transition supersedes", func(t *testing.T) {
		o := newOfflineBridge(t)
		o.heartbeat()
		o.gripperValue(t, 1)
		o.gripperValue(t, 0)
		require.EqualValues(t, 2, o.counts.gripperCommands)
		require.Contains(t, o.drainEvents(), Event(EventGripperFailed{Action: GripperClose, Attempts: 1,
			Reason: "superseded by open before it was accepted"}))
		o.advance(o.GripperAckTimeout + time.Millisecond) // the close's answer past due: the open is sent again
		o.ack(common.MAV_RESULT_ACCEPTED)
		require.Contains(t, o.drainEvents(), Event(EventGripperAcked{Action: GripperOpen, Attempts: 2}))
	})
	t.Run("an ack that may be the replaced command's does not count", func(t *testing.T) {
		// Close, then open 50 ms later; the close's ack comes late and the open is lost on the way.
		o := newOfflineBridge(t)
		o.heartbeat()
		o.gripperValue(t, 1)
		o.advance(50 * time.Millisecond)
		o.gripperValue(t, 0)
		o.advance(50 * time.Millisecond)
		o.ack(common.MAV_RESULT_ACCEPTED) // the close's
		require.Zero(t, o.Stats().GripperAcked)
		require.NotNil(t, o.gripper.pending, "the open still waits for its own ack")
		o.advance(o.GripperAckTimeout)
		require.EqualValues(t, 3, o.Stats().GripperCommands, "close, open, open again")
		o.ack(common.MAV_RESULT_ACCEPTED)
		require.Contains(t, o.drainEvents(), Event(EventGripperAcked{Action: GripperOpen, Attempts: 2}))
	})
	t.Run("transition during link loss is sent when the link returns", func(t *testing.T) {
		o := newOfflineBridge(t)
		o.gripperValue(t, 1)
		require.EqualValues(t, 0, o.counts.gripperCommands, "no controller yet")
		require.EqualValues(t, 1, o.Stats().ChunksDiscarded)
		o.heartbeat()
		require.EqualValues(t, 1, o.counts.gripperCommands)
		o.advance(time.Second) // silence: link lost, pending command fails
		events := o.drainEvents()
		require.Contains(t, events, Event(EventLinkLost{Silence: time.Second}))
		require.Contains(t, events, Event(EventGripperFailed{Action: GripperClose, Attempts: 1,
			Reason: "link lost before COMMAND_ACK; sent again when the link returns"}))
		o.heartbeat()
		require.Contains(t, o.drainEvents(), Event(EventLinkUp{SystemID: 1, ComponentID: 1, Resumed: true}))
		require.EqualValues(t, 2, o.counts.gripperCommands)
		o.ack(common.MAV_RESULT_ACCEPTED)
		require.EqualValues(t, 1, o.counts.gripperAcked)
	})
	t.Run("acks for another commander are ignored", func(t *testing.T) {
		o := newOfflineBridge(t)
		o.heartbeat()
		o.gripperValue(t, 1)
		o.drainEvents()
		o.handleMessage(&common.MessageCommandAck{Command: common.MAV_CMD_DO_GRIPPER,
			Result: common.MAV_RESULT_ACCEPTED, TargetSystem: 255, TargetComponent: 190}, o.now)
		require.Nil(t, o.drainEvents())
		require.NotNil(t, o.gripper.pending)
	})
}

func TestEventsNeverBlock(t *testing.T) {
	o := newOfflineBridge(t)
	for range eventBuffer + 5 {
		o.emit(EventLinkLost{})
	}
	require.EqualValues(t, 5, o.Stats().EventsDropped)
}

// Settings that would put NaN or a meaningless hysteresis into gripper commands are refused by name.
func TestBridgeRefusesNonFiniteGripperSettings(t *testing.T) {
	nan := float32(math.NaN())
	for _, c := range []struct {
		change func(*Bridge)
		want   string
	}{
		{func(b *Bridge) { b.GripperClosedValue = nan }, "GripperOpenValue (-1) and GripperClosedValue (NaN) must be finite numbers"},
		{func(b *Bridge) { b.GripperOpenValue = float32(math.Inf(1)) }, "GripperOpenValue (+Inf)"},
		{func(b *Bridge) { b.GripperHysteresis = nan }, "GripperHysteresis is NaN, expected a fraction from 0 to below 1"},
		{func(b *Bridge) { b.GripperHysteresis = 1 }, "GripperHysteresis is 1"},
	} {
		b := &Bridge{Endpoint: "udp-client:127.0.0.1:14550"}
		b.applyDefaults()
		c.change(b)
		require.ErrorContains(t, b.validate(), c.want)
	}
}

// Close is safe on a bridge or monitor that never started (not initialized, or Initialize failed) and
// when called again: a shutdown path need not know how far start-up got.
func TestCloseBeforeStartOrTwiceDoesNothing(t *testing.T) {
	(&Bridge{}).Close()
	failed := &Bridge{Endpoint: "carrier-pigeon:1"}
	require.Error(t, failed.Initialize())
	failed.Close()
	b := &Bridge{Endpoint: "udp-client:127.0.0.1:9"}
	require.NoError(t, b.Initialize())
	b.Close()
	b.Close()
	require.ErrorIs(t, b.Send(Chunk{Stamp: time.Unix(1, 0), Steps: 1, Dims: 1, Values: []float32{0}, GripperDim: NoGripper, StepDt: time.Millisecond}), ErrClosed)

	(&Monitor{}).Close()
	m := &Monitor{Endpoint: "udp-server:127.0.0.1:0"}
	require.NoError(t, m.Initialize())
	m.Close()
	m.Close()
}

// A change of the gripper inside a chunk is commanded when its step comes due (arrival + s·StepDt),
// not only when a chunk's first step changes it; a newer chunk replaces the steps not yet due.
func TestGripperStepsAreCommandedWhenDue(t *testing.T) {
	o := newOfflineBridge(t)
	o.heartbeat()
	// Steps 0-1 open, 2-3 closed, 100 ms apart.
	send := func(values ...float32) {
		chunk := Chunk{Seq: 1, Stamp: o.now, StepDt: 100 * time.Millisecond, Steps: len(values), Dims: 2, GripperDim: 1}
		for _, v := range values {
			chunk.Values = append(chunk.Values, 0, v)
		}
		require.NoError(t, o.Send(chunk))
	}
	send(-1, -1, 1, 1)
	require.Equal(t, uint64(1), o.Stats().GripperCommands, "step 0 opens at once (the state was unknown)")
	o.ack(common.MAV_RESULT_ACCEPTED)
	o.advance(150 * time.Millisecond)
	require.Equal(t, uint64(1), o.Stats().GripperCommands, "step 1 keeps it open")
	o.advance(60 * time.Millisecond) // 210 ms: step 2 is due
	require.Equal(t, uint64(2), o.Stats().GripperCommands, "closed when step 2 came due")
	require.Equal(t, GripperClose, o.gripper.pending.action)

	// A newer chunk that opens at its step 1 replaces what was left of the first.
	o.ack(common.MAV_RESULT_ACCEPTED)
	send(1, -1)
	require.Equal(t, uint64(2), o.Stats().GripperCommands)
	o.advance(99 * time.Millisecond)
	require.Equal(t, uint64(2), o.Stats().GripperCommands, "not yet due")
	o.advance(time.Millisecond)
	require.Equal(t, uint64(3), o.Stats().GripperCommands)
	require.Equal(t, GripperOpen, o.gripper.pending.action)
}

// A chunk's steps are due from its stamp (the observation's time) when that is on the bridge's clock:
// a chunk 150 ms late does not command the steps the controller has already moved past, only the one
// in force. A stamp off the bridge's clock (sim time, a replayed bag) counts from the arrival.
func TestGripperStepsFollowTheStamp(t *testing.T) {
	o := newOfflineBridge(t)
	o.heartbeat()
	send := func(stamp time.Time, values ...float32) {
		chunk := Chunk{Seq: 1, Stamp: stamp, StepDt: 100 * time.Millisecond, Steps: len(values), Dims: 2, GripperDim: 1}
		for _, v := range values {
			chunk.Values = append(chunk.Values, 0, v)
		}
		require.NoError(t, o.Send(chunk))
	}
	send(o.now, 1)
	o.ack(common.MAV_RESULT_ACCEPTED) // closed, and the controller knows it
	require.Equal(t, uint64(1), o.Stats().GripperCommands)

	send(o.now.Add(-150*time.Millisecond), -1, 1, 1) // step 0 was due 150 ms ago, step 1 50 ms ago
	require.Equal(t, uint64(1), o.Stats().GripperCommands, "no open for a step already past")

	send(o.now.Add(-150*time.Millisecond), 1, -1, -1, 1)
	require.Equal(t, uint64(2), o.Stats().GripperCommands, "step 1, in force now, opens")
	require.Equal(t, GripperOpen, o.gripper.pending.action)
	o.ack(common.MAV_RESULT_ACCEPTED)
	o.advance(100 * time.Millisecond) // step 2 keeps it open
	require.Equal(t, uint64(2), o.Stats().GripperCommands)
	o.advance(100 * time.Millisecond) // step 3 closes
	require.Equal(t, uint64(3), o.Stats().GripperCommands)

	o.ack(common.MAV_RESULT_ACCEPTED)
	send(time.Unix(12, 0), -1, -1) // sim time: from the arrival, step 0 now
	require.Equal(t, uint64(4), o.Stats().GripperCommands)
	require.Equal(t, GripperOpen, o.gripper.pending.action)
}

// Whether a chunk's steps count from its stamp does not hang on the link timeout: a chunk 350 ms late
// (camera and inference latency, within the node's max_image_age) on a link with a 300 ms timeout
// still closes when its step comes due on the controller's timeline, 150 ms after it arrived, not
// 500 ms after. Chunks whose stamps are off the bridge's clock (StampsOffClock: sim time, a replayed
// bag) count from their arrival.
func TestGripperPlanDoesNotDependOnTheLinkTimeout(t *testing.T) {
	closesAtStep5 := func(stamp time.Time) Chunk {
		c := Chunk{Seq: 1, Stamp: stamp, StepDt: 100 * time.Millisecond, Steps: 8, Dims: 2, GripperDim: 1}
		for s := range 8 {
			c.Values = append(c.Values, 0, map[bool]float32{true: 1, false: -1}[s >= 5])
		}
		return c
	}
	o := newOfflineBridge(t)
	o.LinkTimeout, o.link.timeout = 300*time.Millisecond, 300*time.Millisecond
	o.heartbeat()
	require.NoError(t, o.Send(closesAtStep5(o.now.Add(-350*time.Millisecond))))
	require.Equal(t, GripperOpen, o.gripper.pending.action, "step 3, in force on arrival, opens")
	o.ack(common.MAV_RESULT_ACCEPTED)
	o.advance(140 * time.Millisecond)
	require.Nil(t, o.gripper.pending, "step 5 is not due yet")
	o.advance(10 * time.Millisecond)
	require.NotNil(t, o.gripper.pending)
	require.Equal(t, GripperClose, o.gripper.pending.action, "step 5 closes 150 ms after the arrival")

	off := newOfflineBridge(t)
	off.StampsOffClock = true
	off.heartbeat()
	require.NoError(t, off.Send(closesAtStep5(off.now.Add(-350*time.Millisecond))))
	off.ack(common.MAV_RESULT_ACCEPTED)
	off.advance(490 * time.Millisecond)
	require.Nil(t, off.gripper.pending, "off the clock: step 5 is due 500 ms after the arrival")
	off.advance(10 * time.Millisecond)
	require.Equal(t, GripperClose, off.gripper.pending.action)
}

// The due times of a chunk's steps are read on the monotonic clock of the bridge's now, though a
// ROS stamp carries none: a wall clock stepped by NTP after the chunk arrived moves none of them.
func TestGripperPlanKeepsTheMonotonicClock(t *testing.T) {
	o := newOfflineBridge(t)
	now := time.Now()
	stamp := time.Unix(0, now.UnixNano()).Add(-50 * time.Millisecond) // as a header.stamp gives it
	o.planGripper(Chunk{Seq: 1, Stamp: stamp, StepDt: 100 * time.Millisecond, Steps: 3, Dims: 2,
		Values: []float32{0, -1, 0, -1, 0, 1}, GripperDim: 1}, now)
	require.Len(t, o.gripperPlan, 2, "step 0 was due on arrival")
	for _, p := range o.gripperPlan {
		require.NotEqual(t, p.due.Round(0), p.due, "due %v has no monotonic reading", p.due)
	}
}

// A controller heartbeating in MAVLink 1 brings the link up, but VLA_ACTION_CHUNK (id 43000) exists
// only in MAVLink 2: the status warns, naming it, until the controller's heartbeats are MAVLink 2.
func TestStatusWarnsOfAMAVLink1Controller(t *testing.T) {
	o := newOfflineBridge(t)
	forwarder := &Forwarder{Bridge: o.Bridge, GripperDim: NoGripper}
	heartbeat := &common.MessageHeartbeat{Type: common.MAV_TYPE_GENERIC}
	o.handle(&gomavlib.EventFrame{Frame: &frame.V1Frame{SystemID: 1, ComponentID: 1, Message: heartbeat}})
	status := forwarder.LinkStatus()
	require.Equal(t, msgs.DiagnosticWarn, status.Level)
	require.Contains(t, status.Message, "the controller heartbeats in MAVLink 1 and has not yet shown that it reads MAVLink 2")
	require.Contains(t, status.Message, "the chunks (VLA_ACTION_CHUNK, id 43000) exist only in MAVLink 2")

	o.handle(&gomavlib.EventFrame{Frame: &frame.V2Frame{SystemID: 1, ComponentID: 1, Message: heartbeat}})
	require.Equal(t, msgs.DiagnosticOK, forwarder.LinkStatus().Level, "switched to MAVLink 2")
}

// A MAVLink 1 COMMAND_ACK carries no target, so one from the controller's ids may answer a ground
// station's DO_GRIPPER on a shared router: it shows the controller reads MAVLink 2 only while one of
// the bridge's commands awaits an answer.
func TestMAVLink1AckShowsMAVLink2OnlyForTheBridgesCommand(t *testing.T) {
	o := newOfflineBridge(t)
	forwarder := &Forwarder{Bridge: o.Bridge, GripperDim: 1}
	v1 := func(m message.Message) {
		o.handle(&gomavlib.EventFrame{Frame: &frame.V1Frame{SystemID: 1, ComponentID: 1, Message: m}})
	}
	v1(&common.MessageHeartbeat{Type: common.MAV_TYPE_GENERIC})
	v1(&common.MessageCommandAck{Command: common.MAV_CMD_DO_GRIPPER, Result: common.MAV_RESULT_ACCEPTED})
	require.False(t, o.Stats().ControllerReadsMAVLink2, "no command of the bridge's was sent: the ack is another's")
	require.Contains(t, forwarder.LinkStatus().Message, "has not yet shown that it reads MAVLink 2")

	o.gripperValue(t, 1)
	require.NotNil(t, o.gripper.pending)
	v1(&common.MessageCommandAck{Command: common.MAV_CMD_DO_GRIPPER, Result: common.MAV_RESULT_ACCEPTED})
	require.True(t, o.Stats().ControllerReadsMAVLink2, "it answered the bridge's command")
	require.NotContains(t, forwarder.LinkStatus().Message, "MAVLink 1")
}

// The MAVLink 1 warning leads the status while it lasts, and must not hide chunks lost meanwhile: the
// counts since the previous status follow it.
func TestMAVLink1WarningHidesNoLostChunks(t *testing.T) {
	o := newOfflineBridge(t)
	forwarder := &Forwarder{Bridge: o.Bridge, GripperDim: NoGripper}
	heartbeat := &common.MessageHeartbeat{Type: common.MAV_TYPE_GENERIC}
	o.handle(&gomavlib.EventFrame{Frame: &frame.V1Frame{SystemID: 1, ComponentID: 1, Message: heartbeat}})
	forwarder.LinkStatus()
	require.NoError(t, o.Send(testChunk(1, 0))) // no channel is open: discarded with the link up
	status := forwarder.LinkStatus()
	require.Equal(t, msgs.DiagnosticWarn, status.Level)
	require.Contains(t, status.Message, "the controller heartbeats in MAVLink 1")
	require.Contains(t, status.Message, "; since the last report 1 chunks were discarded and 0 frames dropped")
	require.NotContains(t, forwarder.LinkStatus().Message, "discarded", "said once")
}

// With executed_actions set (Chunk.Executed), the controller runs that many steps of a chunk from the
// one nearest its arrival (docs/CONTROLLER.md, rule 1) and then holds still, the gripper unchanged: a close among the steps after
// them is not commanded, or the gripper would shut while the arm waits for the next chunk.
func TestGripperPlanEndsWithTheExecutedSteps(t *testing.T) {
	closesAtStep5 := func(stamp time.Time, executed int) Chunk {
		c := Chunk{Seq: 1, Stamp: stamp, StepDt: 100 * time.Millisecond, Steps: 8, Dims: 2, GripperDim: 1, Executed: executed}
		for s := range 8 {
			c.Values = append(c.Values, 0, map[bool]float32{true: 1, false: -1}[s >= 5])
		}
		return c
	}
	for _, tc := range []struct {
		name     string
		late     time.Duration
		executed int
		closes   bool
	}{
		{"steps 0 to 4 run", 0, 5, false},
		{"steps 0 to 5 run", 0, 6, true},
		{"all steps run", 0, 0, true},
		{"late: steps 2 to 4 run", 240 * time.Millisecond, 3, false},
		{"late: steps 2 to 5 run", 240 * time.Millisecond, 4, true},
		{"late past half a step: steps 3 to 5 run", 260 * time.Millisecond, 3, true},
		{"late by half a step: steps 3 to 5 run", 250 * time.Millisecond, 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOfflineBridge(t)
			o.heartbeat()
			require.NoError(t, o.Send(closesAtStep5(o.now.Add(-tc.late), tc.executed)))
			require.Equal(t, GripperOpen, o.gripper.pending.action, "the step in force on arrival opens")
			o.ack(common.MAV_RESULT_ACCEPTED)
			o.advance(700 * time.Millisecond) // past step 7, within the link timeout
			if tc.closes {
				require.NotNil(t, o.gripper.pending, "step 5 is executed: it closes")
				require.Equal(t, GripperClose, o.gripper.pending.action)
			} else {
				require.Nil(t, o.gripper.pending, "step 5 is not executed: no close")
			}
		})
	}
}

// A chunk 60 ms late at 100 ms a step: the controller starts at the nearest step, 1, and with
// executed_actions 2 runs steps 1 and 2, so the close at step 2 is commanded, 200 ms after the stamp.
// Counted from step 0, in force on arrival, the plan ended at step 1 and the close never went out.
func TestGripperPlanCountsTheExecutedStepsFromTheNearest(t *testing.T) {
	o := newOfflineBridge(t)
	o.heartbeat()
	require.NoError(t, o.Send(Chunk{Seq: 1, Stamp: o.now.Add(-60 * time.Millisecond), StepDt: 100 * time.Millisecond,
		Steps: 4, Dims: 1, GripperDim: 0, Executed: 2, Values: []float32{-1, -1, 1, 1}}))
	require.Equal(t, GripperOpen, o.gripper.pending.action, "step 0, in force on arrival, opens")
	o.ack(common.MAV_RESULT_ACCEPTED)
	sent := o.counts.gripperCommands
	o.advance(130 * time.Millisecond)
	require.Equal(t, sent, o.counts.gripperCommands, "step 2 is not due yet")
	o.advance(10 * time.Millisecond)
	require.Equal(t, sent+1, o.counts.gripperCommands, "step 2, run by the controller, closes")
	require.Equal(t, GripperClose, o.gripper.pending.action)
}

// The Forwarder gives each chunk the executed_actions the node core passes with it (a live parameter).
func TestForwarderSendsTheExecutedActionsInForce(t *testing.T) {
	o := newOfflineBridge(t)
	forwarder := &Forwarder{Bridge: o.Bridge, GripperDim: 1}
	o.heartbeat()
	chunk := &msgs.ActionChunk{Header: msgs.Header{Stamp: msgs.TimeFromGo(o.now)}, StepDt: msgs.DurationFromGo(100 * time.Millisecond),
		Steps: 4, ActionDim: 2, Actions: []float32{0, -1, 0, -1, 0, 1, 0, 1}}
	require.NoError(t, forwarder.ForwardChunk(chunk, 0))
	require.Len(t, o.gripperPlan, 3, "all 4 steps planned, step 0 done")
	require.NoError(t, forwarder.ForwardChunk(chunk, 2))
	require.Len(t, o.gripperPlan, 1, "steps 0 and 1 run, step 0 done")
}

// A controller that heartbeats in MAVLink 1 and reads MAVLink 2 gets every chunk (measured: 60 of 60
// chunks, 3 of 3 gripper acks): once it answers a gripper command, which went in MAVLink 2, the
// warning that it may not read the chunks is over, though its frames stay MAVLink 1. It comes back
// when the link does: the controller heard then may be another program.
func TestMAVLink1WarningClearsOnceTheControllerAnswersMAVLink2(t *testing.T) {
	o := newOfflineBridge(t)
	forwarder := &Forwarder{Bridge: o.Bridge, GripperDim: 1}
	v1 := func(m message.Message) {
		o.handle(&gomavlib.EventFrame{Frame: &frame.V1Frame{SystemID: 1, ComponentID: 1, Message: m}})
	}
	heartbeat := &common.MessageHeartbeat{Type: common.MAV_TYPE_GENERIC}
	v1(heartbeat)
	require.Equal(t, msgs.DiagnosticWarn, forwarder.LinkStatus().Level)

	o.gripperValue(t, 1) // a close, sent as MAVLink 2
	v1(&common.MessageCommandAck{Command: common.MAV_CMD_DO_GRIPPER, Result: common.MAV_RESULT_ACCEPTED})
	v1(heartbeat)
	require.True(t, o.Stats().ControllerMAVLink1)
	require.NotContains(t, forwarder.LinkStatus().Message, "MAVLink 1") // it says the chunk discarded (no channel here)
	status := forwarder.LinkStatus()
	require.Equal(t, msgs.DiagnosticOK, status.Level, status.Message)

	o.advance(o.LinkTimeout) // silence: the link is lost
	v1(heartbeat)
	require.Contains(t, forwarder.LinkStatus().Message, "has not yet shown that it reads MAVLink 2", "the link came up again")
}
