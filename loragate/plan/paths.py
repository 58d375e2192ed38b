"""Where a plan's files live on the machine that trains: local, a RunPod pod or a Modal container.

A plan made on the artist's computer for a pod names the pod's paths: the workspace is uploaded
to the platform's root (RunPod `/workspace`, Modal `/root`), so a path inside the workspace keeps
its place under that root. When loragate runs on the pod itself, the paths are already there.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath

from pydantic import BaseModel, Field

from loragate.environment.trainer import GUESSED_PYTHON, find_trainer_python, locate_trainer, trainer_facts, venv_python
from loragate.core.errors import LoragateError
from loragate.core.plan import BackendName, Platform
from loragate.studio import read_studio
from loragate.workspace import project_dir, workspace_root

PLATFORM_ROOTS: dict[str, str] = {"runpod": "/workspace", "modal": "/root"}
DATASET_TOML = "dataset.toml"


class PlanPaths(BaseModel):
    """Paths as the trainer sees them (strings: they may name another machine's folders)."""

    root: str = Field(description="Where training happens: the workspace, /workspace or /root.")
    dataset: str
    dataset_toml: str
    models_dir: str
    output_dir: str
    cache_dir: str
    trainer_dir: str
    trainer_python: str


def on_platform(local: Path, platform: Platform, *, fallback_folder: str = "datasets") -> str:
    """A local path as the training machine sees it."""
    local = Path(local)
    if platform == "local":
        return str(local)
    root = PurePosixPath(PLATFORM_ROOTS[platform])
    if _is_under(str(local), str(root)):
        return local.as_posix()
    ws = workspace_root()
    if _is_under(str(local), str(ws)):
        return str(root / local.relative_to(ws).as_posix())
    return str(root / fallback_folder / local.name)


def _is_under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def plan_paths(
    name: str,
    platform: Platform,
    backend: BackendName,
    dataset: Path,
    *,
    trainer_dir: str | None = None,
    trainer_python: str | None = None,
    models_dir: str | None = None,
    output_dir: str | None = None,
) -> PlanPaths:
    """Every folder the plan names. Caches go outside the dataset (the artist's folder is never
    written), the output outside the grimoire (a record, not a place for multi-GB files)."""
    root = str(workspace_root()) if platform == "local" else PLATFORM_ROOTS[platform]
    base: Path | PurePosixPath = Path(root) if platform == "local" else PurePosixPath(root)
    dataset_path = on_platform(dataset, platform)
    cache = str(base / "cache" / name)
    if _is_under(cache, dataset_path):
        # A workspace that is the dataset itself: keep the caches beside it instead.
        cache = str(PurePosixPath(dataset_path).parent / f"{PurePosixPath(dataset_path).name}-loragate-cache" / name)
    trainer = given_path(trainer_dir, platform) or _trainer_dir(backend, platform, base)
    python = given_path(trainer_python, platform) if trainer_python and _is_path(trainer_python) else trainer_python
    return PlanPaths(
        root=root,
        dataset=dataset_path,
        dataset_toml=on_platform(project_dir(name) / DATASET_TOML, platform, fallback_folder="grimoire"),
        models_dir=given_path(models_dir, platform) or str(base / "models"),
        output_dir=given_path(output_dir, platform) or str(base / "output" / name),
        cache_dir=cache,
        trainer_dir=trainer,
        trainer_python=python or _trainer_python(trainer, platform),
    )


def given_path(value: str | None, platform: Platform) -> str | None:
    """A path the artist typed, as the training machine sees it.

    The commands run from the trainer's checkout, where a relative path would point somewhere else,
    so relative paths are made absolute: on this machine from where the command was typed (else the
    workspace, as MCP callers write them), on a pod from the platform's root.
    """
    if not value:
        return None
    if Path(value).is_absolute() or PureWindowsPath(value).drive:
        return value
    if value.startswith("~") and platform != "local":
        return value  # the pod's home, not this machine's
    if platform == "local":
        return str(_local(value))
    return str(PurePosixPath(PLATFORM_ROOTS[platform]) / PurePosixPath(value.replace("\\", "/")))


def _is_path(value: str) -> bool:
    """'python3' is looked up on PATH; 'venv/bin/python' is a file."""
    return "/" in value or "\\" in value


def _local(value: str | Path) -> Path:
    """A local path: relative to where the command was typed when it exists there, else to the workspace."""
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = path if path.exists() else workspace_root() / path
    return Path(os.path.abspath(path))


def trains_here(platform: Platform) -> bool:
    """True when the plan is made on the machine that trains: local, or loragate running on the pod."""
    return platform == "local" or _is_under(str(workspace_root()), PLATFORM_ROOTS[platform])


def _trainer_dir(backend: BackendName, platform: Platform, base: Path | PurePosixPath) -> str:
    """The trainer checkout the environment checks find (MUSUBI_TUNER_DIR / SD_SCRIPTS_DIR, studio.md,
    the usual places); else, or for another machine, its usual folder under the root (where Gate 2
    says to put it)."""
    if trains_here(platform):
        found = locate_trainer(backend).path
        if found:
            return found
    # the folder `git clone` of the trainer's repository makes (trainers.toml)
    return str(base / PurePosixPath(trainer_facts(backend).repository).name)


def _trainer_python(trainer_dir: str, platform: Platform) -> str:
    """The interpreter Gate 3 will check (find_trainer_python): a venv's by its path, so the commands
    use it and the `accelerate` beside it; a system interpreter found on PATH by its name, so the
    training machine's PATH picks it, with its `accelerate`, as Gate 3 does."""
    if not trains_here(platform):
        return read_studio().trainer_python or "python"
    checkout = trainer_dir if Path(trainer_dir).is_dir() else None
    python, source = find_trainer_python(checkout)
    if source in GUESSED_PYTHON and (checkout is None or _in_venv(Path(python))):
        # No trainer here, or only some other venv on PATH (typically loragate's own): name the venv
        # the install steps create inside the checkout, never an interpreter that is not the trainer's.
        return venv_python(trainer_dir)
    if source == "PATH":
        return Path(python).name
    return python


def _in_venv(python: Path) -> bool:
    return (python.parent.parent / "pyvenv.cfg").is_file()


def check_dataset_folder(dataset: str | Path) -> Path:
    """The dataset folder as an absolute local path; LoragateError when it is missing or a file."""
    path = _local(dataset).resolve()
    if not path.is_dir():
        what = "is a file, not a folder" if path.exists() else "does not exist"
        raise LoragateError(
            f"The dataset folder {path} {what}.",
            "Give the folder that holds the images (or the Images/ and Videos/ folders).",
        )
    return path
