"""Training on the CPU, for testing the whole pipeline on a machine without a GPU.

Not for artists: a plan trains on the CPU only when LORAGATE_CPU_TRAINING=1 is set while it is
made (the real-trainer tests do). Both trainers then run unmodified through `accelerate launch
--cpu`, which is how they were seen working on a 2-core CPU machine (reference
real-trainers-on-cpu.md): one process, no dynamo, no loader worker processes, PyTorch's own
attention, no Hub access. A CPU run says nothing about GPU memory or speed.
"""

from __future__ import annotations

import os

from loragate.catalog.models import ModelFamily
from loragate.core.plan import MemorySpec, TrainingPlan

ENV_SWITCH = "LORAGATE_CPU_TRAINING"
CPU_NOTE = ("This plan trains on the CPU (made with LORAGATE_CPU_TRAINING=1, for testing): a CPU run proves nothing about "
        "GPU memory (VRAM) or the speed of a GPU training.")
# Environment of every trainer command of a CPU plan: nothing may be fetched from the Hub.
CPU_ENV = {"HF_HUB_OFFLINE": "1"}


def requested() -> bool:
    return os.environ.get(ENV_SWITCH, "").strip().lower() in ("1", "true", "yes")


def is_cpu(plan: TrainingPlan) -> bool:
    return plan.device == "cpu"


def cpu_memory(memory: MemorySpec, family: ModelFamily) -> MemorySpec:
    """The memory settings a CPU run works with. fp32 everywhere (CPU autocast refuses the float32
    inputs musubi's Wan blocks mix with half-precision weights) except SDXL, which keeps bf16 and
    trains fully in it (sd-scripts' --full_bf16): in fp32 it needs about 21 GiB of RAM, in bf16 14.
    No 8-bit weights or block swap, which exist for GPU memory; checkpointing only costs time here."""
    sdxl = (family.scripts.get("train") or "").rsplit("/", 1)[-1].startswith("sdxl")
    return memory.model_copy(update={
        "mixed_precision": "bf16" if sdxl else "fp32",
        "fp8_base": False, "fp8_scaled": False, "fp8_text_encoder": False, "blocks_to_swap": 0,
        "gradient_checkpointing": False, "attention": "sdpa", "offload_inactive_dit": False, "no_half_vae": False,
    })


# musubi's Wan sampling stops on the CPU: the cached prompt embeddings are bf16 while a CPU plan's
# DiT is fp32, and CPU autocast refuses float32, so the first sample fails with "mat1 and mat2 must
# have the same dtype" (seen with the real trainer; wan/modules/model.py:849). A 20-step video
# sample on a CPU would take hours in any case.
CPU_NO_VIDEO_SAMPLES = ("No samples while training: this plan trains on the CPU, where musubi-tuner's video sampling "
                        "fails (its prompt embeddings are bf16, the CPU run's model fp32) and would take hours.")


def samples_on_cpu(family: ModelFamily) -> bool:
    return not family.video


def threads() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def accelerate_cpu_options() -> list[str]:
    return ["--cpu", "--num_processes", "1", "--num_machines", "1", "--dynamo_backend", "no",
            "--num_cpu_threads_per_process", str(threads())]
