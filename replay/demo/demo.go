// Package demo is the whole job on the embedded defaults, what `make demo` (dysl demo) runs: take the
// committed reference bundle or build the tiny one, record scripted pick-and-place episodes as a bag,
// replay the bag through the node core once with every layer and once with DySL skipping (each
// compared with the single-graph full model on every frame), and print the two side by side.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"dysl_vla/bag/samplebag"
	"dysl_vla/modelbuild"
	"dysl_vla/nodecore"
	"dysl_vla/paramserver"
	"dysl_vla/policy"
	"dysl_vla/policy/bundle"
	"dysl_vla/replay"
	"dysl_vla/scene"
)

// The trained reference policy (see models/reference), relative to the working directory, which is
// the repository root when the demo runs from it: its backbone weights, and the tiny bundle built from
// them with distilled adapters and controllers.
const (
	ReferenceWeights = "models/reference/reference_tiny.safetensors"
	ReferenceBundle  = "models/reference/tiny"
)

// Config says what the demo runs on and where it writes.
type Config struct {
	// Model is a bundle to replay as it is. Empty: ReferenceBundle when it exists and Weights is empty,
	// else the tiny bundle built into Out/model from Weights.
	Model string
	// Weights is the backbone (safetensors) to build the tiny bundle from. Empty: ReferenceWeights when
	// it exists, else a random backbone.
	Weights string
	// Out receives model/ (when built), the bag pick_and_place/ and the reports replay_full/ and
	// replay_dysl/; a second run replaces the first one's.
	Out string
	// Episodes to record and replay, of seeds EpisodeSeed, EpisodeSeed+1, ...; Seed of the built
	// model. The reference was trained on seeds below 1000000 (training.HeldOutSeedStart): dysl demo
	// records episodes from there, which it never saw.
	Episodes    int
	EpisodeSeed int64
	Seed        int64
	// Backend opens the engine's graphs.
	Backend policy.BackendOpener
	// Log receives the progress lines and the comparison table.
	Log io.Writer
	// Context, optional, stops the demo when done (Ctrl-C): the bag closes after the frame being
	// recorded (the episode it cuts is marked cut on /episode), a replay under way closes its output
	// bag and writes its report, and Run returns the context's error without starting the next step.
	Context context.Context
}

// Replay is one strategy's replay of the demo bag.
type Replay struct {
	Strategy   string
	ReportPath string
	Summary    replay.Summary
}

// strategies are the replays compared, each under its strategy's name.
var strategies = [...]string{"full", "dysl"}

// Run runs the demo and writes its lines to cfg.Log; it returns the replays in the order printed.
func Run(cfg Config) ([]Replay, error) {
	w := cfg.Log
	if cfg.Context == nil {
		cfg.Context = context.Background()
	}
	// Refused before a model is built.
	if cfg.Episodes < 1 {
		return nil, fmt.Errorf("demo: episodes (%d) must be at least 1", cfg.Episodes)
	}
	if err := errors.Join(scene.CheckEpisodeCount("demo: episodes", cfg.Episodes),
		scene.CheckSeeds("demo: episode seed", cfg.EpisodeSeed, cfg.Episodes)); err != nil {
		return nil, err
	}
	if cfg.Out == "" {
		return nil, errors.New("demo: no output directory (--out)")
	}
	if info, err := os.Stat(cfg.Out); err == nil && !info.IsDir() {
		return nil, fmt.Errorf("demo: output %s is not a directory", cfg.Out)
	}
	if cfg.Model != "" && cfg.Weights != "" {
		return nil, fmt.Errorf("demo: give a model bundle (%s) or backbone weights to build one from (%s), not both", cfg.Model, cfg.Weights)
	}
	model, randomBackbone, err := chooseModel(cfg)
	if err != nil {
		return nil, err
	}
	// A broken bundle is said before the episodes are recorded, not after.
	if _, err := bundle.Load(model); err != nil {
		return nil, err
	}
	bagDir := filepath.Join(cfg.Out, "pick_and_place")
	if err := os.RemoveAll(bagDir); err != nil {
		return nil, err
	}
	sum, err := samplebag.Generate(cfg.Context, bagDir, samplebag.Options{Episodes: cfg.Episodes, Seed: cfg.EpisodeSeed})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "recorded %d episodes (seeds %d..%d), %d frames (%.1f s of bag time) into %s\n", sum.Episodes,
		cfg.EpisodeSeed, cfg.EpisodeSeed+int64(sum.Episodes)-1, sum.Frames, sum.Duration.Seconds(), bagDir)

	runs := make([]Replay, len(strategies))
	for i, strategy := range strategies {
		if err := cfg.Context.Err(); err != nil {
			return nil, fmt.Errorf("demo: stopped before the %s replay: %w", strategy, context.Cause(cfg.Context))
		}
		if runs[i], err = replayWith(cfg, model, bagDir, strategy); err != nil {
			return nil, err
		}
		fmt.Fprintf(w, "replayed with strategy %s: report %s\n", strategy, runs[i].ReportPath)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-6s %8s %8s %8s %8s %7s %8s %11s %9s %9s\n", "run", "mean_ms", "p50_ms", "p95_ms", "layers", "skip%", "verify%", "mae_vs_full", "gripper%", "speedup")
	for _, r := range runs {
		s := r.Summary
		fmt.Fprintf(w, "%-6s %8.2f %8.2f %8.2f %8.2f %7.1f %8.1f %11.4f %9.1f %9.2f\n", r.Strategy, s.MeanLatency, s.LatencyP50,
			s.LatencyP95, s.MeanExecutedLayers, 100*s.SkipRatio, 100*s.VerificationRate, s.ActionMAE, 100*s.GripperAgreement, s.Speedup)
	}
	fmt.Fprintf(w, "\nspeedup: mean latency of the single-graph full model on the same frames / this run's.\n")
	if randomBackbone {
		fmt.Fprintf(w, "the backbone is random: its gripper output hovers near zero, so gripper agreement (sign) and\n"+
			"action error measure how closely skipping tracks the full model, not how well a policy works.\n")
	}
	fmt.Fprintf(w, "bag decoding alone: %.0f frames/s (replay is bound by the model, not the bag)\n", runs[0].Summary.DecodeFramesPerSecond)
	return runs, nil
}

// chooseModel returns the bundle to replay, building the tiny one when Config says so, and whether its
// backbone is random.
func chooseModel(cfg Config) (model string, randomBackbone bool, err error) {
	w := cfg.Log
	model, weights := source(cfg)
	switch {
	case model == ReferenceBundle && cfg.Model == "":
		fmt.Fprintf(w, "model: %s (trained reference backbone, distilled adapters and controllers)\n", ReferenceBundle)
		return model, false, nil
	case model != "":
		return model, false, nil
	case weights != "":
		fmt.Fprintf(w, "backbone weights: %s\n", weights)
	default:
		randomBackbone = true
		wd, _ := os.Getwd()
		fmt.Fprintf(w, "backbone weights: random: neither %s nor %s under the working directory %s "+
			"(run dysl demo from the repository root, or give --model or --weights)\n", ReferenceBundle, ReferenceWeights, wd)
	}
	model = filepath.Join(cfg.Out, "model")
	fmt.Fprintf(w, "building the tiny model into %s\n", model)
	res, err := modelbuild.Build(modelbuild.Options{Preset: "tiny", OutDir: model, Seed: cfg.Seed, WeightsFile: weights})
	if err != nil {
		return "", false, err
	}
	fmt.Fprintf(w, "  %d backbone parameters, %d layers, static layers %v\n", res.Params, res.Manifest.Dims.Layers, res.Manifest.StaticLayers)
	return model, randomBackbone, nil
}

// source is what the demo will replay: a bundle as it is, or else the weights to build the tiny
// bundle from (both empty: a random backbone, of cfg.Seed).
func source(cfg Config) (model, weights string) {
	if cfg.Model != "" || cfg.Weights != "" {
		return cfg.Model, cfg.Weights
	}
	if _, err := os.Stat(filepath.Join(ReferenceBundle, "manifest.yaml")); err == nil {
		return ReferenceBundle, ""
	}
	if _, err := os.Stat(ReferenceWeights); err == nil {
		return "", ReferenceWeights
	}
	return "", ""
}

// BuildsRandomBackbone says whether the demo with cfg builds a model from a random backbone, the only
// use of cfg.Seed.
func BuildsRandomBackbone(cfg Config) bool {
	model, weights := source(cfg)
	return model == "" && weights == ""
}

// replayWith replays the bag with the node's default parameters but the strategy, into Out/replay_<strategy>.
func replayWith(cfg Config, model, bagDir, strategy string) (Replay, error) {
	// The demo owns these directories: a second run replaces the first one's results.
	replayDir := filepath.Join(cfg.Out, "replay_"+strategy)
	if err := os.RemoveAll(replayDir); err != nil {
		return Replay{}, err
	}
	srv, settings, err := nodecore.NewParamServer(replay.NodeName,
		map[string]paramserver.Value{nodecore.ParamStrategy: paramserver.String(strategy)}, nil)
	if err != nil {
		return Replay{}, err
	}
	e, err := policy.Open(model, cfg.Backend, settings.Live.Skipping)
	if err != nil {
		return Replay{}, err
	}
	defer e.Close()
	res, err := replay.Run(replay.Config{Engine: e, Params: srv, BagPath: bagDir, OutDir: replayDir, CompareFull: true, Context: cfg.Context})
	if err != nil {
		if res.ReportPath != "" {
			err = fmt.Errorf("%w; the report of what was replayed is %s", err, res.ReportPath)
		}
		return Replay{}, err
	}
	return Replay{Strategy: strategy, ReportPath: res.ReportPath, Summary: res.Summary}, nil
}
