#!/usr/bin/env bash
# monitor-training.sh (--log FILE [--epochs N] | --config PROJECT|plan.json) [--follow] [--interval SECONDS] [--json]
#
# How a training is going: status and its cause, epoch and step, loss, time left, warnings (loss
# flat, rising or NaN), checkpoints. Runs `loragate monitor`.
#
#   --log FILE           a trainer log to read (any run, even one loragate did not start)
#   --epochs N           total epochs, when the log does not say
#   --config PROJECT     a project launched with loragate (name or plan.json path) instead of --log
#   --follow             keep polling until the run ends
#   --interval SECONDS   seconds between polls with --follow (default 10)
#   --json               print the report as JSON
#
# Exit: 0 running or complete, 1 failed or stalled, 2 could not run.
set -euo pipefail
. "$(dirname "$0")/_lib.sh"

config="" args=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    -h|--help) show_help; exit 0 ;;
    --config|--plan|--name) need_value "$@"; config="$2"; shift 2 ;;
    --log|--epochs|--interval) need_value "$@"; args+=("$1" "$2"); shift 2 ;;
    --follow|--json) args+=("$1"); shift ;;
    *) die "unknown option '$1'." "Run $(basename "$0") --help." ;;
  esac
done
need_loragate
if [ -n "$config" ]; then
  resolve_config "$config"
  exec "$LORAGATE_BIN" monitor "$PROJECT" ${args[@]+"${args[@]}"}
fi
exec "$LORAGATE_BIN" monitor ${args[@]+"${args[@]}"}
