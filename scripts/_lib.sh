# Shared by the scripts in this folder; sourced, never run. Each script is a thin translation of
# the training workflow's script names and flags into one `loragate` command, whose exit code it
# passes through (0 GO, 1 NO-GO, 2 could not run).

# The loragate command: $LORAGATE_BIN when set, else `loragate` on PATH.
LORAGATE_BIN="${LORAGATE_BIN:-loragate}"

die() {
  echo "error: $1" >&2
  if [ -n "${2:-}" ]; then echo "what to do: $2" >&2; fi
  exit 2
}

note() { echo "note: $*" >&2; }

# Print the comment block at the top of the calling script (after the shebang) as its help.
show_help() {
  awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
}

# A flag's value, or a clear error when it is missing.
need_value() {
  if [ "$#" -lt 2 ] || [ -z "$2" ] || [ "${2#--}" != "$2" ]; then
    die "$1 needs a value." "Run $(basename "$0") --help for the flags."
  fi
}

need_loragate() {
  command -v "$LORAGATE_BIN" >/dev/null 2>&1 || die "the loragate command is not installed (looked for '$LORAGATE_BIN')." \
    "Install it with: pip install -e <the loragate folder>, or set LORAGATE_BIN to its path."
}

# The workflow's backend names to loragate's: kohya / sd-scripts -> sdscripts, musubi-tuner -> musubi.
to_backend() {
  case "$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')" in
    kohya|kohya-ss|sd-scripts|sdscripts|sd_scripts) echo sdscripts ;;
    musubi|musubi-tuner|musubi_tuner) echo musubi ;;
    simpletuner|ai-toolkit|aitoolkit)
      die "loragate drives only kohya sd-scripts (SD 1.5, SDXL, Pony, Illustrious, FLUX.1) and musubi-tuner (Wan); '$1' is not one of them." \
        "Use --backend kohya or --backend musubi; resources/backends/$1.md explains how to run $1 by hand." ;;
    *) die "unknown backend '$1'." "Use kohya (sd-scripts) or musubi (musubi-tuner)." ;;
  esac
}

# --config is a project name or the path of grimoire/training/NAME/plan.json. Sets PROJECT (and
# LORAGATE_ROOT, so loragate finds that grimoire when the path lies in another folder).
resolve_config() {
  local config="$1"
  if [ -f "$config" ] || [ "${config%plan.json}" != "$config" ]; then
    [ -f "$config" ] || die "the plan file $config does not exist." "Make it first with generate-config.sh."
    local dir
    dir="$(cd "$(dirname "$config")" && pwd)"
    case "$dir" in
      */grimoire/training/*) ;;
      *) die "$config is not a loragate plan (expected grimoire/training/NAME/plan.json)." "Give the project name or its plan.json." ;;
    esac
    PROJECT="$(basename "$dir")"
    LORAGATE_ROOT="${dir%/grimoire/training/*}"
    export LORAGATE_ROOT
  else
    PROJECT="$config"
  fi
}

# The workspace loragate uses (same order as loragate.workspace.workspace_root).
workspace_root() { echo "${LORAGATE_ROOT:-${CLAUDE_PROJECT_DIR:-$PWD}}"; }

# A top-level string field of the project's plan.json ("" when absent).
plan_field() {
  local plan
  plan="$(workspace_root)/grimoire/training/$PROJECT/plan.json"
  [ -f "$plan" ] || { echo ""; return 0; }
  sed -n "s/^  \"$1\": \"\\(.*\\)\",\\{0,1\\}\$/\\1/p" "$plan" | head -n 1
}

# Refuse when --backend names another trainer than the plan was made for.
check_plan_backend() {
  local wanted="$1" planned
  planned="$(plan_field backend)"
  if [ -n "$planned" ] && [ "$planned" != "$wanted" ]; then
    die "the plan '$PROJECT' is for $planned, not $wanted." "Drop --backend, or make a new plan with generate-config.sh for the other model."
  fi
}
