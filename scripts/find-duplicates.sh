#!/usr/bin/env bash
# find-duplicates.sh DATASET [--name PROJECT] [--mirror] [--sheets FOLDER] [--caption-ext EXT] [--json]
#
# Find exact and near-duplicate images and clips in DATASET, with contact sheets to compare them.
# Nothing is moved or deleted. Runs `loragate duplicates`.
#
#   DATASET              the dataset folder
#   --name PROJECT       put the contact sheets in grimoire/training/PROJECT/contact-sheets/
#   --mirror             also count left-right mirrored copies as duplicates
#   --sheets FOLDER      folder for the contact sheets (outside the dataset)
#   --caption-ext EXT    caption file extension (default .txt)
#   --json               print the groups as JSON
#
# Exit: 0 no exact copies, 1 exact copies found (they block Gate 1), 2 could not run.
set -euo pipefail
. "$(dirname "$0")/_lib.sh"

case "${1:-}" in
  -h|--help) show_help; exit 0 ;;
  "") die "give the dataset folder." "Run $(basename "$0") --help." ;;
esac
need_loragate
exec "$LORAGATE_BIN" duplicates "$@"
