"""Does the trainer's PyTorch run on this GPU and driver? If not, the exact command that fixes it.

The facts (driver minimums, the CUDA builds of each torch release, what each GPU generation
needs) are data in `loragate/data/cuda_matrix.toml`; this module only reasons over them.
"""

from __future__ import annotations

import re
import sys
from functools import lru_cache

from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field

from loragate.environment.gpu import GpuSection
from loragate.catalog.datafile import read_data_toml
from loragate.environment.probe import ProbeResult
from loragate.core.findings import Finding


class DriverMinimum(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key in the data file is an error

    min_driver_linux: str
    min_driver_windows: str


class TorchRelease(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key in the data file is an error

    torchvision: str
    builds: list[str]
    oldest_arch: dict[str, str] = Field(
        default_factory=dict, description="Per build tag, the oldest compute capability it has code for, when a build dropped older GPUs."
    )


class ArchFacts(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key in the data file is an error

    capability: str
    generation: str
    min_cuda: str
    min_torch: str
    bf16: bool


class CudaMatrix(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key in the data file is an error

    index_url: str
    cuda_major: dict[str, DriverMinimum]
    cuda: dict[str, DriverMinimum]
    torch: dict[str, TorchRelease]
    arch: list[ArchFacts]


class TorchFix(BaseModel):
    """A torch install that works here, and the command that installs it."""

    torch: str
    torchvision: str
    build: str = Field(description="Wheel tag, e.g. cu128.")
    command: str


@lru_cache(maxsize=1)
def load_matrix() -> CudaMatrix:
    return CudaMatrix.model_validate(read_data_toml("cuda_matrix.toml"))


def version_of(text: str | None) -> Version | None:
    """'2.5.1+cu124' -> 2.5.1; None when absent or unreadable."""
    if not text:
        return None
    try:
        return Version(Version(str(text).strip()).base_version)
    except InvalidVersion:
        return None


def build_cuda(build: str) -> Version:
    """'cu128' -> 12.8, 'cu118' -> 11.8, 'cu130' -> 13.0."""
    digits = build.removeprefix("cu")
    return Version(f"{digits[:-1]}.{digits[-1]}")


def build_tag(cuda: str) -> str:
    """'12.8' -> 'cu128'."""
    major, minor = (cuda.split(".") + ["0"])[:2]
    return f"cu{major}{minor}"


def arch_facts(capability: tuple[int, int]) -> ArchFacts | None:
    """The generation of a compute capability; an unknown newer one counts as the newest known below it."""
    known = sorted(load_matrix().arch, key=lambda a: version_of(a.capability) or Version("0"))
    target = Version(f"{capability[0]}.{capability[1]}")
    below = [a for a in known if (version_of(a.capability) or Version("0")) <= target]
    return below[-1] if below else None


_ARCH = re.compile(r"^(sm|compute)_(\d+)(\d)([af]?)$")


def build_runs_on(arch_list: list[str], capability: tuple[int, int]) -> bool:
    """Whether code compiled for `arch_list` runs on a GPU of this capability.

    CUDA binary compatibility: sm_XY machine code runs on X.Z for Z >= Y (same major only);
    'a' variants only on exactly that GPU; compute_XY (PTX) is compiled by the driver for any
    newer GPU.
    """
    major, minor = capability
    for arch in arch_list:
        match = _ARCH.match(arch.strip())
        if not match:
            continue
        kind, a_major, a_minor, suffix = match.group(1), int(match.group(2)), int(match.group(3)), match.group(4)
        if kind == "compute" and (a_major, a_minor) <= (major, minor):
            return True
        if kind == "sm" and suffix == "a" and (a_major, a_minor) == (major, minor):
            return True
        if kind == "sm" and suffix != "a" and a_major == major and a_minor <= minor:
            return True
    return False


def _driver_minimum(cuda: Version, windows: bool) -> str | None:
    entry = load_matrix().cuda.get(f"{cuda.major}.{cuda.minor}")
    if entry is None:
        return None
    return entry.min_driver_windows if windows else entry.min_driver_linux


def _major_minimum(cuda: Version, windows: bool) -> Version | None:
    entry = load_matrix().cuda_major.get(str(cuda.major))
    if entry is None:
        return None
    return version_of(entry.min_driver_windows if windows else entry.min_driver_linux)


def install_command(python: str, torch: str, torchvision: str, build: str) -> str:
    index = load_matrix().index_url.format(build=build)
    return f"{python} -m pip install torch=={torch} torchvision=={torchvision} --index-url {index}"


def recommend_torch(
    python: str,
    capability: tuple[int, int] | None,
    driver_cuda: str | None,
    min_torch: str | None,
    current: str | None = None,
) -> TorchFix | None:
    """The smallest change that gives a build for this GPU, this driver and this trainer.

    Keeps the installed torch version when one of its builds fits; otherwise takes the oldest
    release series that fits (its latest patch), with the newest CUDA build the driver fully
    supports. None when no published build fits: then the driver is what must change.
    """
    matrix = load_matrix()
    arch = arch_facts(capability) if capability else None
    floor = max(v for v in (version_of(min_torch), version_of(arch.min_torch if arch else None), Version("0")) if v is not None)
    need_cuda = version_of(arch.min_cuda) if arch else None
    driver = version_of(driver_cuda)
    fits: list[tuple[Version, str]] = []
    gpu_v = Version(f"{capability[0]}.{capability[1]}") if capability else None
    for text, release in matrix.torch.items():
        torch_v = Version(text)
        if torch_v < floor:
            continue
        for build in release.builds:
            oldest = version_of(release.oldest_arch.get(build))
            if gpu_v is not None and oldest is not None and gpu_v < oldest:
                continue  # this build has no code for so old a GPU
            cuda = build_cuda(build)
            if need_cuda is not None and cuda < need_cuda:
                continue
            if driver is not None and cuda > driver:
                continue
            fits.append((torch_v, build))
    if not fits:
        return None
    current_v = version_of(current)
    same = [f for f in fits if f[0] == current_v]
    if same:
        chosen_version = current_v
    else:
        oldest = min(v for v, _ in fits)
        series = [v for v, _ in fits if (v.major, v.minor) == (oldest.major, oldest.minor)]
        chosen_version = max(series)
    builds = sorted((b for v, b in fits if v == chosen_version), key=build_cuda)
    if driver is None and "cu128" in builds:
        build = "cu128"  # no driver to match: the build that covers every current GPU generation
    else:
        build = builds[-1]
    version_text = str(chosen_version)
    torchvision = matrix.torch[version_text].torchvision
    return TorchFix(torch=version_text, torchvision=torchvision, build=build, command=install_command(python, version_text, torchvision, build))


def _driver_fix(need_cuda: str, windows: bool) -> str:
    minimum = _driver_minimum(Version(need_cuda), windows)
    driver = f"{minimum} or newer" if minimum else f"one that supports CUDA {need_cuda}"
    return (
        f"Update the NVIDIA driver to {driver}. On a rented pod, pick a machine or template whose driver "
        f"supports CUDA {need_cuda} (RunPod lets you filter by CUDA version) instead."
    )


def torch_findings(
    gpu_section: GpuSection,
    probe: ProbeResult,
    python: str,
    min_torch: str | None,
    trainer_name: str,
    mixed_precision: str | None = None,
) -> list[Finding]:
    """PyTorch in the trainer's environment against the GPU, the driver and the trainer's needs."""
    torch = probe.torch
    gpu = gpu_section.gpus[0] if gpu_section.available and gpu_section.gpus else None
    capability = gpu.compute_capability if gpu else None
    if capability is None and torch.devices:
        capability = tuple(torch.devices[0].get("capability", [])[:2]) or None
    windows = probe.markers.get("sys_platform", sys.platform) == "win32"
    fix = recommend_torch(python, capability, gpu_section.cuda_driver_version, min_torch, torch.version)
    fix_text = f"Install a matching build into the trainer's environment: `{fix.command}`" if fix else ""
    findings: list[Finding] = []

    if not torch.installed:
        return [
            Finding(
                code="ENV_TORCH_MISSING",
                severity="block",
                message=f"PyTorch cannot be imported by the trainer's Python ({python}): {torch.error or 'not installed'}.",
                fix=fix_text or f"Install PyTorch {min_torch or ''} with CUDA into that environment.",
                evidence={"python": python, "error": torch.error},
            )
        ]
    installed = version_of(torch.version)
    evidence = {"torch": torch.version, "cuda_build": torch.cuda_build, "arch_list": torch.arch_list}
    if torch.hip_build and not torch.cuda_build:
        return [
            Finding(
                code="ENV_TORCH_ROCM",
                severity="block",
                message=f"This PyTorch ({torch.version}) is built for AMD GPUs (ROCm {torch.hip_build}); {trainer_name} is run on NVIDIA GPUs here.",
                fix=fix_text or "Install a CUDA build of PyTorch.",
                evidence=evidence,
            )
        ]
    if not torch.cuda_build:
        findings.append(
            Finding(
                code="ENV_TORCH_CPU_ONLY",
                severity="block",
                message=f"The trainer's PyTorch ({torch.version}) is a CPU-only build: it cannot use any GPU.",
                fix=fix_text or "Install a CUDA build of PyTorch from https://pytorch.org/get-started/previous-versions/.",
                evidence=evidence,
            )
        )
        return findings
    if installed is not None and version_of(min_torch) is not None and installed < version_of(min_torch):  # type: ignore[operator]
        findings.append(
            Finding(
                code="ENV_TORCH_TOO_OLD",
                severity="block",
                message=f"{trainer_name} needs PyTorch {min_torch} or newer; the trainer's environment has {torch.version}.",
                fix=fix_text or f"Install PyTorch {min_torch} or newer.",
                evidence=evidence,
            )
        )
    if gpu is None or capability is None:
        return findings  # ENV_NO_GPU already says the rest

    build = version_of(torch.cuda_build)
    arch = arch_facts(capability)
    if torch.arch_list and not build_runs_on(torch.arch_list, capability):
        need = f"; the {arch.generation.split(' (')[0]} generation needs a CUDA {arch.min_cuda} build (PyTorch {arch.min_torch} or newer)" if arch else ""
        findings.append(
            Finding(
                code="ENV_TORCH_ARCH_UNSUPPORTED",
                severity="block",
                message=(
                    f"This PyTorch ({torch.version}, CUDA {torch.cuda_build}) has no code for the {gpu.name} "
                    f"(compute capability {capability[0]}.{capability[1]}, sm_{capability[0]}{capability[1]}): it was built for "
                    f"{', '.join(torch.arch_list)}{need}. Training would stop with 'no kernel image is available'."
                ),
                fix=fix_text or _driver_fix(arch.min_cuda if arch else "12.8", windows),
                evidence={**evidence, "gpu": gpu.name, "capability": list(capability)},
            )
        )
    driver_cuda = version_of(gpu_section.cuda_driver_version)
    driver = version_of(gpu_section.driver_version)
    if build is not None and driver_cuda is not None and build > driver_cuda:
        major_min = _major_minimum(build, windows)
        compatible = build.major == driver_cuda.major and driver is not None and major_min is not None and driver >= major_min
        if compatible:
            findings.append(
                Finding(
                    code="ENV_DRIVER_OLDER_THAN_BUILD",
                    severity="warn",
                    message=(
                        f"PyTorch was built for CUDA {torch.cuda_build} but the driver ({gpu_section.driver_version}) supports CUDA "
                        f"{gpu_section.cuda_driver_version}. It runs through CUDA minor-version compatibility, with a limited feature set."
                    ),
                    fix=fix_text or _driver_fix(torch.cuda_build or "", windows),
                    evidence={**evidence, "driver": gpu_section.driver_version, "driver_cuda": gpu_section.cuda_driver_version},
                )
            )
        else:
            findings.append(
                Finding(
                    code="ENV_DRIVER_TOO_OLD",
                    severity="block",
                    message=(
                        f"The NVIDIA driver {gpu_section.driver_version} supports CUDA up to {gpu_section.cuda_driver_version}, "
                        f"but the trainer's PyTorch needs CUDA {torch.cuda_build}: PyTorch will not find the GPU."
                    ),
                    fix=fix_text or _driver_fix(torch.cuda_build or "", windows),
                    evidence={**evidence, "driver": gpu_section.driver_version, "driver_cuda": gpu_section.cuda_driver_version},
                )
            )
    if not torch.cuda_available and not any(f.code in {"ENV_DRIVER_TOO_OLD", "ENV_TORCH_ARCH_UNSUPPORTED"} for f in findings):
        hidden = probe.cuda_visible_devices is not None and probe.cuda_visible_devices.strip() in {"", "-1"}
        why = "; ".join(torch.warnings) or torch.cuda_error or "torch.cuda.is_available() returned False"
        findings.append(
            Finding(
                code="ENV_TORCH_NO_CUDA",
                severity="block",
                message=f"The GPU is there but the trainer's PyTorch cannot use it: {why}.",
                fix=(
                    "CUDA_VISIBLE_DEVICES hides every GPU from this shell; unset it."
                    if hidden
                    else "Run `nvidia-smi` to check the driver, then reinstall PyTorch for this driver"
                    + (f": `{fix.command}`" if fix else ".")
                ),
                evidence={**evidence, "warnings": torch.warnings, "cuda_visible_devices": probe.cuda_visible_devices},
            )
        )
    if torch.cuda_available and torch.cudnn_version is None:
        findings.append(
            Finding(
                code="ENV_CUDNN_MISSING",
                severity="warn",
                message="PyTorch sees the GPU but not cuDNN, so convolutions (the VAE) run slowly or fail.",
                fix=fix_text or "Reinstall PyTorch from the official index, which bundles cuDNN.",
                evidence=evidence,
            )
        )
    if mixed_precision == "bf16" and arch is not None and not arch.bf16:
        findings.append(
            Finding(
                code="ENV_BF16_UNSUPPORTED",
                severity="block",
                message=f"The plan trains in bf16, which the {gpu.name} ({arch.generation.split(' (')[0]}) cannot compute.",
                fix="Make the plan again with fp16 mixed precision, or use a GPU of compute capability 8.0 or newer (RTX 30-series, A100 and later).",
                evidence={"gpu": gpu.name, "capability": list(capability), "mixed_precision": mixed_precision},
            )
        )
    return findings


def torchvision_findings(probe: ProbeResult, python: str, fix: TorchFix | None) -> list[Finding]:
    """torchvision must be the release made with the installed torch, or it fails at import."""
    torch_v = version_of(probe.torch.version)
    tv = probe.dists.get("torchvision")
    result = probe.imports.get("torchvision")
    if not probe.torch.installed or torch_v is None:
        return []
    release = load_matrix().torch.get(str(torch_v))
    command = fix.command if fix else (install_command(python, str(torch_v), release.torchvision, build_tag(probe.torch.cuda_build)) if release and probe.torch.cuda_build else "")
    if tv is None:
        return []  # torchvision is optional for both trainers' training scripts
    if result is not None and not result.ok:
        return [
            Finding(
                code="ENV_TORCHVISION_BROKEN",
                severity="block",
                message=f"torchvision {tv} does not import with PyTorch {probe.torch.version}: {result.error}.",
                fix=f"Install the torchvision made for this PyTorch: `{command}`" if command else "Reinstall torchvision for this PyTorch.",
                evidence={"torch": probe.torch.version, "torchvision": tv},
            )
        ]
    if release is not None and version_of(tv) != version_of(release.torchvision):
        return [
            Finding(
                code="ENV_TORCHVISION_MISMATCH",
                severity="warn",
                message=f"torchvision {tv} was not released with PyTorch {probe.torch.version} (that is torchvision {release.torchvision}).",
                fix=f"`{command}`" if command else f"Install torchvision {release.torchvision}.",
                evidence={"torch": probe.torch.version, "torchvision": tv, "expected": release.torchvision},
            )
        ]
    return []
