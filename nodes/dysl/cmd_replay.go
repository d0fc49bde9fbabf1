package main

import (
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"dysl_vla/gripper"
	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
	"dysl_vla/policy/ortbackend"
	"dysl_vla/replay"
)

func newReplayCmd() *cobra.Command {
	var (
		ef                   engineFlags
		bagPath, out, params string
		imageTopic, instrTop string
		compare              string
		stateTopic           string
		mf                   mavlinkFlags
		gf                   gripperFlags
	)
	cmd := &cobra.Command{
		Use:   "replay --model DIR --bag IN --out OUT [--params FILE] [--compare full] [--gripper-open V --gripper-closed V] [--mavlink ENDPOINT]",
		Args:  cobra.NoArgs,
		Short: "Run the policy on a recorded bag through the node core; write the results as a bag and a report",
		Long: `replay feeds the bag's instructions and images, in bag time, through the same node core as the
ROS 2 node, with the same parameters file (matched as node ` + replay.NodeName + `). Replaying the same bag
twice gives the same decisions. OUT receives bag/ (action_chunk, skip_stats and diagnostics, MCAP) and
report.md with PNG plots. With --compare full the full model also runs on every frame and the report
gives per-step action error, gripper agreement and the speedup side by side. With --mavlink every
chunk also goes to an arm controller over MAVLink, as the node's mavlink.enabled would send it; the
replay waits for the controller's first heartbeat, then sends at replay speed, not in bag time.

--gripper-open and --gripper-closed are the node's gripper_open and gripper_closed, what the policy's
gripper column means: gripper_min_hold and the MAVLink bridge read it by them. Given, a flag wins over
the same parameter in --params, as -p over --params-file on the node; not given, the file's value (or
the node's default, -1 open and +1 closed) stands.

For a bundle that reads the robot's state, the bag's sensor_msgs/JointState topic (--state-topic) is fed
in the same time order, and a frame without a state within state_max_age of it is not acted on.

Frames older than max_image_age by the node's clock are dropped, as the node drops them. The clock is
the one the node would read while the bag is played into it: with use_sim_time false, the time each
message was recorded (its log time); with use_sim_time true, the bag's /clock when it has one (play it
without --clock), else the log time, which is what ros2 bag play --clock publishes. The summary counts
the frames not acted on by reason, and says what to do when none was acted on; the command then
exits with status 1, having tested nothing of the model.

Compressed bags (ros2 bag record --compression-mode file or message, zstd) are read as they are.
Ctrl-C stops the replay with a complete output bag and report.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireValues(cmd.Flags(), "model", "bag", "out"); err != nil {
				return err
			}
			if compare != "" && compare != "full" {
				return fmt.Errorf("--compare takes only \"full\", got %q", compare)
			}
			if err := mf.check(); err != nil {
				return err
			}
			srv, settings, warnings, err := replay.LoadParams(params)
			if err != nil {
				return err
			}
			for _, warning := range warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", warning)
			}
			var given map[string]paramserver.Value // the file's values for the node
			if params != "" {
				if given, err = paramserver.LoadParamsFile(params, replay.NodeName); err != nil {
					return err
				}
			}
			if srv, settings, err = gf.apply(cmd.Flags(), given, srv, settings); err != nil {
				return err
			}
			if settings.Mavlink.Enabled && mf.endpoint == "" {
				// Never to the robot's controller by surprise: a replay sends only where --mavlink says.
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s sets mavlink.enabled, but a replay sends over MAVLink only with --mavlink ENDPOINT: nothing is sent to %s\n",
					params, settings.Mavlink.Endpoint)
			}
			if params != "" {
				for _, warning := range settingsReplayRunsOtherwise(params, given, settings, &ef, &mf) {
					fmt.Fprintln(cmd.ErrOrStderr(), "warning:", warning)
				}
			}
			e, err := ef.open(settings.Live.Skipping)
			if err != nil {
				return err
			}
			defer e.Close()
			if e.Manifest.State == nil && cmd.Flags().Changed("state-topic") {
				return fmt.Errorf("--state-topic %s: the bundle %s reads no robot state (its manifest has no state block), so no topic of the bag would be read for it",
					stateTopic, ef.model)
			}
			forwarder, closeMavlink, err := mf.newForwarder(e.Manifest.Dims.Chunk, e.Manifest.Dims.ActionDim, e.Manifest.Action.GripperIndex, settings.Gripper, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			defer closeMavlink()
			// Ctrl-C or a service manager's SIGTERM ends the replay with a complete output bag and report.
			ctx, stop := interruptContext(cmd, "closing the output bag and writing the report")
			defer stop()
			bar := newProgress(cmd.ErrOrStderr(), 1000, "replay")
			res, err := replay.Run(replay.Config{
				Engine: e, Params: srv, BagPath: bagPath, OutDir: out, ModelDir: ef.model,
				ImageTopic: imageTopic, InstructionTopic: instrTop, StateTopic: stateTopic, CompareFull: compare == "full",
				Forwarder: forwarder, Context: ctx,
				Progress: func(done, total time.Duration) {
					if total > 0 {
						bar.set(int(1000 * min(max(done.Seconds()/total.Seconds(), 0), 1)))
					}
				},
			})
			bar.finish()
			replay.WriteResult(cmd.OutOrStdout(), res)
			if err == nil && res.Summary.Frames == 0 {
				// The replay ran, but tested nothing of the model: a script must not take it for a pass.
				return fmt.Errorf("replay: no frame was acted on; the report says why and what to do")
			}
			return err
		},
	}
	ef.register(cmd.Flags())
	gf.register(cmd.Flags())
	mf.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&bagPath, "bag", "", "input bag: a rosbag2 directory (sqlite3 or MCAP) or a single .mcap file")
	f.StringVar(&out, "out", "", "output directory (bag/ and report.md)")
	f.StringVar(&params, "params", "", "parameters file in ros__parameters form (the node's own, e.g. params/dysl_vla.yaml)")
	f.StringVar(&imageTopic, "image-topic", "", "image topic in the bag, sensor_msgs/msg/Image or CompressedImage as the bag records it (default: image_topic of --params as the node resolves it, "+
		"with /compressed under image_transport compressed; /image without one, or /image/compressed when the bag has only that)")
	f.StringVar(&instrTop, "instruction-topic", "", "instruction topic in the bag (default: instruction_topic of --params as the node resolves it, /instruction without one)")
	f.StringVar(&stateTopic, "state-topic", "/joint_states", "robot state topic in the bag (sensor_msgs/JointState), read for a bundle with a state block")
	f.StringVar(&compare, "compare", "", `"full": also run the full model on every frame and compare`)
	return cmd
}

// settingsReplayRunsOtherwise says which node settings the params file gives (given: its values for
// the node) a replay does not run with, because its own flags decide them: a file asking for cuda
// was replayed on the CPU without a word. Only values that differ are named, so the node's own file
// (params/dysl_vla.yaml, every default) replays in silence. gripper_open and gripper_closed are not
// among them: the replay runs with the file's, unless --gripper-open/--gripper-closed, given on
// purpose, set others.
func settingsReplayRunsOtherwise(file string, given map[string]paramserver.Value, s nodecore.Settings, ef *engineFlags, mf *mavlinkFlags) []string {
	var out []string
	differ := func(param, flag string, fileValue, flagValue any) {
		if _, set := given[param]; set && fileValue != flagValue {
			out = append(out, fmt.Sprintf("%s sets %s to %v, but a replay runs with %s %v", file, param, fileValue, flag, flagValue))
		}
	}
	if s.ModelDir != "" && !samePath(s.ModelDir, ef.model) {
		differ(nodecore.ParamModelDir, "--model", s.ModelDir, ef.model)
	}
	differ(nodecore.ParamExecutionProvider, "--provider", s.ExecutionProvider, ef.provider)
	differ(nodecore.ParamORTThreads, "--threads", s.ORTThreads, ef.threads)
	if ef.provider == ortbackend.ProviderTensorRT {
		differ(nodecore.ParamTRTFP16, "--trt-fp16", s.TRTFP16, ef.trtFP16)
	}
	if mf.endpoint != "" {
		differ(nodecore.ParamMavlinkEndpoint, "--mavlink", s.Mavlink.Endpoint, mf.endpoint)
		differ(nodecore.ParamMavlinkLinkTimeout, "--mavlink-link-timeout", s.Mavlink.LinkTimeout, mf.linkTimeout)
		differ(nodecore.ParamMavlinkTargetSystem, "--mavlink-target-system", s.Mavlink.TargetSystem, int(mf.targetSystem))
		differ(nodecore.ParamMavlinkTargetComponent, "--mavlink-target-component", s.Mavlink.TargetComponent, int(mf.targetComp))
		differ(nodecore.ParamMavlinkMaxChannels, "--mavlink-max-channels", s.Mavlink.MaxChannels, mf.maxChannels)
		differ(nodecore.ParamMavlinkGripperProgress, "--mavlink-gripper-progress-timeout", s.Mavlink.GripperProgressTimeout, mf.gripperProgress)
		differ(nodecore.ParamMavlinkMaxChunkWait, "--mavlink-max-chunk-wait", s.Mavlink.MaxChunkWait, mf.maxChunkWait)
	}
	return out
}

// gripperFlags are --gripper-open and --gripper-closed: the node's gripper_open and gripper_closed,
// what the policy's gripper column means to the replay's node core (gripper_min_hold) and, with
// --mavlink, to the bridge. Outside the MAVLink flags: they apply without --mavlink.
type gripperFlags struct {
	open, closed float64
}

func (g *gripperFlags) register(f *pflag.FlagSet) {
	d := gripper.Default()
	f.Float64Var(&g.open, "gripper-open", float64(d.Open), "the policy's gripper column value for fully open, the node's gripper_open, "+
		"by which gripper_min_hold and --mavlink read the column: given, it wins over gripper_open in --params")
	f.Float64Var(&g.closed, "gripper-closed", float64(d.Closed), "the policy's gripper column value for fully closed, the node's gripper_closed: "+
		"given, it wins over gripper_closed in --params")
}

// apply returns the parameters a replay runs with: srv and settings, those of the params file (given:
// its values for the node, nil without one), as they are when neither flag was given; else the file's
// values with the flags given on top, as -p values go on top of a --params-file, judged by the
// parameters (a flag alone may equal the other value, the file's or the default) before the bag or
// the model is opened.
func (g *gripperFlags) apply(f *pflag.FlagSet, given map[string]paramserver.Value, srv *paramserver.Server,
	settings nodecore.Settings) (*paramserver.Server, nodecore.Settings, error) {
	values := maps.Clone(given)
	var flags []string
	for _, p := range []struct {
		flag, param string
		value       float64
	}{{"gripper-open", nodecore.ParamGripperOpen, g.open}, {"gripper-closed", nodecore.ParamGripperClosed, g.closed}} {
		if f.Changed(p.flag) {
			if values == nil {
				values = map[string]paramserver.Value{}
			}
			values[p.param] = paramserver.Double(p.value)
			flags = append(flags, "--"+p.flag)
		}
	}
	if len(flags) == 0 {
		return srv, settings, nil
	}
	srv, settings, err := nodecore.NewParamServer(replay.NodeName, values, nil)
	if err != nil {
		return nil, nodecore.Settings{}, fmt.Errorf("%s: %w", strings.Join(flags, " and "), err)
	}
	return srv, settings, nil
}
