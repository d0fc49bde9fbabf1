package mavbridge

import "time"

// Event is something the node core should know about the link to the controller. The concrete types are
// the Event* structs of this package; callers type-switch on them.
type Event interface{ isBridgeEvent() }

// EventLinkUp: a heartbeat arrived from the controller after none (Resumed false) or after the link was
// lost (Resumed true). Chunks are sent from now on.
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

// EventGripperFailed: a MAV_CMD_DO_GRIPPER command was refused, not acknowledged after its retries,
// superseded by the opposite transition, or could not be sent because the link was down.
type EventGripperFailed struct {
	Action   GripperAction
	Attempts int
	Reason   string
}

// EventMalformedFrame: bytes from the link were not a valid frame of the dialect; they were ignored.
type EventMalformedFrame struct {
	Channel string
	Err     error
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

func (EventLinkUp) isBridgeEvent()         {}
func (EventLinkLost) isBridgeEvent()       {}
func (EventGripperAcked) isBridgeEvent()   {}
func (EventGripperFailed) isBridgeEvent()  {}
func (EventMalformedFrame) isBridgeEvent() {}
func (EventChannelOpen) isBridgeEvent()    {}
func (EventChannelClosed) isBridgeEvent()  {}
