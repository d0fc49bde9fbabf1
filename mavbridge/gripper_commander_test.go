package mavbridge

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/stretchr/testify/require"
)

// commanderStep is one input to a gripperCommander and what it must decide, at ms milliseconds into
// the scenario. The inputs: "up" and "lost" (the link), "unknown" (a restart or a new channel), "open"
// and "close" (the policy's transition), "ack RESULT" (MAV_RESULT_ without its prefix), "tick", and
// "status", whose output is Stats.GripperUnaccepted. The output is commanderOutput's text: each send
// as "send ACTION#CONFIRMATION", then each event, "; " between them, "" for none.
type commanderStep struct {
	ms       int
	in, want string
}

// The gripper commander alone, as a list of scenarios: ack timeout 100 ms, progress timeout 3 s, two
// retries, a resend wait of 1 s (the offline bridge's settings). Every step is checked, a step
// deciding nothing included, so each scenario says when each command goes out and when not.
func TestGripperCommanderScenarios(t *testing.T) {
	for _, tc := range []struct {
		name string
		// channels is how many controller channels a command goes to; 1 when zero.
		channels int
		steps    []commanderStep
	}{
		{"accepted at the first send", 0, []commanderStep{
			{0, "up", ""},
			{0, "close", "send close#0"},
			{0, "status", "close for 0s, pending, unanswered"},
			{10, "ack ACCEPTED", "acked close after 1"},
			{500, "tick", ""},
			{500, "status", "accepted"},
		}},
		{"sent again each ack timeout, then failed after the retries", 0, []commanderStep{
			{0, "up", ""},
			{0, "close", "send close#0"},
			{99, "tick", ""},
			{100, "tick", "send close#1"},
			{200, "tick", "send close#2"},
			{300, "tick", "failed close after 3: no COMMAND_ACK accepting it after 3 attempts"},
			{300, "status", "close for 300ms"},
		}},
		{"busy is retried, and the failure names the last answer", 0, []commanderStep{
			{0, "up", ""},
			{0, "close", "send close#0"},
			{5, "ack TEMPORARILY_REJECTED", ""},
			{100, "tick", "send close#1"},
			{105, "ack TEMPORARILY_REJECTED", ""},
			{200, "tick", "send close#2"},
			{300, "tick", "failed close after 3: no COMMAND_ACK accepting it after 3 attempts; the last answer was MAV_RESULT_TEMPORARILY_REJECTED"},
		}},
		{"IN_PROGRESS waits for the outcome without sending again", 0, []commanderStep{
			{0, "up", ""},
			{0, "close", "send close#0"},
			{10, "ack IN_PROGRESS", ""},
			{2500, "tick", ""},
			{2500, "status", "close for 2.5s, pending, answered MAV_RESULT_IN_PROGRESS"},
			{2600, "ack ACCEPTED", "acked close after 1"},
		}},
		{"IN_PROGRESS then no outcome within the progress timeout fails", 0, []commanderStep{
			{0, "up", ""},
			{0, "close", "send close#0"},
			{10, "ack IN_PROGRESS", ""},
			{3009, "tick", ""},
			{3010, "tick", "failed close after 1: no final COMMAND_ACK within 3s of MAV_RESULT_IN_PROGRESS"},
		}},
		{"each IN_PROGRESS starts the wait again", 0, []commanderStep{
			{0, "up", ""},
			{0, "close", "send close#0"},
			{0, "ack IN_PROGRESS", ""},
			{2000, "ack IN_PROGRESS", ""},
			{4999, "tick", ""},
			{5000, "tick", "failed close after 1: no final COMMAND_ACK within 3s of MAV_RESULT_IN_PROGRESS"},
		}},
		{"DENIED fails at once, and the state is commanded again after the resend wait", 0, []commanderStep{
			{0, "up", ""},
			{0, "close", "send close#0"},
			{10, "ack DENIED", "failed close after 1: controller answered MAV_RESULT_DENIED"},
			{1009, "tick", ""},
			{1010, "tick", "send close#0"},
			{1010, "status", "close for 1.01s, pending, unanswered"},
			{1020, "ack ACCEPTED", "acked close after 1"},
		}},
		{"the opposite transition supersedes, and the older command's ack does not count for it", 0, []commanderStep{
			{0, "up", ""},
			{0, "close", "send close#0"},
			{50, "open", "send open#0; failed close after 1: superseded by open before it was accepted"},
			{60, "ack ACCEPTED", ""}, // the close's, or the open's: it cannot tell
			{100, "tick", ""},        // the close's answer may come until 100
			{101, "tick", "send open#1"},
			{110, "ack ACCEPTED", "acked open after 2"},
		}},
		{"the late outcome of a replaced command in progress counts for none", 0, []commanderStep{
			{0, "up", ""},
			{0, "close", "send close#0"},
			{10, "ack IN_PROGRESS", ""}, // the close's outcome may come until 3010
			{60, "open", "send open#0; failed close after 1: superseded by open before it was accepted"},
			{160, "tick", "send open#1"},
			{210, "ack ACCEPTED", ""}, // maybe the close's outcome: the open waits for its own
			{3010, "tick", ""},
			{3011, "tick", "send open#2"},
			{3020, "ack ACCEPTED", "acked open after 3"},
		}},
		{"an accepted command's copy on the other link does not count for the next", 2, []commanderStep{
			{0, "up", ""},
			{0, "close", "send close#0"},
			{10, "ack ACCEPTED", "acked close after 1"},
			{20, "open", "send open#0"},
			{30, "ack ACCEPTED", ""}, // the close's answer on the second link
			{100, "tick", ""},
			{101, "tick", "send open#1"},
			{110, "ack ACCEPTED", "acked open after 2"},
		}},
		{"a transition while the link is down is sent when it returns", 0, []commanderStep{
			{0, "close", ""},
			{0, "status", "close for 0s"},
			{500, "up", "send close#0"},
			{510, "ack ACCEPTED", "acked close after 1"},
		}},
		{"link lost while pending fails, and its return commands the state again", 0, []commanderStep{
			{0, "up", ""},
			{0, "close", "send close#0"},
			{1000, "lost", "failed close after 1: link lost before COMMAND_ACK; sent again when the link returns"},
			{3000, "tick", ""}, // no resend while the link is down
			{4000, "up", "send close#0"},
			{4010, "ack ACCEPTED", "acked close after 1"},
		}},
		{"a state accepted before is commanded again when the controller's state is unknown", 0, []commanderStep{
			{0, "up", ""},
			{0, "close", "send close#0"},
			{10, "ack ACCEPTED", "acked close after 1"},
			{500, "unknown", "send close#0"},
			{500, "status", "close for 0s, pending, unanswered"},
		}},
		{"a restart while in progress starts the command over, its retries with it", 0, []commanderStep{
			{0, "up", ""},
			{0, "close", "send close#0"},
			{10, "ack IN_PROGRESS", ""},
			{500, "unknown", "send close#0"},
			{510, "ack ACCEPTED", ""}, // maybe the outcome owed before the restart
			{3010, "tick", ""},
			{3011, "tick", "send close#1"},
			{3020, "ack ACCEPTED", "acked close after 2"},
		}},
		{"nothing is commanded before the policy's first transition", 0, []commanderStep{
			{0, "up", ""},
			{0, "unknown", ""},
			{5000, "tick", ""},
			{5000, "status", "accepted"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := gripperCommander{ackTimeout: 100 * time.Millisecond, progressTimeout: 3 * time.Second,
				retries: 2, resendWait: time.Second}
			channels := max(tc.channels, 1)
			start := time.Unix(5000, 0)
			for _, s := range tc.steps {
				now := start.Add(time.Duration(s.ms) * time.Millisecond)
				require.Equal(t, s.want, commanderInput(t, &c, s.in, now, channels), "at %d ms: %s", s.ms, s.in)
			}
		})
	}
}

// commanderInput gives c the input in at now and says what it decided, as commanderStep's text.
func commanderInput(t *testing.T, c *gripperCommander, in string, now time.Time, channels int) string {
	var out gripperOutput
	switch verb, arg, _ := strings.Cut(in, " "); verb {
	case "up":
		out = c.linkCameUp(now, channels)
	case "lost":
		out = c.linkLost(now)
	case "unknown":
		out = c.stateUnknown(now, channels)
	case "open":
		out = c.transition(GripperOpen, now, channels)
	case "close":
		out = c.transition(GripperClose, now, channels)
	case "tick":
		out = c.tick(now, channels)
	case "ack":
		result, ok := map[string]common.MAV_RESULT{
			"ACCEPTED": common.MAV_RESULT_ACCEPTED, "IN_PROGRESS": common.MAV_RESULT_IN_PROGRESS,
			"TEMPORARILY_REJECTED": common.MAV_RESULT_TEMPORARILY_REJECTED, "DENIED": common.MAV_RESULT_DENIED,
		}[arg]
		require.True(t, ok, "no MAV_RESULT_%s in the scenarios' table", arg)
		out = c.ack(result, now)
	case "status":
		return unacceptedText(c.unaccepted(now))
	default:
		t.Fatalf("no input %q", in)
	}
	var said []string
	for _, s := range out.sends {
		said = append(said, fmt.Sprintf("send %v#%d", s.action, s.confirmation))
	}
	for _, e := range out.events {
		switch e := e.(type) {
		case EventGripperAcked:
			said = append(said, fmt.Sprintf("acked %v after %d", e.Action, e.Attempts))
		case EventGripperFailed:
			said = append(said, fmt.Sprintf("failed %v after %d: %s", e.Action, e.Attempts, e.Reason))
		default:
			t.Fatalf("the commander reported %#v, not a gripper event", e)
		}
	}
	return strings.Join(said, "; ")
}

// unacceptedText is u in a few words: "accepted" for nil.
func unacceptedText(u *GripperUnaccepted) string {
	if u == nil {
		return "accepted"
	}
	text := fmt.Sprintf("%v for %v", u.Action, u.For)
	switch {
	case u.Pending && u.LastAnswer != "":
		text += ", pending, answered " + u.LastAnswer
	case u.Pending:
		text += ", pending, unanswered"
	}
	return text
}
