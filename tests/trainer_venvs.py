"""Real virtual environments standing for a trainer's, holding only what a test installs in them.

A test's "trainer Python" must not be this interpreter or a link to it: on a fresh machine the
base interpreter behind a link has none of the packages (safetensors...), and this venv has
loragate's, which no trainer venv has. Each package set is installed once per test session with
pip (same versions as here, so pip's cache serves them) into a template venv; a test gets its own
copy, hard-linked where the file system allows, so making one costs a fraction of a second.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from importlib.metadata import version
from pathlib import Path

# What the Gate 3 checks look for beyond the fake torch stack in tests/fakes/site.
PROBE_PACKAGES = ("safetensors",)
# What the trainer stand-ins in tests/fakes import (images, clips, weights files).
STAND_IN_PACKAGES = ("numpy", "safetensors", "Pillow", "av")

_ROOT = Path(tempfile.mkdtemp(prefix="loragate-trainer-venvs-"))
atexit.register(shutil.rmtree, _ROOT, True)


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


def site_packages(venv: Path) -> Path:
    return venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


@cache
def _template(packages: tuple[str, ...]) -> Path:
    venv = _ROOT / ("-".join(packages) or "bare")
    # the base interpreter, without this venv's site-packages or pip: only what is installed below
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    if packages:
        pins = [f"{name}=={version(name)}" for name in packages]
        _run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check",
              "--target", str(site_packages(venv)), *pins])
    return venv


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def make_venv(where: Path, packages: tuple[str, ...] = PROBE_PACKAGES) -> Path:
    """A virtual environment at `where` with `packages` installed; returns its bin/python. One that
    is already there is kept as it is."""
    if (where / "pyvenv.cfg").is_file():
        return where / "bin" / "python"
    shutil.copytree(_template(packages), where, symlinks=True, copy_function=_link_or_copy, dirs_exist_ok=True)
    python = where / "bin" / "python"
    check = subprocess.run([str(python), "-c", "import sys; print(sys.prefix != sys.base_prefix)"],
                           capture_output=True, text=True, check=False, env={**os.environ, "PYTHONNOUSERSITE": "1"})
    assert check.stdout.strip() == "True", f"{python} is not a virtual environment: {check.stderr}"
    return python


def add_paths(venv_python: Path, name: str, *paths: Path) -> None:
    """Put folders on the venv's import path with a .pth file, as `pip install -e` does for a checkout."""
    pth = site_packages(venv_python.parent.parent) / f"{name}.pth"
    pth.write_text("".join(f"{p}\n" for p in paths), encoding="utf-8")
