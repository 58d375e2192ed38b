#!/usr/bin/env bash
# provider-spinup.sh --provider runpod|vast --gpu TYPE --config PROJECT [--max-usd X] [--yes] [--json]
#
# Rent a cloud GPU for a project: states the price, the expected time and total, and the spend
# cap, then asks before anything is spent. Records the instance in grimoire/studio.md. Runs
# `loragate cloud up`; `loragate cloud offers --plan PROJECT` lists the cards and their cost.
#
#   --provider NAME      runpod or vast (Modal runs functions: use `loragate cloud modal`)
#   --gpu TYPE           the card as `loragate cloud offers` names it, e.g. "A100 80GB"
#   --config PROJECT     the project name, or the path of grimoire/training/NAME/plan.json
#   --max-usd X          the spend cap in dollars (default 1.5x the expected total)
#   --idle-minutes N     the machine ends itself if no `loragate cloud sync` reaches it within
#                        N minutes (default 30), even with this computer off
#   --yes                answer yes to the stated cost (for scripts that already showed it)
#   --json               print the result as JSON
#
# Exit: 0 running, 1 not rented (declined, or it never started), 2 could not run.
set -euo pipefail
. "$(dirname "$0")/_lib.sh"

config="" provider="" gpu="" args=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    -h|--help) show_help; exit 0 ;;
    --config|--plan|--name) need_value "$@"; config="$2"; shift 2 ;;
    --provider) need_value "$@"; provider="$(printf '%s' "$2" | tr '[:upper:]' '[:lower:]')"; shift 2 ;;
    --gpu) need_value "$@"; gpu="$2"; shift 2 ;;
    --max-usd) need_value "$@"; args+=(--max-usd "$2"); shift 2 ;;
    --idle-minutes) need_value "$@"; args+=(--idle-minutes "$2"); shift 2 ;;
    --yes) args+=(--yes); shift ;;
    --json) args+=(--json); shift ;;
    *) die "unknown option '$1'." "Run $(basename "$0") --help." ;;
  esac
done
case "$provider" in
  runpod|vast) ;;
  vast.ai|vastai) provider=vast ;;
  modal) die "Modal has no machine to rent." "Use: loragate cloud modal write PROJECT, then loragate cloud modal run PROJECT." ;;
  "") die "give the provider with --provider runpod|vast." "loragate cloud offers lists both." ;;
  *) die "unknown provider '$provider'." "Use runpod or vast." ;;
esac
[ -n "$gpu" ] || die "give the card with --gpu TYPE." "loragate cloud offers --plan PROJECT lists the cards the plan fits."
[ -n "$config" ] || die "give the project with --config PROJECT." "Make its plan first with generate-config.sh --platform runpod."
need_loragate
resolve_config "$config"
exec "$LORAGATE_BIN" cloud up "$PROJECT" --provider "$provider" --gpu "$gpu" ${args[@]+"${args[@]}"}
