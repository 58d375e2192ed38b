"""Registering needs Gate 5 (evaluation) current for the file being registered.

The verdict lives in the gate ledger (loragate.gates.evaluation); eval.json beside it holds the
details: which findings are about which checkpoint. A file is covered when the gate's record names
it, no LoRA file the record names changed since (the ledger's fingerprints), the evaluation made
pictures, and no blocking finding is about this checkpoint (another checkpoint's "no effect" does
not stop registering a good one).
"""

from __future__ import annotations

from pathlib import Path

from loragate.core.errors import GatesNotPassed, LoragateError
from loragate.evaluate.model import EVAL_FILE, EvalReport
from loragate.gates.evaluation import EVALUATION, HIGH_NOISE, LORA_PART, judged_files
from loragate.gates.ledger import GateRecord, gate_state, stale_reason
from loragate.gates.registry import get_gate
from loragate.workspace import project_dir

def read_evaluation(project: str) -> EvalReport | None:
    path = project_dir(project) / EVAL_FILE
    if not path.is_file():
        return None
    try:
        return EvalReport.model_validate_json(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise LoragateError(f"{path} is damaged ({exc.__class__.__name__}).", f"Run `loragate eval {project}` again.") from exc


def _label_of(record: GateRecord, checkpoint: Path) -> str | None:
    key = checkpoint.resolve()
    return next((label for label, path in judged_files(record).items() if Path(path).resolve() == key), None)


def require_evaluation(project: str, checkpoint: Path) -> EvalReport:
    """The evaluation that covers this file, or GatesNotPassed saying what to run."""
    state, record = gate_state(project, EVALUATION)
    rerun = f"Run `loragate eval {project} --checkpoint {checkpoint}` first."
    if record is None:
        raise GatesNotPassed(f"{project} has not been evaluated: a LoRA is registered only after its evaluation grid.", rerun, state.next)
    label = _label_of(record, checkpoint)
    if label is None:
        evaluated = ", ".join(Path(p).name for p in judged_files(record).values()) or "none"
        raise GatesNotPassed(f"{checkpoint.name} was not in the last evaluation of {project} (it covered: {evaluated}).", rerun)
    stale = stale_reason(get_gate(EVALUATION), record)
    if stale:
        raise GatesNotPassed(stale, rerun, state.next)
    report = read_evaluation(project)
    if report is None or report.checkpoint_fingerprints.get(str(checkpoint.resolve())) != record.parts.get(LORA_PART + label):
        raise GatesNotPassed(f"eval.json of {project} is not the evaluation Gate 5 recorded (it was replaced or removed).", rerun)
    if not report.cells or not report.measures:
        blocking = [f for f in report.findings if f.severity == "block"]
        said = f" It found: {' '.join(f.message for f in blocking)}" if blocking else ""
        raise GatesNotPassed(f"The last evaluation of {project} made no pictures.{said}", blocking[0].fix if blocking else rerun)
    checkpoint_label = label.removesuffix(HIGH_NOISE)  # findings name the checkpoint, not its Wan 2.2 expert file
    blocking = [f for f in report.findings if f.severity == "block" and f.evidence.get("checkpoint") in (None, checkpoint_label)]
    if blocking:
        raise GatesNotPassed(f"The evaluation of {checkpoint.name} found: {' '.join(f.message for f in blocking)}", blocking[0].fix)
    return report
