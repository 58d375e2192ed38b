#!/usr/bin/env bash
# eval-grid.sh --lora FILE [--model FAMILY] [--prompt "TEXT"]... [--trigger WORD] [--name NAME] [other options] [--json]
#
# The evaluation grid of a LoRA trained with loragate: rows = weights (0.0, the base model alone,
# then 0.3 0.5 0.7 0.9 1.0), columns = the standard prompts for the training type with the trigger
# plus yours, fixed seeds. Through ComfyUI when it answers, else the trainer's own scripts, else it
# exports the workflow JSONs and commands. Runs `loragate eval NAME --checkpoint FILE`.
#
#   --lora FILE          the LoRA file (a checkpoint in the project's output folder)
#   --model FAMILY       the base model you expect, e.g. sdxl (refused if the LoRA was trained on another)
#   --prompt "TEXT"      your own test prompt (repeat for more)
#   --trigger WORD       the trigger word you expect (refused if the LoRA was trained with another)
#   --name NAME          the project (default: from the LoRA's file name, NAME-000012.safetensors)
#   other options of `loragate eval` (--weight W, --engine, --comfyui-url URL, --estimate,
#   --clip-model DIR and --references DIR for the optional CLIP scores, ...) are passed on
#   --json               print the report as JSON
#
# Exit: 0 GO, 1 NO-GO (no effect, copies, layers that do not load), 2 bad input.
set -euo pipefail
. "$(dirname "$0")/_lib.sh"

lora="" name=""
args=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    -h|--help) show_help; exit 0 ;;
    --lora) need_value "$@"; lora="$2"; shift 2 ;;
    --name) need_value "$@"; name="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
[ -n "$lora" ] || die "--lora is required." "Give the LoRA file, e.g. --lora output/mira/mira-000008.safetensors."
if [ -z "$name" ]; then
  # loragate names checkpoints OUTPUTNAME[-NNNNNN|-stepNNNNNNNN].safetensors; Wan 2.2 experts NAME_low / NAME_high
  name="$(basename "$lora" .safetensors)"
  name="$(printf '%s' "$name" | sed -E 's/-(step)?[0-9]+$//; s/_(low|high)$//')"
fi
need_loragate
exec "$LORAGATE_BIN" eval "$name" --checkpoint "$lora" ${args[@]+"${args[@]}"}
