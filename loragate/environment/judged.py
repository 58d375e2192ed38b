"""The plan facts Gate 3 judges besides the machine, so a plan changed after Gate 3 makes it stale.

Gate 3 reads the weight files the plan names, the disk the caches and checkpoints need (rank,
epochs, save cadence, output folder, dataset size), the RAM and graphics memory the settings need,
and the trainer setup it probes. Each group is one part of Gate 3's fingerprint, so the gate
status can say which of them changed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from typing import Any

from loragate.fsguard import read_capped
from loragate.core.plan import TrainingPlan


def _file(path: str) -> list[Any]:
    try:
        st = os.stat(path)
        return [path, st.st_size, st.st_mtime_ns]
    except OSError:
        return [path, None, None]


def _weights(plan: TrainingPlan) -> dict[str, Any]:
    """The model files by role, each with its size and modification time when it is on this machine."""
    files = {role: _file(path) for role, path in sorted(plan.weights.model_dump().items()) if path}
    judged: dict[str, Any] = {"model": plan.model, "files": files, "experts": [e.model_dump() for e in plan.experts]}
    if plan.lightning is not None:
        # judged by their headers too: a swapped or re-downloaded Lightning file makes Gate 3 stale
        files["lightning:high"] = _file(plan.lightning.high_noise)
        files["lightning:low"] = _file(plan.lightning.low_noise)
        judged["lightning"] = plan.lightning.model_dump(exclude={"note"})
    return judged


def _disk(plan: TrainingPlan) -> dict[str, Any]:
    return {
        "rank": plan.network.dim,
        "epochs": plan.schedule.max_train_epochs,
        "steps": plan.schedule.max_train_steps,
        "save_every_n_epochs": plan.schedule.save_every_n_epochs,
        "output_dir": plan.output_dir,
        "output_name": plan.output_name,
        "dataset": plan.dataset.model_dump(mode="json"),
    }


def _memory(plan: TrainingPlan) -> dict[str, Any]:
    return {
        "memory": plan.memory.model_dump(mode="json"),
        "rank": plan.network.dim,
        "batch": plan.schedule.batch_size,
        "optimizer": plan.optimizer.type,
        "resolution": list(plan.dataset.resolution),
        "frames": plan.dataset.target_frames,
        "experts_together": plan.experts_together,
        "gpu_gb": plan.gpu_gb,
    }


def _trainer(plan: TrainingPlan) -> dict[str, Any]:
    return {
        "backend": plan.backend,
        "trainer_dir": plan.trainer_dir,
        "trainer_python": plan.trainer_python,
        "optimizer": plan.optimizer.type,
        "attention": plan.memory.attention,
        "precision": plan.memory.mixed_precision,
    }


JUDGED: dict[str, Callable[[TrainingPlan], dict[str, Any]]] = {
    "weights": _weights,
    "disk_needs": _disk,
    "memory_needs": _memory,
    "trainer_setup": _trainer,
}


def judged_subject(plan_file: str) -> dict[str, str]:
    """Gate 3's subject parts for a plan: each names the plan file its facts are read from."""
    return {part: plan_file for part in JUDGED}


def fingerprint_judged(part: str, plan_file: str) -> str:
    """The hash of one group of plan facts; a plan that cannot be read counts as changed."""
    try:
        plan = TrainingPlan.model_validate_json(read_capped(plan_file))
    except (OSError, ValueError, RecursionError):
        return "unreadable:" + hashlib.sha256(plan_file.encode()).hexdigest()
    facts = json.dumps(JUDGED[part](plan), sort_keys=True, default=str)
    return hashlib.sha256(facts.encode()).hexdigest()
