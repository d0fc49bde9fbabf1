// Command nodecore drives the node core without ROS: the same nodecore.Core that the ROS 2 node and
// `dysl replay` run, fed here with the frames of a scripted episode. A Sink prints what the node
// would publish. Time is passed in, so the run is the same at any speed.
//
//	export DYSL_ORT_LIB=$(scripts/fetch-ort.sh)
//	go run ./examples/nodecore -model models/reference/tiny
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"dysl_vla/msgs"
	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
	"dysl_vla/policy"
	"dysl_vla/policy/ortbackend"
	"dysl_vla/scene"
)

func main() {
	model := flag.String("model", "models/reference/tiny", "model bundle directory")
	frames := flag.Int("frames", 30, "frames of the episode to offer")
	flag.Parse()
	if err := run(*model, *frames); err != nil {
		fmt.Fprintln(os.Stderr, "nodecore:", err)
		os.Exit(1)
	}
}

// printSink is the node's output: where the ROS node publishes, it prints.
type printSink struct{}

func (printSink) PublishActionChunk(c *msgs.ActionChunk) {
	fmt.Printf("action_chunk #%d: %d×%d actions, %d/%d layers, skip ratio %.2f, verified %t\n",
		c.Sequence, c.Steps, c.ActionDim, c.LayersExecuted, c.LayersTotal, c.SkipRatio, c.VerificationFired)
}

func (printSink) PublishSkipStats(s *msgs.SkipStats) {
	fmt.Printf("  skip_stats: allow points %v, continuity %.3f (defined %t), %.2f ms\n",
		s.AllowPoints, s.Continuity, s.ContinuityDefined, s.LatencyMs)
}

func (printSink) PublishDiagnostics(d *msgs.DiagnosticArray) {
	for _, st := range d.Status {
		fmt.Printf("diagnostics: %s: level %d %q\n", st.Name, st.Level, st.Message)
	}
}

func (printSink) Notice(e nodecore.Event) { fmt.Println("notice:", e) }

func run(model string, frames int) error {
	if frames < 1 {
		return fmt.Errorf("-frames (%d) must be at least 1", frames)
	}
	// The parameters, as a params file or `-p` overrides would give them; the rest keep their defaults.
	params, settings, err := nodecore.NewParamServer("/example_node", map[string]paramserver.Value{
		nodecore.ParamModelDir: paramserver.String(model),
	}, nil)
	if err != nil {
		return err
	}
	engine, err := policy.Open(settings.ModelDir, ortbackend.Opener(ortbackend.Config{}), settings.Live.Skipping)
	if err != nil {
		return err
	}
	defer engine.Close()
	core, err := nodecore.New(nodecore.Config{Engine: engine, Params: params, Sink: printSink{}})
	if err != nil {
		return err
	}
	defer core.Close()

	m := engine.Manifest
	steps, err := scene.Episode(2, scene.Config{Width: m.Image.Width, Height: m.Image.Height, CameraNoise: 2})
	if err != nil {
		return err
	}
	core.SetInstruction(steps[0].Instruction) // what arrives on the instruction topic
	start := time.Unix(1_700_000_000, 0)
	const period = 100 * time.Millisecond
	var now time.Time
	for i, st := range steps[:min(frames, len(steps))] {
		stamp := start.Add(time.Duration(i) * period)
		if core.NeedsState() { // what arrives on joint_states, for a bundle that reads the arm's state
			core.OfferState(msgs.TimeFromGo(stamp), scene.RobotStateNames, st.State.RobotState())
		}
		core.OfferFrame(msgs.Image{ // what arrives on the image topic
			Header: msgs.Header{Stamp: msgs.TimeFromGo(stamp), FrameID: "camera"},
			Height: uint32(st.Image.Height), Width: uint32(st.Image.Width), Encoding: "rgb8",
			Step: uint32(3 * st.Image.Width), Data: st.Image.RGB,
		})
		now = stamp.Add(20 * time.Millisecond) // the worker picks the frame up 20 ms later
		core.Step(now)
		if i == frames/2 {
			// `ros2 param set /example_node strategy full`: checked now, applied at the next inference.
			res := params.Set(paramserver.Parameter{Name: nodecore.ParamStrategy, Value: paramserver.String("full")})
			fmt.Printf("set strategy full: successful %t %s\n", res[0].Successful, res[0].Reason)
		}
	}
	core.Diagnostics(now)
	return nil
}
