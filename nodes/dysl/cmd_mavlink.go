package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

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
udp-server:HOST:PORT, udp-client:HOST:PORT, tcp-server:HOST:PORT, tcp-client:HOST:PORT, serial:DEVICE:BAUD.
A server endpoint keeps --max-channels peers at once; a peer beyond them takes the place of the least
useful one (one that sent no valid frame, else the one idle longest), never that of a bridge that
sent a chunk on it while the bridge is heard there (within 3 s), or is refused: a line says each, at
most once every 10 s.

It is a stand-in to watch the link with, not a model of a controller (docs/CONTROLLER.md says what one
does): it heartbeats as gomavlib's default, MAV_TYPE_GCS (a bridge takes a heartbeat of any type from
the controller's ids); it prints chunks addressed to any ids, and acks gripper commands addressed to
any, at once with MAV_RESULT_ACCEPTED (never IN_PROGRESS), marking each addressed to other ids than
its own (a bridge's target set to another arm: a controller with these ids would ignore it); it
prints only whole chunks, their parts in order (a chunk a newer one cut short, or with a part lost,
is not printed); it executes nothing and keeps no time, so the stamps it prints are as sent (a
replayed bag's time under dysl replay).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if monitor.Endpoint == "" {
				return fmt.Errorf("--endpoint is required, such as udp-server:127.0.0.1:14550")
			}
			if count < 0 {
				return fmt.Errorf("--count is %d, expected 0 (until interrupted) or more", count)
			}
			if monitor.MaxChannels < 1 {
				return fmt.Errorf("--max-channels is %d, expected 1 or more", monitor.MaxChannels)
			}
			// The monitor takes 0 for its default; given on the command line it is MAVLink's broadcast id.
			for _, id := range []struct {
				flag  string
				value uint8
			}{{"system-id", monitor.SystemID}, {"component-id", monitor.ComponentID}} {
				if id.value == 0 {
					return fmt.Errorf("--%s is 0, MAVLink's broadcast id; a controller speaks as 1 to 255", id.flag)
				}
			}
			if err := monitor.Initialize(); err != nil {
				return err
			}
			defer monitor.Close()
			if addr := monitor.ListenAddr(); addr != nil {
				// Port 0 has the system choose one: the bridge needs to be told which.
				fmt.Fprintf(cmd.ErrOrStderr(), "listening on %s\n", addr)
			}
			ctx, stop := interruptContext(cmd, "closing the link")
			defer stop()
			return mavbridge.PrintReceived(ctx, cmd.OutOrStdout(), monitor.Received(), count)
		},
	}
	f := cmd.Flags()
	f.StringVar(&monitor.Endpoint, "endpoint", "", "endpoint to listen on, such as udp-server:127.0.0.1:14550")
	f.IntVar(&count, "count", 0, "exit after this many chunks (0: until interrupted)")
	f.BoolVar(&monitor.AckGripper, "ack", false, "accept gripper commands with COMMAND_ACK")
	f.Uint8Var(&monitor.SystemID, "system-id", 1, "system id to speak as (the controller's)")
	f.Uint8Var(&monitor.ComponentID, "component-id", 1, "component id to speak as (the controller's)")
	f.BoolVar(&monitor.NoHeartbeat, "no-heartbeat", false, "send no heartbeats (a bridge then sends no chunks)")
	f.IntVar(&monitor.MaxChannels, "max-channels", mavbridge.DefaultMaxChannels, "channels a server endpoint keeps open at once, one per peer")
	return cmd
}
