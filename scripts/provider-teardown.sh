#!/usr/bin/env bash
# provider-teardown.sh --config PROJECT [--instance ID] [--json]
#
# Terminate the project's rented instances NOW (every minute costs money) and mark them
# TERMINATED in grimoire/studio.md; says what storage still bills. Pull the results first
# (`loragate cloud pull PROJECT`). Runs `loragate cloud down`, then `loragate cloud status`.
#
#   --config PROJECT     the project name, or the path of grimoire/training/NAME/plan.json
#   --instance ID        only this instance
#   --json               print the result as JSON
#
# Exit: 0 nothing bills any more, 1 something still bills, 2 could not run.
set -euo pipefail
. "$(dirname "$0")/_lib.sh"

config="" args=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    -h|--help) show_help; exit 0 ;;
    --config|--plan|--name) need_value "$@"; config="$2"; shift 2 ;;
    --instance) need_value "$@"; args+=(--instance "$2"); shift 2 ;;
    --json) args+=(--json); shift ;;
    *) die "unknown option '$1'." "Run $(basename "$0") --help." ;;
  esac
done
[ -n "$config" ] || die "give the project with --config PROJECT." "loragate cloud status lists the projects with instances."
need_loragate
resolve_config "$config"
"$LORAGATE_BIN" cloud down "$PROJECT" ${args[@]+"${args[@]}"}
exec "$LORAGATE_BIN" cloud status --offline >&2
