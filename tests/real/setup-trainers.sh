#!/usr/bin/env bash
# Unpack the two trainer snapshots from ../shared/trainers/ outside the repository and give each
# its own virtual environment, the way an artist installs them (sd-scripts: requirements.txt;
# musubi-tuner: pip install -e . plus tensorboard), with the CPU build of PyTorch.
# Each venv also gets tests/real/cpu_shims.py (imported at interpreter start through a .pth file),
# which lets the unmodified trainers start without CUDA; and the open_clip_torch wheel is kept in
# wheels/ for the offline CLIP tokenizers (tests/real/builders/offline_tokenizers.py).
# Prints the two export lines the real-trainer tier needs:
#   eval "$(tests/real/setup-trainers.sh)"
# Idempotent: a finished install (marked by .loragate-ready) is reused; the shims are refreshed.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
shared="${LORAGATE_SHARED_DIR:-$here/../shared}"
home="${LORAGATE_TRAINERS_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/loragate-real-trainers}"
torch_spec="${LORAGATE_TORCH_SPEC:-torch==2.13.0+cpu torchvision==0.28.0}"

if [ ! -d "$shared/trainers" ]; then
  echo "no trainer snapshots at $shared/trainers: the real-trainer tier will skip" >&2
  exit 0
fi
mkdir -p "$home"

shims="$here/tests/real/cpu_shims.py"

add_shims() {  # venv-python
  # Written only when they differ: a write changes site-packages' mtime, which is part of the
  # machine fingerprint, and would make Gates 3 and 4 of a running test stale.
  local site
  site="$("$1" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  cmp -s "$shims" "$site/loragate_cpu_shims.py" || cp "$shims" "$site/loragate_cpu_shims.py"
  [ "$(cat "$site/loragate_cpu_shims.pth" 2>/dev/null)" = "import loragate_cpu_shims" ] ||
    echo "import loragate_cpu_shims" > "$site/loragate_cpu_shims.pth"
}

install_one() {  # name archive-glob install-command...
  local name="$1" archive="$2"; shift 2
  local dir="$home/$name"
  local stamp
  stamp="$(sha256sum "$archive" | cut -c1-16)|$torch_spec"
  if [ -f "$dir/.loragate-ready" ] && [ "$(cat "$dir/.loragate-ready")" = "$stamp" ]; then
    return 0
  fi
  rm -rf "$dir" "$home/.unpack-$name"
  mkdir -p "$home/.unpack-$name"
  tar -xzf "$archive" -C "$home/.unpack-$name"
  mv "$home/.unpack-$name"/* "$dir"
  rmdir "$home/.unpack-$name"
  python3 -m venv "$dir/.venv"
  # shellcheck disable=SC2086
  "$dir/.venv/bin/python" -m pip install --quiet $torch_spec >&2
  (cd "$dir" && "$@") >&2
  echo "$stamp" > "$dir/.loragate-ready"
}

sd_archive=$(ls "$shared"/trainers/sd-scripts-*.tar.gz | head -1)
mu_archive=$(ls "$shared"/trainers/musubi-tuner-*.tar.gz | head -1)
install_one sd-scripts "$sd_archive" .venv/bin/python -m pip install --quiet -r requirements.txt &
sd_pid=$!
install_one musubi-tuner "$mu_archive" .venv/bin/python -m pip install --quiet -e . tensorboard
wait "$sd_pid"
add_shims "$home/sd-scripts/.venv/bin/python"
add_shims "$home/musubi-tuner/.venv/bin/python"
if ! ls "$home"/wheels/open_clip_torch-*.whl >/dev/null 2>&1; then
  python3 -m pip download --quiet --no-deps open_clip_torch -d "$home/wheels" >&2
fi
echo "export SD_SCRIPTS_DIR='$home/sd-scripts'"
echo "export MUSUBI_TUNER_DIR='$home/musubi-tuner'"
