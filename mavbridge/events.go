package mavbridge

import (
	"fmt"
	"time"
)

// Event is something the node core should know about the link to the controller. The concrete types are
// the Event* structs of this package; callers type-switch on them.
type Event interface{ isBridgeEvent() }

// EventLinkUp: a heartbeat arrived from the controller after none (Resumed false) or after the link was
// lost (Resumed true). Chunks are sent from now on, and the gripper's state is commanded again: the
// controller may have restarted while it was silent.
type EventLinkUp struct {
	SystemID, ComponentID uint8
	Resumed               bool
}

// EventLinkLost: no controller heartbeat for LinkTimeout; chunks are discarded until it returns.
type EventLinkLost struct {
	Silence time.Duration
}

// EventGripperAcked: the controller accepted a MAV_CMD_DO_GRIPPER command.
type EventGripperAcked struct {
	Action   GripperAction
	Attempts int
}

// EventGripperFailed: a MAV_CMD_DO_GRIPPER command was refused, not accepted after its retries, had no
// outcome within GripperProgressTimeout of MAV_RESULT_IN_PROGRESS, was superseded by the opposite
// transition, or was still awaiting its ack when the link was lost. A transition while the link is
// down is no failure: nothing is sent, and the link's return sends it. Except when superseded, the
// state it asked for is commanded again: when the link returns, or a link timeout after the failure.
type EventGripperFailed struct {
	Action   GripperAction
	Attempts int
	Reason   string
}

// String is the failure in one line, as the node's status says it.
func (e EventGripperFailed) String() string {
	return fmt.Sprintf("gripper %v failed after %d attempts: %s", e.Action, e.Attempts, e.Reason)
}

// EventMalformedFrame: bytes from the link were not a valid frame of the dialect; they were ignored.
// Line noise is one malformed frame a byte: a channel's first is reported, then one at most every
// 10 s while they go on, Malformed counting those of the channel since its previous report, this one
// included; Stats.MalformedFrames counts them all.
type EventMalformedFrame struct {
	Channel   string
	Err       error
	Malformed uint64
}

// EventChannelOpen and EventChannelClosed follow the transport's connections (a UDP server has one per
// peer). Frames still queued on a closed channel are counted as dropped.
type EventChannelOpen struct {
	Channel string
}

// EventChannelClosed: see EventChannelOpen.
type EventChannelClosed struct {
	Channel string
	Err     error
}

// EventChannelRefused: a server endpoint closed a connection as it came, because Limit channels
// (Bridge.MaxChannels) were open and none of them was one it could close for a newcomer (see
// EventChannelEvicted): a port scan, a flood from many UDP source addresses, or more peers than
// expected. The first refusal is reported, then one at most every 10 s while they go on: a UDP
// peer without a channel is refused at each datagram it sends. Refused counts the connections refused
// since the previous EventChannelRefused, this one included; Stats.ChannelsRefused counts them all.
type EventChannelRefused struct {
	Endpoint string
	Peer     string
	Limit    int
	Refused  uint64
}

// String is the refusal in one line, naming the endpoint, the peer and the limit.
func (e EventChannelRefused) String() string {
	line := fmt.Sprintf("%s refused a connection from %s: it has %d channels open, its limit", e.Endpoint, e.Peer, e.Limit)
	if e.Refused > 1 {
		line += fmt.Sprintf(" (%d refused since the previous report)", e.Refused)
	}
	return line
}

// EventChannelEvicted: a server endpoint, its Limit channels (Bridge.MaxChannels) all open, closed the
// channel of Peer to make room for a connection from Newcomer. Peer's was the least useful of the
// channels it may close (the controller's, while its heartbeat comes within the link timeout, is not
// one): Silent, it had carried no valid MAVLink frame in the Idle it was open; otherwise its last
// valid frame was Idle ago, the longest of them. Reported as refusals are, Evicted counting the channels closed so since the
// previous EventChannelEvicted, this one included; Stats.ChannelsEvicted counts them all.
type EventChannelEvicted struct {
	Endpoint string
	Peer     string
	Newcomer string
	Limit    int
	Silent   bool
	Idle     time.Duration
	Evicted  uint64
}

// String is the eviction in one line, naming the endpoint, both peers and why the one was closed.
func (e EventChannelEvicted) String() string {
	idle := e.Idle.Round(100 * time.Millisecond)
	why := fmt.Sprintf("its last valid frame %v ago, the longest", idle)
	if e.Silent {
		why = fmt.Sprintf("no valid frame in the %v it was open", idle)
	}
	line := fmt.Sprintf("%s closed the channel of %s (%s) for a connection from %s: it has %d channels open, its limit",
		e.Endpoint, e.Peer, why, e.Newcomer, e.Limit)
	if e.Evicted > 1 {
		line += fmt.Sprintf(" (%d closed so since the previous report)", e.Evicted)
	}
	return line
}

func (EventLinkUp) isBridgeEvent()         {}
func (EventLinkLost) isBridgeEvent()       {}
func (EventGripperAcked) isBridgeEvent()   {}
func (EventGripperFailed) isBridgeEvent()  {}
func (EventMalformedFrame) isBridgeEvent() {}
func (EventChannelOpen) isBridgeEvent()    {}
func (EventChannelClosed) isBridgeEvent()  {}
func (EventChannelRefused) isBridgeEvent() {}
func (EventChannelEvicted) isBridgeEvent() {}
