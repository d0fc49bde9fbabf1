package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// The closed-loop commands refuse bad grids, bundles and matching options before they open a model.
func TestClosedLoopCommandsRefuseBadOptions(t *testing.T) {
	dir := t.TempDir()
	tiny, missing := filepath.Join("..", "..", "models", "reference", "tiny"), filepath.Join(dir, "nonexist.safetensors")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"sweep", "--model", dir, "--joint", "tau=0.7"}, `--joint: sweep setting "tau=0.7": expected NAME=VALUE pairs`},
		{[]string{"sweep", "--model", dir, "--tau-values", "0.3,high"}, `--tau-values: "high" is not a number`},
		{[]string{"sweep", "--model", dir, "--window-values", "2.5"}, "continuity_window must be a whole number"},
		{[]string{"sweep", "--model", dir, "--eta-verify-values", "-1"}, "eta_verify"},
		{[]string{"sweep", "--model", dir, "--bundle", "models/lambda0.1"}, `--bundle "models/lambda0.1": expected LABEL:DIR`},
		{[]string{"sweep", "--model", dir, "--episodes", "0"}, "--episodes 0: expected at least one episode"},
		{[]string{"evaluate", "--closed-loop", "--model", dir, "--episodes", "-3"}, "--episodes -3: expected at least one episode"},
		{[]string{"evaluate", "--closed-loop", "--model", dir, "--episodes", "0"}, "--episodes 0: expected at least one episode"},
		{[]string{"train", "dagger", "--model", dir, "--out", dir + "/states.json", "--episodes", "-3"}, "--episodes -3: expected at least one episode"},
		{[]string{"evaluate", "--model", dir, "--episodes", "-3"}, "--episodes -3: expected at least one episode"},
		{[]string{"evaluate", "--model", dir, "--episodes", "0"}, "--episodes 0: expected at least one episode"},
		{[]string{"evaluate", "--model", dir, "--exit-every", "-1", "--exit-stride", "-2"}, "--exit-every -1: expected at least 1 layer between exits; --exit-stride -2: expected at least 1 (every frame)"},
		// A zero count is refused, not taken for the default it would silently run.
		{[]string{"evaluate", "--model", dir, "--exit-every", "0"}, "--exit-every 0: expected at least 1 layer between exits"},
		{[]string{"evaluate", "--model", dir, "--exit-episodes", "0"}, "--exit-episodes 0: expected at least 1 episode"},
		{[]string{"evaluate", "--closed-loop", "--model", dir, "--exit-stride", "0"}, "--exit-stride 0: expected at least 1 (every frame)"},
		{[]string{"evaluate", "--closed-loop", "--model", dir, "--match-frames-closed-loop", "0"}, "--match-frames-closed-loop 0: expected at least 1 frame"},
		{[]string{"sweep", "--model", dir, "--exit-every", "0"}, "--exit-every 0: expected at least 1 layer between exits"},
		{[]string{"sweep", "--model", dir, "--match-frames-closed-loop", "0"}, "--match-frames-closed-loop 0: expected at least 1 frame"},
		{[]string{"evaluate", "--model", dir, "--exit-threshold", "NaN"}, "exit threshold (NaN) must be a finite eta >= 0"},
		{[]string{"evaluate", "--model", dir, "--match-frames", "-1"}, "match-frames (-1)"},
		{[]string{"sweep", "--model", dir, "--tasks", "maze"}, `--tasks "maze": expected single, tabletop or chain`},
		{[]string{"sweep", "--model", dir, "--tasks", "single", "--tabletop", "pads=2"}, "--tabletop pads=2: only with --tasks tabletop or chain"},
		{[]string{"sweep", "--model", dir, "--tabletop", "pads=two"}, `--tabletop "pads=two": pads wants a number`},
		{[]string{"sweep", "--model", dir, "--tabletop", "walls=2"}, `--tabletop "walls=2": expected NAME=VALUE with NAME one of blocks, pads, colours, light, noise`},
		{[]string{"sweep", "--model", dir, "--tabletop", "blocks=2,blocks=9"}, "--tabletop blocks=2,blocks=9: blocks given twice: which value is meant?"},
		{[]string{"evaluate", "--closed-loop", "--model", dir, "--variants", "dysl,static_only,dysl"}, `closedloop: variant "dysl" named twice`},
		{[]string{"evaluate", "--closed-loop", "--model", dir, "--variants", "full,dysl", "--one-stage", dir}, "--one-stage: only with --variants naming one_stage"},
		{[]string{"evaluate", "--closed-loop", "--model", dir, "--variants", "static_only", "--weights", "w.safetensors", "--exit-every", "3"},
			"--weights, --exit-every: only with --variants naming early_exit"},
		{[]string{"evaluate", "--closed-loop", "--model", dir, "--variants", "full,dysl", "--match-runs", "3", "--match-frames-closed-loop", "5"},
			"--match-runs, --match-frames-closed-loop: only with --variants naming flexidepth or early_exit"},
		{[]string{"evaluate", "--closed-loop", "--model", dir, "--tasks", "chain", "--tabletop", "blocks=1,pads=1"}, "pads (1) must outnumber the blocks (1) in a chain"},
		{[]string{"sweep"}, "--model is required"},
		{[]string{"evaluate", "--closed-loop", "--model", dir, "--match-tolerance", "0"}, "--match-tolerance 0"},
		{[]string{"evaluate", "--closed-loop", "--model", dir, "--match-episodes", "0"}, "expected at least one episode"},
		{[]string{"evaluate", "--closed-loop", "--model", dir, "--match-runs", "0"}, "at least one run"},
		{[]string{"evaluate", "--closed-loop", "--model", dir, "--latency", "fixed", "--latency-fixed=-3s"}, "--latency-fixed -3s, --latency-per-layer 10ms: expected durations in [0, 1h]"},
		{[]string{"sweep", "--model", dir, "--latency", "per-layer", "--latency-per-layer=-1ms"}, "--latency-per-layer -1ms: expected durations in [0, 1h]"},
		{[]string{"sweep", "--model", dir, "--latency", "per-layer", "--latency-per-layer", "1000000h"}, "--latency-per-layer 1000000h0m0s: expected durations in [0, 1h]"},
		{[]string{"evaluate", "--closed-loop", "--model", dir, "--variants", "flexidepth", "--match-tolerance", "inf"}, "--match-tolerance +Inf: expected at least one episode, at least one run and a finite tolerance"},
		{[]string{"evaluate", "--closed-loop", "--model", dir, "--latency-scale", "Inf"}, "--latency-scale (+Inf) must be a factor in (0, 1000]"},
		{[]string{"evaluate", "--closed-loop", "--model", dir, "--latency-scale", "1e300"}, "--latency-scale (1e+300) must be a factor in (0, 1000]"},
		// Counts too large to plan for are refused before their seeds or tasks are laid out.
		{[]string{"sweep", "--model", dir, "--episodes", "1000000000"}, "--episodes (1000000000): expected at most 1000000 episodes"},
		{[]string{"evaluate", "--closed-loop", "--model", dir, "--tasks", "chain", "--chain", "1000000000"}, "tabletop chain (1000000000) must be in [1, 100] instructions"},
		{[]string{"evaluate", "--model", dir, "--exit-episodes", "1000000000"}, "exit-episodes (1000000000): expected at most 1000000 episodes"},
		{[]string{"evaluate", "--closed-loop", "--model", dir, "--camera-size", "640"}, `--camera-size "640": expected WIDTHxHEIGHT in pixels, such as 640x480`},
		{[]string{"sweep", "--model", dir, "--camera-size", "640x480x3"}, `--camera-size "640x480x3": expected WIDTHxHEIGHT`},
		{[]string{"evaluate", "--closed-loop", "--model", dir, "--camera-size", "4x480"}, "--camera-size 4x480: width (4) must be in [8, 4096] pixels"},
		{[]string{"evaluate", "--closed-loop", "--model", dir, "--camera-size", "640x0"}, "--camera-size 640x0: height (0) must be in [8, 4096] pixels"},
		// A flag the chosen mode leaves unused is refused, not ignored.
		{[]string{"evaluate", "--model", dir, "--gripper-lead", "3", "--tasks", "single"}, "--gripper-lead, --tasks: only with --closed-loop"},
		{[]string{"evaluate", "--model", dir, "--variants", "full,dysl"}, "--variants: only with --closed-loop"},
		{[]string{"evaluate", "--closed-loop", "--model", dir, "--exit-threshold", "0.2"}, "--exit-threshold: only with open loop (without --closed-loop)"},
		{[]string{"evaluate", "--closed-loop", "--model", dir, "--latency", "fixed", "--latency-scale", "2"}, "--latency-scale: only with --latency measured"},
		{[]string{"sweep", "--model", dir, "--latency-per-layer", "5ms"}, "--latency-per-layer: only with --latency per-layer"},
		{[]string{"sweep", "--model", dir, "--chain", "3"}, "--chain: only with --tasks chain"},
		{[]string{"sweep", "--model", "../../models/closedloop/small_relative", "--exit-every", "3", "--exit-eta", "0.1"},
			`--exit-every, --exit-eta: only with an early exit that can run (training: bundle ../../models/closedloop/small_relative was built from weights "reference_small_relative.safetensors": pass that file with --weights)`},
		{[]string{"train", "dagger", "--model", dir, "--out", dir + "/states.json", "--tasks", "single", "--chain", "3"}, "--chain: only with --tasks chain"},
		// The node's gripper convention is refused as the node refuses it, naming the flags; the states
		// train dagger writes are labelled in the scene's convention, so it takes no other.
		{[]string{"evaluate", "--closed-loop", "--model", dir, "--gripper-open", "0", "--gripper-closed", "0"},
			"--gripper-open 0, --gripper-closed 0: parameters gripper_open and gripper_closed are both 0: expected two different values"},
		{[]string{"sweep", "--model", dir, "--gripper-closed", "-1"}, "--gripper-open -1, --gripper-closed -1: parameters gripper_open and gripper_closed are both -1"},
		{[]string{"sweep", "--model", dir, "--gripper-open", "NaN"}, "--gripper-open NaN, --gripper-closed 1: nodecore: parameter 'gripper_open' could not be set to NaN (range -1000 to 1000)"},
		{[]string{"evaluate", "--closed-loop", "--model", dir, "--gripper-closed", "1e9"}, "parameter 'gripper_closed' could not be set to 1e+09 (range -1000 to 1000)"},
		{[]string{"evaluate", "--model", dir, "--gripper-open", "1", "--gripper-closed", "-1"}, "--gripper-closed, --gripper-open: only with --closed-loop"},
		{[]string{"train", "dagger", "--model", dir, "--out", dir + "/states.json", "--gripper-open", "0", "--gripper-closed", "1"},
			"--gripper-open 0, --gripper-closed 1: closedloop: the policy's gripper convention (gripper_open 0, gripper_closed 1) is not the scene's (-1 open, 1 closed)"},
		{[]string{"train", "dagger", "--model", dir, "--out", dir + "/states.json", "--gripper-open", "Inf"}, "--gripper-open +Inf, --gripper-closed 1: nodecore: parameter 'gripper_open' could not be set to +Inf"},
		// A --weights given that cannot be used is an error before the run, not a row "not run".
		{[]string{"evaluate", "--model", tiny, "--episodes", "1", "--quiet", "--weights", missing}, "early exit: --weights " + missing + ": open " + missing + ": no such file or directory"},
		{[]string{"evaluate", "--closed-loop", "--model", tiny, "--episodes", "1", "--quiet", "--weights", missing}, "early exit: --weights " + missing + ": open "},
		{[]string{"sweep", "--model", tiny, "--episodes", "1", "--quiet", "--weights", missing}, "early exit: --weights " + missing + ": open "},
	}
	for _, tc := range cases {
		_, _, err := runDysl(tc.args...)
		require.ErrorContains(t, err, tc.want, tc.args)
	}
	// A scene setting out of range is named as itself, not as the camera size no one gave.
	_, _, err := runDysl("evaluate", "--closed-loop", "--model", dir, "--max-steps", "0")
	require.EqualError(t, err, "max steps (0) must be in [1, 100000] per instruction")
}
