package training

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/schollz/progressbar/v3"

	"dysl_vla/modelbuild"
	"dysl_vla/safetensors"
)

// BCRun is behaviour cloning written to a safetensors file for `dysl model build --weights`, as
// `dysl train bc` runs it: optionally resumed from that file, checkpointed into it as it goes, with
// the run's settings in the file's metadata and its loss curves optionally plotted.
type BCRun struct {
	// Config is the training; its Log receives the progress lines and the summary (nil discards), and
	// its Resumed and OnStep are set by RunBC.
	Config BCConfig
	// Out is the safetensors file written at the end and at every checkpoint.
	Out string
	// Resume continues from the checkpoint in Out (the Adam moments restart); Start must then be nil.
	Resume bool
	// Start, optional, are the weights a fresh run starts from instead of random ones.
	Start *modelbuild.Weights
	// CheckpointEvery writes Out every this many steps (0: only at the end).
	CheckpointEvery int
	// Plot, optional, receives the loss curves as a PNG.
	Plot string
	// Metadata says what Config does not (the trainer, the preset, where the data came from); the
	// training settings, the step and the action normalization are added to it in every file written.
	Metadata map[string]string
	// Progress, optional, receives a progress bar.
	Progress io.Writer
}

// ErrInterrupted is matched (errors.Is) by the error of a run that BCConfig.Interrupted or
// DistillConfig.Interrupted ended before its last step; what the run had learned is written first.
var ErrInterrupted = errors.New("interrupted")

// RunBC trains, writes Out (and Plot) and says what it wrote on Config.Log.
func RunBC(r BCRun) (*BCResult, error) {
	cfg := r.Config
	log := cfg.Log
	if log == nil {
		log = io.Discard
	}
	if r.CheckpointEvery < 0 {
		return nil, fmt.Errorf("training: checkpoint-every (%d) must be >= 0 (0: only at the end)", r.CheckpointEvery)
	}
	start, done := r.Start, 0
	if r.Resume {
		if start != nil {
			return nil, fmt.Errorf("training: resuming %s and starting from given weights exclude each other", r.Out)
		}
		if err := r.checkResumable(cfg); err != nil {
			return nil, err
		}
		var err error
		if start, done, err = LoadCheckpoint(r.Out, cfg.Arch); err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "resuming %s at step %d\n", r.Out, done)
	}
	if r.Resume && done >= cfg.Steps {
		return nil, fmt.Errorf("checkpoint %s is already at step %d of %d", r.Out, done, cfg.Steps)
	}
	cfg.Resumed = done
	// Before training, not after: checkpoints go into the same directory.
	if err := os.MkdirAll(filepath.Dir(r.Out), 0o755); err != nil {
		return nil, err
	}
	bar := newStepBar(r.Progress, cfg.Steps-done, "bc")
	var checkpointErr error
	cfg.OnStep = func(step int, loss float64, m *Model) {
		_ = bar.Add(1)
		bar.Describe(fmt.Sprintf("bc loss %.3f", loss))
		if r.CheckpointEvery > 0 && step%r.CheckpointEvery == 0 && checkpointErr == nil {
			if checkpointErr = m.SaveBackbone(r.Out, r.metadata(cfg, step)); checkpointErr == nil {
				fmt.Fprintf(log, "checkpoint: step %d of %d written to %s\n", step, cfg.Steps, r.Out)
			}
		}
	}
	res, err := TrainBC(cfg, start)
	if err == nil && res.Interrupted > 0 {
		finishStepBar(bar, r.Progress, ErrInterrupted) // the bar stays where the run stopped
	} else {
		finishStepBar(bar, r.Progress, err)
	}
	if err != nil {
		return nil, err
	}
	if checkpointErr != nil {
		return nil, fmt.Errorf("checkpoint: %w", checkpointErr)
	}
	if res.Interrupted > 0 {
		if err := res.Model.SaveBackbone(r.Out, r.metadata(cfg, res.Interrupted)); err != nil {
			return nil, err
		}
		return res, fmt.Errorf("training: %w after step %d of %d: the weights so far are in %s, and --resume with the same flags continues the run",
			ErrInterrupted, res.Interrupted, cfg.Steps, r.Out)
	}
	if err := res.Model.SaveBackbone(r.Out, r.metadata(cfg, len(res.TrainLoss)+done)); err != nil {
		return nil, err
	}
	if r.Plot != "" {
		if err := PlotBC(r.Plot, res, done); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(log, "wrote %s: %d backbone parameters, %d steps of batch %d on %d frames in %s, final held-out %s (constant predictor L1 %.4f)\n",
		r.Out, res.Params, len(res.TrainLoss), cfg.Batch, res.TrainFrames, res.Duration.Round(1e9), res.Eval[len(res.Eval)-1], res.BaselineL1)
	return res, nil
}

// metadata is what a file written at step says of the run.
// checkResumable refuses to resume the checkpoint in Out with other settings than the ones it was
// written with (its metadata): the steps before and after would be another run's, under one record.
// The step, when to stop and the weights a fresh run started from (--init, which a resume cannot
// take) are not compared; a setting the checkpoint does not record is not either.
func (r BCRun) checkResumable(cfg BCConfig) error {
	f, err := safetensors.ReadFile(r.Out)
	if err != nil {
		return nil // LoadCheckpoint says why
	}
	var diffs []string
	want := r.metadata(cfg, 0)
	for _, key := range slices.Sorted(maps.Keys(want)) {
		had, recorded := f.Metadata[key]
		switch key {
		case "step", "stop_after", "init":
			continue
		}
		if recorded && had != want[key] {
			diffs = append(diffs, fmt.Sprintf("%s (%q in the checkpoint, %q here)", key, had, want[key]))
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("training: the checkpoint %s was written with other settings: it differs in %s; run with the checkpoint's, or without --resume to start afresh",
			r.Out, strings.Join(diffs, ", "))
	}
	return nil
}

func (r BCRun) metadata(cfg BCConfig, step int) map[string]string {
	actionMean, actionStd := ActionNormalization()
	md := map[string]string{
		"seed": strconv.FormatInt(cfg.Seed, 10), "episodes": strconv.Itoa(cfg.Episodes), "batch": strconv.Itoa(cfg.Batch),
		"learning_rate": strconv.FormatFloat(cfg.LearningRate, 'g', -1, 64), "loss": string(cfg.Loss),
		"warmup": strconv.Itoa(cfg.Warmup), "residual_scale": strconv.FormatFloat(cfg.ResidualScale, 'g', -1, 64),
		"final_learning_rate": strconv.FormatFloat(cfg.FinalLearningRate, 'g', -1, 64),
		"layer_drop":          strconv.FormatFloat(cfg.LayerDrop, 'g', -1, 64), "drop_tails": strconv.FormatBool(cfg.DropTails),
		"expert_grasp_on_reach": strconv.FormatBool(cfg.Expert.GraspOnReach),
		"train_from_layer":      strconv.Itoa(cfg.TrainFromLayer), "keypoints_only": strconv.FormatBool(cfg.KeypointsOnly),
		"step": strconv.Itoa(step), "steps": strconv.Itoa(cfg.Steps), "stop_after": strconv.Itoa(cfg.StopAfter),
		// The normalization the labels were trained in: a bundle built from these weights must
		// denormalize with exactly these.
		"action_mean": fmt.Sprint(actionMean), "action_std": fmt.Sprint(actionStd),
	}
	for k, v := range r.Metadata {
		md[k] = v
	}
	return md
}

// newStepBar is the progress bar of a training run of steps steps on w (nil: none drawn): a count, a
// predicted time, redrawn at most once a second.
func newStepBar(w io.Writer, steps int, description string) *progressbar.ProgressBar {
	if w == nil {
		w = io.Discard
	}
	options := []progressbar.Option{progressbar.OptionSetWriter(w), progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(1e9)}
	if description != "" {
		options = append(options, progressbar.OptionSetDescription(description))
	}
	return progressbar.NewOptions(steps, options...)
}

// finishStepBar ends the bar's line: full when the run succeeded, where it stopped when it failed (a
// bar filled on the way out of a refused run would read as a run that trained).
func finishStepBar(bar *progressbar.ProgressBar, w io.Writer, err error) {
	if err == nil {
		_ = bar.Finish()
	} else {
		_ = bar.Exit()
	}
	if w != nil {
		fmt.Fprintln(w)
	}
}
