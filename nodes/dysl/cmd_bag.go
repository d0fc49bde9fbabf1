package main

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"dysl_vla/bag"
	"dysl_vla/bag/samplebag"
	"dysl_vla/scene"
)

func newBagCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bag",
		Short: "Inspect rosbag2 recordings and generate sample pick-and-place bags",
	}
	cmd.AddCommand(newBagInfoCmd(), newBagGenCmd())
	return cmd
}

func newBagInfoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "info PATH",
		Short: "Describe a bag as `ros2 bag info` does (a bag directory, or a lone .mcap/.db3 file)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := bag.Open(args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			info := r.Info()
			// ros2 bag info prints the description with Python's print, which adds a blank line.
			fmt.Fprintln(cmd.OutOrStdout(), info.Format(time.Local))
			for _, w := range info.Warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
			}
			return nil
		},
	}
}

func newBagGenCmd() *cobra.Command {
	var (
		out       string
		opts      samplebag.Options
		chunkSize int
		noise     float64
	)
	cmd := &cobra.Command{
		Use:   "gen --out DIR",
		Short: "Record scripted pick-and-place episodes as an MCAP bag",
		Long: `Record scripted pick-and-place episodes (camera frames, instructions, expert action chunks)
as a rosbag2 MCAP bag that ros2 bag play (Humble and later) and dysl replay read.

Topics: /image (sensor_msgs/msg/Image rgb8, frame_id camera), /joint_states (sensor_msgs/msg/JointState,
the arm's state ee_x ee_y ee_z ee_yaw gripper just before each frame), /instruction (std_msgs/msg/String,
latched, once per episode), /episode (std_msgs/msg/String marker "episode=i seed=s steps=n", plus
"episode=i seed=s steps=n cut=k" after an episode that Ctrl-C cut short at its k-th step),
/phase (std_msgs/msg/String, the expert's phase per frame) and /expert_action_chunk
(dysl_vla/msg/ActionChunk, the expert's K-step future per frame). Episode i uses seed S+i.

--image-format jpeg or png records the frames compressed instead, as a camera's image_transport
"compressed" transport publishes them: sensor_msgs/msg/CompressedImage on /image/compressed (format
"rgb8; jpeg compressed bgr8", JPEG quality 95, or png), and no /image. dysl replay takes them from
there without flags (its image topic /image, absent, gives way to /image/compressed); the node takes
them with image_transport:=compressed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("--out is required: the bag directory to create")
			}
			// Options treats zero as "the default"; on the command line a zero is a mistake.
			var problems []error
			if opts.Episodes < 1 {
				problems = append(problems, fmt.Errorf("--episodes %d: must be at least 1", opts.Episodes))
			}
			if !(opts.RateHz > 0) || math.IsInf(opts.RateHz, 0) {
				problems = append(problems, fmt.Errorf("--rate %v: must be a frame rate in Hz above 0", opts.RateHz))
			}
			if chunkSize < 1 {
				problems = append(problems, fmt.Errorf("--chunk %d: must be at least 1 step", chunkSize))
			}
			if opts.Scene.Width < 1 || opts.Scene.Height < 1 {
				problems = append(problems, fmt.Errorf("--width %d --height %d: must be at least 8 pixels each", opts.Scene.Width, opts.Scene.Height))
			}
			if err := errors.Join(problems...); err != nil {
				return err
			}
			opts.Scene.ChunkSize = chunkSize
			opts.Scene.CameraNoise = noise
			ctx, stop := interruptContext(cmd, "closing the bag without the frame being rendered; the episode being recorded is kept and marked cut on /episode")
			defer stop()
			sum, err := samplebag.Generate(ctx, out, opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d episodes, %d frames, %d messages, %s of bag time\n",
				out, sum.Episodes, sum.Frames, sum.Messages, sum.Duration.Round(time.Millisecond))
			return nil
		},
	}
	defaults := scene.DefaultConfig()
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "bag directory to create (must not exist, or be empty)")
	f.IntVar(&opts.Episodes, "episodes", 1, "number of episodes")
	f.Int64Var(&opts.Seed, "seed", 0, "seed of the first episode")
	f.IntVar(&opts.Scene.Width, "width", defaults.Width, "frame width in pixels")
	f.IntVar(&opts.Scene.Height, "height", defaults.Height, "frame height in pixels")
	f.IntVar(&chunkSize, "chunk", defaults.ChunkSize, "steps K in each expert action chunk")
	f.Float64Var(&noise, "noise", defaults.CameraNoise, "camera pixel noise standard deviation (0..255 units; 0 for clean frames)")
	f.Float64Var(&opts.RateHz, "rate", 10, "camera and control rate in Hz")
	f.StringVar(&opts.ImageFormat, "image-format", samplebag.ImageRaw, "how frames are recorded: "+strings.Join(samplebag.ImageFormats(), ", ")+
		" (jpeg and png: sensor_msgs/msg/CompressedImage on "+samplebag.TopicCompressedImage+")")
	return cmd
}
