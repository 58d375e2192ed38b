"""Where the real trainers' code is, and asking it questions through tests/contract/probe.py.

A checkout comes from SD_SCRIPTS_DIR / MUSUBI_TUNER_DIR when they point at one, else from the
unmodified source archives in ../shared/trainers/ beside the repository, unpacked into a folder
the caller owns. Nothing is installed: the probe stubs the heavy libraries it does not need.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ARCHIVES = REPO.parent / "shared" / "trainers"
PROBE = Path(__file__).with_name("probe.py")
FAKE_FLAGS = REPO / "tests" / "fakes" / "faketrainer" / "flags"

ENV = {"sdscripts": "SD_SCRIPTS_DIR", "musubi": "MUSUBI_TUNER_DIR"}
ARCHIVE = {"sdscripts": "sd-scripts-*.tar.gz", "musubi": "musubi-tuner-*.tar.gz"}
# A file only a real checkout has (the stand-ins in tests/fakes have none of these).
MARKER = {"sdscripts": "library/config_util.py", "musubi": "src/musubi_tuner/dataset/config_utils.py"}
SCRIPTS = {
    "sdscripts": ("train_network.py", "sdxl_train_network.py", "flux_train_network.py", "sd3_train_network.py", "gen_img.py", "sdxl_gen_img.py", "flux_minimal_inference.py",
                  "sd3_minimal_inference.py"),
    "musubi": ("wan_train_network.py", "wan_cache_latents.py", "wan_cache_text_encoder_outputs.py", "wan_generate_video.py",
               "qwen_image_train_network.py", "qwen_image_cache_latents.py", "qwen_image_cache_text_encoder_outputs.py",
               "zimage_train_network.py", "zimage_cache_latents.py", "zimage_cache_text_encoder_outputs.py",
               "flux_2_train_network.py", "flux_2_cache_latents.py", "flux_2_cache_text_encoder_outputs.py",
               "flux_kontext_train_network.py", "flux_kontext_cache_latents.py", "flux_kontext_cache_text_encoder_outputs.py",
               "hv_1_5_train_network.py", "hv_1_5_cache_latents.py", "hv_1_5_cache_text_encoder_outputs.py",
               "qwen_image_generate_image.py", "zimage_generate_image.py", "flux_2_generate_image.py",
               "flux_kontext_generate_image.py", "hv_1_5_generate_video.py"),
}
HOW_TO = (
    "needs the real trainers' sources: set SD_SCRIPTS_DIR and MUSUBI_TUNER_DIR to kohya sd-scripts "
    "and musubi-tuner checkouts, or put their archives in ../shared/trainers/ beside this repository"
)


def find_checkout(trainer: str, unpack_into: Path) -> Path | None:
    """The trainer's checkout, or None when neither the variable nor the archive is there."""
    given = os.environ.get(ENV[trainer])
    if given and (Path(given) / MARKER[trainer]).is_file():
        return Path(given)
    archives = sorted(ARCHIVES.glob(ARCHIVE[trainer]))
    if not archives:
        return None
    with tarfile.open(archives[-1]) as tar:
        top = tar.getnames()[0].split("/")[0]
        if not (unpack_into / top).is_dir():
            tar.extractall(unpack_into, filter="data")
    return unpack_into / top


def ask(trainer: str, checkout: Path, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Answers from the trainer's own code, one per request (see probe.py for the shapes)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, str(PROBE), trainer, str(checkout)], input=json.dumps(requests),
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the {trainer} probe failed:\n{done.stderr[-4000:]}")
    answers: list[dict[str, Any]] = json.loads(done.stdout)
    return answers


def real_flags(trainer: str, checkout: Path) -> dict[str, list[dict[str, Any]]]:
    """script -> its parser's flags, as probe.py dumps them."""
    answers = ask(trainer, checkout, [{"op": "dump", "script": s} for s in SCRIPTS[trainer]])
    return {script: answer["flags"] for script, answer in zip(SCRIPTS[trainer], answers)}


def write_fake_flags(unpack_into: Path) -> list[Path]:
    """Regenerate the stand-ins' flag dumps from the real parsers (tests/fakes/faketrainer/flags/)."""
    written = []
    for trainer in SCRIPTS:
        checkout = find_checkout(trainer, unpack_into)
        if checkout is None:
            raise SystemExit(HOW_TO)
        for script, flags in real_flags(trainer, checkout).items():
            path = FAKE_FLAGS / script.replace(".py", ".json")
            path.write_text(json.dumps(flags, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            written.append(path)
    return written


if __name__ == "__main__":
    # python -m tests.contract.realcode: rewrite the stand-ins' flag dumps from the real parsers.
    import tempfile

    FAKE_FLAGS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for path in write_fake_flags(Path(tmp)):
            print(path.relative_to(REPO))
