#!/usr/bin/env bash
# dry-run.sh --config PROJECT|plan.json [--backend kohya|musubi] [--steps N] [--json]
#
# Gate 4: run the plan's real caching and training commands for a few steps into a scratch
# folder, explain any failure with its fix, and record the verdict. Runs `loragate dry-run`.
#
#   --config PROJECT     the project name, or the path of grimoire/training/NAME/plan.json
#   --backend NAME       kohya (= sd-scripts) or musubi; refuses if the plan is for the other trainer
#   --steps N            training steps to run, 2 to 5 (default 5)
#   --json               print the report as JSON
#
# Exit: 0 GO, 1 NO-GO, 2 could not run.
set -euo pipefail
. "$(dirname "$0")/_lib.sh"

config="" backend="" args=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    -h|--help) show_help; exit 0 ;;
    --config|--plan|--name) need_value "$@"; config="$2"; shift 2 ;;
    --backend) need_value "$@"; backend="$(to_backend "$2")"; shift 2 ;;
    --steps) need_value "$@"; args+=(--steps "$2"); shift 2 ;;
    --json) args+=(--json); shift ;;
    *) die "unknown option '$1'." "Run $(basename "$0") --help." ;;
  esac
done
[ -n "$config" ] || die "give the plan with --config PROJECT." "Make one first with generate-config.sh."
need_loragate
resolve_config "$config"
[ -z "$backend" ] || check_plan_backend "$backend"
exec "$LORAGATE_BIN" dry-run "$PROJECT" ${args[@]+"${args[@]}"}
