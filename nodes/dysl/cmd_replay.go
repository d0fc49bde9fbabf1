package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
	"dysl_vla/replay"
)

// warnIgnoredParams says what of a params file the node never sees: keys it does not declare (a
// misspelt controler_threshold) and blocks for other node names. rclcpp ignores both without a word,
// which leaves a user running the defaults while believing the file applied.
func warnIgnoredParams(w io.Writer, paramsFile string, srv *paramserver.Server) error {
	warnings, err := paramserver.IgnoredSettings(srv, []string{paramsFile})
	for _, warning := range warnings {
		fmt.Fprintln(w, "warning:", warning)
	}
	return err
}

func newReplayCmd() *cobra.Command {
	var (
		ef                   engineFlags
		bagPath, out, params string
		imageTopic, instrTop string
		compare              string
		mf                   mavlinkFlags
	)
	cmd := &cobra.Command{
		Use:   "replay --model DIR --bag IN --out OUT [--params FILE] [--compare full] [--mavlink ENDPOINT]",
		Short: "Run the policy on a recorded bag through the node core; write the results as a bag and a report",
		Long: `replay feeds the bag's instructions and images, in bag time, through the same node core as the
ROS 2 node, with the same parameters file (matched as node ` + replay.NodeName + `). Replaying the same bag
twice gives the same decisions. OUT receives bag/ (action_chunk, skip_stats and diagnostics, MCAP) and
report.md with PNG plots. With --compare full the full model also runs on every frame and the report
gives per-step action error, gripper agreement and the speedup side by side. With --mavlink every
chunk also goes to an arm controller over MAVLink, as the node's mavlink.enabled would send it; the
replay waits for the controller's first heartbeat, then sends at replay speed, not in bag time.

Frames older than max_image_age by the node's clock are dropped, as the node drops them. The clock is
the one the node would read while the bag is played into it: with use_sim_time false, the time each
message was recorded (its log time); with use_sim_time true, the bag's /clock when it has one (play it
without --clock), else the log time, which is what ros2 bag play --clock publishes. The summary counts
the frames not acted on by reason, and says what to do when none was acted on.

Compressed bags (ros2 bag record --compression-mode file or message, zstd) are read as they are.
Ctrl-C stops the replay with a complete output bag and report.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if ef.model == "" || bagPath == "" || out == "" {
				return fmt.Errorf("--model, --bag and --out are required")
			}
			if compare != "" && compare != "full" {
				return fmt.Errorf("--compare takes only \"full\", got %q", compare)
			}
			srv, settings, err := nodecore.LoadParams(params, replay.NodeName, nil)
			if err != nil {
				return err
			}
			if params != "" {
				if err := warnIgnoredParams(cmd.ErrOrStderr(), params, srv); err != nil {
					return err
				}
			}
			e, err := ef.open(settings.Live.Skipping)
			if err != nil {
				return err
			}
			defer e.Close()
			fwd, closeMavlink, err := mf.newForwarder(e.Manifest.Action.GripperIndex, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			defer closeMavlink()
			var forwarder nodecore.ChunkForwarder
			if fwd != nil { // a nil *Forwarder in the interface would not be nil
				forwarder = fwd
			}
			// Ctrl-C or a service manager's SIGTERM ends the replay with a complete output bag and report.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			bar := newProgressBar(cmd.ErrOrStderr(), 1000, "replay")
			res, err := replay.Run(replay.Config{
				Engine: e, Params: srv, BagPath: bagPath, OutDir: out,
				ImageTopic: imageTopic, InstructionTopic: instrTop, CompareFull: compare == "full",
				Forwarder: forwarder, Context: ctx,
				Progress: func(done, total time.Duration) {
					if bar != nil && total > 0 {
						_ = bar.Set(int(1000 * min(max(done.Seconds()/total.Seconds(), 0), 1)))
					}
				},
			})
			if bar != nil {
				_ = bar.Finish()
			}
			if res.ReportPath != "" {
				stdout := cmd.OutOrStdout()
				replay.WriteSummary(stdout, res.Summary)
				fmt.Fprintf(stdout, "report: %s\noutput bag: %s\n", res.ReportPath, res.OutBag)
			}
			return err
		},
	}
	ef.register(cmd.Flags())
	mf.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&bagPath, "bag", "", "input bag: a rosbag2 directory (sqlite3 or MCAP) or a single .mcap file")
	f.StringVar(&out, "out", "", "output directory (bag/ and report.md)")
	f.StringVar(&params, "params", "", "parameters file in ros__parameters form (the node's own, e.g. params/dysl_vla.yaml)")
	f.StringVar(&imageTopic, "image-topic", "/image", "image topic in the bag")
	f.StringVar(&instrTop, "instruction-topic", "/instruction", "instruction topic in the bag")
	f.StringVar(&compare, "compare", "", `"full": also run the full model on every frame and compare`)
	return cmd
}
