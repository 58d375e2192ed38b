"""Continuing a finished or stopped run from a chosen checkpoint, the safe way.

The new plan starts from the checkpoint's LoRA weights with `--network_weights` (a fresh optimizer
and a fresh step count, optionally a new learning rate and number of epochs). It never uses
`--resume`: musubi-tuner restores the optimizer and scheduler state but restarts the step and
epoch counters, so the run repeats its whole length with stale scheduler settings (reference
musubi-tuner.md §5.11, issues #424 and others). The plan changes, so Gates 2 and 4 must pass
again before launch; the previous plan is kept in plan-history/.
"""

from __future__ import annotations

import math
from pathlib import Path

from loragate.core.errors import LoragateError
from loragate.gates.ledger import gate_status
from loragate.names import check_name
from loragate.plan.store import archive_plan, load_project_plan, next_plan_version, save_plan
from loragate.runs.checkpoint import lora_rank, safetensors_problem
from loragate.runs.job import read_job
from loragate.runs.launch import job_running
from loragate.runs.results import ContinueResult  # noqa: F401 - also imported from here


def _resolve_checkpoint(checkpoint: str, output_dir: str) -> Path:
    path = Path(checkpoint).expanduser()
    if not path.is_absolute():
        path = (Path(output_dir) / path) if (Path(output_dir) / path).exists() else path.resolve()
    if path.is_dir():
        raise LoragateError(
            f"{path} is a folder (a saved training state for --resume), not a LoRA file.",
            "Choose a checkpoint .safetensors file, e.g. NAME-000010.safetensors; continuing never uses --resume.",
        )
    if path.suffix != ".safetensors":
        raise LoragateError(f"{path.name} is not a .safetensors LoRA file.", "Choose one of the run's checkpoint files.")
    problem = safetensors_problem(path)
    if problem:
        raise LoragateError(f"The checkpoint cannot be used: {problem}", "Choose another checkpoint of the run.")
    return path


def continue_run(
    name: str,
    checkpoint: str,
    learning_rate: float | None = None,
    epochs: int | None = None,
    root: Path | None = None,
) -> ContinueResult:
    """Write a new plan version that continues from `checkpoint` with --network_weights."""
    check_name(name)
    # above 0 is all a rate must be here (Prodigy runs at 1.0); Gate 2 judges it against the
    # optimizer's sourced range before the continued plan can launch
    if learning_rate is not None and not (0 < learning_rate < math.inf):
        raise LoragateError(f"The learning rate {learning_rate} is out of range.", "Give a value like 5e-5 (lower than before is usual when continuing).")
    if epochs is not None and epochs < 1:
        raise LoragateError(f"{epochs} epochs is not a number of epochs to train.", "Give 1 or more.")
    if job_running(read_job(name, root)):
        raise LoragateError(f"A training of {name} is running.", f"Wait for it or `loragate stop {name}` before changing its plan.")
    plan = load_project_plan(name, root)
    path = _resolve_checkpoint(checkpoint, plan.output_dir)
    rank = lora_rank(path)
    if rank is not None and rank != plan.network.dim:
        raise LoragateError(
            f"The checkpoint has rank {rank} but the plan trains rank {plan.network.dim}; --network_weights needs the same rank.",
            "Choose a checkpoint of this plan's run, or set network.dim in the plan to the checkpoint's rank.",
        )
    version = next_plan_version(name, root)
    new = plan.model_copy(deep=True)
    new.network.weights = str(path)
    expert_name: str | None = None
    if plan.experts:
        matches = [e for e in plan.experts if path.stem.startswith(e.output_name)]
        match = max(matches, key=lambda e: len(e.output_name)) if matches else None
        if match is None:
            names = ", ".join(e.output_name for e in plan.experts)
            raise LoragateError(
                f"{path.name} does not belong to either Wan 2.2 expert of this plan ({names}).",
                "Choose a checkpoint whose name starts with one of those; each expert continues on its own.",
            )
        expert_name = match.expert
        continued = match.model_copy(update={"output_name": f"{match.output_name}-cont{version}"})
        new.experts = [continued]
        new.experts_together = False
        output_name = continued.output_name
    else:
        output_name = f"{plan.output_name}-cont{version}"
        new.output_name = output_name
    if learning_rate is not None:
        new.optimizer.learning_rate = learning_rate
    if epochs is not None:
        new.schedule.max_train_epochs = epochs
        new.schedule.max_train_steps = None
    previous = archive_plan(name, root)
    saved = save_plan(new, root)
    status = gate_status(name, root)
    stale = [s for s in status.gates if not s.current and s.required_for_launch]  # the launch gates, not the evaluation or spend
    return ContinueResult(
        project=name,
        checkpoint=str(path),
        expert=expert_name,
        learning_rate=new.optimizer.learning_rate,
        epochs=new.schedule.max_train_epochs if epochs is not None else None,
        output_name=output_name,
        plan_file=str(saved),
        previous_plan=str(previous),
        gates_to_rerun=[s.next for s in stale],
        message=(
            f"The plan of {name} now continues from {path.name} with --network_weights (fresh optimizer and step count"
            f"{', learning rate ' + format(new.optimizer.learning_rate, 'g') if learning_rate is not None else ''}"
            f"{', ' + str(epochs) + ' epochs' if epochs is not None else ''}) and saves as {output_name}. "
            "The plan changed, so these gates no longer count and run again before the launch: "
            + ", then ".join(f"Gate {s.gate} ({s.name})" for s in stale) + "."
        ),
    )
