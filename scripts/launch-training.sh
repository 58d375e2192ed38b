#!/usr/bin/env bash
# launch-training.sh --config PROJECT|plan.json [--backend kohya|musubi] [--output DIR] [--json]
#
# Start the training in the background under a supervisor (it retries an out-of-memory crash
# with smaller settings and keeps the log). Refuses unless all four gates are GO for the current
# dataset, plan and machine; there is no override. Runs `loragate launch`.
#
#   --config PROJECT     the project name, or the path of grimoire/training/NAME/plan.json
#   --backend NAME       kohya (= sd-scripts) or musubi; refuses if the plan is for the other trainer
#   --output DIR         where the LoRA files go; must be the plan's output folder (to change it,
#                        make the plan again with generate-config.sh --output DIR: Gates 2 and 4 re-run)
#   --json               print the job handle as JSON
#
# Follow the run with monitor-training.sh --config PROJECT.
# Exit: 0 started, 1 did not start, 2 could not run (for example a gate is not GO).
set -euo pipefail
. "$(dirname "$0")/_lib.sh"

config="" backend="" output="" args=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    -h|--help) show_help; exit 0 ;;
    --config|--plan|--name) need_value "$@"; config="$2"; shift 2 ;;
    --backend) need_value "$@"; backend="$(to_backend "$2")"; shift 2 ;;
    --output|--output-dir) need_value "$@"; output="$2"; shift 2 ;;
    --json) args+=(--json); shift ;;
    *) die "unknown option '$1'." "Run $(basename "$0") --help." ;;
  esac
done
[ -n "$config" ] || die "give the plan with --config PROJECT." "Make one first with generate-config.sh."
need_loragate
resolve_config "$config"
[ -z "$backend" ] || check_plan_backend "$backend"
if [ -n "$output" ]; then
  planned="$(plan_field output_dir)"
  wanted="$(cd "$output" 2>/dev/null && pwd || echo "$output")"
  if [ -n "$planned" ] && [ "$planned" != "$wanted" ] && [ "$planned" != "$output" ]; then
    die "the plan '$PROJECT' writes its LoRA files to $planned, not $output." \
      "Leave out --output, or make the plan again with generate-config.sh --output $output (then re-run Gates 2 and 4)."
  fi
fi
exec "$LORAGATE_BIN" launch "$PROJECT" ${args[@]+"${args[@]}"}
