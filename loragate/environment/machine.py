"""A cheap fingerprint of the machine: what would make an environment verdict untrue if it changed."""

from __future__ import annotations

import hashlib
import os
import platform
import socket
import sys


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


def machine_fingerprint() -> str:
    parts = [
        socket.gethostname(),
        platform.machine(),
        sys.version.split()[0],
        _gpu_identity(),
        os.environ.get("MUSUBI_TUNER_DIR", ""),
        os.environ.get("SD_SCRIPTS_DIR", ""),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
