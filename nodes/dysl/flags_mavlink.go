package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"

	"dysl_vla/gripper"
	"dysl_vla/mavbridge"
	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
	"dysl_vla/replay"
)

// mavlinkFlags are the flags that make a chunk-producing command (dysl replay) send its chunks to an
// arm controller. Register them with register and call check first; newBridge returns nil when --mavlink
// was not given.
type mavlinkFlags struct {
	endpoint     string
	linkTimeout  time.Duration
	targetSystem uint8
	targetComp   uint8
	maxChannels  int
	// gripperProgress and maxChunkWait are the node's mavlink.gripper_progress_timeout and max_chunk_wait.
	gripperProgress, maxChunkWait time.Duration
	// link are the flags of the link, which only --mavlink uses.
	link *pflag.FlagSet
}

func (m *mavlinkFlags) register(f *pflag.FlagSet) {
	f.StringVar(&m.endpoint, "mavlink", "", "also send chunks over MAVLink to this endpoint, such as udp-client:127.0.0.1:14550")
	m.link = pflag.NewFlagSet("mavlink link", pflag.ContinueOnError)
	m.link.DurationVar(&m.linkTimeout, "mavlink-link-timeout", mavbridge.DefaultLinkTimeout, "controller heartbeat silence after which chunks stop (the node's mavlink.link_timeout)")
	m.link.Uint8Var(&m.targetSystem, "mavlink-target-system", 1, "the arm controller's MAVLink system id")
	m.link.Uint8Var(&m.targetComp, "mavlink-target-component", 1, "the arm controller's MAVLink component id")
	m.link.IntVar(&m.maxChannels, "mavlink-max-channels", mavbridge.DefaultMaxChannels,
		"channels a udp-server or tcp-server endpoint keeps open, one per peer (the node's mavlink.max_channels)")
	m.link.DurationVar(&m.gripperProgress, "mavlink-gripper-progress-timeout", mavbridge.DefaultGripperProgressTimeout,
		"how long a gripper that answered IN_PROGRESS has to say the outcome (the node's mavlink.gripper_progress_timeout)")
	m.link.DurationVar(&m.maxChunkWait, "mavlink-max-chunk-wait", mavbridge.DefaultMaxChunkWait,
		"how long a chunk may wait unwritten before the link's status warns of a backlog (the node's mavlink.max_chunk_wait)")
	f.AddFlagSet(m.link)
}

// check refuses, before the command opens anything, the link's flags without --mavlink, and values
// the node would refuse: the ranges of its mavlink.* parameters judge the flags that set the same
// things.
func (m *mavlinkFlags) check() error {
	if m.endpoint == "" {
		return refuseUnused(m.link, "--mavlink", flagNames(m.link)...)
	}
	for _, p := range []struct {
		flag, param string
		value       paramserver.Value
	}{
		{"--mavlink-link-timeout", nodecore.ParamMavlinkLinkTimeout, paramserver.Double(m.linkTimeout.Seconds())},
		{"--mavlink-target-system", nodecore.ParamMavlinkTargetSystem, paramserver.Integer(int64(m.targetSystem))},
		{"--mavlink-target-component", nodecore.ParamMavlinkTargetComponent, paramserver.Integer(int64(m.targetComp))},
		{"--mavlink-max-channels", nodecore.ParamMavlinkMaxChannels, paramserver.Integer(int64(m.maxChannels))},
		{"--mavlink-gripper-progress-timeout", nodecore.ParamMavlinkGripperProgress, paramserver.Double(m.gripperProgress.Seconds())},
		{"--mavlink-max-chunk-wait", nodecore.ParamMavlinkMaxChunkWait, paramserver.Double(m.maxChunkWait.Seconds())},
	} {
		if _, _, err := nodecore.NewParamServer(replay.NodeName, map[string]paramserver.Value{p.param: p.value}, nil); err != nil {
			return fmt.Errorf("%s: %w", p.flag, err)
		}
	}
	return nil
}

// newBridge starts the bridge the flags describe, commanding the gripper by convention (the node's
// gripper_open and gripper_closed, as the replay's node core reads the column), or returns nil when
// --mavlink is empty.
func (m *mavlinkFlags) newBridge(convention gripper.Convention) (*mavbridge.Bridge, error) {
	if m.endpoint == "" {
		return nil, nil
	}
	b := &mavbridge.Bridge{
		Endpoint: m.endpoint, LinkTimeout: m.linkTimeout,
		TargetSystem: m.targetSystem, TargetComponent: m.targetComp, MaxChannels: m.maxChannels,
		GripperProgressTimeout: m.gripperProgress, MaxChunkWait: m.maxChunkWait,
		GripperOpenValue: convention.Open, GripperClosedValue: convention.Closed,
		// A replay's chunks are stamped on the bag's time, not this bridge's clock, and each is to reach
		// the controller, however fast the replay runs.
		StampsOffClock: true, KeepLateChunks: true,
	}
	if err := b.Initialize(); err != nil {
		return nil, fmt.Errorf("--mavlink: %w", err)
	}
	return b, nil
}

// firstHeartbeatWait is the shortest wait for the controller's first heartbeat: three of MAVLink's
// one-second heartbeat periods.
const firstHeartbeatWait = 3 * time.Second

// newForwarder starts the bridge and waits for the controller's first heartbeat, since the bridge
// discards chunks until then and an offline command may be done in less time than a heartbeat period.
// It returns a nil forwarder (a nil interface, which the node core takes as none), and a no-op done,
// when --mavlink is empty. steps and dims are the bundle's chunk and action dimension, which the link
// must carry; gripperDim is its Action.GripperIndex, whose -1 (no gripper) is mavbridge.NoGripper, and
// convention what its values mean (newBridge). done lets the frames still queued go out (within a
// second), closes the bridge and prints what the link carried to w.
func (m *mavlinkFlags) newForwarder(steps, dims, gripperDim int, convention gripper.Convention, w io.Writer) (fwd nodecore.ChunkForwarder, done func(), err error) {
	if m.endpoint != "" {
		if err := mavbridge.CheckShape(steps, dims); err != nil {
			return nil, nil, fmt.Errorf("--mavlink: the bundle's chunks cannot go over MAVLink: %w", err)
		}
	}
	b, err := m.newBridge(convention)
	if b == nil || err != nil {
		return nil, func() {}, err
	}
	// A controller sends a heartbeat a second (MAVLink's rate): a link timeout shorter than a few
	// periods still waits that long for the first one, or a live controller would be taken for none.
	wait := max(m.linkTimeout, firstHeartbeatWait)
	if !b.AwaitLink(wait) {
		connectErr := b.Stats().ConnectError
		b.Close()
		if connectErr != "" {
			return nil, nil, fmt.Errorf("--mavlink: cannot connect on %s within %v: %s", m.endpoint, wait, connectErr)
		}
		return nil, nil, fmt.Errorf("--mavlink: no heartbeat from the controller (system %d, component %d) on %s within %v; "+
			"is it running? (`dysl mavlink listen --endpoint ...` stands in for one)",
			b.TargetSystem, b.TargetComponent, m.endpoint, wait)
	}
	done = func() {
		b.Drain(time.Second)
		b.Close()
		// After Close: frames still queued count as dropped.
		fmt.Fprintf(w, "mavlink %s: %s\n", m.endpoint, b.Stats().Carried())
	}
	return &mavbridge.Forwarder{Bridge: b, GripperDim: gripperDim}, done, nil
}
