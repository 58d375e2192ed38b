"""Gate 5, the evaluation: a checkpoint is registered only with a current evaluation of it.

`loragate eval` records it (loragate.evaluate.run) with one `lora:LABEL` part per LoRA file it
judged, fingerprinted by the file's bytes, so a retrained or replaced file makes the verdict stale
and a file it never judged is not covered (loragate.evaluate.gate). It comes after training: a
launch does not wait for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from loragate.gates.registry import Gate, PlanJson, register_gate
from loragate.core.nextstep import NextStep, step

if TYPE_CHECKING:
    from loragate.gates.ledger import GateRecord

EVALUATION = "evaluation"
LORA_PART = "lora:"
HIGH_NOISE = " high-noise"  # Wan 2.2: a checkpoint's high-noise expert file is judged as LABEL + this


def evaluation_subject(files: dict[str, str]) -> dict[str, str]:
    """What an evaluation judged: checkpoint label -> its LoRA file."""
    return {LORA_PART + label: path for label, path in files.items()}


def judged_files(record: GateRecord) -> dict[str, str]:
    """Checkpoint label -> LoRA file, as the record names them."""
    return {key[len(LORA_PART):]: path for key, path in record.subject.items() if key.startswith(LORA_PART)}


def _evaluate_step(project: str, _plan: PlanJson, record: GateRecord | None) -> NextStep:
    """The evaluation again, of the files it judged that still exist (else the default choice)."""
    files = sorted({path for path in judged_files(record).values() if Path(path).is_file()}) if record else []
    return step("evaluate", project=project, checkpoints=files or None)


register_gate(Gate(key=EVALUATION, number=5, title="evaluation", next_step=_evaluate_step, required_for_launch=False))
