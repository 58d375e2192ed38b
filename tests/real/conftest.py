"""Session fixtures of the real-trainer tier: the checkouts, random weights in the real layouts and
offline tokenizers, each built once per run (seeded) and deleted at its end."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.real.realkit import SEED, SETUP, build, trainer_dir

HOW = (f"the real-trainer tier needs {{var}}: run `{SETUP}` from the repository root (it unpacks ../shared/trainers/ "
       "into ~/.cache/loragate-real-trainers with a venv each), then `python -m pytest -m real_trainer`")


def _checkout(var: str) -> Path:
    found = trainer_dir(var)
    if found is None:
        pytest.skip(HOW.format(var=var))
    return found


@pytest.fixture(scope="session")
def sd_scripts() -> Path:
    return _checkout("SD_SCRIPTS_DIR")


@pytest.fixture(scope="session")
def musubi() -> Path:
    return _checkout("MUSUBI_TUNER_DIR")


@pytest.fixture(scope="session")
def real_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Weights and tokenizers of this run (about 26 GB when every family ran), deleted afterwards."""
    folder = tmp_path_factory.mktemp("real-trainers")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _open_clip_wheel(sd_scripts: Path, into: Path) -> Path:
    """open_clip_torch's wheel (setup-trainers.sh keeps one beside the checkouts; else pip fetches it)."""
    for folder in (sd_scripts.parent / "wheels", into):
        found = list(folder.glob("open_clip_torch-*.whl"))
        if found:
            return max(found)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "open_clip_torch", "-d", str(into)],
                   check=True, timeout=600)
    return max(into.glob("open_clip_torch-*.whl"))


@pytest.fixture(scope="session")
def clip_hf_home(real_cache: Path, sd_scripts: Path) -> Path:
    """HF_HOME holding the two CLIP tokenizers sd-scripts loads, derived from open_clip's BPE table."""
    home = real_cache / "hf"
    build(sd_scripts, "offline_tokenizers.py", "clip", str(home), str(_open_clip_wheel(sd_scripts, real_cache)))
    return home


@pytest.fixture(scope="session")
def umt5_hf_home(real_cache: Path, musubi: Path) -> Path:
    """HF_HOME holding the umT5 tokenizer musubi loads (a small sentencepiece model)."""
    home = real_cache / "hf-wan"
    build(musubi, "offline_tokenizers.py", "umt5", str(home))
    return home


@pytest.fixture(scope="session")
def sd15_weights(real_cache: Path, sd_scripts: Path) -> Path:
    out = real_cache / "models" / "sd15.safetensors"
    build(sd_scripts, "sd15.py", str(out), str(SEED))
    return out


@pytest.fixture(scope="session")
def sdxl_weights(real_cache: Path, sd_scripts: Path) -> Path:
    out = real_cache / "models" / "sdxl.safetensors"
    build(sd_scripts, "sdxl.py", str(out), str(SEED))
    return out


@pytest.fixture(scope="session")
def wan_weights(real_cache: Path, musubi: Path) -> dict[str, Path]:
    folder = real_cache / "models" / "wan"
    build(musubi, "wan.py", str(folder), str(SEED))
    return {role: folder / f"{role}.safetensors" for role in ("dit", "vae", "t5")}


@pytest.fixture(scope="session")
def tiny_clip(real_cache: Path, sd_scripts: Path, clip_hf_home: Path) -> Path:
    """A local CLIP model folder (random, tiny), for the evaluation's optional scores."""
    out = real_cache / "models" / "clip-tiny"
    build(sd_scripts, "tiny_clip.py", str(out), str(clip_hf_home), str(SEED))
    return out
