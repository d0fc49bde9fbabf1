#!/usr/bin/env bash
# Makes the closed-loop reference of GitHub issue 14 on the CPU, in Go. PRESET=small (the camera and the
# instruction only) starts from the committed tiny reference: the 8 trained layers of models/reference are
# spread over a 12-layer backbone (the new layers start as identities: modelbuild.Deepen). PRESET=small_state
# (the default: the robot state as a second input) starts from the committed small weights, the state
# input at zero (it computes what they did until trained). Behaviour cloning goes on with the world-state probe
# (training/probe.go), optional DAgger rounds let the policy play in the closed-loop simulator and the
# scripted expert label every state it visited, a bundle is built from the final weights (static
# layers and closed-form adapters fitted on the training scenes), adapters and controllers are
# distilled, and scripts/closedloop-report.sh evaluates every variant and sweeps the thresholds.
#
#   scripts/train-closedloop-reference.sh [OUT_DIR]     (default: models/closedloop)
#   SMOKE=1 scripts/train-closedloop-reference.sh /tmp/cl-smoke   (every stage with a handful of steps)
#   TASKS=tabletop ROUNDS=3 ...                         (the scenes trained on; DAgger rounds, default 0)
#   PRESET=small ...                                    (the camera-only model; default small_state)
#   PRESET=small_keypoints ...                          (small_state plus the image keypoints, from its weights;
#                                                        1100 + 1200 steps, 36 + 39 min; it did not succeed either)
#   PRESET=small_selector ...                           (small_keypoints plus the keypoint selector, from its weights;
#                                                        1200 steps, 36 min; it heads for the block but
#                                                        completes nothing alone yet)
#   PRESET=small_relative ...                           (small_selector plus the chosen points seen from the
#                                                        gripper, from its weights; 1000 steps, 37 min; it
#                                                        misses by 2.3 cm and completes nothing alone yet)
#   BC_WEIGHTS=FILE PRESET=small_relative ...           (no behaviour cloning: FILE is the backbone; the committed
#                                                        small_relative weights are run B of scripts/device-gpu.sh,
#                                                        11,900 steps of batch 128 on a GPU in 6 min 41 s, then
#                                                        one DAgger round of 9000 steps there, which complete
#                                                        112 of 200 held-out episodes alone at 2.5 Hz)
#   STATIC_RATIO=0.5 ...                                (the share of layers kept static; default 0.2)
#
# The world-state probe now starts at zero (training/probe.go, AddProbe). Every committed weights file was made
# while it started random, so this script makes other (not the committed) weights since that change.
#
# Writes OUT_DIR/reference_PRESET.safetensors, the bundle OUT_DIR/PRESET and its copies
# OUT_DIR/PRESET_one_stage, OUT_DIR/PRESET_lambda0.05 and OUT_DIR/PRESET_lambda0.5.
#
# Measured on 2 shared cores (models/closedloop/README.md): behaviour cloning 2000 steps of batch 8 in
# about 70 min (the committed weights stop at step 1000: 35 min); small_state 2400 steps in 60 min, then
# 1600 with spread starts in 40 min; build + calibrate 22 s, the four distills (two-stage at skip-loss
# weights 0.2, 0.05 and 0.5, one-stage) 17 to 20 min each, two at a time (37 to 41 min for the four),
# scripts/closedloop-report.sh 10 to 11 min: the committed small_relative bundles, from BC_WEIGHTS, in
# 51 min. The committed run did NOT reach the issue's
# 90% closed-loop success; the README there says what it reached and what was tried.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-models/closedloop}
work=${WORK:-$(mktemp -d)}
mkdir -p "$out"
export DYSL_ORT_LIB=${DYSL_ORT_LIB:-$(scripts/fetch-ort.sh)}
go build -o "$work/dysl" ./nodes/dysl
dysl="$work/dysl"
preset=${PRESET:-small_state}
weights="$out/reference_$preset.safetensors"

tasks=${TASKS:-single}
if [[ ${SMOKE:-0} == 1 ]]; then
	episodes=4 held_out=1 bc_steps=3 spread_steps=3 keypoint_steps=3 stop_after=0 rounds=${ROUNDS:-1} dagger_episodes=1 dagger_steps=3 batch=4 eval_every=0
	dagger_mix=4
	distill_episodes=2 stage1=2 stage2=2 max_steps=40
	report=(EPISODES=1 CHAIN_EPISODES=1 SWEEP_EPISODES=1 MAX_STEPS=40 README=none)
else
	# The committed small weights are step 1000 of a 2000-step schedule (STOP_AFTER=0 runs it all).
	episodes=300 held_out=4 bc_steps=2000 stop_after=${STOP_AFTER:-1000} rounds=${ROUNDS:-0} dagger_episodes=40 dagger_steps=500 batch=8 eval_every=250
	dagger_mix=$episodes
	if [[ $preset == small_state ]]; then
		bc_steps=2400 spread_steps=1600 stop_after=${STOP_AFTER:-0} episodes=1500 eval_every=200
	fi
	if [[ $preset == small_keypoints ]]; then
		bc_steps=1600 stop_after=${STOP_AFTER:-1100} episodes=1500 eval_every=200 keypoint_steps=1200
	fi
	if [[ $preset == small_relative ]]; then
		bc_steps=1000 stop_after=${STOP_AFTER:-0} episodes=1500 eval_every=200
		dagger_episodes=640 dagger_steps=800 dagger_mix=300
	fi
	if [[ $preset == small_selector ]]; then
		bc_steps=1200 stop_after=${STOP_AFTER:-0} episodes=1500 eval_every=200
		# DAgger rounds (ROUNDS=1 is attempt 11b of models/closedloop/README.md, with other seeds; it did
		# not beat the committed weights, which are behaviour cloning only): 640 episodes' approaches
		# (about 8,000 states), beside 300 expert episodes' 37,000 frames so that they weigh, 800 steps.
		dagger_episodes=640 dagger_steps=800 dagger_mix=300
	fi
	distill_episodes=30 stage1=100 stage2=200 max_steps=300
	report=(EPISODES=100 CHAIN_EPISODES=10 SWEEP_EPISODES=10)
fi
common=(--preset "$preset" --tasks "$tasks" --held-out "$held_out" --batch "$batch" --eval-every "$eval_every" --probe-weight 1)

# Behaviour cloning from the tiny reference, deepened to 12 layers. From random weights the 12-layer
# model sat at the constant predictor for 1000 steps (held-out L1 0.310 against 0.283) on tabletop.
# BC_WEIGHTS=FILE starts from those weights instead, skipping the 35-minute behaviour cloning: with
# BC_WEIGHTS=models/closedloop/reference_small.safetensors ROUNDS=1 it remakes the DAgger round that
# models/closedloop/README.md reports (it did not help, so the committed weights are behaviour cloning only).
# The state model starts from the committed camera-only weights (models/closedloop/reference_small.safetensors).
bc_extra=() bc_lr=(--lr 1e-3) dagger_extra=() dagger_play=() dagger_lr=(--lr 5e-4) distill_recipe=()
if [[ $preset == small_state ]]; then
	init=(--init models/closedloop/reference_small.safetensors --init-preset small) bc_seed=5
elif [[ $preset == small_keypoints ]]; then
	# The keypoints start at zero on the committed small_state weights and train on spread starts.
	init=(--init models/closedloop/reference_small_state.safetensors --init-preset small_state) bc_seed=9
	bc_extra=(--start-spread 0.15)
elif [[ $preset == small_selector ]]; then
	# The selector starts at zero on the committed keypoint weights, read at gain 16 (modelbuild's
	# package doc); the selection loss (training/probe.go) teaches it, and the keypoints' per-pixel
	# network stays as loaded: further keypoint training at that gain scrambled the blocks' places.
	init=(--init models/closedloop/reference_small_keypoints.safetensors --init-preset small_keypoints) bc_seed=12
	bc_extra=(--start-spread 0.15 --keypoint-weight 1 --freeze-keypoints)
	dagger_extra=(--keypoint-weight 1 --freeze-keypoints --start-spread 0.15) # the DAgger rounds keep the keypoints as they are
	# The policy plays with a new chunk every four steps (the rate at which it can grasp: README there),
	# and only its approaches are kept; the learning rate continues where behaviour cloning ended.
	dagger_play=(--camera-hz 2.5 --approach-only) dagger_lr=(--lr 2e-4 --final-lr 5e-5)
elif [[ $preset == small_relative ]]; then
	# The relative points start at zero on the committed selector weights; the demonstrations' way to
	# the block is perturbed by 3 mm a step (DART), so that they show corrections the relative points
	# can carry. The learning rate starts low: every restart from the selector weights at 1e-3 or 3e-4
	# first undid them (models/closedloop/README.md, attempt 11).
	init=(--init models/closedloop/reference_small_selector.safetensors --init-preset small_selector) bc_seed=21
	bc_extra=(--start-spread 0.15 --keypoint-weight 1 --freeze-keypoints --action-noise 0.003)
	bc_lr=(--lr 2e-4 --final-lr 3e-5)
	dagger_extra=(--keypoint-weight 1 --freeze-keypoints --start-spread 0.15)
	dagger_play=(--camera-hz 2.5 --approach-only) dagger_lr=(--lr 2e-4 --final-lr 5e-5)
	# Its distillations weigh stage 2's chunk loss twice within 6 cm of the target (attempts 17 and 18:
	# 19 of 100 held-out completions at 1.67x, from 14 at 1.46x without it).
	distill_recipe=(--near-target-weight 2)
	# It grasps only when several actions of each chunk are executed (models/closedloop/README.md,
	# attempt 13: none of 38 at 10 Hz), so the report plays it at 2.5 Hz.
	# Its chunks close the gripper late, and can dip open right after a grasp; the report plays it with
	# the node's gripper_lead at 3 (attempt 16) and gripper_min_hold at 1 s (attempt 17). The DAgger
	# rounds above made the committed weights without either.
	report+=(CAMERA_HZ=2.5 GRIPPER_LEAD=3 GRIPPER_MIN_HOLD=1s)
else
	init=(--init models/reference/reference_tiny.safetensors --init-preset tiny) bc_seed=2
fi
log_suffix=${preset#small}
if [[ -n ${BC_WEIGHTS:-} ]]; then
	cp "$BC_WEIGHTS" "$work/w0.safetensors"
else
	"$dysl" train bc "${common[@]}" --episodes "$episodes" --out "$work/w0.safetensors" --seed "$bc_seed" "${bc_lr[@]}" --warmup 50 --steps "$bc_steps" \
		--stop-after "$stop_after" "${init[@]}" "${bc_extra[@]}" --plot "$out/bc_loss$log_suffix.png" | tee "$out/bc_log$log_suffix.txt"
	# The state model then trains on episodes that start anywhere within 15 cm of the table centre: from
	# one start pose, the robot state alone told it which way to go once it moved, and it never learned
	# to find the block in the image (models/closedloop/README.md, attempts 7 and 8).
	if [[ $preset == small_state ]]; then
		mv "$work/w0.safetensors" "$work/w0_centred.safetensors"
		"$dysl" train bc "${common[@]}" --episodes "$episodes" --out "$work/w0.safetensors" --seed 7 --lr 1e-3 --warmup 50 --steps "$spread_steps" \
			--start-spread 0.15 --init "$work/w0_centred.safetensors" | tee "$out/bc_log${log_suffix}_spread.txt"
	fi
	# The keypoint model then learns where each colour is from the keypoint loss (training/probe.go):
	# from the actions alone its keypoints followed the pads (models/closedloop/README.md, attempt 9).
	if [[ $preset == small_keypoints ]]; then
		mv "$work/w0.safetensors" "$work/w0_actions.safetensors"
		"$dysl" train bc "${common[@]}" --episodes "$episodes" --out "$work/w0.safetensors" --seed 10 --lr 1e-3 --warmup 50 --steps "$keypoint_steps" \
			--start-spread 0.15 --keypoint-weight 1 --init "$work/w0_actions.safetensors" | tee "$out/bc_log${log_suffix}_supervised.txt"
	fi
fi

# DAgger: the policy of round r-1 plays training-range episodes (seeds apart from bc's and the held-out
# ones); the expert labels every state it saw; bc goes on from r-1's weights on everything gathered.
states=()
for r in $(seq 1 "$rounds"); do
	prev="$work/w$((r - 1)).safetensors"
	"$dysl" model build --preset "$preset" --tasks "$tasks" --weights "$prev" --out "$work/round$r"
	"$dysl" train dagger --model "$work/round$r" --tasks "$tasks" --episodes "$dagger_episodes" --seed $((500000 + 10000 * r)) \
		--max-steps "$max_steps" "${dagger_play[@]}" --out "$work/states$r.json" | tee -a "$out/dagger_log$log_suffix.txt"
	states+=("$work/states$r.json")
	list=$(IFS=,; echo "${states[*]}")
	"$dysl" train bc "${common[@]}" --episodes "$dagger_mix" --out "$work/w$r.safetensors" --init "$prev" --dagger-states "$list" \
		"${dagger_lr[@]}" --seed $((10 + r)) --steps "$dagger_steps" --warmup 50 "${dagger_extra[@]}" | tee -a "$out/dagger_log$log_suffix.txt"
done
cp "$work/w$rounds.safetensors" "$weights"

model="$out/$preset"
# STATIC_RATIO: the share of layers kept static (0.2: layers 0 and 11 of 12). More static layers make
# the adapters' jumps shorter; models/closedloop/README.md (attempt 14) compares 0.2, 0.34 and 0.5.
static_ratio=${STATIC_RATIO:-0.2}
"$dysl" model build --preset "$preset" --tasks "$tasks" --weights "$weights" --static-ratio "$static_ratio" --out "$model"
"$dysl" calibrate --model "$model" --weights "$weights" --tasks "$tasks" --ratio "$static_ratio" --plot "$out/calibration$log_suffix.png"
# The copies are of the calibrated bundle, without the closed-loop report an earlier run left in it
# (that report is of the bundle, not of its copies).
copy_bundle() { rm -rf "$2" && cp -r "$1" "$2" && rm -rf "$2/closedloop"; }
one_stage="${model}_one_stage"
copy_bundle "$model" "$one_stage"
# The sweep's skip-loss weights besides the bundle's 0.2: copies of the calibrated bundle, distilled alike.
lambdas=(0.05 0.5)
bundles=()
for l in "${lambdas[@]}"; do
	copy_bundle "$model" "${model}_lambda$l"
	bundles+=(--bundle "lambda=$l:${model}_lambda$l")
done
# The four distillations two at a time: one alone keeps about 1.5 of the 2 cores busy (13 min 44 s),
# a pair takes 17 to 19 min. Each writes its own log; its last lines are printed when the pair is done.
# All four take the preset's recipe (distill_recipe, above) and DISTILL_EXTRA, more dysl distill flags
# for an experiment (e.g. DISTILL_EXTRA='--near-target-radius 0.03').
read -r -a distill_extra <<<"${DISTILL_EXTRA:-}"
distill_extra=("${distill_recipe[@]}" "${distill_extra[@]}")
started=() logs=()
distill_start() { # LOG ARGS...: dysl distill ARGS (and the recipe's flags) in the background, its output in LOG
	local log=$1
	shift
	"$dysl" distill "$@" "${distill_extra[@]}" >"$log" 2>&1 &
	started+=($!) logs+=("$log")
}
distill_wait() { # wait for every distillation started (a failed one stops the script), show how each ended
	for pid in "${started[@]}"; do wait "$pid"; done
	for log in "${logs[@]}"; do
		echo "== $log"
		tr '\r' '\n' <"$log" | grep -a -v '^\s*$' | grep -a -v '|.*([0-9]*/[0-9]*)' | tail -n 3
	done
	started=() logs=()
}
distill_start "$work/distill_main.log" --model "$model" --weights "$weights" --tasks "$tasks" --plot "$out/distill_loss$log_suffix.png" \
	--episodes "$distill_episodes" --stage1-steps "$stage1" --stage2-steps "$stage2" --lambda 0.2
# The ablation: the same number of steps, all of them joint, adapters starting from the identity.
distill_start "$work/distill_one_stage.log" --model "$one_stage" --weights "$weights" --tasks "$tasks" --episodes "$distill_episodes" \
	--stage1-steps 0 --stage2-steps $((stage1 + stage2)) --adapters identity --lambda 0.2
distill_wait
for l in "${lambdas[@]}"; do
	distill_start "$work/distill_lambda$l.log" --model "${model}_lambda$l" --weights "$weights" --tasks "$tasks" \
		--episodes "$distill_episodes" --stage1-steps "$stage1" --stage2-steps "$stage2" --lambda "$l"
done
distill_wait

# Every variant in closed loop, the chains, the sweep; the README's generated section.
env "${report[@]}" TASKS="$tasks" MAX_STEPS="$max_steps" ONE_STAGE="$one_stage" WEIGHTS="$weights" scripts/closedloop-report.sh "$model" "${bundles[@]}"
