#!/usr/bin/env bash
# rehearse-device-gpu.sh: runs every stage of scripts/device-gpu.sh on this machine's CPU, with the
# same command lines at toy sizes (REHEARSE=1 there), and checks that each stage did its part. A lent
# GPU machine gives a session 15 minutes; a flag the tools refuse, a log line a stage no longer finds
# or an xla build that no longer compiles would spend them. Run it before carrying files to such a
# machine; about 7 minutes on 2 cores. It exits 1 and names the stage when one failed.
#
# It builds what `setup` unpacks, as a GPU session carries it: the binary with `-tags xla` (run here
# with GoMLX's Go backend) and ONNX Runtime's CPU library (scripts/fetch-ort.sh); setup starts from
# the committed closed-loop reference's weights. Needs go, npm (fetch-ort) and python3 (the
# script's own unpacking and arithmetic).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'pkill -f "$work/g/dysl" 2>/dev/null || true; rm -rf "$work"' EXIT
files=$work/files
mkdir -p "$files"
xz() { python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(open(sys.argv[1], "rb"), lzma.open(sys.argv[2], "wb"))' "$1" "$2"; }
go build -tags xla -ldflags '-s -w' -trimpath -o "$work/dysl" ./nodes/dysl
xz "$work/dysl" "$files/dysl-xla.xz"
mkdir -p "$work/ort"
cp "$(scripts/fetch-ort.sh)" "$work/ort/libonnxruntime.so"
tar cf "$work/ort.tar" -C "$work/ort" libonnxruntime.so
xz "$work/ort.tar" "$files/ort.tar.xz"

# A lent machine is sent the working tree with what a call carries, 64 MiB in all: the tree (tracked
# and not ignored) and the binary and ONNX Runtime as a DAgger session carries them (no init.safetensors
# is carried: setup takes the committed reference's weights, which travel with the tree).
tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{n += $1} END {print n}')
carried=$(stat -c %s "$files/dysl-xla.xz" "$files/ort.tar.xz" | awk '{n += $1} END {print n}')
echo "one call would send $(((tree + carried) >> 20)) MiB of 64: the tree $((tree >> 20)), the binary and ONNX Runtime $((carried >> 20))"
((tree + carried <= 64 << 20)) || echo "rehearse-device-gpu: WARNING: that is over 64 MiB: carry the binary and ONNX Runtime in two calls, or make the tree smaller" >&2

export REHEARSE=1 GPU_FILES=$files G=$work/g WAIT_SECONDS=900
log=$work/log.txt
fail() { echo "rehearse-device-gpu: $1 (the log: above)" >&2; exit 1; }
# Each call gets its own $OUT, as on a lent machine, and what it leaves there must come back: at most
# 8 files of at most 16 MiB each.
calls=0
stage() {
	calls=$((calls + 1))
	export OUT=$work/out/$calls
	mkdir -p "$OUT"
	bash scripts/device-gpu.sh "$@" 2>&1 | tee -a "$log"
	local count big
	count=$(find "$OUT" -type f | wc -l)
	big=$(find "$OUT" -type f -size +16M)
	((count <= 8)) || fail "$*: $count files in \$OUT, and a call brings back 8: $(ls "$OUT" | paste -sd' ')"
	[[ -z $big ]] || fail "$*: files in \$OUT above 16 MiB do not come back: $big"
}

stage setup
[[ -x $G/dysl && -f $G/ort/libonnxruntime.so && -f $G/init.safetensors ]] || fail "setup did not unpack the binary, ONNX Runtime and the weights"
stage probe
[[ -s $G/step_seconds ]] && grep -q '^wrote' "$OUT/probe4.txt" || fail "probe: no step time, or its second run wrote no weights"
stage launch collect
for r in A B; do grep -aq '^wrote' "$OUT/train_$r.txt" || fail "launch: run $r wrote no weights"; done
stage dagger
sleep 5
stage collect
grep -q '^DAgger rounds done: best ' "$OUT/dagger.log" && [[ -f $OUT/best.safetensors ]] || fail "dagger: the rounds did not end with a best policy"
# The committed weights complete most training-range episodes, and these four seeds are fixed: a count
# of 0 means the count itself is broken (it once read each process's file name instead).
dagger_log=$OUT/dagger.log
cat "$dagger_log"
grep -q '^round 0 policy .*: [1-4] of 4 episodes completed' "$OUT/dagger.log" || fail "dagger: the first policy's completions were not counted"
stage ortcheck
grep -q 'single_graph\|single-graph\|full' "$OUT/bench_cpu.txt" && [[ -s $G/states_cpu.json ]] || fail "ortcheck: no benchmark or no closed-loop states on the CPU provider"
echo "rehearse-device-gpu: every stage ran in $calls calls, each within what a call brings back ($(tail -1 "$dagger_log"))"
