#!/usr/bin/env bash
# Which factor of the tabletop scene a model trained on the one-block scene fails on (GitHub issue 14).
# The bundle's full model plays alone (`dysl train dagger`, every layer) on the same held-out seeds, in
# the one-block scene and in the tabletop scene changed one factor at a time (`--tabletop`), with the
# bundle's image balance (manifest image.balance) and without it, and one table row is printed per scene.
#
#   scripts/tabletop-factors.sh [MODEL_DIR]      (default models/closedloop/small_relative)
#
# Environment: EPISODES (per scene, default 40), CAMERA_HZ (default 2.5), GRIPPER_LEAD (default 3) and
# GRIPPER_MIN_HOLD (default 1s), the committed reference's evaluation settings; OUT, a directory that
# keeps what each run printed (default: none kept). About 3 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-models/closedloop/small_relative}
model=${model%/}
[[ -f $model/manifest.yaml ]] || { echo "tabletop-factors: $model has no manifest.yaml: expected a model bundle directory" >&2; exit 2; }
grep -q '^  balance:' "$model/manifest.yaml" || { echo "tabletop-factors: $model/manifest.yaml has no image.balance to compare against" >&2; exit 2; }
episodes=${EPISODES:-40} camera_hz=${CAMERA_HZ:-2.5} lead=${GRIPPER_LEAD:-3} hold=${GRIPPER_MIN_HOLD:-1s}

export DYSL_ORT_LIB=${DYSL_ORT_LIB:-$(scripts/fetch-ort.sh)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/dysl" ./nodes/dysl
# The same bundle without the balance: its manifest less the image.balance block (three values).
cp -r "$model" "$work/unbalanced"
sed -i '/^  balance:$/,+3d' "$work/unbalanced/manifest.yaml"
out=${OUT:-$work/runs}
mkdir -p "$out"

scenes=(
	"single|one-block scene (trained on)"
	"tabletop blocks=1,pads=1,colours=6,light=0,noise=0|tabletop layout, 1 block, 1 pad, its six colours, even light"
	"tabletop blocks=1,pads=1,colours=6,light=0.25,noise=0|  + light up to 25% brighter or dimmer"
	"tabletop blocks=1,pads=1,colours=6,light=0,noise=4|  + camera noise up to 4"
	"tabletop blocks=1,pads=1,colours=8,light=0,noise=0|  + all eight colours"
	"tabletop blocks=2,pads=1,colours=6,light=0,noise=0|  + a second block"
	"tabletop blocks=1,pads=2,colours=6,light=0,noise=0|  + a second pad"
	"tabletop blocks=3,pads=4|tabletop scene (3 blocks, 4 pads, light, noise)"
	"chain blocks=1,pads=2,colours=6|chains of 5, 1 block, 2 pads, light, noise"
)
printf '%-62s %-8s %-12s %-9s %-7s %-9s %-7s %-9s %s\n' scene balance completed approach grasp transport release "miss cm" "held over pad at limit"
for entry in "${scenes[@]}"; do
	spec=${entry%%|*} label=${entry#*|}
	read -r tasks shape <<<"$spec"
	flags=(--tasks "$tasks")
	[[ -n ${shape:-} ]] && flags+=(--tabletop "$shape")
	for variant in balanced unbalanced; do
		dir=$model balance=yes
		[[ $variant == unbalanced ]] && dir=$work/unbalanced balance=no
		log=$out/$(tr -c 'a-z0-9\n' '_' <<<"$spec" | tr -d '\n')_$variant.txt
		"$work/dysl" train dagger --model "$dir" "${flags[@]}" --episodes "$episodes" --seed 1000000 --camera-hz "$camera_hz" \
			--gripper-lead "$lead" --gripper-min-hold "$hold" --out "$work/states.json" >"$log" 2>&1 ||
			{ echo "tabletop-factors: $spec ($variant) failed:" >&2; cat "$log" >&2; exit 1; }
		completed=$(grep -o '[0-9]* of [0-9]* instructions completed' "$log" | sed 's/ instructions completed//')
		miss=$(grep -o 'named block: median [0-9.]* cm' "$log" | grep -o '[0-9.]* cm' | cut -d' ' -f1)
		held_line=$(grep '^step limit reached with the block held' "$log")
		held="$(sed 's/.*: \([0-9]*\) over the named pad.*/\1/' <<<"$held_line") $(grep -o '(median [^)]*)' <<<"$held_line" || true)"
		read -r approach grasp transport release < <(sed -n 's/^legs achieved\/attempted: approach \([^ ]*\) grasp \([^ ]*\) transport \([^ ]*\) release \([^ ]*\)$/\1 \2 \3 \4/p' "$log")
		printf '%-62s %-8s %-12s %-9s %-7s %-9s %-7s %-9s %s\n' "$label" "$balance" "$completed" "$approach" "$grasp" "$transport" "$release" "$miss" "$held"
		label=""
	done
done
echo "($episodes held-out episodes from seed 1000000 per scene, $model's full model alone at $camera_hz Hz, gripper_lead $lead, gripper_min_hold $hold; chains count instructions)"
