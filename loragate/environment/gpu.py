"""The GPUs as the NVIDIA driver sees them (NVML through nvidia-ml-py), without torch.

No driver, no GPU or no NVML library is an answer (`available=False` with the reason), never an
exception: Gate 3 turns it into ENV_NO_GPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from loragate.core.findings import Finding
from loragate.core.nextstep import step

GIB = 1024**3


class GpuProcess(BaseModel):
    pid: int
    name: str = ""
    used_gb: float | None = Field(default=None, description="GPU memory it holds; None when the driver does not say.")


class GpuInfo(BaseModel):
    index: int
    name: str
    uuid: str = ""
    memory_total_gb: float
    memory_free_gb: float
    compute_capability: tuple[int, int] | None = Field(default=None, description="(major, minor), e.g. (8, 9) for an RTX 4090.")
    processes: list[GpuProcess] = Field(default_factory=list, description="Other programs using the card now.")


class GpuSection(BaseModel):
    available: bool = False
    reason: str | None = Field(default=None, description="Why no GPU could be read.")
    driver_version: str | None = None
    cuda_driver_version: str | None = Field(default=None, description="Newest CUDA the driver supports, e.g. '12.8' (what nvidia-smi shows).")
    gpus: list[GpuInfo] = Field(default_factory=list)


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _process_name(nvml: Any, pid: int) -> str:
    try:
        return _text(nvml.nvmlSystemGetProcessName(pid)).rsplit("/", 1)[-1]
    except Exception:  # noqa: BLE001 - processes in other containers are hidden from NVML
        try:
            return Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            return ""


def _processes(nvml: Any, handle: Any) -> list[GpuProcess]:
    seen: dict[int, GpuProcess] = {}
    for getter in ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetGraphicsRunningProcesses"):
        try:
            procs = getattr(nvml, getter)(handle)
        except Exception:  # noqa: BLE001 - not supported on every card / driver
            continue
        for proc in procs:
            pid = int(proc.pid)
            used = getattr(proc, "usedGpuMemory", None)
            used_gb = round(used / GIB, 2) if isinstance(used, int) and used >= 0 else None
            if pid not in seen:
                seen[pid] = GpuProcess(pid=pid, name=_process_name(nvml, pid), used_gb=used_gb)
    return sorted(seen.values(), key=lambda p: p.pid)


def _cuda_version(nvml: Any) -> str | None:
    for getter in ("nvmlSystemGetCudaDriverVersion_v2", "nvmlSystemGetCudaDriverVersion"):
        try:
            value = int(getattr(nvml, getter)())
        except Exception:  # noqa: BLE001
            continue
        if value > 0:  # 12080 -> "12.8"
            return f"{value // 1000}.{(value % 1000) // 10}"
    return None


def read_gpus() -> GpuSection:
    """Every GPU with its memory, compute capability and the processes already on it."""
    try:
        import pynvml  # nvidia-ml-py; lazy so the CLI starts fast and machines without it still work
    except ImportError:
        return GpuSection(reason="the NVIDIA management library for Python (nvidia-ml-py) is not installed")
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # noqa: BLE001 - NVMLError_LibraryNotFound, DriverNotLoaded, NoPermission...
        return GpuSection(reason=f"the NVIDIA driver did not answer ({_text(exc) or exc.__class__.__name__})")
    try:
        section = GpuSection(available=True, cuda_driver_version=_cuda_version(pynvml))
        try:
            section.driver_version = _text(pynvml.nvmlSystemGetDriverVersion())
        except Exception:  # noqa: BLE001
            pass
        count = int(pynvml.nvmlDeviceGetCount())
        for index in range(count):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            try:
                major, minor = pynvml.nvmlDeviceGetCudaComputeCapability(handle)
                capability: tuple[int, int] | None = (int(major), int(minor))
            except Exception:  # noqa: BLE001
                capability = None
            try:
                uuid = _text(pynvml.nvmlDeviceGetUUID(handle))
            except Exception:  # noqa: BLE001
                uuid = ""
            section.gpus.append(
                GpuInfo(
                    index=index,
                    name=_text(pynvml.nvmlDeviceGetName(handle)),
                    uuid=uuid,
                    memory_total_gb=round(memory.total / GIB, 2),
                    memory_free_gb=round(memory.free / GIB, 2),
                    compute_capability=capability,
                    processes=_processes(pynvml, handle),
                )
            )
        if not section.gpus:
            return GpuSection(reason="the NVIDIA driver is loaded but reports no GPU", driver_version=section.driver_version)
        return section
    except Exception as exc:  # noqa: BLE001 - a half-broken driver is still not a crash
        return GpuSection(reason=f"the NVIDIA driver gave an error ({_text(exc) or exc.__class__.__name__})")
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:  # noqa: BLE001
            pass


def gpu_findings(section: GpuSection, need_gb: float | None) -> list[Finding]:
    """No GPU; a card smaller than the plan; memory already taken by other programs."""
    if not section.available or not section.gpus:
        return [
            Finding(
                code="ENV_NO_GPU",
                severity="block",
                message=f"No NVIDIA GPU can be used here: {section.reason or 'none was found'}. Training needs one.",
                fix=(
                    "Run this check on the machine that will train (the GPU pod or PC). If it is that machine, "
                    "check that `nvidia-smi` lists the card; on a pod, choose a GPU template; on your own PC, "
                    "install or repair the NVIDIA driver."
                ),
                evidence={"reason": section.reason},
            )
        ]
    findings: list[Finding] = []
    gpu = section.gpus[0]  # the trainers use device 0 (one process per GPU)
    if need_gb is not None and gpu.memory_total_gb + 0.5 < need_gb:
        findings.append(
            Finding(
                code="ENV_GPU_TOO_SMALL",
                severity="block",
                message=f"The plan needs about {need_gb:.0f} GB of GPU memory but the {gpu.name} has {gpu.memory_total_gb:.0f} GB.",
                fix=f"Make the plan again for this card's {gpu.memory_total_gb:.0f} GB, so it fits it, or rent a larger GPU.",
                evidence={"gpu": gpu.name, "total_gb": gpu.memory_total_gb, "plan_gb": need_gb},
                next=step("generate_config", gpu_gb=round(gpu.memory_total_gb)),
            )
        )
    others = list(gpu.processes)
    short = need_gb is not None and gpu.memory_free_gb + 0.5 < need_gb <= gpu.memory_total_gb + 0.5
    if others or short:
        held = sum(p.used_gb or 0.0 for p in others)
        names = ", ".join(f"{p.name or 'pid'} ({p.pid})" for p in others[:5]) or "programs this machine cannot list (another container on the same card)"
        findings.append(
            Finding(
                code="ENV_GPU_BUSY",
                severity="block" if short else "warn",
                message=(
                    f"Other programs are using the {gpu.name}: {names}"
                    + (f", holding about {held:.1f} GB" if held else "")
                    + (f". Only {gpu.memory_free_gb:.1f} GB is free; the plan needs about {need_gb:.0f} GB." if short else ".")
                ),
                fix="Close them (another training, ComfyUI, a notebook) before training, or wait for them to finish.",
                evidence={"processes": [p.model_dump() for p in others], "free_gb": gpu.memory_free_gb},
            )
        )
    return findings
