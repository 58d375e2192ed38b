#!/usr/bin/env bash
# calculate-vram.sh --model FAMILY --resolution RES [--batch N] [--rank N] [--gpu-gb GB] [other options] [--json]
#
# Estimate the GPU memory a LoRA training needs; with --gpu-gb, say whether it fits with a 20%
# margin and which changes make it fit. Runs `loragate vram`.
#
#   --model FAMILY       model family, e.g. sdxl, pony, flux1-dev, wan2.2-t2v-a14b (see `loragate models`)
#   --resolution RES     one number (1024) or WxH (832x480)
#   --batch N            batch size (default 1)
#   --rank N             LoRA rank (default 16)
#   --gpu-gb GB          the GPU's memory, e.g. 24 (from grimoire/studio.md)
#   --frames N           frames per clip for Wan video (4n+1)
#   --optimizer NAME     AdamW, AdamW8bit, Prodigy, Lion or Adafactor
#   other options of `loragate vram` (--fp8-base, --blocks-to-swap N, ...) are passed on
#   --json               print the estimate as JSON
#
# Exit: 0 fits (or no GPU size given), 1 does not fit, 2 bad input.
set -euo pipefail
. "$(dirname "$0")/_lib.sh"

for arg in "$@"; do
  case "$arg" in -h|--help) show_help; exit 0 ;; esac
done
need_loragate
exec "$LORAGATE_BIN" vram "$@"
