"""A cheap fingerprint of the machine: what would make an environment verdict untrue if it changed.

It covers the GPUs and driver (NVML), and for each trainer found the usual way (environment
variable, studio.md, usual places) its checkout commit and its interpreter, including the
modification times of that interpreter's site-packages folders, which change whenever pip
installs or removes a package. Only files are read and NVML is asked once: no subprocess, no git.
"""

from __future__ import annotations

import hashlib
import os
import platform
import socket
from pathlib import Path


def _gpu_identity() -> str:
    try:
        import pynvml  # nvidia-ml-py; lazy, absent GPUs are normal here
    except ImportError:
        return "no-nvml"
    try:
        pynvml.nvmlInit()
    except Exception:  # noqa: BLE001 - no driver, no GPU: that is an identity too
        return "no-gpu"
    try:
        driver = pynvml.nvmlSystemGetDriverVersion()
        uuids = [pynvml.nvmlDeviceGetUUID(pynvml.nvmlDeviceGetHandleByIndex(i)) for i in range(pynvml.nvmlDeviceGetCount())]
        return f"{driver}|{','.join(str(u) for u in uuids)}"
    except Exception:  # noqa: BLE001
        return "nvml-error"
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:  # noqa: BLE001
            pass


def _package_folders(python: str) -> list[Path]:
    """site-packages / dist-packages of an interpreter, found from its path alone."""
    exe = Path(python).expanduser()
    roots = {exe.parent.parent}
    try:
        roots.add(exe.resolve().parent.parent)  # a venv's python links to its base interpreter
    except OSError:
        pass
    folders: list[Path] = []
    for root in sorted(roots):
        for pattern in ("lib/python3*/site-packages", "lib/python3*/dist-packages", "local/lib/python3*/dist-packages", "Lib/site-packages"):
            folders += sorted(root.glob(pattern))
    return folders


def interpreter_identity(python: str) -> str:
    """Path, target and package-folder mtimes: changes when the interpreter or its packages do."""
    exe = Path(python).expanduser()
    parts = [str(exe)]
    try:
        parts.append(str(exe.resolve()))
        parts.append(str(exe.stat().st_mtime_ns))
    except OSError:
        parts.append("missing")
    for folder in _package_folders(python):
        try:
            parts.append(f"{folder}={folder.stat().st_mtime_ns}")
        except OSError:
            continue
    return "|".join(parts)


def _trainer_identity(backend: str) -> str:
    from loragate.environment.trainer import find_trainer_python, locate_trainer, read_git_commit

    location = locate_trainer(backend)
    python, _ = find_trainer_python(location.path)
    if location.path is None:
        return f"{backend}:none|{interpreter_identity(python)}"
    commit, branch = read_git_commit(Path(location.path))
    return f"{backend}:{location.path}@{commit}:{branch}|{interpreter_identity(python)}"


def hardware_fingerprint() -> str:
    """Only the host and its GPUs/driver: for facts about the hardware (e.g. measured VRAM), which a
    pip install or a new trainer commit does not change."""
    return hashlib.sha256("\n".join([socket.gethostname(), platform.machine(), _gpu_identity()]).encode()).hexdigest()


def machine_fingerprint() -> str:
    """Everything Gate 3 judged: the hardware, the visible GPUs, each trainer's checkout and interpreter."""
    from loragate.environment.trainer import load_trainer_data

    parts = [
        socket.gethostname(),
        platform.machine(),
        _gpu_identity(),
        os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>"),
        *(_trainer_identity(backend) for backend in sorted(load_trainer_data().trainer)),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
