#!/usr/bin/env bash
# Regenerates the closed-loop report of a bundle and the README's closed-loop section from it (GitHub
# issue 14): `dysl evaluate --closed-loop` on tabletop single instructions and on chains of five, and
# `dysl sweep` (success against backbone speedup, Pareto front, the recommended setting), all on the
# same held-out seeds.
#
#   scripts/closedloop-report.sh MODEL_DIR [SWEEP ARGS...]
#   EPISODES=4 CHAIN_EPISODES=2 SWEEP_EPISODES=4 MAX_STEPS=120 scripts/closedloop-report.sh models/reference/tiny
#   scripts/closedloop-report.sh models/closedloop/small --bundle lambda=0.1:models/closedloop/small_l0.1
#
# Writes MODEL_DIR/closedloop/: tabletop.txt, chain.txt, sweep.txt (what the commands print), their
# .json, sweep.png and report.md (all of it), and rewrites the README between the lines
# <!-- BEGIN GENERATED: closedloop-report ... --> and <!-- END GENERATED: closedloop-report --> (the
# convention of the generated blocks of docs/) with the tables, the PNG and the recommendation (README=FILE for another file, README=none for none). Everything after MODEL_DIR goes
# to `dysl sweep` (other bundles by skip-loss weight, grids).
#
# Environment: TASKS (the single-instruction evaluation: tabletop, the default, or single, the one-block
# scene), EPISODES (its episodes, default 100), CHAIN_EPISODES (default 50), SWEEP_EPISODES (per point,
# default 20), SWEEP_TASKS (default: TASKS; chain also holds the chain-length criterion), MAX_STEPS
# (per instruction, default 300), ONE_STAGE (a one-stage distilled copy for the ablation's row), CAMERA_HZ (frames per second, 0: the bundle's control rate), GRIPPER_LEAD (the node's gripper_lead, default 0), GRIPPER_MIN_HOLD (the node's gripper_min_hold, a Go duration such as 1s; default 0s), LATENCY (measured, fixed or per-layer; default measured), WEIGHTS
# (the backbone's safetensors; default: the file the manifest's provenance names, next to MODEL_DIR),
# JOURNALS (a directory: each command keeps a journal there, --journal, so that the script, stopped
# and run again with the same JOURNALS and options, plays only what is left; remove it to start afresh).
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?usage: scripts/closedloop-report.sh MODEL_DIR [SWEEP ARGS...]}
shift
model=${model%/}
[[ -f $model/manifest.yaml ]] || { echo "closedloop-report: $model has no manifest.yaml: expected a model bundle directory" >&2; exit 2; }
tasks=${TASKS:-tabletop} episodes=${EPISODES:-100} chain_episodes=${CHAIN_EPISODES:-50} sweep_episodes=${SWEEP_EPISODES:-20}
sweep_tasks=${SWEEP_TASKS:-$tasks} max_steps=${MAX_STEPS:-300} latency=${LATENCY:-measured}
# The chains have an evaluation of their own, written to chain.*: TASKS=chain would write over it.
[[ $tasks == single || $tasks == tabletop ]] || { echo "closedloop-report: TASKS=$tasks: expected single or tabletop (the chains are evaluated anyway)" >&2; exit 2; }
camera_hz=${CAMERA_HZ:-0} gripper_lead=${GRIPPER_LEAD:-0} gripper_hold=${GRIPPER_MIN_HOLD:-0s}
one_stage=()
[[ -n ${ONE_STAGE:-} ]] && one_stage=(--one-stage "$ONE_STAGE")
readme=README.md
[[ -n ${README:-} ]] && readme=$README
out=$model/closedloop
mkdir -p "$out"

weights=${WEIGHTS:-}
if [[ -z $weights ]]; then
	named=$(sed -n 's/^  weights: *//p' "$model/manifest.yaml" | head -1)
	if [[ -n $named ]]; then
		weights=$(dirname "$model")/$named
		[[ -f $weights ]] || { echo "closedloop-report: the bundle was built from $named, not found at $weights: set WEIGHTS" >&2; exit 2; }
	fi
fi
weights_flag=()
[[ -n $weights ]] && weights_flag=(--weights "$weights")

export DYSL_ORT_LIB=${DYSL_ORT_LIB:-$(scripts/fetch-ort.sh)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/dysl" ./nodes/dysl
dysl="$work/dysl"
common=(--model "$model" "${weights_flag[@]}" --max-steps "$max_steps" --latency "$latency" --camera-hz "$camera_hz" --gripper-lead "$gripper_lead"
	--gripper-min-hold "$gripper_hold")

# journal NAME sets jf to the --journal flag of one command under JOURNALS, or to nothing.
journal() {
	jf=()
	if [[ -n ${JOURNALS:-} ]]; then
		mkdir -p "$JOURNALS"
		jf=(--journal "$JOURNALS/$1.journal")
	fi
}

start=$SECONDS
journal "$tasks"
"$dysl" evaluate --closed-loop "${common[@]}" "${one_stage[@]}" --tasks "$tasks" --episodes "$episodes" --json-out "$out/$tasks.json" "${jf[@]}" | tee "$out/$tasks.txt"
journal chain
"$dysl" evaluate --closed-loop "${common[@]}" "${one_stage[@]}" --tasks chain --episodes "$chain_episodes" --json-out "$out/chain.json" "${jf[@]}" | tee "$out/chain.txt"
journal sweep
"$dysl" sweep "${common[@]}" --tasks "$sweep_tasks" --episodes "$sweep_episodes" --plot "$out/sweep.png" --json-out "$out/sweep.json" "${jf[@]}" "$@" |
	tee "$out/sweep.txt"
took=$(( (SECONDS - start) / 60 ))

# table prints a report's table: from the line that starts with $2 to the first empty line after it.
table() { awk -v head="$2" 'index($0, head) == 1 { on = 1 } on && $0 == "" { exit } on { print }' "$1"; }
# The invocation as it would repeat this run: every setting that differs from the defaults.
invocation="scripts/closedloop-report.sh $model${*:+ $*}"
for setting in TASKS=$tasks:tabletop EPISODES=$episodes:100 CHAIN_EPISODES=$chain_episodes:50 \
	SWEEP_EPISODES=$sweep_episodes:20 SWEEP_TASKS=$sweep_tasks:$tasks MAX_STEPS=$max_steps:300 \
	CAMERA_HZ=$camera_hz:0 GRIPPER_LEAD=$gripper_lead:0 GRIPPER_MIN_HOLD=$gripper_hold:0s LATENCY=$latency:measured ${ONE_STAGE:+ONE_STAGE=$ONE_STAGE:} ${WEIGHTS:+WEIGHTS=$WEIGHTS:}; do
	[[ ${setting%:*} != "${setting%%=*}=${setting##*:}" ]] && invocation="${setting%:*} $invocation"
done
settings="max steps $max_steps, latency $latency, camera $camera_hz Hz (0: the control rate), gripper lead $gripper_lead actions, gripper min hold $gripper_hold"
{
	echo "Generated by \`$invocation\` ($(date -u +%Y-%m-%d), $took min, $(nproc) cores; $settings)."
	echo
	what="Tabletop, single instructions"
	[[ $tasks == single ]] && what="The one-block scene, single instructions"
	echo "**$what** ($episodes held-out episodes, \`dysl evaluate --closed-loop --tasks $tasks\`):"
	echo
	echo '```'
	table "$out/$tasks.txt" variant
	echo '```'
	echo
	echo "**Chains of five instructions** ($chain_episodes episodes, \`--tasks chain\`):"
	echo
	echo '```'
	table "$out/chain.txt" variant
	echo '```'
	echo
	echo "**Speed-success sweep** ($sweep_episodes episodes per point, \`dysl sweep --tasks $sweep_tasks\`; * marks the Pareto front):"
	echo
	echo "![closed-loop success against backbone speedup]($out/sweep.png)"
	echo
	echo '```'
	table "$out/sweep.txt" series
	echo '```'
	echo
	echo "$(grep '^recommendation:' "$out/sweep.txt" | sed 's/^recommendation:/**Recommendation:**/')"
} >"$work/section"

{
	echo "# Closed-loop report of $model"
	echo
	# The README links the PNG from the repository root, the report from beside it.
	sed "s#]($out/sweep.png)#](sweep.png)#" "$work/section"
	for part in "$tasks" chain sweep; do
		echo
		echo "## dysl output: $part"
		echo
		echo '```'
		cat "$out/$part.txt"
		echo '```'
	done
} >"$out/report.md"
echo "wrote $out/report.md, $out/sweep.png"

if [[ $readme != none ]]; then
	begin='<!-- BEGIN GENERATED: closedloop-report' end='<!-- END GENERATED: closedloop-report -->'
	if ! grep -q "^$begin" "$readme" || ! grep -qxF "$end" "$readme"; then
		echo "closedloop-report: $readme has no '$begin ...' and '$end' lines: README left alone" >&2
		exit 1
	fi
	awk -v begin="$begin" -v end="$end" -v section="$work/section" '
		index($0, begin) == 1 { print; while ((getline line < section) > 0) print line; skip = 1; next }
		$0 == end { skip = 0 }
		!skip { print }' "$readme" >"$work/readme" && cat "$work/readme" >"$readme"
	echo "rewrote the closed-loop section of $readme"
fi
