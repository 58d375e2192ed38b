"""Test stand-in for nvidia-ml-py (`import pynvml`) in loragate processes started by a test.

Put this folder (tests/fakes/host) first on PYTHONPATH and describe the cards in LORAGATE_FAKE_NVML, a JSON list:
    [{"name": "NVIDIA GeForce RTX 4090", "total_gib": 23.99, "free_gib": 23.5, "capability": [8, 9]}]
LORAGATE_FAKE_NVML_DRIVER ('570.124.06') and LORAGATE_FAKE_NVML_CUDA (12080) set the driver.
Without LORAGATE_FAKE_NVML, nvmlInit fails as on a machine whose driver is not loaded.
No process is listed on a card, so measured GPU memory reads as "not measured", unless FAKE_GPU_DIR
names the folder where the trainer stand-ins record what they hold (tests/fakes/faketrainer/gpu.py).
"""

import json
import os
from types import SimpleNamespace

GIB = 1024**3


class NVMLError(Exception):
    pass


def _cards():
    raw = os.environ.get("LORAGATE_FAKE_NVML")
    if not raw:
        raise NVMLError("Driver Not Loaded")
    return json.loads(raw)


def nvmlInit():
    _cards()


def nvmlShutdown():
    return None


def nvmlSystemGetDriverVersion():
    return os.environ.get("LORAGATE_FAKE_NVML_DRIVER", "570.124.06")


def nvmlSystemGetCudaDriverVersion():
    return int(os.environ.get("LORAGATE_FAKE_NVML_CUDA", "12080"))


nvmlSystemGetCudaDriverVersion_v2 = nvmlSystemGetCudaDriverVersion


def nvmlDeviceGetCount():
    return len(_cards())


def nvmlDeviceGetHandleByIndex(index):
    if not 0 <= index < len(_cards()):
        raise NVMLError("Invalid Argument")
    return index


def nvmlDeviceGetName(handle):
    return _cards()[handle]["name"]


def nvmlDeviceGetUUID(handle):
    return f"GPU-{handle:08d}-{_cards()[handle]['name'].replace(' ', '')}"


def nvmlDeviceGetMemoryInfo(handle):
    card = _cards()[handle]
    total, free = int(card["total_gib"] * GIB), int(card.get("free_gib", card["total_gib"]) * GIB)
    return SimpleNamespace(total=total, free=free, used=total - free)


def nvmlDeviceGetCudaComputeCapability(handle):
    major, minor = _cards()[handle]["capability"]
    return int(major), int(minor)


def nvmlDeviceGetComputeRunningProcesses(handle):
    root = os.environ.get("FAKE_GPU_DIR")
    folder = os.path.join(root, f"gpu{handle}") if root else None
    if not folder or not os.path.isdir(folder):
        return []
    listed = []
    for name in sorted(os.listdir(folder)):
        try:
            with open(os.path.join(folder, name)) as handle_file:
                data = json.load(handle_file)
            os.kill(int(data["pid"]), 0)
        except (OSError, ValueError, KeyError):
            continue  # gone, or being written
        listed.append(SimpleNamespace(pid=int(data["pid"]), usedGpuMemory=int(data["bytes"])))
    return listed


def nvmlDeviceGetGraphicsRunningProcesses(handle):
    return []


def nvmlSystemGetProcessName(pid):
    raise NVMLError("Not Found")
