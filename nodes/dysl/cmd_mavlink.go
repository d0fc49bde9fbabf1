package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"dysl_vla/mavbridge"
	"dysl_vla/mavbridge/dialect"
)

func newMavlinkCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mavlink",
		Short: "MAVLink link to an arm controller: watch what it would receive, print the dialect XML",
	}
	cmd.AddCommand(newMavlinkListenCmd(), newMavlinkXMLCmd())
	return cmd
}

func newMavlinkXMLCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "xml",
		Short: "Print the MAVLink XML of the VLA_ACTION_CHUNK dialect, for controller-side code generators",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := io.WriteString(cmd.OutOrStdout(), dialect.XML)
			return err
		},
	}
}

func newMavlinkListenCmd() *cobra.Command {
	monitor := &mavbridge.Monitor{}
	var count int
	cmd := &cobra.Command{
		Use:   "listen --endpoint KIND:ADDRESS [--count N] [--ack]",
		Short: "Stand in for an arm controller: print the heartbeats, action chunks and gripper commands that arrive",
		Long: `listen opens the endpoint as a controller would (system 1, component 1 unless told otherwise),
sends heartbeats so that a bridge sees its link up, and prints every heartbeat, action chunk (one line per
step) and gripper command. With --ack it accepts gripper commands with COMMAND_ACK. Endpoints:
udp-server:HOST:PORT, udp-client:HOST:PORT, tcp-server:HOST:PORT, tcp-client:HOST:PORT, serial:DEVICE:BAUD.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if monitor.Endpoint == "" {
				return fmt.Errorf("--endpoint is required, such as udp-server:127.0.0.1:14550")
			}
			if count < 0 {
				return fmt.Errorf("--count is %d, expected 0 (until interrupted) or more", count)
			}
			if err := monitor.Initialize(); err != nil {
				return err
			}
			defer monitor.Close()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			return printReceived(ctx, cmd.OutOrStdout(), monitor.Received(), count)
		},
	}
	f := cmd.Flags()
	f.StringVar(&monitor.Endpoint, "endpoint", "", "endpoint to listen on, such as udp-server:127.0.0.1:14550")
	f.IntVar(&count, "count", 0, "exit after this many chunks (0: until interrupted)")
	f.BoolVar(&monitor.AckGripper, "ack", false, "accept gripper commands with COMMAND_ACK")
	f.Uint8Var(&monitor.SystemID, "system-id", 1, "system id to speak as (the controller's)")
	f.Uint8Var(&monitor.ComponentID, "component-id", 1, "component id to speak as (the controller's)")
	f.BoolVar(&monitor.NoHeartbeat, "no-heartbeat", false, "send no heartbeats (a bridge then sends no chunks)")
	return cmd
}

// printReceived prints what arrives until count chunks have (count 0: until ctx ends).
func printReceived(ctx context.Context, w io.Writer, received <-chan mavbridge.Received, count int) error {
	chunks := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case r, ok := <-received:
			if !ok {
				return nil
			}
			if err := printOne(w, r); err != nil {
				return err
			}
			if _, isChunk := r.(mavbridge.ReceivedChunk); isChunk {
				chunks++
				if count > 0 && chunks >= count {
					return nil
				}
			}
		}
	}
}

func printOne(w io.Writer, r mavbridge.Received) error {
	var b strings.Builder
	switch r := r.(type) {
	case mavbridge.ReceivedHeartbeat:
		fmt.Fprintf(&b, "heartbeat sys=%d comp=%d type=%s\n", r.SystemID, r.ComponentID, r.Type)
	case mavbridge.ReceivedChunk:
		c := r.Chunk
		fmt.Fprintf(&b, "chunk seq=%d stamp=%s dt=%v frame=%q steps=%d dims=%d\n",
			c.Seq, c.Stamp.UTC().Format(time.RFC3339Nano), c.StepDt, c.Frame, c.Steps, c.Dims)
		for step := range c.Steps {
			fmt.Fprintf(&b, "  [%d]", step)
			for _, v := range c.Values[step*c.Dims : (step+1)*c.Dims] {
				fmt.Fprintf(&b, " %.4f", v)
			}
			b.WriteByte('\n')
		}
	case mavbridge.ReceivedGripper:
		acked := ""
		if r.Acked {
			acked = " acked"
		}
		fmt.Fprintf(&b, "gripper %v instance=%d confirmation=%d from sys=%d comp=%d%s\n",
			r.Action, r.Instance, r.Confirmation, r.SystemID, r.ComponentID, acked)
	case mavbridge.ReceivedMalformed:
		fmt.Fprintf(&b, "malformed: %v\n", r.Err)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mavlinkFlags are the flags that make a chunk-producing command (dysl replay) send its chunks to an
// arm controller. Register them with register; newBridge returns nil when --mavlink was not given.
type mavlinkFlags struct {
	endpoint     string
	linkTimeout  time.Duration
	targetSystem uint8
	targetComp   uint8
	gripperOpen  float32
	gripperClose float32
}

func (m *mavlinkFlags) register(f *pflag.FlagSet) {
	f.StringVar(&m.endpoint, "mavlink", "", "also send chunks over MAVLink to this endpoint, such as udp-client:127.0.0.1:14550")
	f.DurationVar(&m.linkTimeout, "mavlink-link-timeout", 3*time.Second, "controller heartbeat silence after which chunks stop")
	f.Uint8Var(&m.targetSystem, "mavlink-target-system", 1, "the arm controller's MAVLink system id")
	f.Uint8Var(&m.targetComp, "mavlink-target-component", 1, "the arm controller's MAVLink component id")
	f.Float32Var(&m.gripperOpen, "mavlink-gripper-open", 0, "gripper dimension value meaning fully open")
	f.Float32Var(&m.gripperClose, "mavlink-gripper-closed", 1, "gripper dimension value meaning fully closed")
}

// newBridge starts the bridge the flags describe, or returns nil when --mavlink is empty.
func (m *mavlinkFlags) newBridge() (*mavbridge.Bridge, error) {
	if m.endpoint == "" {
		return nil, nil
	}
	b := &mavbridge.Bridge{
		Endpoint: m.endpoint, LinkTimeout: m.linkTimeout,
		TargetSystem: m.targetSystem, TargetComponent: m.targetComp,
		GripperOpenValue: m.gripperOpen, GripperClosedValue: m.gripperClose,
	}
	if err := b.Initialize(); err != nil {
		return nil, fmt.Errorf("--mavlink: %w", err)
	}
	return b, nil
}

// newForwarder starts the bridge and waits for the controller's first heartbeat, since the bridge
// discards chunks until then and an offline command may be done in less time than a heartbeat period.
// It returns nil, and a no-op close, when --mavlink is empty. gripperDim is the bundle's
// Action.GripperIndex, whose -1 (no gripper) is mavbridge.NoGripper. done lets the frames still queued
// go out (within a second), closes the bridge and prints what the link carried to w.
func (m *mavlinkFlags) newForwarder(gripperDim int, w io.Writer) (fwd *mavbridge.Forwarder, done func(), err error) {
	b, err := m.newBridge()
	if b == nil || err != nil {
		return nil, func() {}, err
	}
	if !waitFor(m.linkTimeout, func() bool { return b.Stats().LinkUp }) {
		b.Close()
		return nil, nil, fmt.Errorf("--mavlink: no heartbeat from the controller (system %d, component %d) on %s within %v; "+
			"is it running? (`dysl mavlink listen --endpoint ...` stands in for one)",
			b.TargetSystem, b.TargetComponent, m.endpoint, m.linkTimeout)
	}
	done = func() {
		waitFor(time.Second, func() bool { return b.Stats().FramesInFlight == 0 })
		b.Close()
		s := b.Stats() // after Close: frames still queued count as dropped
		fmt.Fprintf(w, "mavlink %s: %d chunks sent, %d discarded while the link was down; %d frames written, %d dropped; "+
			"gripper commands %d acked, %d failed\n", m.endpoint, s.ChunksSent, s.ChunksDiscarded,
			s.FramesWritten, s.FramesDropped, s.GripperAcked, s.GripperFailed)
	}
	return &mavbridge.Forwarder{Bridge: b, GripperDim: gripperDim}, done, nil
}

// waitFor polls cond until it holds or timeout passes, and reports whether it held.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
