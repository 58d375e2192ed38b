"""Faults a test asks for through FAKE_* environment variables (documented in tests/fakes/README.md).

They apply to the stages named in FAKE_STAGES (default: train), so one environment can be
shared by the caching and training commands of a run.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass


class OutOfMemoryError(RuntimeError):
    """Printed by the traceback machinery as `torch.OutOfMemoryError: CUDA out of memory. ...`."""


OutOfMemoryError.__module__ = "torch"


class SafetensorError(Exception):
    """Printed as `safetensors_rust.SafetensorError: ...`, what a damaged file raises."""


SafetensorError.__module__ = "safetensors_rust"


def _num(name: str, cast: type = int) -> float | int | None:
    value = os.environ.get(name, "").strip()
    return cast(value) if value else None


@dataclass
class Faults:
    vram_gb: float | None = None
    oom_after: int | None = None
    nan_after: int | None = None
    hang_after: int | None = None
    kill_after: int | None = None
    no_data: bool = False
    missing_module: str | None = None
    step_seconds: float = 0.01

    @classmethod
    def for_stage(cls, stage: str) -> "Faults":
        stages = {s.strip() for s in os.environ.get("FAKE_STAGES", "train").split(",") if s.strip()}
        step = _num("FAKE_STEP_SECONDS", float)
        base = cls(step_seconds=0.01 if step is None else float(step))
        if stage not in stages:
            return base
        base.vram_gb = _num("FAKE_VRAM_GB", float)
        base.oom_after = _num("FAKE_OOM_AFTER")
        base.nan_after = _num("FAKE_NAN_AFTER")
        base.hang_after = _num("FAKE_HANG_AFTER")
        base.kill_after = _num("FAKE_KILL_AFTER")
        base.no_data = os.environ.get("FAKE_NO_DATA", "") not in ("", "0")
        base.missing_module = os.environ.get("FAKE_MISSING_MODULE") or None
        return base

    def check_imports(self) -> None:
        if self.missing_module:
            raise ModuleNotFoundError(f"No module named '{self.missing_module}'", name=self.missing_module)

    def after_step(self, step: int) -> None:
        """Called once a step is done and shown: hang, or die the way the host kills a process."""
        if self.kill_after is not None and step >= self.kill_after:
            os.kill(os.getpid(), signal.SIGKILL)  # host OOM killer: no traceback, exit 137 / -9
        if self.hang_after is not None and step >= self.hang_after:
            while True:  # alive, silent, interruptible by SIGTERM
                time.sleep(3600)


def oom_message(requested_gb: float, budget_gb: float) -> str:
    """The PyTorch >= 2.4 wording (reference sd-scripts.md section 4.4)."""
    total = budget_gb
    in_use = max(total - 0.04, 0.0)
    return (
        "CUDA out of memory. Tried to allocate 90.00 MiB. "
        f"GPU 0 has a total capacity of {total:.2f} GiB of which 41.75 MiB is free. "
        f"Including non-PyTorch memory, this process has {in_use:.2f} GiB memory in use. "
        f"Of the allocated memory {max(in_use - 0.41, 0.0):.2f} GiB is allocated by PyTorch, and 5.97 MiB is reserved "
        "by PyTorch but unallocated. If reserved but unallocated memory is large try setting "
        "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.  See documentation for Memory "
        "Management  (https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)"
    )


def backward(requested_gb: float, faults: Faults, step: int) -> None:
    """Stands in for `accelerator.backward(loss)`, where a CUDA OOM typically surfaces."""
    over_budget = faults.vram_gb is not None and requested_gb > faults.vram_gb
    leaked = faults.oom_after is not None and step > faults.oom_after
    if over_budget or leaked:
        raise OutOfMemoryError(oom_message(requested_gb, faults.vram_gb or requested_gb))
