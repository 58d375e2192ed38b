"""The evaluation gate: a checkpoint is registered only with a current evaluation of it.

"Current" means eval.json lists the file with the fingerprint it has now (a retrained or replaced
file makes the evaluation stale), and the evaluation found no blocking problem for it (no effect,
copies of the training pictures, layers that do not load). The record is the project's eval.json;
it stands beside the four-gate ledger and does not change it.
"""

from __future__ import annotations

from pathlib import Path

from loragate.duplicates.quarantine import file_sha256
from loragate.errors import GatesNotPassed, LoragateError
from loragate.evaluate.model import EVAL_FILE, EvalReport
from loragate.workspace import project_dir


def fingerprint_lora(path: Path) -> str:
    """sha256 of the file's bytes: the same LoRA whatever its name or time stamp."""
    return file_sha256(path)


def read_evaluation(project: str) -> EvalReport | None:
    path = project_dir(project) / EVAL_FILE
    if not path.is_file():
        return None
    try:
        return EvalReport.model_validate_json(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise LoragateError(f"{path} is damaged ({exc.__class__.__name__}).", f"Run `loragate eval {project}` again.") from exc


def require_evaluation(project: str, checkpoint: Path) -> EvalReport:
    """The evaluation that covers this file, or GatesNotPassed saying what to run."""
    rerun = f"Run `loragate eval {project} --checkpoint {checkpoint.name}` first."
    report = read_evaluation(project)
    if report is None:
        raise GatesNotPassed(f"{project} has not been evaluated: a LoRA is registered only after its evaluation grid.", rerun)
    key = str(checkpoint.resolve())
    recorded = report.checkpoint_fingerprints.get(key)
    if recorded is None:
        evaluated = ", ".join(Path(p).name for p in report.checkpoint_fingerprints) or "none"
        raise GatesNotPassed(f"{checkpoint.name} was not in the last evaluation of {project} (it covered: {evaluated}).", rerun)
    if not report.cells or not report.measures:
        raise GatesNotPassed(f"The last evaluation of {project} made no pictures (it was an estimate or an export).", rerun)
    if fingerprint_lora(checkpoint) != recorded:
        raise GatesNotPassed(f"{checkpoint.name} changed after it was evaluated, so the evaluation is stale.", rerun)
    label = next((c.label for c in report.checkpoints if str(Path(c.path).resolve()) == key), None)
    blocking = [f for f in report.findings if f.severity == "block" and (f.evidence.get("checkpoint") in (None, label))]
    if blocking:
        raise GatesNotPassed(f"The evaluation of {checkpoint.name} found: {' '.join(f.message for f in blocking)}", blocking[0].fix)
    return report
