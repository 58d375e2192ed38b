"""Small real plans for the run tests: a tiny dataset, header-only weights, the trainer stand-ins."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from loragate.backends import get_backend
from loragate.environment.judged import judged_subject
from loragate.gates.ledger import record_gate
from loragate.gates.standard import dataset_subject
from loragate.core.plan import DatasetSpec, DatasetSubset, ExpertPlan, MemorySpec, NetworkSpec, ScheduleSpec, TimestepSpec, TrainingPlan, WeightPaths
from loragate.plan.store import plan_path, save_plan
from loragate.runs.job import read_job
from loragate.runs.lock import pid_alive
from loragate.runs.process import is_started_group, signal_group
from loragate.workspace import project_dir
from tests.media import write_caption, write_image, write_safetensors_header

FAKES = Path(__file__).parent / "fakes"


@pytest.fixture
def fakes_env(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The stand-ins on PATH (accelerate) and fast steps; kills any process group a test left behind."""
    path = os.pathsep.join([str(FAKES / "bin"), str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    monkeypatch.setenv("PATH", path)
    monkeypatch.setenv("FAKE_STEP_SECONDS", "0.05")
    for var in ("FAKE_STAGES", "FAKE_VRAM_GB", "FAKE_OOM_AFTER", "FAKE_NAN_AFTER", "FAKE_HANG_AFTER", "FAKE_KILL_AFTER",
                "FAKE_NO_DATA", "FAKE_MISSING_MODULE", "FAKE_GPU_DIR", "LORAGATE_GPUS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LORAGATE_LOCK_DIR", str(workspace.parent / "locks"))
    yield workspace
    _kill_leftovers(workspace)


H100 = {"name": "NVIDIA H100 80GB HBM3", "total_gib": 79.65, "free_gib": 79.1, "capability": [9, 0]}


def fake_gpus(monkeypatch: pytest.MonkeyPatch, root: Path, cards: list[dict]) -> Path:
    """NVML in this process answers with `cards`, and the stand-ins share their memory through
    FAKE_GPU_DIR (the fake NVML lists them as the cards' processes); returns that folder."""
    import json

    monkeypatch.setenv("LORAGATE_FAKE_NVML", json.dumps(cards))
    folder = root.parent / "gpus"
    folder.mkdir(exist_ok=True)
    monkeypatch.setenv("FAKE_GPU_DIR", str(folder))
    monkeypatch.delitem(sys.modules, "pynvml", raising=False)
    monkeypatch.syspath_prepend(str(FAKES / "host"))
    return folder


def _kill_leftovers(workspace: Path) -> None:
    folder = workspace / "grimoire" / "training"
    if not folder.is_dir():
        return
    for project in folder.iterdir():
        try:
            job = read_job(project.name, workspace)
        except Exception:  # noqa: BLE001
            continue
        if job is None:
            continue
        started = [(p.pid, p.started_at) for p in job.processes + job.history] + [(job.supervisor_pid, job.created_at)]
        for pid, at in started:
            # only the groups this test's launch started, and only while they still are those groups:
            # a recorded pid may since have been recycled for another shell job or test run
            if pid and is_started_group(pid, at):
                signal_group(pid, signal.SIGKILL)


def _dataset(root: Path, images: int = 3, size: int = 64) -> Path:
    folder = root / "data" / "mira" / "Images"
    for i in range(images):
        write_image(folder / f"img{i:02d}.png", size, size, seed=i)
        write_caption(folder / f"img{i:02d}.txt", f"mira woman, photo {i}", "utf-8")
    return folder.parent


def wan_plan(root: Path, name: str = "mira", *, batch: int = 1, experts: bool = False, together: bool = False,
             resolution: int = 256, **memory: object) -> TrainingPlan:
    """A Wan plan on the musubi stand-in. `experts=True` gives a Wan 2.2 T2V plan with two expert runs."""
    data = _dataset(root)
    models = root / "models"
    dit_tensors = {"blocks.0.cross_attn.k.weight": ("BF16", [5120, 5120]), "patch_embedding.weight": ("BF16", [5120, 16, 1, 2, 2])}
    small = {"blocks.0.cross_attn.k.weight": ("BF16", [1536, 1536]), "patch_embedding.weight": ("BF16", [1536, 16, 1, 2, 2])}
    write_safetensors_header(models / "vae.safetensors", {"decoder.conv.weight": ("BF16", [16, 16])})
    write_safetensors_header(models / "umt5.safetensors", {"encoder.weight": ("BF16", [16, 16])})
    weights = WeightPaths(vae=str(models / "vae.safetensors"), t5=str(models / "umt5.safetensors"))
    expert_plans: list[ExpertPlan] = []
    if experts:
        model = "wan2.2-t2v-a14b"
        low = write_safetensors_header(models / "wan22_low.safetensors", dit_tensors)
        high = write_safetensors_header(models / "wan22_high.safetensors", dit_tensors)
        weights.dit, weights.dit_high_noise = str(low), str(high)
        expert_plans = [
            ExpertPlan(expert="low", dit=str(low), min_timestep=0, max_timestep=875, output_name=f"{name}_low"),
            ExpertPlan(expert="high", dit=str(high), min_timestep=875, max_timestep=1000, output_name=f"{name}_high"),
        ]
        timesteps = TimestepSpec(timestep_sampling="shift", discrete_flow_shift=3.0, preserve_distribution_shape=True)
    else:
        model = "wan2.1-t2v-1.3b"
        weights.dit = str(write_safetensors_header(models / "wan21_1.3b.safetensors", small))
        timesteps = TimestepSpec(timestep_sampling="shift", discrete_flow_shift=3.0)
    plan = TrainingPlan(
        name=name, model=model, backend="musubi", trigger="mira woman",
        trainer_dir=str(FAKES / "musubi-tuner"),
        output_dir=str(root / "output" / name), output_name=name,
        dataset=DatasetSpec(
            path=str(data), caption_extension=".txt", resolution=(resolution, resolution),
            subsets=[DatasetSubset(kind="image", path=str(data / "Images"), count=3, cache_dir=str(root / "cache" / name / "00_image"))],
            cache_dir=str(root / "cache" / name),
        ),
        weights=weights,
        network=NetworkSpec(module="networks.lora_wan", dim=8, alpha=8),
        schedule=ScheduleSpec(max_train_epochs=2, save_every_n_epochs=1, batch_size=batch),
        memory=MemorySpec(**memory),  # type: ignore[arg-type]
        timesteps=timesteps,
        experts=expert_plans,
        experts_together=together,
    )
    return _save(root, plan)


def _save(root: Path, plan: TrainingPlan) -> TrainingPlan:
    toml = project_dir(plan.name, root, create=True) / "dataset.toml"
    plan.dataset_toml = str(toml)
    toml.write_text(get_backend(plan.backend).dataset_toml(plan), encoding="utf-8")
    save_plan(plan, root)
    return plan


def pass_gates(root: Path, plan: TrainingPlan, gates: tuple[int, ...] = (1, 2, 3, 4)) -> None:
    """Gate records with real subjects, so their fingerprints are current (no bypass anywhere)."""
    dataset = {"dataset": plan.dataset.path, "caption_extension": plan.dataset.caption_extension}
    plan_file = {"plan": str(plan_path(plan.name, root))}
    subjects = {
        1: dataset_subject(plan.dataset.path, plan.dataset.caption_extension, plan.trigger, plan.model, plan.training_type),
        2: plan_file,
        3: {"machine": "local", **judged_subject(plan_file["plan"])},
        4: {**dataset, **plan_file, "machine": "local"},
    }
    for gate in gates:
        record_gate(plan.name, gate, "GO", subjects[gate], [], "test", root)


def wait_for_job(name: str, root: Path, statuses: tuple[str, ...] = ("complete", "failed", "stopped"), timeout: float = 240.0):
    """The job once it reaches one of `statuses`. Generous for a loaded machine, yet quick to fail
    when the supervisor is gone without saying how the job ended."""
    deadline = time.monotonic() + timeout
    job = None
    gone_since: float | None = None
    while time.monotonic() < deadline:
        job = read_job(name, root)
        if job is not None and job.status in statuses:
            return job
        if job is not None and job.supervisor_pid and not pid_alive(job.supervisor_pid):
            gone_since = gone_since or time.monotonic()
            if time.monotonic() - gone_since > 2.0:  # its last write had time to land
                break
        time.sleep(0.1)
    log = project_dir(name, root) / "supervisor.log"
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no supervisor.log)"
    raise AssertionError(f"job of {name} did not reach {statuses}: {job.status if job else None}\n{tail}")
