package mavbridge

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"dysl_vla/msgs"
)

// Forwarder plugs a Bridge into the node core as its nodecore.ChunkForwarder: every chunk the core
// publishes on ROS is also sent to the arm controller, and the bridge's state becomes the node's
// "mavlink" diagnostic status. The ROS 2 node and `dysl replay` use it alike.
//
// The Forwarder is the only reader of Bridge.Events(): LinkStatus drains them, so the latest gripper
// failure and the reason the link went down show in the status message. It neither initializes nor
// closes the Bridge. ForwardChunk and LinkStatus may be called from different goroutines.
type Forwarder struct {
	// Bridge sends the chunks. It must be initialized before the first call.
	Bridge *Bridge
	// GripperDim is the column of the gripper in the chunk's actions (the bundle manifest's
	// Action.GripperIndex), whose open/close transitions become gripper commands, or NoGripper.
	GripperDim int

	mu sync.Mutex
	// channelError is the latest transport error that closed a channel (a TCP peer going away).
	channelError string
	// crowding is the latest connection the server endpoint refused, or channel it closed for a
	// newcomer, its channels all open; crowdingNew says it came since the previous LinkStatus, which
	// then says it once.
	crowding    string
	crowdingNew bool
	// refused counts chunks Send refused; refusal is the latest reason, while no chunk has been taken
	// since (cleared by the next chunk that is).
	refused uint64
	refusal string
	// reported are the discarded chunks and dropped frames the previous LinkStatus saw, so that a status
	// says when the link is up but chunks stopped getting through since.
	reported struct {
		chunksNoChannel, framesDropped, chunksSuperseded, channelsRefused, channelsEvicted, gripperFailed uint64
	}
}

// ForwardChunk implements nodecore.ChunkForwarder: it converts the published chunk to a Chunk, its
// executedActions the chunk's Executed, and sends it. It never blocks on the link; while the link is down the bridge discards the chunk and
// counts it. A frame_id longer than the 16 bytes of VLA_ACTION_CHUNK.frame goes as its WireFrame. An
// error means the chunk cannot go out at all, such as a closed bridge.
func (f *Forwarder) ForwardChunk(m *msgs.ActionChunk, executedActions int) error {
	err := f.Bridge.Send(Chunk{
		// chunk_seq is 32 bits on the wire; after 2^32 chunks it wraps, which a controller sees as one gap.
		Seq:        uint32(m.Sequence),
		Stamp:      m.Header.Stamp.Go(),
		StepDt:     m.StepDt.Go(),
		Frame:      WireFrame(m.Header.FrameID),
		Steps:      int(m.Steps),
		Dims:       int(m.ActionDim),
		Values:     m.Actions, // read, not kept: EncodeChunk copies them into the messages
		GripperDim: f.GripperDim,
		Executed:   executedActions,
	})
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		f.refused++
		f.refusal = err.Error()
	} else {
		f.refusal = ""
	}
	return err
}

// LinkStatus implements nodecore.ChunkForwarder. The level is ERROR when the controller was heard and
// its heartbeat has since stopped (chunks are being discarded), or when the link is up but the latest
// chunk was refused (it cannot be encoded: nothing reaches the controller), WARN before the first
// heartbeat (no chunk has gone out yet), while the controller's ids heartbeat on more than one
// channel (Stats.ControllerChannels, which the message names: two controllers at the same ids are
// both sent the chunks), and while the link is up but chunks were discarded or frames
// dropped since the previous status (the channel is gone, or the controller stopped reading), or a
// chunk has waited in the queue to the controller longer than the bridge's MaxChunkWait, or chunks
// were cut short by newer ones since the previous status (the link is slower than the chunks), or a
// server endpoint refused connections or closed channels for newcomers, its channels all open, or a
// gripper command failed since the previous status (the latest failure is added once), while the
// controller has not accepted the gripper state the policy asks for, longer than a command takes
// (gripperUnaccepted), or the controller heartbeats in MAVLink 1 (Stats.ControllerMAVLink1) and has not
// shown that it reads MAVLink 2 (Stats.ControllerReadsMAVLink2), and OK
// otherwise; while the link is up, chunks discarded, frames dropped, the chunks' backlog, connections
// refused and channels closed for newcomers since the previous status, and a gripper state not
// accepted, are added when
// another case leads the message (two channels, MAVLink 1, chunks refused), so that one warning hides
// no other; while the link is down,
// why a client endpoint cannot connect, or a server endpoint cannot accept, is added, and the latest
// refusal or eviction reported since the previous status is added once. The key-values count chunks,
// frames, gripper commands, refused connections and evicted channels since start-up.
func (f *Forwarder) LinkStatus() msgs.DiagnosticStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drainEvents()
	s := f.Bridge.Stats()
	b := f.Bridge

	st := msgs.DiagnosticStatus{HardwareID: b.Endpoint}
	gripperFailed := s.GripperFailed - f.reported.gripperFailed // since the previous status
	// Warnings of a link that is up, in the order they are said: the first leads the message unless an
	// earlier case does, and the message adds the rest. A link that is down says none of them.
	var upWarnings []string
	for _, w := range []string{f.lostSinceReported(s), f.backlog(s), f.crowdedSinceReported(s), f.gripperUnaccepted(s)} {
		if w != "" && s.LinkUp {
			upWarnings = append(upWarnings, w)
		}
	}
	age := "n/a"
	if s.HeardController {
		age = strconv.FormatFloat(s.HeartbeatAge.Seconds(), 'f', 1, 64)
	}
	switch {
	case s.HeardController && !s.LinkUp:
		st.Level = msgs.DiagnosticError
		st.Message = fmt.Sprintf("link lost: no heartbeat from the controller for %ss (link_timeout %v); chunks are discarded until it returns",
			age, b.LinkTimeout)
		if f.channelError != "" {
			st.Message += "; " + f.channelError
		}
	case !s.HeardController:
		st.Level = msgs.DiagnosticWarn
		st.Message = fmt.Sprintf("waiting for the first heartbeat of the controller (system %d, component %d); chunks are discarded until it arrives",
			b.TargetSystem, b.TargetComponent)
	case f.refusal != "":
		st.Level = msgs.DiagnosticError
		st.Message = "link up, but chunks are refused before they reach the controller: " + f.refusal
	case len(s.ControllerChannels) > 1:
		st.Level = msgs.DiagnosticWarn
		st.Message = fmt.Sprintf("link up, but heartbeats of the controller's ids (system %d, component %d) arrive on %d channels (%s): "+
			"if these are two controllers, both get the chunks and gripper commands and either keeps the link up; "+
			"give each controller its own system id and set mavlink.target_system to this arm's (one controller on two links reads so too)",
			b.TargetSystem, b.TargetComponent, len(s.ControllerChannels), strings.Join(s.ControllerChannels, ", "))
	case s.ControllerMAVLink1 && !s.ControllerReadsMAVLink2:
		st.Level = msgs.DiagnosticWarn
		st.Message = "link up, but the controller heartbeats in MAVLink 1 and has not yet shown that it reads MAVLink 2 " +
			"(by answering a gripper command, which goes in MAVLink 2): the chunks (VLA_ACTION_CHUNK, id 43000) exist only in MAVLink 2, " +
			"and a controller that reads MAVLink 1 alone gets none; if so, set its link to MAVLink 2"
	case len(upWarnings) > 0:
		st.Level = msgs.DiagnosticWarn
		st.Message = "link up, but " + upWarnings[0]
		upWarnings = upWarnings[1:]
	case gripperFailed > 0:
		st.Level = msgs.DiagnosticWarn
		st.Message = fmt.Sprintf("link up, but since the last report %d gripper commands failed", gripperFailed)
	default:
		st.Level, st.Message = msgs.DiagnosticOK, "link up"
	}
	// An earlier case (two channels, MAVLink 1, chunks refused) hides none of them.
	for _, w := range upWarnings {
		st.Message += "; " + w
	}
	if !s.LinkUp && s.ConnectError != "" {
		st.Message += "; " + openFailure(b.Endpoint, s.ConnectError)
	}
	if gripperFailed > 0 {
		st.Message += "; " + s.LastGripperFailure
	}
	if f.crowdingNew {
		st.Message += "; " + f.crowding
		f.crowdingNew = false
	}

	f.reported.chunksNoChannel, f.reported.framesDropped = s.ChunksNoChannel, s.FramesDropped
	f.reported.chunksSuperseded = s.ChunksSuperseded
	f.reported.channelsRefused, f.reported.channelsEvicted = s.ChannelsRefused, s.ChannelsEvicted
	f.reported.gripperFailed = s.GripperFailed

	kv := func(k, v string) { st.Values = append(st.Values, msgs.KeyValue{Key: k, Value: v}) }
	count := func(k string, n uint64) { kv(k, strconv.FormatUint(n, 10)) }
	kv("controller", fmt.Sprintf("system %d, component %d", b.TargetSystem, b.TargetComponent))
	kv("heartbeat age (s)", age)
	count("channels", uint64(s.Channels))
	count("channels the controller heartbeats on", uint64(len(s.ControllerChannels)))
	count("channels refused", s.ChannelsRefused)
	count("channels evicted", s.ChannelsEvicted)
	count("chunks sent", s.ChunksSent)
	count("chunks discarded", s.ChunksDiscarded)
	count("chunks discarded with the link up", s.ChunksNoChannel)
	count("chunks refused", f.refused)
	count("chunks cut short by newer ones", s.ChunksSuperseded)
	kv("oldest queued chunk (s)", strconv.FormatFloat(s.OldestQueuedChunk.Seconds(), 'f', 1, 64))
	count("frames written", s.FramesWritten)
	count("frames dropped", s.FramesDropped)
	count("frames left on channels closed for newcomers", s.FramesEvicted)
	count("frames skipped for newer chunks", s.FramesSuperseded)
	count("frames in flight", s.FramesInFlight)
	count("gripper commands sent", s.GripperCommands)
	count("gripper commands acked", s.GripperAcked)
	count("gripper commands failed", s.GripperFailed)
	count("controller restarts", s.ControllerRestarts)
	count("malformed frames", s.MalformedFrames)
	count("bridge events dropped", s.EventsDropped)
	if s.LastGripperFailure != "" {
		kv("last gripper failure", s.LastGripperFailure)
	} else {
		kv("last gripper failure", "none")
	}
	// A value a monitor can graph or alarm on, from the first moment, where the message waits until
	// the state is overdue.
	if u := s.GripperUnaccepted; u != nil {
		kv("gripper not accepted", fmt.Sprintf("%v for %.1f s", u.Action, u.For.Seconds()))
	} else {
		kv("gripper not accepted", "none")
	}
	return st
}

// lostSinceReported says the chunks discarded with the link up and the frames dropped since the
// previous status, and why they may be; "" when there were none.
func (f *Forwarder) lostSinceReported(s Stats) string {
	if s.ChunksNoChannel == f.reported.chunksNoChannel && s.FramesDropped == f.reported.framesDropped {
		return ""
	}
	return fmt.Sprintf("since the last report %d chunks were discarded and %d frames dropped: "+
		"no channel is connected, the controller has not been heard on the one connected again, or it does not read what is written to it",
		s.ChunksNoChannel-f.reported.chunksNoChannel, s.FramesDropped-f.reported.framesDropped)
}

// backlog says the chunks queued for longer than MaxChunkWait, and the chunks cut short by newer
// ones since the previous status; "" when neither. Both say the link carries less than the chunks
// need: without the cut, the controller would execute chunks long after newer ones were computed.
func (f *Forwarder) backlog(s Stats) string {
	var what []string
	if wait := f.Bridge.MaxChunkWait; s.OldestQueuedChunk > wait {
		what = append(what, fmt.Sprintf("a chunk has waited %.1f s in the queue to the controller, unwritten "+
			"(%d frames queued; a chunk may wait %v)", s.OldestQueuedChunk.Seconds(), s.FramesInFlight, wait))
	}
	if n := s.ChunksSuperseded - f.reported.chunksSuperseded; n > 0 {
		what = append(what, fmt.Sprintf("since the last report %d chunks were cut short by newer ones, "+
			"their parts still queued skipped unwritten", n))
	}
	if what == nil {
		return ""
	}
	return strings.Join(what, ", and ") + ": the link carries less than the chunks need " +
		"(a slow link or controller; fewer chunks a second, or fewer steps a chunk)"
}

// gripperUnaccepted says the gripper state the controller has not accepted for longer than a command
// working as it should takes (its retries, or the wait for its outcome after IN_PROGRESS), and
// that the bridge keeps commanding it; "" otherwise. A gripper the policy wants closed and the
// controller never closed stays a warning for as long as it lasts, not only the status after the
// failure.
func (f *Forwarder) gripperUnaccepted(s Stats) string {
	u := s.GripperUnaccepted
	b := f.Bridge
	if u == nil || u.For < max(b.gripper.resendWait, b.GripperProgressTimeout) {
		return ""
	}
	line := fmt.Sprintf("the controller has not accepted gripper %v, asked for %.1f s ago", u.Action, u.For.Seconds())
	switch {
	case u.Pending && u.LastAnswer != "":
		line += fmt.Sprintf(" (a command is pending; the controller's latest answer: %s)", u.LastAnswer)
	case u.Pending:
		line += " (a command is pending, unanswered)"
	}
	return line + fmt.Sprintf("; it is commanded again %v after each failure", b.gripper.resendWait)
}

// crowdedSinceReported says the connections refused and channels closed for newcomers since the
// previous status; "" when there were none.
func (f *Forwarder) crowdedSinceReported(s Stats) string {
	var what []string
	if n := s.ChannelsRefused - f.reported.channelsRefused; n > 0 {
		what = append(what, fmt.Sprintf("%d connections were refused", n))
	}
	if n := s.ChannelsEvicted - f.reported.channelsEvicted; n > 0 {
		what = append(what, fmt.Sprintf("%d channels were closed for newcomers", n))
	}
	if what == nil {
		return ""
	}
	return fmt.Sprintf("since the last report %s: the endpoint's %d channels were all open "+
		"(a port scan, a flood, or more peers than expected)", strings.Join(what, " and "), f.Bridge.MaxChannels)
}

// drainEvents takes every event waiting on the bridge without blocking; the counters are in Stats,
// and so is the latest gripper failure, so only the other reasons are kept. f.mu is held.
func (f *Forwarder) drainEvents() {
	for {
		select {
		case e, ok := <-f.Bridge.Events():
			if !ok { // the bridge is closed
				return
			}
			switch e := e.(type) {
			case EventChannelClosed:
				if e.Err != nil {
					f.channelError = fmt.Sprintf("channel %s closed: %v", e.Channel, e.Err)
				}
			case EventChannelRefused, EventChannelEvicted:
				f.crowding, f.crowdingNew = fmt.Sprint(e), true
			case EventLinkUp:
				f.channelError = "" // an old transport error no longer explains anything
			}
		default:
			return
		}
	}
}
