#!/usr/bin/env bash
# validate-environment.sh [--config PROJECT|plan.json] [--backend kohya|musubi] [--model-size GB] [--dataset-size N] [--json]
#
# Gate 3: GPU, driver, CUDA and PyTorch in the trainer's own Python, the trainer, the weight
# files, disk, RAM and tokenizers. Safe to run again at any time. Runs `loragate env`.
#
#   --config PROJECT     check against the project's plan and record Gate 3 (a name, or the path of
#                        grimoire/training/NAME/plan.json); without it, checks the machine for --backend
#   --backend NAME       kohya (= sd-scripts) or musubi
#   --model-size GB      informational: with --config, loragate reads the real sizes from the plan's weight files
#   --dataset-size N     informational: the dataset is measured by the audit (Gate 1)
#   --json               print the report as JSON (notes go to stderr)
#
# Exit: 0 GO, 1 NO-GO, 2 could not run.
set -euo pipefail
. "$(dirname "$0")/_lib.sh"

config="" backend="" json=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    -h|--help) show_help; exit 0 ;;
    --config|--plan|--name) need_value "$@"; config="$2"; shift 2 ;;
    --backend) need_value "$@"; backend="$(to_backend "$2")"; shift 2 ;;
    --model-size) need_value "$@"; note "--model-size $2 GB is informational; loragate checks disk and memory against the plan's real weight files (give --config)."; shift 2 ;;
    --dataset-size) need_value "$@"; note "--dataset-size $2 is informational; the dataset itself is measured by Gate 1 (dataset-audit.sh)."; shift 2 ;;
    --json) json=(--json); shift ;;
    *) die "unknown option '$1'." "Run $(basename "$0") --help." ;;
  esac
done
[ -n "$config" ] || [ -n "$backend" ] || die "give --config PROJECT (to check against a plan) or --backend kohya|musubi." "Run $(basename "$0") --help."
need_loragate
if [ -n "$config" ]; then
  resolve_config "$config"
  [ -z "$backend" ] || check_plan_backend "$backend"
  exec "$LORAGATE_BIN" env --plan "$PROJECT" ${json[@]+"${json[@]}"}
fi
exec "$LORAGATE_BIN" env --backend "$backend" ${json[@]+"${json[@]}"}
