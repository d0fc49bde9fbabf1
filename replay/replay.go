// Package replay runs a model on a recorded rosbag2 bag through the same node core as the ROS 2 node:
// the bag's instructions and images are fed in bag time, synchronously, so the same bag and parameters
// give the same decisions every time. It writes the node's publications into an output bag and a
// report (Markdown and PNG plots); with CompareFull it also runs the full model on every frame and
// measures the action error and the speedup side by side.
package replay

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"time"

	"dysl_vla/bag"
	"dysl_vla/msgs"
	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
	"dysl_vla/policy"
)

// Output topics, as the node publishes them under its default name.
const (
	TopicActionChunk = "/action_chunk"
	TopicSkipStats   = "/dysl_vla_node/skip_stats"
	TopicDiagnostics = "/diagnostics"
)

// Config says what to replay. Engine and Params are the caller's (open the engine with the bundle,
// build Params with nodecore.LoadParams from the same YAML the node takes).
type Config struct {
	Engine *policy.Engine
	Params *paramserver.Server
	// BagPath is the input bag (directory or lone .mcap); OutDir receives the output bag in OutDir/bag
	// and the report in OutDir.
	BagPath, OutDir string
	// ImageTopic and InstructionTopic default to /image and /instruction.
	ImageTopic, InstructionTopic string
	// CompareFull also runs the single-graph full model on every frame acted on.
	CompareFull bool
	// Forwarder, optional, receives every chunk as the live node would forward it (MAVLink bridge).
	Forwarder nodecore.ChunkForwarder
	// Progress, optional, is told the bag time reached and the bag's duration.
	Progress func(done, total time.Duration)
}

// Result is what a replay produced.
type Result struct {
	Steps   []Step
	Skips   []Skip
	Summary Summary
	// Chunks are the published chunks in order: the decision log that must be identical between two
	// replays of the same bag.
	Chunks []msgs.ActionChunk
	// ReportPath is the Markdown report; OutBag the output bag directory.
	ReportPath, OutBag string
}

// Run replays the bag. Whatever was computed before a fault in the input bag is kept: the output bag
// is closed properly and the report written, and the fault is returned with the result.
func Run(cfg Config) (res Result, err error) {
	if cfg.Engine == nil || cfg.Params == nil || cfg.BagPath == "" || cfg.OutDir == "" {
		return res, errors.New("replay: Config needs Engine, Params, BagPath and OutDir")
	}
	if cfg.ImageTopic == "" {
		cfg.ImageTopic = "/image"
	}
	if cfg.InstructionTopic == "" {
		cfg.InstructionTopic = "/instruction"
	}
	in, err := bag.Open(cfg.BagPath)
	if err != nil {
		return res, err
	}
	defer in.Close()
	info := in.Info()
	for _, t := range []string{cfg.ImageTopic, cfg.InstructionTopic} {
		if _, ok := info.Topic(t); !ok {
			return res, fmt.Errorf("replay: bag %s has no topic %s (topics: %s)", cfg.BagPath, t, topicList(info))
		}
	}

	res.OutBag = filepath.Join(cfg.OutDir, "bag")
	out, err := bag.Create(res.OutBag, bag.WriterOptions{})
	if err != nil {
		return res, err
	}
	rec := &recorder{out: out}
	defer func() {
		if cerr := out.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if err := rec.addTopics(); err != nil {
		return res, err
	}

	core, err := nodecore.New(nodecore.Config{Engine: cfg.Engine, Params: cfg.Params, Sink: rec, Forwarder: cfg.Forwarder})
	if err != nil {
		return res, err
	}
	defer core.Close()

	start := time.Unix(0, info.Start)
	period := core.Settings().DiagnosticsPeriod
	if period <= 0 {
		period = time.Second
	}
	nextDiag := start.Add(period)
	var readErr error
	var instruction string
	for m, err := range in.Messages(cfg.ImageTopic, cfg.InstructionTopic) {
		if err != nil {
			readErr = err
			break
		}
		now := time.Unix(0, m.LogTime)
		rec.now = now
		for !now.Before(nextDiag) {
			rec.diagnosticsAt(core, nextDiag)
			nextDiag = nextDiag.Add(period)
		}
		if cfg.Progress != nil {
			cfg.Progress(now.Sub(start), info.Duration())
		}
		switch m.Topic {
		case cfg.InstructionTopic:
			var s msgs.String
			if err := msgs.Decode(m.Data, &s); err != nil {
				core.ReportDecodeError(m.Topic, err)
				rec.skip(m.Topic, err.Error())
				continue
			}
			core.SetInstruction(s.Data)
			instruction = s.Data
		case cfg.ImageTopic:
			var img msgs.Image
			if err := msgs.Decode(m.Data, &img); err != nil {
				core.ReportDecodeError(m.Topic, err)
				rec.skip(m.Topic, err.Error())
				continue
			}
			rec.frameStep = nil
			core.OfferFrame(img)
			core.Step(now)
			if rec.frameStep != nil && cfg.CompareFull {
				compare(cfg.Engine, img, instruction, rec.frameStep, rec.lastChunk)
			}
		}
	}
	rec.diagnosticsAt(core, rec.now)

	res.Steps, res.Skips, res.Chunks = rec.steps, rec.skips, rec.chunks
	res.Summary = Summarize(res.Steps, res.Skips)
	if tp, err := bag.MeasureDecodeThroughput(cfg.BagPath); err == nil {
		res.Summary.DecodeFramesPerSecond = tp.FramesPerSecond()
	}
	res.ReportPath = filepath.Join(cfg.OutDir, "report.md")
	title := fmt.Sprintf("%s on %s", cfg.Engine.Manifest.Name, cfg.BagPath)
	if err := WriteReport(cfg.OutDir, title, res.Steps, res.Skips, res.Summary, cfg.Engine.SkippingConfig().String()); err != nil {
		return res, err
	}
	if readErr != nil {
		return res, fmt.Errorf("replay: input bag stopped early (everything before the fault was replayed): %w", readErr)
	}
	if rec.writeErr != nil {
		return res, rec.writeErr
	}
	return res, nil
}

func topicList(info bag.Info) string {
	var s string
	for i, t := range info.Topics {
		if i > 0 {
			s += ", "
		}
		s += t.Name
	}
	return s
}

// compare runs the full model on the same frame and fills the comparison fields of st.
func compare(e *policy.Engine, img msgs.Image, instruction string, st *Step, chunk *msgs.ActionChunk) {
	t0 := time.Now()
	full, err := e.InferSingleGraph(policy.Observation{
		Image:       policy.Image{Width: int(img.Width), Height: int(img.Height), Encoding: img.Encoding, Step: int(img.Step), Data: img.Data},
		Instruction: instruction,
	})
	if err != nil || chunk == nil {
		return
	}
	st.FullLatencyMs = float64(time.Since(t0)) / float64(time.Millisecond)
	st.Compared = true
	st.ActionErrorMAE, st.GripperAgree = chunkError(full, chunk, e.Manifest.Action.GripperIndex)
}

// chunkError is the mean absolute difference between two chunks and whether their gripper commands
// (sign of the gripper dimension) agree at every step.
func chunkError(full [][]float32, got *msgs.ActionChunk, gripper int) (float64, bool) {
	var sum float64
	n := 0
	agree := true
	for s, row := range full {
		for d, v := range row {
			if s*int(got.ActionDim)+d >= len(got.Actions) {
				continue
			}
			g := got.At(s, d)
			sum += math.Abs(float64(g - v))
			n++
			if d == gripper && (g > 0) != (v > 0) {
				agree = false
			}
		}
	}
	if n == 0 {
		return 0, false
	}
	return sum / float64(n), agree
}
