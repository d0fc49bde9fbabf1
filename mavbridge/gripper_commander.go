package mavbridge

import (
	"fmt"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
)

// gripperCommander brings the controller's gripper to the state the policy asks for with
// MAV_CMD_DO_GRIPPER commands: it decides when a command goes out, when it goes out again or is given
// up, and which COMMAND_ACK counts for it. It is a deterministic state machine, as etcd raft's is:
// time is passed in, it has no goroutine and does no I/O. Each input returns what was decided, a
// gripperOutput, and the Bridge does it (doGripper): it writes the commands to the controller's
// channels, and counts and reports the events.
//
// The inputs are the events of the link:
//   - transition: the policy asks for the other state (a step of a chunk came due, planGripper);
//   - ack: the controller's COMMAND_ACK to MAV_CMD_DO_GRIPPER;
//   - tick: time passes (a retry is due, an IN_PROGRESS wait or a resend wait is over);
//   - linkCameUp, linkLost: the controller's heartbeat came, or came back, or stopped;
//   - stateUnknown: the controller restarted, or was heard on a new channel.
//
// Three rules make up most of it, each explained where it is kept:
//   - an ack that may answer an older command does not count for a newer one (ackInDoubt);
//   - a command the controller answered IN_PROGRESS is not sent again: its outcome is awaited for
//     progressTimeout after each such answer (followUp);
//   - a state not accepted is commanded again: resendWait after its command failed (resendUnaccepted),
//     and at once when the controller's state is unknown (stateUnknown).
type gripperCommander struct {
	// ackTimeout, progressTimeout and retries are the Bridge's GripperAckTimeout,
	// GripperProgressTimeout and GripperRetries.
	ackTimeout, progressTimeout time.Duration
	retries                     int
	// resendWait is how long after a failed command the state it asked for is commanded again: a
	// controller that refused it (busy, denied), or did not answer, may take it later, and a gripper
	// the policy still wants closed must not stay open for want of a transition. The Bridge sets it to
	// its link timeout: a controller that keeps refusing gets one command (and the status one failure)
	// per link timeout, not a flood.
	resendWait time.Duration

	// state is the gripper state the policy asks for; 0 before its first transition.
	state GripperAction
	// accepted says the controller accepted state. askedAt is when state was last commanded afresh (a
	// transition, or a controller whose state is unknown), and failedAt when its latest command
	// failed. A state not accepted is commanded again: a failure must not leave the gripper where the
	// policy does not want it, with no later chunk asking again, as none changes the state.
	accepted          bool
	askedAt, failedAt time.Time
	// pending is the command awaiting its answer; nil when none. It always asks for state.
	pending *gripperCommand
	// strayAcksUntil: until then a COMMAND_ACK may answer a command no longer pending, and counts for
	// none (ackInDoubt). A COMMAND_ACK names the command, not the transmission it answers.
	strayAcksUntil time.Time
	// linkUp says the controller's heartbeat comes (linkCameUp, linkLost): nothing is sent while it does
	// not, and the heartbeat that brings it back commands the state again.
	linkUp bool
	// channels is how many controller channels a command sent at the current input is written to,
	// as the input says: one controller on two links answers each copy (acceptedAnswersDue).
	channels int

	out gripperOutput
}

// gripperOutput is what the commander decided at one input: the commands to send, in order, and
// the events to report (EventGripperAcked, EventGripperFailed), in order.
type gripperOutput struct {
	sends  []gripperSend
	events []Event
}

// gripperSend is one transmission of a MAV_CMD_DO_GRIPPER command.
type gripperSend struct {
	action GripperAction
	// confirmation is COMMAND_LONG's: 0 for a command's first transmission, then 1, 2, ...
	confirmation uint8
}

// gripperCommand is a command for the state the policy asks for, from its first send until it is
// accepted or fails.
type gripperCommand struct {
	action   GripperAction
	attempts int
	// lastSent is when it was sent last; zero when not sent.
	lastSent time.Time
	// channels is the most controller channels one of its sends was written to: one controller on two
	// links answers each copy.
	channels int
	// inProgressAt is when the controller last answered MAV_RESULT_IN_PROGRESS; zero when it did not,
	// or answered otherwise since.
	inProgressAt time.Time
	// lastAnswer is the controller's latest answer that did not settle the command; answered is false
	// while there was none. A failure names it.
	lastAnswer common.MAV_RESULT
	answered   bool
	// doubtfulAnswer is the latest answer that came while it could be an earlier command's
	// (ackInDoubt), and was not taken; answeredInDoubt says there was one. The command is sent
	// again once no earlier command's answer can come, so that the answer to that send counts.
	doubtfulAnswer  common.MAV_RESULT
	answeredInDoubt bool
	// sentInDoubt counts the sends made while answers were in doubt: none of them could be seen
	// accepted, so they are not among its retries.
	sentInDoubt int
}

// transition takes the policy's new state, asked for at now: it is commanded at once, superseding a
// command still waiting for its answer. While the link is down nothing is sent; the link's return
// sends it. channels is how many controller channels a command sent now goes to.
func (c *gripperCommander) transition(action GripperAction, now time.Time, channels int) gripperOutput {
	c.channels = channels
	c.state = action
	c.askAfresh(now)
	return c.flush()
}

// ack takes the controller's answer to a MAV_CMD_DO_GRIPPER command, arrived at now.
func (c *gripperCommander) ack(result common.MAV_RESULT, now time.Time) gripperOutput {
	if c.ackInDoubt(now) {
		c.answerInDoubt(result, now)
		return c.flush()
	}
	p := c.pending
	if p == nil {
		return c.flush()
	}
	switch result {
	case common.MAV_RESULT_ACCEPTED:
		c.end(p, c.acceptedAnswersDue(p))
		c.accepted = true // the pending command always asks for the state
		c.out.events = append(c.out.events, EventGripperAcked{Action: p.action, Attempts: p.attempts})
	case common.MAV_RESULT_IN_PROGRESS:
		p.inProgressAt = now // the controller is working on it: wait for the outcome (followUp)
		p.lastAnswer, p.answered = result, true
	case common.MAV_RESULT_TEMPORARILY_REJECTED:
		p.inProgressAt = time.Time{} // busy: sent again when the ack timeout expires
		p.lastAnswer, p.answered = result, true
	default:
		c.end(p, c.lastAnswerDue(p))
		c.fail(p, fmt.Sprintf("controller answered %v", result), now)
	}
	return c.flush()
}

// tick moves time on to now: the pending command is sent again or given up when due (followUp), and
// a state whose command failed is commanded again after resendWait (resendUnaccepted).
func (c *gripperCommander) tick(now time.Time, channels int) gripperOutput {
	c.channels = channels
	if p := c.pending; p != nil {
		c.followUp(p, now)
	}
	c.resendUnaccepted(now)
	return c.flush()
}

// linkCameUp takes the controller's heartbeat that brought the link up: heard first, or again after a
// silence it may have restarted in, so its state is unknown.
func (c *gripperCommander) linkCameUp(now time.Time, channels int) gripperOutput {
	c.linkUp = true
	return c.stateUnknown(now, channels)
}

// linkLost takes the link's timeout: the pending command fails, and its state is commanded again when
// the link returns.
func (c *gripperCommander) linkLost(now time.Time) gripperOutput {
	c.linkUp = false
	if p := c.pending; p != nil {
		c.end(p, c.lastAnswerDue(p))
		c.fail(p, "link lost before COMMAND_ACK; sent again when the link returns", now)
	}
	return c.flush()
}

// stateUnknown commands the policy's state again, whatever the controller accepted before: it may have
// restarted, the gripper then in whatever state its start-up leaves it. A gripper already there stays,
// while a grasp the controller forgot would drop the object. Nothing is sent while the link is down:
// the heartbeat that brings it up (linkCameUp) commands the state again.
func (c *gripperCommander) stateUnknown(now time.Time, channels int) gripperOutput {
	c.channels = channels
	if p := c.pending; p != nil {
		// A restarted controller forgot the command too, IN_PROGRESS or not: waiting for its outcome
		// would end in a failure, and nothing would command the state again until the policy changed
		// it. The command starts over, its retries with it.
		c.end(p, c.lastAnswerDue(p))
	}
	if c.state != 0 {
		c.askAfresh(now)
	}
	return c.flush()
}

// unaccepted is the state the controller has not accepted, as Stats says it at now; nil when it has,
// or before the policy's first transition.
func (c *gripperCommander) unaccepted(now time.Time) *GripperUnaccepted {
	if c.state == 0 || c.accepted {
		return nil
	}
	u := &GripperUnaccepted{Action: c.state, For: now.Sub(c.askedAt)}
	if p := c.pending; p != nil {
		u.Pending = true
		if p.answered {
			u.LastAnswer = p.lastAnswer.String()
		}
	}
	return u
}

// flush hands over what the current input decided.
func (c *gripperCommander) flush() gripperOutput {
	out := c.out
	c.out = gripperOutput{}
	return out
}

// askAfresh commands the state as asked for at now: the time it is not accepted counts from now.
func (c *gripperCommander) askAfresh(now time.Time) {
	c.askedAt = now
	c.command(now)
}

// command sends the state as a new command, superseding a command still waiting for its answer; the
// state counts as not accepted until the controller accepts this one.
func (c *gripperCommander) command(now time.Time) {
	c.accepted = false
	if replaced := c.pending; replaced != nil {
		c.end(replaced, c.lastAnswerDue(replaced))
		c.fail(replaced, fmt.Sprintf("superseded by %v before it was accepted", c.state), now)
	}
	if !c.linkUp {
		return
	}
	c.pending = &gripperCommand{action: c.state}
	c.send(c.pending, now)
}

// followUp sends p again when its answer is overdue, or gives it up: after its retries, or when the
// controller, working on it, has not said the outcome within progressTimeout.
func (c *gripperCommander) followUp(p *gripperCommand, now time.Time) {
	if c.ackInDoubt(now) {
		if c.worthSendingInDoubt(p, now) {
			c.send(p, now)
		}
		return
	}
	if p.answeredInDoubt {
		// Its answer came while it could not count: the answer to this send can.
		p.answeredInDoubt = false
		c.send(p, now)
		return
	}
	if !p.inProgressAt.IsZero() {
		// Sent again, it would be started over or refused as busy. Each IN_PROGRESS starts the wait
		// again, without a cap on the total: Stats.GripperUnaccepted shows a command kept pending so.
		if now.Sub(p.inProgressAt) >= c.progressTimeout {
			c.end(p, c.lastAnswerDue(p))
			c.fail(p, fmt.Sprintf("no final COMMAND_ACK within %v of MAV_RESULT_IN_PROGRESS", c.progressTimeout), now)
		}
		return
	}
	if now.Sub(p.lastSent) < c.ackTimeout {
		return
	}
	if p.attempts-p.sentInDoubt <= c.retries {
		c.send(p, now)
		return
	}
	c.end(p, c.lastAnswerDue(p))
	reason := fmt.Sprintf("no COMMAND_ACK accepting it after %d attempts", p.attempts)
	if p.answered {
		reason += fmt.Sprintf("; the last answer was %v", p.lastAnswer)
	}
	c.fail(p, reason, now)
}

// resendUnaccepted commands the state again when its latest command failed resendWait ago and
// nothing is pending. While the link is down nothing is sent: the heartbeat that brings it up
// commands the state again (linkCameUp).
func (c *gripperCommander) resendUnaccepted(now time.Time) {
	if !c.linkUp || c.pending != nil || c.accepted || c.state == 0 {
		return
	}
	if now.Sub(c.failedAt) < c.resendWait {
		return
	}
	c.command(now) // the state is not asked afresh: askedAt stays
}

func (c *gripperCommander) send(p *gripperCommand, now time.Time) {
	c.out.sends = append(c.out.sends, gripperSend{action: p.action, confirmation: uint8(min(p.attempts, 255))})
	if c.ackInDoubt(now) {
		p.sentInDoubt++
	}
	p.attempts++
	p.lastSent = now
	p.channels = max(p.channels, c.channels)
}

func (c *gripperCommander) fail(p *gripperCommand, reason string, now time.Time) {
	c.failedAt = now
	c.out.events = append(c.out.events, EventGripperFailed{Action: p.action, Attempts: p.attempts, Reason: reason})
}

// end takes p off pending, accepted or not. The controller may still answer it until answersDue
// (lastAnswerDue, acceptedAnswersDue), and the answer would read as the next command's: a close
// accepted late would count as the open that replaced it, and the open, lost on the way, would never
// be sent again, the gripper shut on an object the policy means to release. Acks count for no
// command until then.
func (c *gripperCommander) end(p *gripperCommand, answersDue time.Time) {
	c.pending = nil
	c.strayAcksUntil = later(c.strayAcksUntil, answersDue)
}

// lastAnswerDue is the latest time a COMMAND_ACK may still answer p, which was not accepted. Each
// send is answered within ackTimeout or taken as lost, as the retries take it; a command the
// controller is working on (MAV_RESULT_IN_PROGRESS) has its outcome within progressTimeout of its
// latest such answer.
func (c *gripperCommander) lastAnswerDue(p *gripperCommand) time.Time {
	due := p.lastSent.Add(c.ackTimeout)
	if !p.inProgressAt.IsZero() {
		due = later(due, p.inProgressAt.Add(c.progressTimeout))
	}
	return due
}

// acceptedAnswersDue is the latest time a COMMAND_ACK may still answer p, accepted now. A command
// sent more than once, or written to more than one controller channel, may be answered more than
// once, and the acceptance does not say which send it answers: an answer to the first send coming
// late, or the copy on the other link, could be taken as the next command's. Acks count for none
// until its last send's answer is past due; that costs the next command one send when it comes that
// soon. A command sent once on one channel has only the one answer.
func (c *gripperCommander) acceptedAnswersDue(p *gripperCommand) time.Time {
	if p.attempts <= 1 && p.channels <= 1 {
		return time.Time{}
	}
	return p.lastSent.Add(c.ackTimeout)
}

// ackInDoubt says whether a COMMAND_ACK arriving at now may answer an ended command (end) instead of
// the pending one.
func (c *gripperCommander) ackInDoubt(now time.Time) bool { return !now.After(c.strayAcksUntil) }

// awaitsAnswer says whether a COMMAND_ACK arriving at now may answer one of the bridge's commands: one
// is pending, or an ended one may still be answered (ackInDoubt).
func (c *gripperCommander) awaitsAnswer(now time.Time) bool {
	return c.pending != nil || c.ackInDoubt(now)
}

// worthSendingInDoubt says whether p should go out again while its answers cannot count: every ack
// timeout, a first send lost or refused as busy (a gripper still closing) costs no more than that,
// unless the controller's latest answer was IN_PROGRESS, which may be p's (sent again it would be
// started over), or ACCEPTED, maybe p's already. The send once the doubt ends confirms it.
func (c *gripperCommander) worthSendingInDoubt(p *gripperCommand, now time.Time) bool {
	if p.answeredInDoubt && (p.doubtfulAnswer == common.MAV_RESULT_IN_PROGRESS || p.doubtfulAnswer == common.MAV_RESULT_ACCEPTED) {
		return false
	}
	return now.Sub(p.lastSent) >= c.ackTimeout
}

// answerInDoubt takes an ack that may be an ended command's: it counts for no command. An
// IN_PROGRESS may be an ended command's progress, whose outcome may follow up to progressTimeout
// later: the doubt lasts until then.
func (c *gripperCommander) answerInDoubt(result common.MAV_RESULT, now time.Time) {
	if result == common.MAV_RESULT_IN_PROGRESS {
		c.strayAcksUntil = later(c.strayAcksUntil, now.Add(c.progressTimeout))
	}
	if p := c.pending; p != nil {
		p.doubtfulAnswer, p.answeredInDoubt = result, true
	}
}

// later is the later of two times.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
