#!/usr/bin/env bash
# Reproduces models/reference from nothing, on the CPU, in Go: behaviour cloning of the tiny reference
# VLA on scripted pick-and-place episodes, a bundle built from those weights (static layers calibrated on
# scene frames), the skip-aware two-stage distillation of its adapters and controllers, the one-stage
# ablation on a copy, and the evaluation table on held-out episodes.
#
#   scripts/train-reference.sh [OUT_DIR]     (default: models/reference; about 1 h 45 min on 2 cores)
#
# The flags here are the ones the committed files were made with; models/reference/README.md has the
# figures they gave.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-models/reference}
work=${WORK:-$(mktemp -d)}
mkdir -p "$out"
export DYSL_ORT_LIB=${DYSL_ORT_LIB:-$(scripts/fetch-ort.sh)}
go build -o "$work/dysl" ./nodes/dysl
dysl="$work/dysl"
weights="$out/reference_tiny.safetensors"

"$dysl" train bc --out "$weights" --plot "$out/bc_loss.png" --seed 1 --episodes 200 --batch 16 --lr 2e-3 --steps 2000 --eval-every 200 --residual-scale 0.25 | tee "$out/bc_log.txt"
"$dysl" model build --preset tiny --weights "$weights" --out "$out/tiny"
"$dysl" calibrate --model "$out/tiny" --weights "$weights" --plot "$out/calibration.png"
rm -rf "$work/one_stage" && cp -r "$out/tiny" "$work/one_stage"
"$dysl" distill --model "$out/tiny" --weights "$weights" --plot "$out/distill_loss.png" --episodes 30 --stage1-steps 100 --stage2-steps 200 --lambda 0.2
# The ablation: the same number of steps, all of them joint, adapters starting from the identity.
"$dysl" distill --model "$work/one_stage" --weights "$weights" --episodes 30 --stage1-steps 0 --stage2-steps 300 --adapters identity --lambda 0.2
# evaluation.md: the table at the default tau and at tau 0.3, with the commands that printed them.
evaluate=(evaluate --model "$out/tiny" --one-stage "$work/one_stage" --weights "$weights" --episodes 10)
{
	echo "# dysl evaluate on the reference bundle"
	echo
	echo "\`dysl ${evaluate[*]}\` (default tau 0.5), 2 shared CPU cores, one-stage bundle from the script's ablation:"
	echo
	echo '```'
	"$dysl" "${evaluate[@]}"
	echo '```'
	echo
	echo "The same with \`--tau 0.3\`:"
	echo
	echo '```'
	"$dysl" "${evaluate[@]}" --tau 0.3
	echo '```'
} | tee "$out/evaluation.md"
