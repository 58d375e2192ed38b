#!/usr/bin/env bash
# provider-validate.sh --config PROJECT [--sync] [--json]
#
# Gates 1-3 on the rented instance: SSH connectivity, then the dataset on the pod, the plan, and
# the GPU, CUDA, PyTorch, trainer, weights and disk, recorded with the pod as the machine. Runs
# `loragate cloud env` (and first `loragate cloud sync` with --sync). Safe to re-run after an
# SSH drop.
#
#   --config PROJECT     the project name, or the path of grimoire/training/NAME/plan.json
#   --sync               send the dataset, the record and loragate first (resumes)
#   --json               print the result as JSON
#
# Exit: 0 GO, 1 NO-GO, 2 could not run (no instance, no SSH).
set -euo pipefail
. "$(dirname "$0")/_lib.sh"

config="" sync=0 args=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    -h|--help) show_help; exit 0 ;;
    --config|--plan|--name) need_value "$@"; config="$2"; shift 2 ;;
    --sync) sync=1; shift ;;
    --json) args+=(--json); shift ;;
    *) die "unknown option '$1'." "Run $(basename "$0") --help." ;;
  esac
done
[ -n "$config" ] || die "give the project with --config PROJECT." "Rent an instance first with provider-spinup.sh."
need_loragate
resolve_config "$config"
if [ "$sync" = 1 ]; then
  "$LORAGATE_BIN" cloud sync "$PROJECT" >&2 || exit $?
fi
exec "$LORAGATE_BIN" cloud env "$PROJECT" ${args[@]+"${args[@]}"}
