package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"dysl_vla/evaluation/closedloop"
	"dysl_vla/gripper"
	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
	"dysl_vla/policy/bundle"
	"dysl_vla/scene"
)

// closedLoopFlags are evaluate's options for --closed-loop: the policy drives the simulated scene.
type closedLoopFlags struct {
	enabled bool
	taskFlags
	latency      string
	latencyScale float64
	latencyFixed time.Duration
	perLayer     time.Duration
	cameraHz     float64
	cameraSize   string
	maxSteps     int
	matchFrames  int
	jsonOut      string
	journal      string
	expertDims   []string
	gripper      playedGripperFlags
	match        closedloop.EvaluateConfig // MatchEpisodes, MatchRuns, MatchTolerance, Variants
	// only are the flags that only --closed-loop uses.
	only []string
}

func (f *closedLoopFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&f.enabled, "closed-loop", false, "closed loop: the policy drives the simulated scene through the node core; success, chain length, compute (see --tasks)")
	own := pflag.NewFlagSet("closed loop", pflag.ContinueOnError)
	f.registerEpisodes(own)
	own.IntVar(&f.match.MatchEpisodes, "match-episodes", 10, "closed loop: episodes (the first of --episodes) flexidepth's tau and early exit's eta are searched on, in their own closed loop")
	own.IntVar(&f.match.MatchRuns, "match-runs", 6, "closed loop: most closed-loop runs of that search per baseline")
	own.Float64Var(&f.match.MatchTolerance, "match-tolerance", 0.1, "closed loop: executed layers per inference a matched baseline must come within of dysl's")
	own.StringSliceVar(&f.match.Variants, "variants", nil, "closed loop: run only these of the ablations and baselines ("+strings.Join(closedloop.LaterVariants, ", ")+
		"); full and dysl always run, and --variants full,dysl plays those two alone (default: every one)")
	f.only = flagNames(own)
	fs.AddFlagSet(own)
}

// registerEpisodes registers what shapes the closed-loop episodes: tasks, latency, camera, step limit.
func (f *closedLoopFlags) registerEpisodes(fs *pflag.FlagSet) {
	f.taskFlags.register(fs, "tabletop", "closed loop: single (the one-block scene the tiny reference was trained on), tabletop (3 blocks, 4 pads) or chain (tabletop, 5 instructions per episode)")
	fs.StringVar(&f.latency, "latency", "measured", "closed loop: inference time in sim time: measured (the engine's, times --latency-scale), fixed (--latency-fixed) or per-layer (--latency-fixed + --latency-per-layer per executed layer)")
	fs.Float64Var(&f.latencyScale, "latency-scale", 1, "closed loop: factor on the measured latency (emulates a slower computer or a bigger model)")
	fs.DurationVar(&f.latencyFixed, "latency-fixed", 0, "closed loop: fixed latency, or the base of the per-layer one")
	fs.DurationVar(&f.perLayer, "latency-per-layer", 10*time.Millisecond, "closed loop: latency per executed layer with --latency per-layer")
	fs.Float64Var(&f.cameraHz, "camera-hz", 0, "closed loop: camera rate (0: the control rate of the bundle)")
	fs.StringVar(&f.cameraSize, "camera-size", "", "closed loop: camera frame size WxH, such as 640x480 (square pixels), converted to the model's input as the node converts a camera's (default: the model's input size)")
	fs.IntVar(&f.maxSteps, "max-steps", 300, "closed loop: step limit per instruction")
	fs.StringVar(&f.jsonOut, "json-out", "", "closed loop: also write the report as JSON to this file (the table still goes to stdout)")
	markOutputFile(fs, "json-out", false)
	fs.StringVar(&f.journal, "journal", "", "closed loop: keep what is played in this file, as it is played; the same command, stopped (Ctrl-C) and run again, "+
		"plays only what is left (a journal of other options is refused: remove it to start afresh)")
	markOutputFile(fs, "journal", false)
	fs.StringSliceVar(&f.expertDims, "expert-dims", nil, "closed loop, a diagnostic: take these action columns (by the bundle's action names, e.g. x,y,z,roll,pitch,yaw) "+
		"from the scripted expert in every variant, so that the rows compare what is left (the gripper's timing)")
	f.gripper.register(fs, "closed loop: ", "")
	fs.IntVar(&f.matchFrames, "match-frames-closed-loop", 600, "closed loop: frames served to dysl that flexidepth's tau and early exit's eta are first matched on")
}

// playedGripperFlags are the gripper flags of a command that plays the policy in the closed-loop
// simulator: the node's gripper_open and gripper_closed (gripperFlags), by which the node core and the
// simulated arm read the policy's gripper column, and its gripper_lead and gripper_min_hold, which the
// node core applies to every chunk the arm executes.
type playedGripperFlags struct {
	gripperFlags
	lead    int
	minHold time.Duration
}

// register registers the four flags. prefix starts each usage line; suffix ends --gripper-open's and
// --gripper-closed's.
func (g *playedGripperFlags) register(fs *pflag.FlagSet, prefix, suffix string) {
	d := gripper.Default()
	fs.Float64Var(&g.open, "gripper-open", float64(d.Open), prefix+"the node's gripper_open, the policy's gripper column value for fully open, "+
		"by which gripper_min_hold and the simulated arm read the column (the scene's own convention: -1 open, +1 closed)"+suffix)
	fs.Float64Var(&g.closed, "gripper-closed", float64(d.Closed), prefix+"the node's gripper_closed, the policy's gripper column value for fully closed (not --gripper-open's)"+suffix)
	fs.IntVar(&g.lead, "gripper-lead", 0, prefix+"the node's gripper_lead, the actions by which every chunk's gripper commands are advanced (0..64)")
	fs.DurationVar(&g.minHold, "gripper-min-hold", 0, prefix+"the node's gripper_min_hold, the least time the gripper keeps a command once it changed (0..10s)")
}

// check refuses the four flags as the node refuses its parameters (NaN, out of range, gripper_open
// and gripper_closed equal as float32), each error naming its flags, before a model is opened; it
// returns the convention of --gripper-open and --gripper-closed.
func (g *playedGripperFlags) check() (gripper.Convention, error) {
	validate := func(values map[string]paramserver.Value) (nodecore.Settings, error) {
		_, settings, err := nodecore.NewParamServer("/dysl_vla_node", values, nil)
		return settings, err
	}
	settings, err := validate(map[string]paramserver.Value{
		nodecore.ParamGripperOpen: paramserver.Double(g.open), nodecore.ParamGripperClosed: paramserver.Double(g.closed)})
	if err != nil {
		return gripper.Convention{}, fmt.Errorf("--gripper-open %v, --gripper-closed %v: %w", g.open, g.closed, err)
	}
	if _, err := validate(map[string]paramserver.Value{nodecore.ParamGripperLead: paramserver.Integer(int64(g.lead))}); err != nil {
		return gripper.Convention{}, fmt.Errorf("--gripper-lead %d: %w", g.lead, err)
	}
	if _, err := validate(map[string]paramserver.Value{nodecore.ParamGripperMinHold: paramserver.Double(g.minHold.Seconds())}); err != nil {
		return gripper.Convention{}, fmt.Errorf("--gripper-min-hold %v: %w", g.minHold, err)
	}
	return settings.Gripper, nil
}

// checkMatchFrames refuses a --match-frames-closed-loop below 1 (closedloop would take 0 for its 600).
func (f *closedLoopFlags) checkMatchFrames() error {
	return checkCounts(countFlag{"match-frames-closed-loop", f.matchFrames, "1 frame"})
}

// resumable is the error of a closed-loop run that ended with err, saying that the same command
// continues it when the run was stopped and kept a journal.
func (f *closedLoopFlags) resumable(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil || f.journal == "" {
		return err
	}
	return fmt.Errorf("%w; the same command continues from the journal %s", err, f.journal)
}

// expertColumns resolves --expert-dims against the bundle's action names.
func (f *closedLoopFlags) expertColumns(model string) ([]int, error) {
	if len(f.expertDims) == 0 {
		return nil, nil
	}
	m, err := bundle.ReadManifest(model)
	if err != nil {
		return nil, err
	}
	return actionIndices(m.Action.Names, f.expertDims)
}

func (f *closedLoopFlags) sceneConfig() (scene.Config, error) {
	cfg := scene.DefaultConfig()
	cfg.MaxSteps = f.maxSteps
	tasks, err := f.tabletop()
	if err != nil {
		return cfg, err
	}
	cfg.Tabletop = tasks
	if f.cameraSize != "" {
		var w, h int
		if _, err := fmt.Sscanf(f.cameraSize, "%dx%d", &w, &h); err != nil || f.cameraSize != fmt.Sprintf("%dx%d", w, h) {
			return cfg, fmt.Errorf("--camera-size %q: expected WIDTHxHEIGHT in pixels, such as 640x480", f.cameraSize)
		}
		camera := scene.DefaultConfig() // its own width and height only: a zero is not a default here
		camera.Width, camera.Height = w, h
		if err := camera.Validate(); err != nil {
			return cfg, fmt.Errorf("--camera-size %s: %w", f.cameraSize, err)
		}
		cfg.Width, cfg.Height = w, h
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	if f.cameraSize == "" {
		cfg.Width, cfg.Height = 0, 0 // the model's input size (closedloop.Config.Scene)
	}
	return cfg, nil
}

func (f *closedLoopFlags) latencyModel() (closedloop.Latency, error) {
	// An hour is longer than any episode; beyond it the sim-time sums could wrap.
	if f.latencyFixed < 0 || f.perLayer < 0 || f.latencyFixed > time.Hour || f.perLayer > time.Hour {
		return nil, fmt.Errorf("--latency-fixed %v, --latency-per-layer %v: expected durations in [0, 1h]", f.latencyFixed, f.perLayer)
	}
	// Each latency model reads its own flags; the others would change nothing. (f.set is where
	// registerEpisodes put the task flags, and the latency flags beside them.)
	for _, use := range []struct {
		flag    string
		readers []string
	}{{"latency-scale", []string{"measured"}}, {"latency-fixed", []string{"fixed", "per-layer"}}, {"latency-per-layer", []string{"per-layer"}}} {
		if !slices.Contains(use.readers, f.latency) {
			if err := refuseUnused(f.set, "--latency "+strings.Join(use.readers, " or "), use.flag); err != nil {
				return nil, err
			}
		}
	}
	switch f.latency {
	case "measured":
		// Beyond a thousandfold an inference outlasts any episode, and the sim-time arithmetic overflows.
		if !(f.latencyScale > 0 && f.latencyScale <= 1000) {
			return nil, fmt.Errorf("--latency-scale (%v) must be a factor in (0, 1000]", f.latencyScale)
		}
		return closedloop.MeasuredLatency{Scale: f.latencyScale}, nil
	case "fixed":
		return closedloop.FixedLatency(f.latencyFixed), nil
	case "per-layer":
		return closedloop.LayerLatency{Base: f.latencyFixed, PerLayer: f.perLayer}, nil
	}
	return nil, fmt.Errorf("--latency %q: expected measured, fixed or per-layer", f.latency)
}
