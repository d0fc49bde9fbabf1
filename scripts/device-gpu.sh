#!/usr/bin/env bash
# The GPU checks of the package, for a machine with an NVIDIA GPU and no internet (how they were run on
# an H200 with CUDA 13: docs/notes/gpu.md). Stages, run in order in one shell or across calls:
#
#   setup     unpack what was carried into .gpu/ (below) into $G (default /tmp/dysl-gpu); safe to repeat
#   probe     XLA training on the GPU: two short runs, their step time in $G/step_seconds
#   launch    start the GPU training runs in the background (their own session), sized to TRAIN_SECONDS
#   dagger    start DAgger rounds in the background from init.safetensors (ROUNDS, default 2, of
#             ROUND_STEPS): each policy plays 1008 training-range episodes on every core, the expert labels
#             what it saw, bc trains on; a policy completing no more than the one before ends the rounds.
#             collect copies weights and logs to $OUT. The logs stay in $G: a later call's $OUT is a new
#             folder, so a background job must not write there. BC_EXTRA adds train bc flags to every
#             round, e.g. BC_EXTRA='--layer-drop 0.5 --drop-tails' (a backbone whose layers can be skipped)
#             or BC_EXTRA=--expert-grasp-on-reach (labels that close as soon as a close catches the block),
#             or BC_EXTRA='--dagger-drop-descents --dagger-unlabelled yaw' (the visited states on the way down
#             onto the block left out, whose labels unlearned the approach on 2 cores, and the yaw), or
#             BC_EXTRA='--dagger-expert direct' (visited states labelled without the climb back to the hover
#             height; models/closedloop/README.md, attempt 21).
#             The policies play with the node's gripper_lead at GRIPPER_LEAD (default 3) and gripper_min_hold
#             at GRIPPER_MIN_HOLD (default 1s), as the README's closed-loop report does since attempts 16 and 17
#   ortcheck  ONNX Runtime's CUDA provider against its CPU one: the same bundle, bench, open and closed loop
#   collect   wait for the training runs (at most WAIT_SECONDS), copy their logs and weights to $OUT
#
# REHEARSE=1 runs the same stages, the same command lines, on this machine's CPU at toy sizes
# (GoMLX's Go backend, the CPU provider alone): scripts/rehearse-device-gpu.sh does it before a lent
# machine's minutes are spent on a refused flag or a broken step. GPU_FILES names the folder of the
# files below (default .gpu).
#
# What it needs on the machine: python3 with the CUDA 13 wheels (nvidia-cublas, -cuda-runtime,
# -cudnn-cu13, ...) and jax-cuda13-plugin (its PJRT plugin, xla_cuda_plugin.so, runs GoMLX's graphs),
# and in .gpu/: dysl-xla.xz (`go build -tags xla -ldflags '-s -w' -trimpath ./nodes/dysl`, xz: 8.4 MiB), ort.tar.xz (libonnxruntime.so of
# the npm package onnxruntime-node@1.29.0, a build with the CUDA provider interface, and
# libonnxruntime_providers_shared.so), cuda.xz.part* (libonnxruntime_providers_cuda.so of ONNX Runtime
# 1.29 for CUDA 13, from com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9; xz, split: it is 230 MB) and
# init.safetensors (the weights the training starts from and the bundle of ortcheck is built from;
# without it, the committed models/closedloop/reference_small_relative.safetensors).
# The core library of com.github.asus4.onnxruntime@0.4.9 is a CPU-only build: it refuses CUDA's options.
set -uo pipefail
G=${G:-/tmp/dysl-gpu}
files=${GPU_FILES:-.gpu}
# The sizes of a lent GPU machine's runs, or of a rehearsal's on the CPU.
if [[ ${REHEARSE:-0} == 1 ]]; then
	batch=8 probe_episodes=2 probe_steps=(2 4) train_episodes=3 min_steps=8 held_out=1 providers=(cpu)
	bench_iterations=5 openloop_episodes=1 closedloop_episodes=2 play_procs=2 play_episodes=2 rounds=1 round_steps=8
	train_seconds=60
	export GOMLX_BACKEND=go
else
	batch=128 probe_episodes=200 probe_steps=(20 300) train_episodes=3000 min_steps=500 held_out=4 providers=(cpu cuda)
	bench_iterations=200 openloop_episodes=4 closedloop_episodes=20 play_procs=14 play_episodes=72 rounds=2 round_steps=8000
	train_seconds=360
fi
OUT=${OUT:-$G/out}
mkdir -p "$G/ort" "$OUT"
unxz() { python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; }
SITE=$(python3 -c 'import site; print(site.getsitepackages()[0])')
PLUGIN=$(ls "$SITE"/jax_plugins/xla_cuda*/xla_cuda_plugin.so 2>/dev/null | head -1)
export LD_LIBRARY_PATH=$G/ort:$(find "$SITE/nvidia" -name 'lib*.so*' -printf '%h\n' 2>/dev/null | sort -u | paste -sd:)
cuda_dir=/usr/local/cuda
[[ -d $cuda_dir/nvvm/libdevice ]] || cuda_dir=$(dirname "$(dirname "$(find "$SITE/nvidia" -name 'libdevice*.bc' | head -1)")")
export XLA_FLAGS=--xla_gpu_cuda_data_dir=$cuda_dir GOMLX_NO_AUTO_INSTALL=1 GOPJRT_CUDA_CHECKS=0 DYSL_ORT_LIB=$G/ort/libonnxruntime.so
export GOMLX_BACKEND=${GOMLX_BACKEND:-xla:$PLUGIN} PATH=$cuda_dir/bin:$PATH
dysl=$G/dysl
init=$G/init.safetensors
# The training runs: the committed small_relative reference's flags (scripts/train-closedloop-reference.sh),
# at batch 128 and a learning rate for it, on twice the episodes; B without the DART action noise.
bc_flags=(--preset small_relative --tasks single --probe-weight 1 --start-spread 0.15 --keypoint-weight 1 --freeze-keypoints)
read -ra bc_extra <<<"${BC_EXTRA:-}"
runs=(A B)
run_flags_A=(--seed 31 --action-noise 0.003)
run_flags_B=(--seed 32)

seconds_of() { python3 -c 'import re, sys
d = sys.argv[1]; s = 0.0
for v, u in re.findall(r"([0-9.]+)(h|ms|m|s)", d): s += float(v) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[u]
print(s)' "$1"; }

for stage in "$@"; do
	echo "== $stage $(date -u +%T)"
	case $stage in
	setup)
		for f in "$files"/cuda.xz.part*; do [[ -f $f && ! -f $G/${f##*/} ]] && cp "$f" "$G/"; done
		[[ -x $dysl ]] || { unxz "$files/dysl-xla.xz" "$dysl" && chmod +x "$dysl"; }
		[[ -f $G/ort/libonnxruntime.so ]] || { unxz "$files/ort.tar.xz" "$G/ort.tar" && tar xf "$G/ort.tar" -C "$G/ort"; }
		# Without a carried init.safetensors the committed reference's weights, which travel with the tree.
		init_from=$files/init.safetensors
		[[ -f $init_from ]] || init_from=models/closedloop/reference_small_relative.safetensors
		[[ -f $init ]] || cp "$init_from" "$init"
		[[ ${REHEARSE:-0} == 1 ]] || nvidia-smi -L
		echo "plugin $PLUGIN; cuda dir $cuda_dir; $(nproc) cores"; ls "$G" "$G/ort"
		;;
	probe)
		probe_run() { # STEPS: a short run (batch 128 on 200 episodes on a GPU), its log in $OUT/probeSTEPS.txt
			"$dysl" train bc "${bc_flags[@]}" --held-out 1 --eval-every 0 --episodes "$probe_episodes" --batch "$batch" --lr 1e-4 --warmup 10 \
				--steps "$1" --init "$init" --out "$G/probe$1.safetensors" 2>&1 | tr '\r' '\n' | grep -a -v '^bc' | tee "$OUT/probe$1.txt"
		}
		few=${probe_steps[0]} many=${probe_steps[1]}
		probe_run "$few"
		if ! grep -q '^wrote' "$OUT/probe$few.txt"; then
			echo "retrying with the plugin's own memory preallocation: one training run only"
			echo "export DYSL_XLA_PREALLOCATE=1" >"$G/env"
			. "$G/env"
			probe_run "$few"
		fi
		probe_run "$many"
		t_few=$(seconds_of "$(grep -a -o 'frames in [0-9hms.]*' "$OUT/probe$few.txt" | cut -d' ' -f3)")
		t_many=$(seconds_of "$(grep -a -o 'frames in [0-9hms.]*' "$OUT/probe$many.txt" | cut -d' ' -f3)")
		python3 -c "print(max(($t_many - $t_few) / ($many - $few), 1e-3))" >"$G/step_seconds"
		echo "step seconds at batch $batch: $(cat "$G/step_seconds") ($few steps in ${t_few}s, $many in ${t_many}s, compile and one evaluation included)"
		;;
	launch)
		if [[ -f $G/env ]]; then . "$G/env"; runs=(A); fi
		# The runs share the GPU and the cores: each is given its share of the steps one alone would make.
		steps=$(python3 -c "print(int(min(40000, max($min_steps, 1 / ${#runs[@]} * (${TRAIN_SECONDS:-$train_seconds} - 60) / $(cat "$G/step_seconds")))))")
		for r in "${runs[@]}"; do
			flags=run_flags_$r[@]
			setsid nohup "$dysl" train bc "${bc_flags[@]}" "${!flags}" --held-out "$held_out" --batch "$batch" --episodes "$train_episodes" \
				--lr 4e-4 --warmup 200 --final-lr 1e-5 --steps "$steps" --eval-every $((steps / 8)) --checkpoint-every $((steps / 8)) \
				--init "$init" --out "$G/$r.safetensors" >"$G/$r.log" 2>&1 </dev/null &
			echo "run $r: $steps steps of batch $batch, pid $!"
		done
		;;
	dagger)
		setsid nohup bash "$0" daggerrun >"$G/dagger.log" 2>&1 </dev/null &
		echo "DAgger rounds in the background, pid $!, log $G/dagger.log"
		;;
	daggerrun)
		# Round r: the policy of round r-1 (init.safetensors for r = 1) plays PLAY_PROCS x PLAY_EPISODES
		# training-range episodes on every core, the expert labels every state it saw, and bc trains on from
		# its weights on the expert's episodes and every state gathered so far. A policy that completes no
		# more of its episodes than the one before ends the rounds (a second round once lost half the
		# grasps: docs/notes/gpu.md); best.safetensors is the policy that completed the most.
		procs=${PLAY_PROCS:-$play_procs} per=${PLAY_EPISODES:-$play_episodes} rounds=${ROUNDS:-$rounds}
		dagger_play() { # NAME WEIGHTS SEED: the policy plays; its states in $G/NAME_*.json, completions printed
			env -u GOMLX_BACKEND "$dysl" model build --preset small_relative --tasks single --weights "$2" --out "$G/bundle_$1" | tail -1 >&2
			for i in $(seq 0 $((procs - 1))); do
				"$dysl" train dagger --model "$G/bundle_$1" --tasks single --episodes "$per" --seed $(($3 + per * i)) --camera-hz 2.5 \
					--gripper-lead "${GRIPPER_LEAD:-3}" --gripper-min-hold "${GRIPPER_MIN_HOLD:-1s}" --out "$G/$1_$i.json" 2>&1 | tr '\r' '\n' | grep -a '^wrote\|^legs' >"$G/$1_$i.txt" &
			done
			wait
			cat "$G/$1"_*.txt >"$G/dagger_$1.txt"
			# -h: with several files grep would put each one's name before the count, and awk would read 0.
			grep -a -h -o '([0-9]* of [0-9]* instructions completed' "$G/$1"_*.txt | awk '{n += substr($1, 2)} END {print n + 0}'
		}
		dagger_train() { # NAME INIT STATES STEPS SEED: bc on the expert's episodes and the states
			"$dysl" train bc "${bc_flags[@]}" "${bc_extra[@]}" --seed "$5" --held-out "$held_out" --batch "$batch" --episodes "${EPISODES:-$train_episodes}" --dagger-states "$3" \
				--lr 2e-4 --warmup 100 --final-lr 1e-5 --steps "$4" --eval-every $(($4 / 4)) --checkpoint-every $(($4 / 8)) \
				--init "$2" --out "$G/$1.safetensors" 2>&1 | tr '\r' '\n' | grep -a -v '^bc' >"$G/dagger_$1.txt"
		}
		policy=$init best=$init best_done=-1 states=""
		for r in $(seq 1 $((rounds + 1))); do
			done_now=$(dagger_play "P$((r - 1))" "$policy" $((700000 + 10000 * r)))
			echo "round $((r - 1)) policy ($policy): $done_now of $((procs * per)) episodes completed"
			if ((done_now <= best_done)); then
				echo "no better than the round before: the rounds end"
				break
			fi
			best=$policy best_done=$done_now
			((r > rounds)) && break
			states=${states:+$states,}$(ls "$G/P$((r - 1))"_*.json | paste -sd,)
			dagger_train "R$r" "$policy" "$states" "${ROUND_STEPS:-$round_steps}" $((40 + r))
			if [[ ! -f $G/R$r.safetensors ]]; then
				echo "round $r: training failed (its log: $G/dagger_R$r.txt)"
				break
			fi
			policy=$G/R$r.safetensors
		done
		cp "$best" "$G/best.safetensors"
		echo "DAgger rounds done: best $best ($best_done completed)"
		;;
	ortcheck)
		if [[ " ${providers[*]} " == *" cuda "* && ! -f $G/ort/libonnxruntime_providers_cuda.so ]]; then
			cat "$G"/cuda.xz.part* >"$G/cuda.xz" && unxz "$G/cuda.xz" "$G/ort/libonnxruntime_providers_cuda.so" && rm "$G/cuda.xz"
		fi
		ls -la "$G/ort"
		env -u GOMLX_BACKEND "$dysl" model build --preset small_relative --tasks single --weights "$init" --out "$G/bundle" | tail -2
		for p in "${providers[@]}"; do
			"$dysl" bench --model "$G/bundle" --provider $p --iterations "$bench_iterations" --warmup 10 2>&1 | tee "$OUT/bench_$p.txt"
			"$dysl" evaluate --model "$G/bundle" --provider $p --episodes "$openloop_episodes" 2>&1 | tee "$OUT/openloop_$p.txt" | tail -15
			"$dysl" train dagger --model "$G/bundle" --tasks single --episodes "$closedloop_episodes" --seed 1000000 --camera-hz 2.5 --provider $p \
				--out "$G/states_$p.json" 2>&1 | tr '\r' '\n' | grep -a -v '^\s*$' | tail -4 | tee "$OUT/closedloop_$p.txt"
		done
		if ((${#providers[@]} > 1)); then
			cmp "$G/states_cpu.json" "$G/states_cuda.json" && echo "closed loop: the same states on cpu and cuda" ||
				echo "closed loop: states differ between cpu and cuda"
		fi
		;;
	collect)
		if [[ -f $G/env ]]; then runs=(A); fi
		deadline=$((SECONDS + ${WAIT_SECONDS:-300}))
		while pgrep -f "$dysl train bc|daggerrun" >/dev/null && ((SECONDS < deadline)); do sleep 5; done
		# A call brings back at most 8 files from $OUT: the rounds' logs go as one file, and of their
		# weights only best.safetensors (each round's own stay in $G, and its count is in dagger.log).
		for f in "$G"/dagger_*.txt; do [[ -f $f ]] && { echo "== ${f##*/}"; cat "$f"; }; done >"$OUT/dagger_rounds.txt"
		[[ -s $OUT/dagger_rounds.txt ]] || rm -f "$OUT/dagger_rounds.txt"
		cp "$G"/dagger.log "$G"/best.safetensors "$OUT/" 2>/dev/null
		for r in "${runs[@]}"; do
			[[ -f $G/$r.log ]] || continue
			tr '\r' '\n' <"$G/$r.log" | grep -a -v '^bc' >"$OUT/train_$r.txt"; tail -3 "$OUT/train_$r.txt"
			cp "$G/$r.safetensors" "$OUT/" 2>/dev/null
		done
		;;
	*) echo "unknown stage $stage"; exit 2 ;;
	esac
done
