#!/usr/bin/env bash
# dataset-audit.sh DATASET [--trigger WORD] [--model FAMILY] [--type TYPE] [--name PROJECT] [--caption-ext EXT] [--json]
#
# Gate 1: check every image, clip and caption in DATASET (resolution, format, corruption, aspect
# ratio, colour space, captions, trigger word, duplicates, dataset size). Runs `loragate audit`.
#
#   DATASET              the folder of images or clips (flat, Images/ + Videos/, or kohya N_name folders)
#   --trigger WORD       the trigger word every caption must contain
#   --model FAMILY       model family, e.g. sdxl, pony, flux1-dev, wan2.2-t2v-a14b (see `loragate models`)
#   --type TYPE          character, style or object (sets the dataset size check)
#   --name PROJECT       record the verdict as Gate 1 of grimoire/training/PROJECT (writes dataset-report.md)
#   --caption-ext EXT    caption file extension (default .txt)
#   --json               print the report as JSON
#
# Exit: 0 GO, 1 NO-GO, 2 could not run.
set -euo pipefail
. "$(dirname "$0")/_lib.sh"

case "${1:-}" in
  -h|--help) show_help; exit 0 ;;
  "") die "give the dataset folder." "Run $(basename "$0") --help." ;;
esac
need_loragate
exec "$LORAGATE_BIN" audit "$@"
