package training

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/safetensors"
)

// A run checkpointed into its file is resumed from there: the resumed run says so, continues the step
// count, and each file carries the run's settings, the caller's metadata and the step it was saved at.
func TestRunBCCheckpointsAndResumes(t *testing.T) {
	out := filepath.Join(t.TempDir(), "weights", "bc.safetensors")
	cfg := BCConfig{Arch: microArch(), Seed: 4, Episodes: 1, HeldOut: 1, Steps: 3, StopAfter: 2, Batch: 2,
		LearningRate: 1e-3, EvalEvery: 1, Loss: LossL1}
	var log, progress bytes.Buffer
	cfg.Log = &log
	run := BCRun{Config: cfg, Out: out, CheckpointEvery: 1, Metadata: map[string]string{"preset": "micro"}, Progress: &progress}
	res, err := RunBC(run)
	require.NoError(t, err)
	require.Len(t, res.TrainLoss, 2)
	require.Contains(t, log.String(), "wrote "+out+": ")
	require.Contains(t, log.String(), " 2 steps of batch 2 on ")
	require.Contains(t, log.String(), "checkpoint: step 1 of 3 written to "+out+"\n")
	require.Contains(t, log.String(), "checkpoint: step 2 of 3 written to "+out+"\n")
	require.NotContains(t, log.String(), "warm-up", "no warm-up, no note")
	require.NotEmpty(t, progress.String(), "the bar is drawn on Progress")
	md := metadataOf(t, out)
	require.Equal(t, "2", md["step"])
	require.Equal(t, "3", md["steps"])
	require.Equal(t, "micro", md["preset"])
	require.Equal(t, "l1", md["loss"])
	require.Contains(t, md, "action_std")

	// Resumed with other settings, the file would record one run made of two: refused, by name.
	other := run
	other.Resume, other.Config.StopAfter = true, 0
	other.Config.LearningRate, other.Config.Seed = 1e-2, 9
	_, err = RunBC(other)
	require.ErrorContains(t, err, "the checkpoint "+out+` was written with other settings: it differs in learning_rate ("0.001" in the checkpoint, "0.01" here), seed ("4" in the checkpoint, "9" here)`)
	require.Equal(t, "2", metadataOf(t, out)["step"], "the checkpoint is left as it was")

	log.Reset()
	run.Resume, run.Config.StopAfter = true, 0
	res, err = RunBC(run)
	require.NoError(t, err)
	require.Len(t, res.TrainLoss, 1, "steps 3..3")
	require.Contains(t, log.String(), "resuming "+out+" at step 2\n")
	require.Equal(t, "3", metadataOf(t, out)["step"])

	_, err = RunBC(run)
	require.ErrorContains(t, err, "checkpoint "+out+" is already at step 3 of 3")
}

// Ctrl-C in a run without checkpoints: the weights of the step it stopped at are written with that
// step, without the final evaluation, and --resume continues from there.
func TestRunBCInterruptedWritesTheWeightsSoFar(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bc.safetensors")
	var log, progress bytes.Buffer
	cfg := BCConfig{Arch: microArch(), Seed: 4, Episodes: 1, HeldOut: 1, Steps: 4, Batch: 2, LearningRate: 1e-3, Loss: LossL1, Log: &log}
	steps := 0
	cfg.Interrupted = func() bool { steps++; return steps == 2 }
	res, err := RunBC(BCRun{Config: cfg, Out: out, Progress: &progress})
	require.ErrorIs(t, err, ErrInterrupted)
	require.ErrorContains(t, err, "interrupted after step 2 of 4: the weights so far are in "+out+", and --resume")
	require.Equal(t, 2, res.Interrupted)
	require.Empty(t, res.Eval, "no held-out evaluation on the way out")
	require.Equal(t, "2", metadataOf(t, out)["step"])
	require.NotContains(t, progress.String(), "(4/4)", "the bar stays where the run stopped")

	cfg.Interrupted = nil
	res, err = RunBC(BCRun{Config: cfg, Out: out, Resume: true})
	require.NoError(t, err)
	require.Len(t, res.TrainLoss, 2, "steps 3..4")
	require.Equal(t, "4", metadataOf(t, out)["step"])
}

// A warm-up longer than the run is allowed (short probe runs keep the default), and the log says at
// what rate the run actually trained.
func TestTrainBCSaysWhenTheWarmUpOutlastsTheRun(t *testing.T) {
	var log bytes.Buffer
	cfg := BCConfig{Arch: microArch(), Seed: 4, Episodes: 1, HeldOut: 1, Steps: 2, Batch: 2, LearningRate: 1e-3,
		Warmup: 8, Loss: LossL1, Log: &log}
	_, err := TrainBC(cfg, nil)
	require.NoError(t, err)
	require.Contains(t, log.String(), "note: the warm-up (8 steps) is longer than the run (2 steps): the learning rate rises to 0.00025 of 0.001 at the last step and never decays\n")
}

// A run of negative steps is refused as such, not as a checkpoint already past it; so is a negative
// checkpoint interval.
func TestRunBCRejectsBadStepsAndCheckpoints(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bc.safetensors")
	cfg := BCConfig{Arch: microArch(), Seed: 4, Episodes: 1, HeldOut: 1, Steps: -3, Batch: 2, LearningRate: 1e-3}
	_, err := RunBC(BCRun{Config: cfg, Out: out})
	require.ErrorContains(t, err, "steps (-3)")
	require.NotContains(t, err.Error(), "checkpoint")
	cfg.Steps = 2
	_, err = RunBC(BCRun{Config: cfg, Out: out, CheckpointEvery: -1})
	require.ErrorContains(t, err, "checkpoint-every (-1) must be >= 0")
	require.NoFileExists(t, out)
}

func metadataOf(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := safetensors.ReadFile(path)
	require.NoError(t, err)
	return f.Metadata
}
