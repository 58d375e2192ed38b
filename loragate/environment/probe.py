"""Ask the trainer's own interpreter what it holds: torch and its CUDA build, packages, accelerate.

loragate never imports torch. `probe_script.py` runs as a file under the trainer's Python (argv
list, no shell, a timeout) and answers in JSON; this module starts it and types the answer.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from loragate.environment.probe_script import MARKER

PROBE_SCRIPT = Path(__file__).with_name("probe_script.py")
# A cold network volume on a pod can take tens of seconds to import torch the first time.
DEFAULT_TIMEOUT_S = 120.0


class TorchInfo(BaseModel):
    installed: bool = False
    error: str | None = Field(default=None, description="Why `import torch` failed.")
    version: str | None = None
    cuda_build: str | None = Field(default=None, description="torch.version.cuda: the CUDA the wheel was built for; None for CPU-only.")
    hip_build: str | None = None
    arch_list: list[str] = Field(default_factory=list, description="torch.cuda.get_arch_list(): GPU generations compiled in.")
    cuda_available: bool = False
    cuda_error: str | None = None
    warnings: list[str] = Field(default_factory=list, description="What torch warned while looking for a GPU.")
    cudnn_version: int | None = None
    devices: list[dict[str, Any]] = Field(default_factory=list)
    bf16_supported: bool | None = None
    import_seconds: float | None = None


class ImportResult(BaseModel):
    ok: bool
    error: str | None = None
    seconds: float | None = None


class AccelerateConfig(BaseModel):
    path: str
    exists: bool = False
    values: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


class PythonInfo(BaseModel):
    executable: str
    version: str
    prefix: str = ""
    in_venv: bool = False


class ProbeResult(BaseModel):
    """What the trainer's interpreter reported, or why it could not report."""

    interpreter: str
    ran: bool = False
    error: str | None = Field(default=None, description="Why the probe gave no answer (missing interpreter, timeout, crash).")
    seconds: float | None = None
    python: PythonInfo | None = None
    markers: dict[str, str] = Field(default_factory=dict)
    cuda_visible_devices: str | None = None
    torch: TorchInfo = Field(default_factory=TorchInfo)
    dists: dict[str, str | None] = Field(default_factory=dict, description="Installed version of each distribution, None when absent.")
    imports: dict[str, ImportResult] = Field(default_factory=dict)
    finds: dict[str, str | None] = Field(default_factory=dict, description="Where each module would be imported from, None when absent.")
    accelerate_config: AccelerateConfig | None = None


class ProbeRequest(BaseModel):
    dists: list[str] = Field(default_factory=list)
    imports: list[str] = Field(default_factory=list)
    finds: list[str] = Field(default_factory=list)


def probe_timeout() -> float:
    try:
        return float(os.environ.get("LORAGATE_PROBE_TIMEOUT", DEFAULT_TIMEOUT_S))
    except ValueError:
        return DEFAULT_TIMEOUT_S


def run_probe(interpreter: str, request: ProbeRequest, cwd: Path | None = None, timeout: float | None = None) -> ProbeResult:
    """Run the probe under `interpreter`. Never raises: a failure is described in the result."""
    import time

    timeout = probe_timeout() if timeout is None else timeout
    argv = [interpreter, str(PROBE_SCRIPT), request.model_dump_json()]
    start = time.monotonic()
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=str(cwd) if cwd and cwd.is_dir() else None,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        return ProbeResult(interpreter=interpreter, error=f"the interpreter {interpreter} does not exist")
    except PermissionError:
        return ProbeResult(interpreter=interpreter, error=f"the interpreter {interpreter} cannot be executed")
    except subprocess.TimeoutExpired:
        return ProbeResult(interpreter=interpreter, error=f"no answer within {timeout:.0f} s (importing torch hung)")
    except OSError as exc:
        return ProbeResult(interpreter=interpreter, error=f"could not start: {exc}")
    seconds = round(time.monotonic() - start, 3)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(MARKER):
            try:
                data = json.loads(line[len(MARKER) :])
                return ProbeResult.model_validate({"interpreter": interpreter, "ran": True, "seconds": seconds, **data})
            except ValueError as exc:
                return ProbeResult(interpreter=interpreter, seconds=seconds, error=f"unreadable answer ({exc.__class__.__name__})")
    tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
    return ProbeResult(interpreter=interpreter, seconds=seconds, error=f"exited with code {done.returncode}: {tail[0][:300]}")
