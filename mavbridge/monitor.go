package mavbridge

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"

	"dysl_vla/mavbridge/dialect"
)

// Monitor stands in for an arm controller: it listens on an endpoint and reports what a controller would
// receive (heartbeats, reassembled chunks, gripper commands). It heartbeats with the controller's ids, so a
// Bridge sees its link up and sends, and can accept gripper commands with COMMAND_ACK. `dysl mavlink
// listen` is built on it.
type Monitor struct {
	// Endpoint to listen or connect on, as for Bridge. Required.
	Endpoint string
	// SystemID and ComponentID the monitor speaks as; they default to 1 and 1, a Bridge's default target.
	SystemID, ComponentID uint8
	// NoHeartbeat stops the monitor's heartbeats: a pure observer, though then a Bridge sends no chunks.
	NoHeartbeat bool
	// AckGripper answers each MAV_CMD_DO_GRIPPER with COMMAND_ACK(MAV_RESULT_ACCEPTED).
	AckGripper bool
	// MaxChannels is how many channels a server endpoint keeps open at once, as Bridge.MaxChannels: a
	// connection beyond them takes the place of the least useful channel (ReceivedChannelEvicted) or is
	// refused (ReceivedChannelRefused). The monitor has no controller to protect: a channel that carried
	// a VLA_ACTION_CHUNK part, which only a bridge sends, keeps its place instead while the ids that
	// sent it are heard there within 3 s (bridgeProtectionLapse; a Bridge heartbeats once a second),
	// so that a bridge that lost power leaves no dead TCP connection holding its place. It defaults
	// to 16.
	MaxChannels int

	// now reads the clock of the channels' standing (time.Now); tests set another.
	now func() time.Time

	node       *gomavlib.Node
	transports *transports
	received   chan Received
	terminate  chan struct{}
	done       sync.WaitGroup
	started    bool // Initialize succeeded
	closeOnce  sync.Once
}

// Received is what the Monitor saw; the concrete types are the Received* structs.
type Received interface{ isReceived() }

// ReceivedHeartbeat is a HEARTBEAT.
type ReceivedHeartbeat struct {
	SystemID, ComponentID uint8
	Type                  string
}

// ReceivedChunk is a complete chunk from VLA_ACTION_CHUNK messages.
type ReceivedChunk struct {
	SystemID uint8
	Chunk    Chunk
	// Target is the ids the chunk was addressed to, and ForOthers whether they are another's than
	// the monitor's: a controller with the monitor's ids would ignore it (a bridge's
	// mavlink.target_system or target_component set to another arm).
	Target    Target
	ForOthers bool
}

// Target is a message's target_system and target_component; 0 is MAVLink's broadcast id.
type Target struct{ System, Component uint8 }

// addressedTo says whether a message with this target is meant for a node speaking as system and
// component: the same ids, or broadcast.
func (t Target) addressedTo(system, component uint8) bool {
	return (t.System == 0 || t.System == system) && (t.Component == 0 || t.Component == component)
}

// ReceivedGripper is a COMMAND_LONG with MAV_CMD_DO_GRIPPER; Acked says whether the monitor accepted it.
type ReceivedGripper struct {
	SystemID, ComponentID uint8
	Action                GripperAction // 0 for a GRIPPER_ACTIONS value other than open and close
	Instance              int
	Confirmation          uint8
	Acked                 bool
	Target                Target // as ReceivedChunk's
	ForOthers             bool
}

// ReceivedMalformed is a frame or chunk part that could not be decoded. Line noise is one malformed
// frame a byte, and a report each would bury the rest: as with a Bridge's EventMalformedFrame, a
// channel's first malformed frame is reported, then one at most every 10 s while they go on,
// Malformed counting the channel's since its previous report, this one included. A chunk part that
// could not be decoded is reported each time, Malformed 1.
type ReceivedMalformed struct {
	Err       error
	Malformed uint64
}

// ReceivedChannelRefused says that a server endpoint refused a connection, as EventChannelRefused
// does for a Bridge: the first, then one at most every 10 s while they go on. The same report, one
// definition: the transports' counting code reports both.
type ReceivedChannelRefused EventChannelRefused

// ReceivedChannelEvicted says that a server endpoint closed a channel to make room for a newcomer,
// as EventChannelEvicted does for a Bridge.
type ReceivedChannelEvicted EventChannelEvicted

// ReceivedConnectFailed says why the client endpoint could not connect; the transport retries, and a
// reason the retries repeat is said once.
type ReceivedConnectFailed struct {
	Endpoint string
	Err      error
}

func (ReceivedHeartbeat) isReceived()      {}
func (ReceivedChunk) isReceived()          {}
func (ReceivedGripper) isReceived()        {}
func (ReceivedMalformed) isReceived()      {}
func (ReceivedConnectFailed) isReceived()  {}
func (ReceivedChannelRefused) isReceived() {}
func (ReceivedChannelEvicted) isReceived() {}

// Initialize starts listening.
func (m *Monitor) Initialize() error {
	endpoint, err := ParseEndpoint(m.Endpoint)
	if err != nil {
		return err
	}
	if m.SystemID == 0 {
		m.SystemID = 1
	}
	if m.ComponentID == 0 {
		m.ComponentID = uint8(common.MAV_COMP_ID_AUTOPILOT1)
	}
	if m.MaxChannels, err = maxChannels(m.MaxChannels); err != nil {
		return err
	}
	m.transports = newTransports()
	if m.now != nil {
		m.transports.now = m.now
	}
	m.transports.protectionLapse = bridgeProtectionLapse
	m.received = make(chan Received, 256)
	m.terminate = make(chan struct{})
	m.transports.onConnectFailed = func(err error) {
		select { // from the transport's goroutine, which must not wait for the reader
		case m.received <- ReceivedConnectFailed{Endpoint: endpoint.String(), Err: err}:
		default:
		}
	}
	m.transports.onRefused = func(e EventChannelRefused) {
		select { // from the listener's goroutine, as above
		case m.received <- ReceivedChannelRefused(e):
		default:
		}
	}
	m.transports.onEvicted = func(e EventChannelEvicted) {
		select { // from the listener's goroutine, as above
		case m.received <- ReceivedChannelEvicted(e):
		default:
		}
	}
	m.node = &gomavlib.Node{
		Endpoints:   []gomavlib.EndpointConf{gomavlibEndpoint(endpoint, m.transports, m.MaxChannels)},
		Dialect:     dialect.Dialect,
		OutVersion:  gomavlib.V2,
		OutSystemID: m.SystemID, OutComponentID: m.ComponentID,
		HeartbeatDisable: m.NoHeartbeat,
		HeartbeatPeriod:  time.Second, // MAVLink's 1 Hz: half a Bridge's DefaultLinkTimeout (2 s)
	}
	if err := m.node.Initialize(); err != nil {
		return fmt.Errorf("mavlink endpoint %s: %w", endpoint, err)
	}
	m.started = true
	m.done.Add(1)
	go m.run()
	return nil
}

// Received delivers what arrives, in order; it is closed by Close. The monitor waits for the reader.
func (m *Monitor) Received() <-chan Received { return m.received }

// ListenAddr is the address a server endpoint listens on, or nil for clients.
func (m *Monitor) ListenAddr() net.Addr { return m.transports.listenAddr() }

// Close stops the monitor and waits for its goroutine. Closing one that never started, or again, does
// nothing.
func (m *Monitor) Close() {
	if !m.started {
		return
	}
	m.closeOnce.Do(func() {
		close(m.terminate)
		m.node.Close()
		m.done.Wait()
		close(m.received)
	})
}

// monitoredChannel is an open channel of the monitor and the bridge heard on it.
type monitoredChannel struct {
	conn *countingConn
	// bridge is the system and component id that sent a VLA_ACTION_CHUNK part on the channel, which
	// only a bridge sends; bridgeKnown is false while none came.
	bridge      [2]uint8
	bridgeKnown bool
}

// fromBridge says whether evt, a frame the channel carried, is the bridge's: a chunk part makes its
// sender the channel's bridge, whose every frame keeps the channel's place (channels.go).
func (c *monitoredChannel) fromBridge(evt *gomavlib.EventFrame) bool {
	ids := [2]uint8{evt.SystemID(), evt.ComponentID()}
	if _, chunkPart := evt.Message().(*dialect.MessageVlaActionChunk); chunkPart {
		c.bridge, c.bridgeKnown = ids, true
	}
	return c.bridgeKnown && ids == c.bridge
}

func (m *Monitor) deliver(r Received) {
	select {
	case m.received <- r:
	case <-m.terminate:
	}
}

func (m *Monitor) run() {
	defer m.done.Done()
	var assembler ChunkAssembler
	// channels are the open channels whose connection was found, which hear what their channel carries.
	channels := map[*gomavlib.Channel]*monitoredChannel{}
	// malformed holds back each channel's reports of malformed frames (ReceivedMalformed).
	malformed := map[*gomavlib.Channel]*reportThrottle{}
	for evt := range m.node.Events() {
		switch evt := evt.(type) {
		case *gomavlib.EventChannelOpen:
			if conn := m.transports.lookup(evt.Channel.String()); conn != nil {
				channels[evt.Channel] = &monitoredChannel{conn: conn}
			}
		case *gomavlib.EventChannelClose:
			if ch := channels[evt.Channel]; ch != nil {
				// Peers come and go on a server endpoint: forgotten, a UDP peer's datagram buffer is freed.
				m.transports.forget(evt.Channel.String(), ch.conn)
				delete(channels, evt.Channel)
			}
			delete(malformed, evt.Channel)
		case *gomavlib.EventParseError:
			throttle := malformed[evt.Channel]
			if throttle == nil {
				throttle = &reportThrottle{}
				malformed[evt.Channel] = throttle
			}
			if due, since := throttle.count(m.transports.now()); due {
				m.deliver(ReceivedMalformed{Err: evt.Error, Malformed: since})
			}
		case *gomavlib.EventFrame:
			if ch := channels[evt.Channel]; ch != nil {
				ch.conn.heardFrame(ch.fromBridge(evt))
			}
			switch msg := evt.Message().(type) {
			case *common.MessageHeartbeat:
				m.deliver(ReceivedHeartbeat{SystemID: evt.SystemID(), ComponentID: evt.ComponentID(),
					Type: msg.Type.String()})
			case *dialect.MessageVlaActionChunk:
				chunk, done, err := assembler.Add(msg)
				if err != nil {
					m.deliver(ReceivedMalformed{Err: err, Malformed: 1})
				} else if done {
					target := Target{msg.TargetSystem, msg.TargetComponent}
					m.deliver(ReceivedChunk{SystemID: evt.SystemID(), Chunk: chunk, Target: target,
						ForOthers: !target.addressedTo(m.SystemID, m.ComponentID)})
				}
			case *common.MessageCommandLong:
				if msg.Command != common.MAV_CMD_DO_GRIPPER {
					continue
				}
				target := Target{msg.TargetSystem, msg.TargetComponent}
				got := ReceivedGripper{SystemID: evt.SystemID(), ComponentID: evt.ComponentID(),
					Instance: int(msg.Param1), Confirmation: msg.Confirmation, Acked: m.AckGripper,
					Target: target, ForOthers: !target.addressedTo(m.SystemID, m.ComponentID)}
				switch common.GRIPPER_ACTIONS(msg.Param2) {
				case common.GRIPPER_ACTION_OPEN:
					got.Action = GripperOpen
				case common.GRIPPER_ACTION_CLOSE:
					got.Action = GripperClose
				}
				if m.AckGripper {
					m.node.WriteMessageTo(evt.Channel, &common.MessageCommandAck{ //nolint:errcheck // encoding cannot fail
						Command: common.MAV_CMD_DO_GRIPPER, Result: common.MAV_RESULT_ACCEPTED,
						TargetSystem: evt.SystemID(), TargetComponent: evt.ComponentID()})
				}
				m.deliver(got)
			}
		}
	}
}
