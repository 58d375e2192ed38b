#!/usr/bin/env bash
# generate-config.sh --name PROJECT --model FAMILY --dataset DATASET --trigger WORD [--backend kohya|musubi] [--preset quick|standard|thorough] [other options] [--json]
#
# Gate 2: make the training plan (grimoire/training/PROJECT/: plan.json, dataset.toml,
# commands.json, train.sh, config.md) from a preset, check every value and the VRAM fit, and
# record the verdict. Runs `loragate plan new`.
#
#   --name PROJECT       project name (also --config)
#   --model FAMILY       model family, e.g. sdxl, pony, flux1-dev, wan2.2-t2v-a14b (see `loragate models`)
#   --dataset DATASET    the dataset folder
#   --trigger WORD       the trigger word
#   --backend NAME       kohya (= sd-scripts) or musubi; loragate picks the trainer from the model,
#                        this only checks that it is the one you expect
#   --preset NAME        quick, standard (default) or thorough
#   --output DIR         where the LoRA files go (same as --output-dir)
#   other options of `loragate plan new` are passed on: --type, --gpu-gb, --resolution, --frames,
#   --optimizer, --rank, --lr, --expert, --platform, --trainer-dir, --trainer-python, --models-dir,
#   --weights ROLE=PATH, --together / --one-after-another, --caption-extension
#   --json               print the result as JSON
#
# Exit: 0 GO, 1 NO-GO, 2 could not run.
set -euo pipefail
. "$(dirname "$0")/_lib.sh"

name="" model="" backend=""
rest=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    -h|--help) show_help; exit 0 ;;
    --name|--config) need_value "$@"; name="$2"; shift 2 ;;
    --model) need_value "$@"; model="$2"; rest+=(--model "$2"); shift 2 ;;
    --backend) need_value "$@"; backend="$(to_backend "$2")"; shift 2 ;;
    --output) need_value "$@"; rest+=(--output-dir "$2"); shift 2 ;;
    *) rest+=("$1"); shift ;;
  esac
done
[ -n "$name" ] || die "give the project name with --name." "For example: --name mira_v1"
need_loragate

if [ -n "$backend" ] && [ -n "$model" ]; then
  # The model's trainer, from the catalog (the "trainer" that follows its "id").
  trainer="$("$LORAGATE_BIN" models --json | awk -v id="\"id\": \"$model\"," '
    index($0, id) { found = 1 }
    found && /"trainer":/ { gsub(/[",]/, "", $2); print $2; exit }')"
  if [ -n "$trainer" ] && [ "$trainer" != "$backend" ]; then
    die "the model '$model' trains with $trainer, not $backend." "Use --backend $([ "$trainer" = sdscripts ] && echo kohya || echo musubi), or pick a model for $backend (loragate models)."
  fi
fi
exec "$LORAGATE_BIN" plan new "$name" ${rest[@]+"${rest[@]}"}
