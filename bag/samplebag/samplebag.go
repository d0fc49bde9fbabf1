// Package samplebag records scripted pick-and-place episodes (package scene) as a rosbag2 MCAP
// bag: the sample input for `dysl replay`, benchmarks and tests.
//
// Topics, all stamped on one simulated clock (episode i starts i*(episode length + 1 s) after
// Options.Start; steps are 1/RateHz apart):
//
//	/instruction          std_msgs/msg/String        once per episode, at its start; QoS transient_local,
//	                                                 reliable, depth 1 (latched, as a policy node expects)
//	/episode              std_msgs/msg/String        once per episode, at its start:
//	                                                 "episode=<i> seed=<seed> steps=<n>"; once more, after
//	                                                 its last frame, for an episode cut short by Ctrl-C:
//	                                                 "episode=<i> seed=<seed> steps=<n> cut=<k>", only its
//	                                                 first k steps recorded (see Generate)
//	/joint_states         sensor_msgs/msg/JointState every step, 1 µs before its image: the arm's state in that
//	                                                 world (scene.RobotStateNames and State.RobotState: metres,
//	                                                 radians, gripper command), header.stamp = log time
//	/image                sensor_msgs/msg/Image      every step: rgb8, frame_id "camera", header.stamp = log time;
//	                                                 QoS sensor data (best effort, depth 5). With
//	                                                 Options.ImageFormat jpeg or png, instead:
//	/image/compressed     sensor_msgs/msg/CompressedImage  the same frames as image_transport's compressed
//	                                                 transport publishes them ("rgb8; png compressed bgr8")
//	/phase                std_msgs/msg/String        every step, 1 µs after its image: the expert's phase name
//	/expert_action_chunk  dysl_vla/msg/ActionChunk   every step, 2 µs after its image: the expert's K-step
//	                                                 future (the label), header = the image's, step_dt = 1/RateHz,
//	                                                 action_names dx dy dz droll dpitch dyaw gripper,
//	                                                 strategy "expert"
//
// The instruction comes 10 ms before the episode's first image, so a replayed node has it
// before the first frame. Units of the actions are scene's: metres and radians per step,
// gripper -1 open, +1 closed.
package samplebag

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"dysl_vla/bag"
	"dysl_vla/bytesize"
	"dysl_vla/compressedimage"
	"dysl_vla/msgs"
	"dysl_vla/scene"
)

// Topic names written by Generate.
const (
	TopicInstruction = "/instruction"
	TopicEpisode     = "/episode"
	TopicImage       = "/image"
	// TopicCompressedImage is where the frames go with ImageFormat jpeg or png, as image_transport
	// names the compressed transport's topic of /image.
	TopicCompressedImage = TopicImage + "/compressed"
	TopicJointStates     = "/joint_states"
	TopicPhase           = "/phase"
	TopicExpertChunk     = "/expert_action_chunk"
)

// CameraFrameID is the frame_id of every image (and of the chunks predicted from them).
const CameraFrameID = "camera"

// ActionNames returns the columns of every chunk, in a slice of the caller's own.
func ActionNames() []string {
	return []string{"dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper"}
}

// Options configures Generate. Zero fields take their defaults.
type Options struct {
	Episodes int          // default 1
	Seed     int64        // episode i uses seed Seed+i
	Scene    scene.Config // frame size, chunk size K, step limit, noise; zero fields: scene defaults
	RateHz   float64      // camera and control rate; default 10
	// Start is the log time of the first message; default 2023-11-14T22:13:20Z (1.7e9 s), a fixed
	// date so the same options give the same bytes.
	Start time.Time
	Bag   bag.WriterOptions
	// ImageFormat is how the frames are recorded: ImageRaw (the default, ""), or compressed by
	// ImageJPEG or ImagePNG on TopicCompressedImage.
	ImageFormat string
	// FreeBytes says how many bytes more the file system holding the bag can take; nil: what statfs
	// gives unprivileged users (the root-reserved blocks are left alone). Tests give their own.
	FreeBytes func(dir string) (uint64, error)

	// render draws a frame: scene.Render, or a test's that holds a frame back until it is cancelled.
	render func(s scene.State, width, height int, noise float64) scene.Image
}

// The values of Options.ImageFormat.
const (
	ImageRaw  = "raw"
	ImageJPEG = "jpeg"
	ImagePNG  = "png"
)

// ImageFormats lists the values of Options.ImageFormat.
func ImageFormats() []string { return []string{ImageRaw, ImageJPEG, ImagePNG} }

// imageTopic is the topic the frames go to, their type and, for a compressed format, its container.
func (o Options) imageTopic() (topic, typeName string, c compressedimage.Container) {
	switch o.ImageFormat {
	case ImageJPEG:
		return TopicCompressedImage, "sensor_msgs/msg/CompressedImage", compressedimage.JPEG
	case ImagePNG:
		return TopicCompressedImage, "sensor_msgs/msg/CompressedImage", compressedimage.PNG
	}
	return TopicImage, "sensor_msgs/msg/Image", 0
}

// instructionLead is how long before an episode's first frame its instruction is written.
const instructionLead = 10 * time.Millisecond

// Summary says what Generate wrote.
type Summary struct {
	Episodes, Frames int
	Messages         int
	Duration         time.Duration // first to last message
}

func (o *Options) ensureDefaults() {
	if o.Episodes == 0 {
		o.Episodes = 1
	}
	if o.RateHz == 0 {
		o.RateHz = 10
	}
	if o.Start.IsZero() {
		o.Start = time.Unix(1_700_000_000, 0)
	}
	if o.Scene == (scene.Config{}) {
		o.Scene = scene.DefaultConfig()
	}
	o.Scene.EnsureDefaults()
	if o.FreeBytes == nil {
		o.FreeBytes = availableBytes
	}
	if o.ImageFormat == "" {
		o.ImageFormat = ImageRaw
	}
	if o.render == nil {
		o.render = scene.Render
	}
}

// availableBytes is the space statfs says unprivileged users may still take on dir's file system.
func availableBytes(dir string) (uint64, error) {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		return 0, err
	}
	return fs.Bavail * uint64(fs.Bsize), nil
}

// checkRoom refuses to go on when the episodes still to record would not fit in the free space, at
// the bytes per episode the bag has taken so far: a bag of many episodes would otherwise fill the
// disk (the robot's too) hours in and fail there. Before the first chunk is on disk there is no
// measure, and nothing is said.
func checkRoom(dir string, written int64, done, total int, free func(string) (uint64, error)) error {
	if written == 0 {
		return nil
	}
	avail, err := free(dir)
	if err != nil {
		return fmt.Errorf("sample bag: free space for %s: %w", dir, err)
	}
	perEpisode := float64(written) / float64(done)
	need := perEpisode * float64(total-done)
	if need <= float64(avail) {
		return nil
	}
	return fmt.Errorf("sample bag: the %d episodes left of %d need about %s (%s each, as the first %d took), and %s is free "+
		"for %s: record fewer episodes or smaller frames, or free space (the %d recorded are removed)",
		total-done, total, bytesize.Format(uint64(need)), bytesize.Format(uint64(perEpisode)), done,
		bytesize.Format(avail), dir, done)
}

func (o Options) validate() error {
	var problems []error
	if o.Episodes < 1 {
		problems = append(problems, fmt.Errorf("episodes (%d) must be >= 1", o.Episodes))
	}
	if err := scene.CheckEpisodeCount("episodes", o.Episodes); err != nil {
		problems = append(problems, err)
	}
	if err := scene.CheckSeeds("seed", o.Seed, o.Episodes); err != nil {
		problems = append(problems, err)
	}
	if !(o.RateHz > 0 && o.RateHz <= scene.MaxCameraHz) { // NaN too
		problems = append(problems, fmt.Errorf("rate (%v Hz) must be in (0, %d]", o.RateHz, scene.MaxCameraHz))
	} else if end := o.latestStamp(); end > math.MaxInt32 {
		// builtin_interfaces/Time holds its seconds in an int32: later stamps would wrap to 1901.
		problems = append(problems, fmt.Errorf("rate (%v Hz): %d episodes of up to %d steps would stamp messages up to %.4g s after 1970, past the last second a ROS 2 stamp holds (%s): raise the rate or record fewer episodes",
			o.RateHz, o.Episodes, o.Scene.MaxSteps, end, time.Unix(math.MaxInt32, 0).UTC().Format(time.RFC3339)))
	}
	if err := o.Scene.Validate(); err != nil {
		problems = append(problems, err)
	}
	if !slices.Contains(ImageFormats(), o.ImageFormat) {
		problems = append(problems, fmt.Errorf("image format %.16q must be one of %s", o.ImageFormat, strings.Join(ImageFormats(), ", ")))
	}
	return errors.Join(problems...)
}

// removeBag removes what Generate wrote into dir, and dir itself unless it existed before.
func removeBag(dir string, existed bool) error {
	if !existed {
		return os.RemoveAll(dir)
	}
	entries, err := os.ReadDir(dir)
	for _, e := range entries {
		err = errors.Join(err, os.RemoveAll(filepath.Join(dir, e.Name())))
	}
	return err
}

// latestStamp bounds, in seconds since 1970, the log time of the last message Generate writes: every
// episode takes at most its instruction lead, MaxSteps+1 frames and the gap before the next.
func (o Options) latestStamp() float64 {
	perEpisode := (instructionLead + time.Second).Seconds() + float64(o.Scene.MaxSteps+1)/o.RateHz
	return float64(o.Start.UnixNano())/1e9 + float64(o.Episodes)*perEpisode
}

// Generate writes a new bag directory dir (which must not exist, or be empty). When ctx is done
// (Ctrl-C in dysl bag gen) it stops at once and closes the bag, as ros2 bag record closes its bag on
// Ctrl-C, and the error says what the bag holds. A frame being rendered or compressed then is
// dropped: it is not written, and its goroutine finishes unseen. Stopped between episodes, the bag
// holds whole episodes. Stopped within one, that episode's frames so far are kept (the bag cannot
// take back what it has written) and a second /episode message, stamped after them, marks it cut:
// "episode=<i> seed=<s> steps=<n> cut=<k>", only its first k of n steps recorded. Whoever trains or
// evaluates on whole episodes must drop an episode so marked. Summary counts whole episodes in
// Episodes, and every frame written in Frames.
func Generate(ctx context.Context, dir string, opts Options) (sum Summary, err error) {
	opts.ensureDefaults()
	if err := opts.validate(); err != nil {
		return Summary{}, fmt.Errorf("sample bag: %w", err)
	}
	_, statErr := os.Stat(dir)
	existed := statErr == nil // an empty directory the user made: on failure, emptied, not removed
	w, err := bag.Create(dir, opts.Bag)
	if err != nil {
		return Summary{}, err
	}
	defer func() { err = errors.Join(err, w.Close()) }()
	imageTopic, imageType, container := opts.imageTopic()
	if err := addTopics(w, imageTopic, imageType); err != nil {
		return Summary{}, err
	}

	period := time.Duration(float64(time.Second) / opts.RateHz)
	start := opts.Start.UnixNano()
	episodeStart := start
	var last int64
	var buf []byte
	write := func(topic string, at int64, m msgs.Message) error {
		var err error
		if buf, err = msgs.Encode(buf, m); err != nil {
			return fmt.Errorf("sample bag: encode %s: %w", topic, err)
		}
		sum.Messages++
		last = max(last, at)
		return w.Write(topic, at, buf)
	}
	sequence := uint64(0)
	// The episode's states, actions and chunks come from scene.Episode run at the smallest frame; each
	// frame is rendered at full size as it is written (scene.Render, of which a frame is a pure
	// function). An episode of 4096x4096 frames took 8 minutes and 6 GB to render whole before its
	// first frame was written, and Ctrl-C waited for all of it.
	unrendered := opts.Scene
	unrendered.Width, unrendered.Height = scene.MinFrameSide, scene.MinFrameSide
	for i := range opts.Episodes {
		if err := checkRoom(dir, w.BytesWritten(), i, opts.Episodes, opts.FreeBytes); err != nil {
			// The directory was empty or missing (bag.Create): all that is in it is this bag.
			return sum, errors.Join(err, w.Close(), removeBag(dir, existed))
		}
		if ctx.Err() != nil {
			return sum, fmt.Errorf("sample bag: stopped after %d of %d episodes; %s holds them: %w", i, opts.Episodes, dir, context.Cause(ctx))
		}
		seed := opts.Seed + int64(i)
		steps, err := scene.Episode(seed, unrendered)
		if err != nil {
			return sum, err
		}
		if err := write(TopicInstruction, episodeStart, &msgs.String{Data: steps[0].Instruction}); err != nil {
			return sum, err
		}
		marker := fmt.Sprintf("episode=%d seed=%d steps=%d", i, seed, len(steps))
		if err := write(TopicEpisode, episodeStart, &msgs.String{Data: marker}); err != nil {
			return sum, err
		}
		// cutAt ends the bag at the episode's k-th step, the steps before it recorded.
		cutAt := func(k int) error {
			cut := fmt.Sprintf("%s cut=%d", marker, k)
			if err := write(TopicEpisode, last+1000, &msgs.String{Data: cut}); err != nil {
				return err
			}
			return fmt.Errorf("sample bag: stopped after %d whole episodes of %d and %d of the %d steps of the next; %s holds them, "+
				"the cut one marked on %s (%q): drop it to train or evaluate on whole episodes: %w",
				i, opts.Episodes, k, len(steps), dir, TopicEpisode, cut, context.Cause(ctx))
		}
		for k, st := range steps {
			if ctx.Err() != nil {
				return sum, cutAt(k)
			}
			at := episodeStart + int64(instructionLead) + int64(st.Tick)*int64(period)
			header := msgs.Header{Stamp: msgs.TimeFromNanos(at), FrameID: CameraFrameID}
			var image msgs.Message
			select {
			case f := <-opts.frame(st.State, header, container):
				if f.err != nil {
					return sum, f.err
				}
				image = f.image
			case <-ctx.Done():
				return sum, cutAt(k)
			}
			// Just before the frame, as a robot publishing its joints faster than the camera would
			// have it: a replayed node has the state of the world the frame shows when it arrives.
			state := &msgs.JointState{Header: msgs.Header{Stamp: msgs.TimeFromNanos(at - 1000)},
				Name: scene.RobotStateNames, Position: st.State.RobotState()}
			if err := write(TopicJointStates, at-1000, state); err != nil {
				return sum, err
			}
			if err := write(imageTopic, at, image); err != nil {
				return sum, err
			}
			if err := write(TopicPhase, at+1000, &msgs.String{Data: st.Phase.String()}); err != nil {
				return sum, err
			}
			if err := write(TopicExpertChunk, at+2000, expertChunk(header, sequence, period, st.Chunk)); err != nil {
				return sum, err
			}
			sequence++
			sum.Frames++
		}
		sum.Episodes++
		episodeStart += int64(instructionLead) + int64(len(steps))*int64(period) + int64(time.Second)
	}
	sum.Duration = time.Duration(last - start)
	return sum, nil
}

// renderedFrame is a step's image as recorded: a msgs.Image, or a msgs.CompressedImage.
type renderedFrame struct {
	image msgs.Message
	err   error
}

// frame renders the image of s, and compresses it into container (0: raw) as ImageFormat says, in a
// goroutine of its own so that Ctrl-C need not wait for it: a 4096x4096 frame took 2 s to render and
// 2.8 s more to compress as PNG (two cores). A frame no one waits for any longer finishes into the
// channel's room.
func (o Options) frame(s scene.State, header msgs.Header, container compressedimage.Container) <-chan renderedFrame {
	done := make(chan renderedFrame, 1)
	go func() {
		im := o.render(s, o.Scene.Width, o.Scene.Height, o.Scene.CameraNoise)
		raw := &msgs.Image{
			Header: header, Height: uint32(im.Height), Width: uint32(im.Width),
			Encoding: msgs.EncodingRGB8, Step: uint32(3 * im.Width), Data: im.RGB,
		}
		if container == 0 {
			done <- renderedFrame{image: raw}
			return
		}
		compressed, err := compressedimage.Encode(raw, container)
		if err != nil {
			done <- renderedFrame{err: fmt.Errorf("sample bag: %w", err)}
			return
		}
		done <- renderedFrame{image: compressed}
	}()
	return done
}

func addTopics(w *bag.Writer, imageTopic, imageType string) error {
	topics := []struct {
		name, typeName string
		qos            bag.QoS
	}{
		{TopicInstruction, "std_msgs/msg/String", bag.QoSLatched},
		{TopicEpisode, "std_msgs/msg/String", bag.QoSLatched},
		{TopicJointStates, "sensor_msgs/msg/JointState", bag.QoSSensorData},
		{imageTopic, imageType, bag.QoSSensorData},
		{TopicPhase, "std_msgs/msg/String", bag.QoSDefault},
		{TopicExpertChunk, "dysl_vla/msg/ActionChunk", bag.QoSDefault},
	}
	for _, t := range topics {
		def, ok := msgs.Schema(t.typeName)
		if !ok {
			return fmt.Errorf("sample bag: msgs has no schema for %s", t.typeName)
		}
		if err := w.AddTopic(bag.Topic{Name: t.name, Type: t.typeName, Definition: def, QoS: []bag.QoS{t.qos}}); err != nil {
			return err
		}
	}
	return nil
}

func expertChunk(header msgs.Header, sequence uint64, period time.Duration, chunk []scene.Action) *msgs.ActionChunk {
	names := ActionNames()
	m := &msgs.ActionChunk{
		Header: header, Sequence: sequence, StepDt: msgs.DurationFromGo(period),
		Steps: uint32(len(chunk)), ActionDim: uint32(len(names)), ActionNames: names,
		Actions:  make([]float32, 0, len(chunk)*len(names)),
		Strategy: "expert",
	}
	for _, a := range chunk {
		for _, v := range a {
			m.Actions = append(m.Actions, float32(v))
		}
	}
	return m
}
