"""Builders for the environment-check tests: a fake NVML, trainer checkouts, plans, Wan headers.

No GPU is needed: `fake_nvml` stands in for nvidia-ml-py with the cards a test describes, and
`fake_trainer_python` points the probe at a trainer Python (a real venv from `fake_venv`, or this
interpreter) with tests/fakes/site on PYTHONPATH.

REAL-MACHINE FIXTURE: a `loragate env --json` report captured on a real GPU machine belongs in
tests/fixtures/env/ (e.g. `runpod-h100.json`) with a test that replays its NVML and probe
answers. None has been captured yet; do not invent one.
"""

from __future__ import annotations

import os
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from loragate.core.plan import DatasetSpec, ExpertPlan, MemorySpec, NetworkSpec, TrainingPlan, WeightPaths
from loragate.plan.store import save_plan
from tests.media import write_safetensors_header
from tests.trainer_venvs import make_venv

FAKE_SITE = Path(__file__).parent / "fakes" / "site"
MIB = 1024**2
GIB = 1024**3


@dataclass
class FakeCard:
    name: str
    total_gib: float
    free_gib: float
    capability: tuple[int, int]
    processes: list[tuple[int, str, float]] = field(default_factory=list)  # pid, name, GiB


RTX_5090 = FakeCard("NVIDIA GeForce RTX 5090", 31.84, 31.3, (12, 0))
H100 = FakeCard("NVIDIA H100 80GB HBM3", 79.65, 79.1, (9, 0))
RTX_4090 = FakeCard("NVIDIA GeForce RTX 4090", 23.99, 23.5, (8, 9))
T4 = FakeCard("Tesla T4", 15.0, 14.6, (7, 5))


class NVMLError(Exception):
    pass


def fake_nvml(cards: list[FakeCard], driver: str = "570.124.06", cuda: int = 12080, init_error: str | None = None) -> types.ModuleType:
    """A module with the nvidia-ml-py functions loragate calls, answering for `cards`."""
    module = types.ModuleType("pynvml")
    module.NVMLError = NVMLError  # type: ignore[attr-defined]

    def init() -> None:
        if init_error:
            raise NVMLError(init_error)

    def proc_list(handle: int) -> list[types.SimpleNamespace]:
        return [types.SimpleNamespace(pid=pid, usedGpuMemory=int(gib * GIB)) for pid, _, gib in cards[handle].processes]

    names = {pid: name for card in cards for pid, name, _ in card.processes}
    module.nvmlInit = init  # type: ignore[attr-defined]
    module.nvmlShutdown = lambda: None  # type: ignore[attr-defined]
    module.nvmlSystemGetDriverVersion = lambda: driver  # type: ignore[attr-defined]
    module.nvmlSystemGetCudaDriverVersion = lambda: cuda  # type: ignore[attr-defined]
    module.nvmlSystemGetCudaDriverVersion_v2 = lambda: cuda  # type: ignore[attr-defined]
    module.nvmlDeviceGetCount = lambda: len(cards)  # type: ignore[attr-defined]
    module.nvmlDeviceGetHandleByIndex = lambda i: i  # type: ignore[attr-defined]
    module.nvmlDeviceGetName = lambda h: cards[h].name  # type: ignore[attr-defined]
    module.nvmlDeviceGetUUID = lambda h: f"GPU-{h:08d}-{cards[h].name.replace(' ', '')}"  # type: ignore[attr-defined]
    module.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(  # type: ignore[attr-defined]
        total=int(cards[h].total_gib * GIB), free=int(cards[h].free_gib * GIB), used=int((cards[h].total_gib - cards[h].free_gib) * GIB)
    )
    module.nvmlDeviceGetCudaComputeCapability = lambda h: cards[h].capability  # type: ignore[attr-defined]
    module.nvmlDeviceGetComputeRunningProcesses = proc_list  # type: ignore[attr-defined]
    module.nvmlDeviceGetGraphicsRunningProcesses = lambda h: []  # type: ignore[attr-defined]
    module.nvmlSystemGetProcessName = lambda pid: names[pid]  # type: ignore[attr-defined]
    return module


def use_nvml(monkeypatch: pytest.MonkeyPatch, module: types.ModuleType | None) -> None:
    """Install a fake pynvml, or make `import pynvml` fail (None)."""
    monkeypatch.setitem(sys.modules, "pynvml", module)


def fake_venv(root: Path, launcher: bool = True) -> Path:
    """root/venv: a real virtual environment holding safetensors (the fake site on PYTHONPATH stands
    for the torch stack), with an `accelerate` launcher beside its python as pip leaves it."""
    python = make_venv(root / "venv")
    if launcher:
        accelerate = python.parent / "accelerate"
        accelerate.write_text("#!/bin/sh\nexit 0\n")
        accelerate.chmod(0o755)
    return python


def fake_trainer_python(monkeypatch: pytest.MonkeyPatch, *extra_paths: Path, python: Path | None = None, **torch: str) -> None:
    """The probe runs `python` (default: this interpreter) with the fake site first on PYTHONPATH; torch
    settings by keyword (version='2.5.1+cu124', cuda='12.4', archs='sm_80,sm_90', available='1', ...)."""
    monkeypatch.setenv("LORAGATE_TRAINER_PYTHON", str(python or sys.executable))
    paths = [str(p) for p in extra_paths] + [str(FAKE_SITE)]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    for key in ("VERSION", "CUDA", "ARCHS", "DEVICE", "WARNING", "BROKEN", "SLEEP"):
        monkeypatch.delenv(f"LORAGATE_FAKE_TORCH_{key}", raising=False)
    monkeypatch.delenv("LORAGATE_FAKE_CUDA_AVAILABLE", raising=False)
    for key, value in torch.items():
        name = "LORAGATE_FAKE_CUDA_AVAILABLE" if key == "available" else f"LORAGATE_FAKE_TORCH_{key.upper()}"
        monkeypatch.setenv(name, value)


def make_checkout(root: Path, backend: str = "musubi", commit: str = "30c658c4f4b0bf05038b3346eff9670259b10fc7", dependencies: list[str] | None = None) -> Path:
    """A minimal trainer checkout: its marker files, pyproject/requirements and a .git with HEAD."""
    if backend == "musubi":
        folder = root / "musubi-tuner"
        pkg = folder / "src" / "musubi_tuner"
        pkg.mkdir(parents=True, exist_ok=True)
        for script in ("__init__.py", "wan_train_network.py", "wan_cache_latents.py", "wan_cache_text_encoder_outputs.py"):
            (pkg / script).write_text("")
        deps = dependencies if dependencies is not None else ["accelerate==1.6.0", "transformers==4.57.6", "diffusers==0.32.1", "safetensors>=0.4", "bitsandbytes"]
        quoted = ", ".join(f'"{d}"' for d in deps)
        (folder / "pyproject.toml").write_text(f'[project]\nname = "musubi-tuner"\nversion = "0.3.4"\ndependencies = [{quoted}]\n')
    else:
        folder = root / "sd-scripts"
        (folder / "library").mkdir(parents=True, exist_ok=True)
        for script in ("train_network.py", "sdxl_train_network.py", "flux_train_network.py", "library/train_util.py", "library/__init__.py"):
            (folder / script).write_text("")
        deps = dependencies if dependencies is not None else ["accelerate==1.6.0", "transformers==4.54.1", "diffusers[torch]==0.32.1", "bitsandbytes", "-e ."]
        (folder / "requirements.txt").write_text("\n".join(deps) + "\n")
    git = folder / ".git"
    (git / "refs" / "heads").mkdir(parents=True, exist_ok=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "refs" / "heads" / "main").write_text(commit + "\n")
    return folder


def wan_dit(path: Path, dim: int = 5120, in_dim: int = 16, layers: int = 40, image_keys: bool = False, dtype: str = "BF16", prefix: str = "",
            first_last_frame: bool = False) -> Path:
    """A Wan DiT header with the real key names and shapes (sparse: no disk use); `first_last_frame`
    adds FLF2V's img_emb.emb_pos (musubi-tuner wan/modules/model.py:522-523: shape 1 x 514 x 1280)."""
    tensors: dict[str, tuple[str, list[int]]] = {f"{prefix}patch_embedding.weight": (dtype, [dim, in_dim, 1, 2, 2])}
    for block in range(layers):
        tensors[f"{prefix}blocks.{block}.self_attn.q.weight"] = (dtype, [dim, dim])
    tensors[f"{prefix}blocks.0.cross_attn.k.weight"] = (dtype, [dim, dim])
    if image_keys:
        tensors[f"{prefix}blocks.0.cross_attn.k_img.weight"] = (dtype, [dim, dim])
        tensors[f"{prefix}img_emb.proj.1.weight"] = (dtype, [dim, 1280])
    if first_last_frame:
        tensors[f"{prefix}img_emb.emb_pos"] = (dtype, [1, 514, 1280])
    return write_safetensors_header(path, tensors)


def wan_vae(path: Path, z_dim: int = 16) -> Path:
    return write_safetensors_header(
        path,
        {"conv1.weight": ("BF16", [z_dim * 2, z_dim * 2, 1, 1, 1]), "conv2.weight": ("BF16", [z_dim, z_dim, 1, 1, 1]),
         "encoder.conv1.weight": ("BF16", [96, 3, 3, 3, 3]), "decoder.conv1.weight": ("BF16", [384, z_dim, 3, 3, 3])},
    )


def wan_plan(root: Path, model: str = "wan2.2-t2v-a14b", weights: dict[str, str] | None = None, trainer_python: str | None = None, **memory: object) -> TrainingPlan:
    """A saved Wan plan with header-only weight files under root/models (override by role)."""
    models = root / "models"
    files = {
        "dit": str(wan_dit(models / "wan2.2_t2v_low_noise_14B_fp16.safetensors", dtype="F16")),
        "vae": str(wan_vae(models / "wan_2.1_vae.safetensors")),
        "t5": str(write_safetensors_header(models / "umt5-xxl-enc-bf16.safetensors", {"token_embedding.weight": ("BF16", [256384, 4096])})),
    }
    files.update(weights or {})
    data = root / "datasets" / "mira"
    (data / "Images").mkdir(parents=True, exist_ok=True)
    plan = TrainingPlan(
        name="mira",
        model=model,
        backend="musubi",
        trigger="mira",
        output_dir=str(root / "output"),
        output_name="mira",
        trainer_python=trainer_python,
        dataset=DatasetSpec(path=str(data), image_dir=str(data / "Images"), image_count=20, resolution=(960, 544), cache_dir=str(root / "cache")),
        weights=WeightPaths(**{k: v for k, v in files.items() if not k.startswith("expert:")}),
        network=NetworkSpec(module="networks.lora_wan", dim=16, alpha=16),
        memory=MemorySpec(**{"mixed_precision": "fp16", "fp8_base": True, **memory}),
        experts=[ExpertPlan(expert=k.split(":")[1], dit=v, min_timestep=0, max_timestep=875, output_name=f"mira_{k.split(':')[1]}") for k, v in files.items() if k.startswith("expert:")],  # type: ignore[arg-type]
    )
    save_plan(plan)
    return plan
