#!/usr/bin/env bash
# probe-flags.sh [VALUE]: runs every numeric flag of every dysl command once with VALUE (default
# 1000000000; try -3 or NaN too) under an address-space limit, and says how each run ended:
#   error    refused with an error, which is what a bad value should get
#   ok       accepted, and the run finished within TIMEOUT seconds
#   RUNNING  accepted, and still running after TIMEOUT seconds: the long run the value asked for
#   CRASH    a panic or a Go 'fatal error' (out of memory): a defect
# It prints one line per flag, then the count of each kind, and exits 1 when a run crashed.
# The flags are read from each command's --help, so a new flag is probed without editing this script;
# a new command needs its smallest arguments in the table below. The unit tests assert the refusals
# of -3 and NaN (nodes/dysl/flags_numeric_test.go); this script is for the values a test cannot run,
# those that are accepted and would run for hours.
#
# Environment: TIMEOUT (seconds per run, default 10), LIMIT_KB (ulimit -v, default 6000000),
# DYSL_ORT_LIB (default: scripts/fetch-ort.sh fetches ONNX Runtime). About 12 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
value=${1:-1000000000}
timeout_s=${TIMEOUT:-10}
limit_kb=${LIMIT_KB:-6000000}
export DYSL_ORT_LIB=${DYSL_ORT_LIB:-$(scripts/fetch-ort.sh)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/dysl" ./nodes/dysl
dysl=$work/dysl
"$dysl" model build --preset tiny --out "$work/tiny" --calibration 8 >/dev/null
"$dysl" bag gen --out "$work/bag" --episodes 1 >/dev/null

# Each command at its smallest; OUT is replaced by a fresh path per run, MODEL by a fresh copy of the
# tiny bundle (calibrate and distill rewrite it).
declare -A base=(
	["bag gen"]="--out OUT"
	["bench"]="--model MODEL --iterations 2 --warmup 1"
	["calibrate"]="--model MODEL --episodes 1"
	["demo"]="--out OUT --episodes 1"
	["distill"]="--model MODEL --episodes 1 --stage1-steps 1 --stage2-steps 1"
	["evaluate"]="--model MODEL --episodes 1"
	["mavlink listen"]="--endpoint udp-server:127.0.0.1:0"
	["model build"]="--out OUT --calibration 8"
	["replay"]="--model MODEL --bag $work/bag --out OUT"
	["sweep"]="--model MODEL --episodes 1"
	["train bc"]="--preset tiny --steps 1 --episodes 1 --out OUT.safetensors"
	["train dagger"]="--model MODEL --episodes 1 --out OUT.json"
)
# Flags that only count with another one given (the commands refuse them alone).
needs() {
	case $1 in
	chain) echo "--tasks chain" ;;
	latency-fixed) echo "--latency fixed" ;;
	latency-per-layer) echo "--latency per-layer" ;;
	near-target-radius) echo "--near-target-weight 1" ;;
	mavlink-*) echo "--mavlink udp-client:127.0.0.1:9" ;;
	esac
}

for cmd in "${!base[@]}"; do
	# pflag's help names each flag's type: int, float, duration, uint8, float32, float64Slice, ...
	"$dysl" $cmd --help | sed -nE 's/^ +(-[a-z], )?--([a-z0-9-]+) (int|int64|uint|uint8|float|float32|float64Slice|duration) .*/\2 \3 &/p' |
		while read -r flag type help; do
			v=$value
			[[ $type == duration && $v != *[a-z] ]] && v=${v}s
			extra=$(needs "$flag")
			[[ $cmd == evaluate && ($help == *"closed loop:"* || $flag == chain) ]] && extra="$extra --closed-loop"
			rm -rf "$work/model"
			cp -r "$work/tiny" "$work/model"
			args=${base[$cmd]//MODEL/$work/model}
			args=${args//OUT/$(mktemp -u "$work/out.XXXXXX")}
			set +e
			out=$( (ulimit -v "$limit_kb" && timeout "$timeout_s" "$dysl" $cmd $args $extra "--$flag=$v") 2>&1)
			rc=$?
			set -e
			kind=ok
			if grep -qE '^(panic|fatal error)' <<<"$out"; then
				kind=CRASH
			elif ((rc == 124)); then
				kind=RUNNING
			elif ((rc != 0)); then
				kind=error
			fi
			last=$(grep -E '^(panic|fatal error|dysl:)' <<<"$out" | head -1 | cut -c1-140 || true)
			printf '%-8s %-15s %-27s %s\n' "$kind" "$cmd" "--$flag=$v" "$last"
		done
done | sort -k2,2 -k3,3 | tee "$work/probe.txt"
echo
awk '{n[$1]++} END {for (k in n) printf "%s %d\n", k, n[k]}' "$work/probe.txt" | sort
! grep -q '^CRASH' "$work/probe.txt"
