package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/evaluation/closedloop"
	"dysl_vla/scene"
)

// The training commands refuse contradictory or unknown options, and counts or rates out of range,
// before they load or train anything.
func TestTrainingCommandsRefuseBadOptions(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "w.safetensors")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"train", "bc", "--out", out, "--resume", "--init", filepath.Join(dir, "init.safetensors")}, "--init and --resume exclude each other"},
		{[]string{"train", "bc", "--out", out, "--init", out}, "--out " + out + " is also --init: expected a file of its own"},
		{[]string{"train", "bc", "--out", out, "--tasks", "maze"}, `--tasks "maze": expected single, tabletop or chain`},
		{[]string{"train", "bc", "--out", out, "--drop-tails"}, "--drop-tails: only with --layer-drop above 0"},
		{[]string{"train", "bc", "--out", out, "--dagger-expert", "direct"}, "--dagger-expert: only with --dagger-states"},
		{[]string{"train", "bc", "--out", out, "--init-preset", "tiny"}, "--init-preset: only with --init"},
		{[]string{"train", "bc", "--out", out, "--steps", "2", "--stop-after", "5"}, "stop-after (5) must be at most the steps (2)"},
		{[]string{"distill", "--model", filepath.Join(dir, "none"), "--stage2-steps", "0", "--lambda", "0.5"}, "--lambda: only with --stage2-steps above 0"},
		{[]string{"train", "dagger", "--model", filepath.Join("..", "..", "models", "reference", "tiny"), "--out", filepath.Join(dir, "s.json"), "--max-steps", "0"},
			"--max-steps: max steps (0) must be in [1, 100000] per instruction"},
		{[]string{"train", "dagger", "--model", filepath.Join("..", "..", "models", "reference", "tiny"), "--out", filepath.Join(dir, "s.json"), "--full-within", "0.05"},
			"--full-within 0.05: only with a --strategy that skips"},
		{[]string{"train", "bc", "--out", out, "--start-spread", "0.5"}, "--start-spread 0.5: expected metres in [0, 0.3] (the table's half size)"},
		{[]string{"train", "bc", "--out", out, "--preset", "huge"}, `unknown preset "huge"`},
		{[]string{"train", "bc", "--out", out, "--action-noise", "0.1"}, "--action-noise 0.1: expected metres in [0, 0.02] (the expert's largest step)"},
		{[]string{"calibrate", "--model", dir, "--data", "bag"}, `--data "bag": only 'generated' (scene episodes) is supported so far`},
		{[]string{"distill", "--model", dir, "--adapters", "random"}, `--adapters "random": want bundle or identity`},
		{[]string{"distill", "--model", dir, "--tasks", "maze"}, `--tasks "maze": expected single, tabletop or chain`},
		{[]string{"train", "dagger", "--out", out}, "--model: required, and not given"},
		{[]string{"train", "bc", "--out", out, "--tasks", "tabletop", "--tabletop", "colours=4"}, "--tabletop: tabletop blocks and pads (7) must each have their own colour: at most 4"},
		{[]string{"train", "keypoints", "--states", out}, "--weights: required, and not given"},
		{[]string{"train", "keypoints", "--states", out, "--weights", out, "--preset", "huge"}, `unknown preset "huge"`},
		{[]string{"train", "labels", "--weights", out}, "--states: required, and not given"},
		{[]string{"train", "bc", "--out", out, "--dagger-states", filepath.Join(dir, "states.json"), "--dagger-expert", "spiral"}, `--dagger-expert "spiral": expected hover or direct`},
		{[]string{"train", "bc", "--out", out, "--dagger-unlabelled", "yaw"}, "--dagger-unlabelled needs --dagger-states"},
		{[]string{"train", "bc", "--out", out, "--dagger-drop-descents"}, "--dagger-drop-descents needs --dagger-states"},
		{[]string{"train", "bc", "--out", out, "--recolour-pads", "blue=navy"}, `--recolour-pads: recolour "blue=navy": expected FROM=TO, two different colours of red, green, blue, yellow, purple, orange`},
		{[]string{"train", "bc", "--out", out, "--tasks", "tabletop", "--recolour-pads", "red=blue"}, "--recolour-pads red=blue: only with --tasks single"},
		{[]string{"train", "dagger", "--model", dir, "--out", out, "--tasks", "chain", "--recolour-pads", "red=blue"}, "--recolour-pads red=blue: only with --tasks single"},
		{[]string{"calibrate", "--model", dir, "--episodes", "-3"}, "calibration episodes (-3) and every (4, frames apart) must be >= 1"},
		{[]string{"calibrate", "--model", dir, "--ratio", "NaN"}, "static ratio (NaN) must be in (0, 1]"},
		{[]string{"distill", "--model", dir, "--batch", "-3"}, "and batch (-3) >= 1"},
		{[]string{"distill", "--model", dir, "--episodes", "-3"}, "episodes (-3)"},
		{[]string{"distill", "--model", dir, "--near-target-radius", "0.03"}, "--near-target-radius: only with --near-target-weight above 0"},
		{[]string{"distill", "--model", dir, "--lr", "NaN"}, "learning rate is NaN, expected a finite rate > 0"},
		{[]string{"distill", "--model", dir, "--stage1-steps", "0", "--stage2-steps", "0"}, "with at least one step"},
		{[]string{"train", "bc", "--out", out, "--steps", "-3"}, "steps (-3)"},
		{[]string{"train", "bc", "--out", out, "--batch", "1000000000"}, "batch (1000000000): expected at most 65536 frames"},
		{[]string{"train", "bc", "--out", out, "--held-out", "1000000000"}, "held-out episodes (1000000000): expected at most 1000000 episodes"},
		{[]string{"calibrate", "--model", dir, "--episodes", "1000000000"}, "calibration episodes (1000000000): expected at most 1000000 episodes"},
		{[]string{"train", "bc", "--out", out, "--lr", "NaN"}, "learning rate (NaN) must be > 0"},
		{[]string{"train", "bc", "--out", out, "--eval-every", "-1"}, "eval-every (-1)"},
		{[]string{"train", "bc", "--out", out, "--held-out", "0"}, "held-out episodes (0) must be >= 1: the held-out loss is measured on them"},
		{[]string{"train", "bc", "--out", out, "--checkpoint-every", "-1"}, "checkpoint-every (-1) must be >= 0"},
		{[]string{"model", "build", "--out", filepath.Join(dir, "b"), "--calibration", "-3"}, "calibration observations (-3) must be in [1, 1000000]"},
		{[]string{"train", "bc", "--out", out, "--dagger-states", filepath.Join(dir, "states.json"), "--dagger-unlabelled", "spin"}, `--dagger-unlabelled "spin": expected action names of the model: x, y, z, roll, pitch, yaw, gripper`},
	}
	for _, tc := range cases {
		_, _, err := runDysl(tc.args...)
		require.ErrorContains(t, err, tc.want, tc.args)
	}
	require.NoFileExists(t, out)
}

// train keypoints reads the committed selector reference on states written as train dagger writes them.
func TestTrainKeypointsPrintsTheChosenPointsByHeight(t *testing.T) {
	states := filepath.Join(t.TempDir(), "states.json")
	visited := []scene.State{scene.Reset(1_000_001), scene.Reset(1_000_002), scene.Reset(1_000_001)}
	visited[1].EE.Z = 0.03
	visited[1].Held, visited[1].HeldBlock = true, visited[1].Task.Block
	visited[2].Seed, visited[2].EE.Z = 1_000_003, 0.08 // another episode's descent, never held
	require.NoError(t, closedloop.WriteStates(states, visited))
	stdout, _, err := runDysl("train", "keypoints", "--weights", "../../models/closedloop/reference_small_selector.safetensors", "--states", states)
	require.NoError(t, err)
	require.Contains(t, stdout, "chosen points in 3 states of "+states)
	require.Contains(t, stdout, "all states: 3 states, block ")
	require.Contains(t, stdout, "tip at or above hover (15 cm): 1 states")
	require.Contains(t, stdout, "tip 5 cm to hover: 1 states")
	require.Contains(t, stdout, "tip below 5 cm: 1 states")
	require.Contains(t, stdout, "carrying the named block: 1 states")
	require.Contains(t, stdout, "where a descent began (tip first below 10 cm, gripper open), the grasp then held: no states")
	require.Contains(t, stdout, "where a descent began, the grasp then did not hold: 1 states")
	// Only the states on their way to the block count by colour: one pair, the one Reset drew.
	first := visited[0]
	require.Regexp(t, fmt.Sprintf(`(?m)^on the way to the block \(gripper open\), the named block's chosen point by block and pad colour, the 1 farthest of 1 pairs: %s block, %s pad: 2 states, \d+\.\d \(\d+\.\d\);$`,
		first.Object().Colour, first.Goal().Colour), stdout)
}

// train labels groups the committed reference's error against the expert's labels by phase: a state at
// the start is the approach, one closed beside the block is closed on nothing.
func TestTrainLabelsPrintsTheFitByPhase(t *testing.T) {
	states := filepath.Join(t.TempDir(), "states.json")
	visited := []scene.State{scene.Reset(1_000_001), scene.Reset(1_000_002)}
	visited[1].Gripper = scene.GripperClosed
	require.NoError(t, closedloop.WriteStates(states, visited))
	stdout, _, err := runDysl("train", "labels", "--weights", "../../models/closedloop/reference_small_relative.safetensors", "--states", states)
	require.NoError(t, err)
	require.Contains(t, stdout, "the model's chunks against the hover expert's labels on 2 states of "+states)
	require.Regexp(t, `(?m)^expert phase +frames +x +y +z +roll +pitch +yaw +gripper +gripper wrong$`, stdout)
	require.Regexp(t, `(?m)^approach +1( +\d+\.\d{3}){7} +\d+\.\d%`, stdout)
	require.Regexp(t, `(?m)^closed on nothing +1( +\d+\.\d{3}){7} +\d+\.\d%`, stdout)
}

// train dagger's summary leaves out the medians of groups with nothing in them: one short episode of the
// untrained tiny model never holds a block, so it has no grasped descents to take a median of.
func TestTrainDaggerSummaryHasNoMedianOfNothing(t *testing.T) {
	out := filepath.Join(t.TempDir(), "states.json")
	stdout, _, err := runDysl("train", "dagger", "--model", filepath.Join("..", "..", "models", "reference", "tiny"),
		"--out", out, "--episodes", "1", "--tasks", "single", "--max-steps", "40")
	require.NoError(t, err)
	require.Contains(t, stdout, ": 0 then held the block; ")
	require.NotContains(t, stdout, "NaN")
}

func TestActionIndicesByTheBundlesNames(t *testing.T) {
	columns := []string{"x", "y", "z", "roll", "pitch", "yaw", "gripper"}
	got, err := actionIndices(columns, []string{"gripper", "x"})
	require.NoError(t, err)
	require.Equal(t, []int{6, 0}, got)
	_, err = actionIndices(columns, []string{"dx"})
	require.ErrorContains(t, err, `--expert-dims "dx": expected action names of the bundle: x, y, z, roll, pitch, yaw, gripper`)
	_, err = actionIndices(columns, []string{"x", "gripper", "x"})
	require.EqualError(t, err, `--expert-dims x,gripper,x: "x" named twice`)
}

// A states file without states is refused by every command that reads one, rather than measuring or
// adding nothing and exiting 0; a state the scene cannot hold is refused with its index, not a panic.
func TestStateReadersRefuseAFileWithoutStates(t *testing.T) {
	dir := t.TempDir()
	empty, foreign := filepath.Join(dir, "empty.json"), filepath.Join(dir, "foreign.json")
	require.NoError(t, closedloop.WriteStates(empty, nil))
	require.NoError(t, os.WriteFile(foreign, []byte(`[{}]`), 0o644))
	selector := "../../models/closedloop/reference_small_selector.safetensors"
	relative := "../../models/closedloop/reference_small_relative.safetensors"
	out := filepath.Join(dir, "w.safetensors")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "keypoints", "--weights", selector, "--states", empty}, "--states " + empty + ": no states in it: expected the states a policy visited"},
		{[]string{"train", "labels", "--weights", relative, "--states", empty}, "--states " + empty + ": no states in it"},
		{[]string{"train", "bc", "--out", out, "--dagger-states", empty}, "--dagger-states " + empty + ": no states in it"},
		{[]string{"distill", "--model", dir, "--states", empty}, "--states " + empty + ": no states in it"},
		{[]string{"train", "keypoints", "--weights", selector, "--states", foreign}, foreign + ": state 0: Blocks: expected at least one block"},
		{[]string{"train", "labels", "--weights", relative, "--states", foreign}, foreign + ": state 0: Blocks: expected at least one block"},
		{[]string{"train", "bc", "--out", out, "--dagger-states", foreign}, foreign + ": state 0: Blocks: expected at least one block"},
		{[]string{"distill", "--model", dir, "--states", foreign}, foreign + ": state 0: Blocks: expected at least one block"},
	} {
		stdout, _, err := runDysl(tc.args...)
		require.ErrorContains(t, err, tc.want, tc.args)
		require.Empty(t, stdout, tc.args)
	}
	require.NoFileExists(t, out)
}

// calibrate warns on stderr when it chooses the static layers from too few frames, and still calibrates.
func TestCalibrateWarnsOfTooFewFrames(t *testing.T) {
	model := filepath.Join(t.TempDir(), "tiny")
	require.NoError(t, os.CopyFS(model, os.DirFS(filepath.Join("..", "..", "models", "reference", "tiny"))))
	stdout, stderr, err := runDysl("calibrate", "--model", model, "--weights", filepath.Join("..", "..", "models", "reference", "reference_tiny.safetensors"),
		"--episodes", "1", "--every", "100000")
	require.NoError(t, err)
	require.Contains(t, stderr, "warning: calibration on 1 frames (1 generated episodes, one frame in 100000), which show 1 of the expert's 9 phases")
	require.Contains(t, stdout, "calibration: 1 frames from 1 generated episodes\n")
}

// train dagger plays held-out episodes as a diagnostic, warning that their states are not to be trained
// on; train bc --dagger-states and distill --states refuse them, and train labels reads them.
func TestHeldOutStatesAreNotTrainedOn(t *testing.T) {
	dir := t.TempDir()
	states := filepath.Join(dir, "states.json")
	_, stderr, err := runDysl("train", "dagger", "--model", filepath.Join("..", "..", "models", "reference", "tiny"), "--out", states,
		"--tasks", "single", "--max-steps", "30", "--seed", "999999", "--episodes", "2")
	require.NoError(t, err)
	require.Contains(t, stderr, "warning: --seed 999999: episodes 999999..1000000 include held-out ones (seeds from 1000000 on, which evaluate plays): "+
		"their states serve diagnostics (train keypoints, train labels); train bc --dagger-states and distill --states refuse them\n")
	visited, err := closedloop.ReadStates(states)
	require.NoError(t, err)
	first := slices.IndexFunc(visited, func(s scene.State) bool { return s.Seed == 1_000_000 })
	require.Positive(t, first, "the training-range episode's states come first")
	want := fmt.Sprintf(": state %d is of held-out episode 1000000 (seeds from 1000000 on, which evaluate plays): "+
		"expected states to train on from training-range episodes ('dysl train dagger --seed' below 1000000)", first)
	out := filepath.Join(dir, "w.safetensors")
	_, _, err = runDysl("train", "bc", "--out", out, "--dagger-states", states, "--steps", "1", "--episodes", "1", "--held-out", "1", "--batch", "2")
	require.EqualError(t, err, "--dagger-states "+states+want)
	_, _, err = runDysl("distill", "--model", dir, "--states", states, "--episodes", "1", "--stage1-steps", "1", "--stage2-steps", "1")
	require.EqualError(t, err, "--states "+states+want)
	require.NoFileExists(t, out)

	// train labels runs the small model on every state it reads (about a quarter of a second each on 2
	// cores): it is given the last training-range state and the first held-out ones, not all 60. Whether
	// it refuses held-out states does not depend on how many follow.
	heldOut := filepath.Join(dir, "held_out_states.json")
	require.NoError(t, closedloop.WriteStates(heldOut, visited[first-1:first+2]))
	_, _, err = runDysl("train", "labels", "--weights", "../../models/closedloop/reference_small_relative.safetensors", "--states", heldOut)
	require.NoError(t, err, "a diagnostic reads them")

	_, stderr, err = runDysl("train", "dagger", "--model", filepath.Join("..", "..", "models", "reference", "tiny"), "--out", states,
		"--tasks", "single", "--max-steps", "5", "--seed", "999999", "--episodes", "1")
	require.NoError(t, err)
	require.NotContains(t, stderr, "warning", "training-range episodes alone")
}
