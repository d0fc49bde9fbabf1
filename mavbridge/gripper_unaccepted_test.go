package mavbridge

import (
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/stretchr/testify/require"

	"dysl_vla/msgs"
)

// A failed gripper command is not the end of it: the policy still asks for the state, and no later
// chunk is a transition that would command it again. The state is commanded again one
// gripperCommander.resendWait (the link timeout, 1 s here) after each failure, and the status stays WARN
// while the controller has not accepted it.
func TestAFailedGripperStateIsCommandedAgain(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(o *offlineBridge)
	}{
		{"unanswered", func(*offlineBridge) {}},
		{"denied", func(o *offlineBridge) { o.ack(common.MAV_RESULT_DENIED) }},
		{"busy", func(o *offlineBridge) { o.ack(common.MAV_RESULT_TEMPORARILY_REJECTED) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOfflineBridge(t) // 2 retries 100 ms apart
			f := &Forwarder{Bridge: o.Bridge, GripperDim: 1}
			o.heartbeat()
			o.gripperValue(t, 1)
			tc.answer(o)
			o.run(time.Second)
			require.EqualValues(t, 1, o.Stats().GripperFailed)
			require.Equal(t, msgs.DiagnosticWarn, f.LinkStatus().Level, "the failure")

			before := o.Stats().GripperCommands
			for range 10 {
				sent := o.Stats().GripperCommands
				o.gripperValue(t, 1)
				o.run(10 * time.Millisecond)
				tc.answer(o)
				o.run(990 * time.Millisecond)
				require.LessOrEqual(t, o.Stats().GripperCommands-sent, uint64(3), "one command, its retries at most, a wait")
			}
			require.Greater(t, o.Stats().GripperCommands, before, "the close is commanded again")
			st := f.LinkStatus()
			require.Equal(t, msgs.DiagnosticWarn, st.Level)
			require.Contains(t, st.Message, "the controller has not accepted gripper close, asked for 11.0 s ago")
			require.Equal(t, &GripperUnaccepted{Action: GripperClose, For: 11 * time.Second}, o.Stats().GripperUnaccepted)

			for waited := time.Duration(0); o.gripper.pending == nil; waited += 10 * time.Millisecond {
				require.Less(t, waited, 2*time.Second, "the next command goes out within a wait after a failure")
				o.run(10 * time.Millisecond)
			}
			o.ack(common.MAV_RESULT_ACCEPTED)
			require.Nil(t, o.Stats().GripperUnaccepted)
			o.run(5 * time.Second)
			st = f.LinkStatus()
			require.Equal(t, msgs.DiagnosticOK, st.Level, "accepted at last: %s", st.Message)
		})
	}
}

// A controller that answers MAV_RESULT_IN_PROGRESS every second, and never the outcome, keeps the
// command pending without end (each IN_PROGRESS starts the progress timeout again): no failure
// says so, the status does, naming the answer.
func TestEndlessProgressShowsInTheStatus(t *testing.T) {
	o := newOfflineBridge(t)
	f := &Forwarder{Bridge: o.Bridge, GripperDim: 1}
	o.heartbeat()
	o.gripperValue(t, 1)
	for range 120 {
		o.ack(common.MAV_RESULT_IN_PROGRESS)
		o.run(time.Second)
	}
	require.NotNil(t, o.gripper.pending)
	require.Zero(t, o.Stats().GripperFailed)
	st := f.LinkStatus()
	require.Equal(t, msgs.DiagnosticWarn, st.Level)
	require.Contains(t, st.Message, "the controller has not accepted gripper close, asked for 120.0 s ago "+
		"(a command is pending; the controller's latest answer: MAV_RESULT_IN_PROGRESS)")
	require.Equal(t, "close for 120.0 s", statusValue(t, st, "gripper not accepted"))

	o.ack(common.MAV_RESULT_ACCEPTED)
	o.run(time.Second)
	require.Equal(t, "none", statusValue(t, f.LinkStatus(), "gripper not accepted"), "once the controller accepted it")
}
