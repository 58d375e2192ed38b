"""The gate ledger, `grimoire/training/NAME/gates.json`.

Each gate records its verdict with the fingerprint of its subject. `launch` asks `gate_status`
whether all four are GO *and* current; a caption edited after Gate 1 makes Gate 1 stale.
"""

from __future__ import annotations

import fcntl
import os
import shlex
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Literal

from pydantic import BaseModel, Field

from loragate.atomic import atomic_write_json
from loragate.errors import GatesNotPassed, LoragateError
from loragate.findings import Finding, Verdict
from loragate.fsguard import read_json_object
from loragate.gates.fingerprint import combine_parts, fingerprint_parts
from loragate.workspace import project_dir

GateNumber = Literal[1, 2, 3, 4]

GATES: dict[int, tuple[str, str]] = {
    1: ("dataset", "loragate audit DATASET --name {name}"),
    2: ("config", "loragate plan check {name}"),
    3: ("environment", "loragate env --plan {name}"),
    4: ("dry run", "loragate dry-run {name}"),
}

LEDGER_FILE = "gates.json"


class GateRecord(BaseModel):
    gate: int
    verdict: Verdict
    fingerprint: str
    subject: dict[str, str] = Field(description="What was judged: dataset folder, plan file, machine.")
    parts: dict[str, str] = Field(default_factory=dict, description="Each part's fingerprint, to name what changed.")
    recorded_at: datetime
    summary: str = ""
    blocking: list[str] = Field(default_factory=list, description="Codes of the blocking findings.")


class GateLedger(BaseModel):
    project: str
    latest: dict[str, GateRecord] = Field(default_factory=dict)
    history: list[GateRecord] = Field(default_factory=list)


class GateState(BaseModel):
    gate: int
    name: str
    verdict: Verdict | None = None
    recorded_at: datetime | None = None
    age_seconds: float | None = None
    current: bool = False
    problem: str | None = Field(default=None, description="Why this gate does not count as passed now.")
    run: str = Field(description="The command that (re)runs this gate.")


class GateStatus(BaseModel):
    project: str
    ready: bool = Field(description="True when all four gates are GO for what exists now.")
    gates: list[GateState]


def _ledger_path(project: str, root: Path | None) -> Path:
    return project_dir(project, root) / LEDGER_FILE


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_ledger(project: str, root: Path | None = None) -> GateLedger:
    path = _ledger_path(project, root)
    if not path.exists():
        return GateLedger(project=project)
    try:
        return GateLedger.model_validate(read_json_object(path))
    except (ValueError, OSError) as exc:
        raise LoragateError(
            f"The gate ledger {path} is damaged ({exc.__class__.__name__}).",
            "Move it aside and run the four gates again; nothing can launch until they pass.",
        ) from exc


def record_gate(
    project: str,
    gate: int,
    verdict: Verdict,
    subject: dict[str, str],
    findings: list[Finding] | None = None,
    summary: str = "",
    root: Path | None = None,
) -> GateRecord:
    """Store a gate's verdict with the fingerprint of its subject as it is now."""
    if gate not in GATES:
        raise LoragateError(f"There is no gate {gate}.", "Gates are numbered 1 to 4.")
    parts = fingerprint_parts(subject)
    record = GateRecord(
        gate=gate,
        verdict=verdict,
        fingerprint=combine_parts(parts),
        subject=dict(subject),
        parts=parts,
        recorded_at=datetime.now(timezone.utc),
        summary=summary,
        blocking=sorted({f.code for f in findings or [] if f.severity == "block"}),
    )
    path = _ledger_path(project, root)
    with _locked(path):
        ledger = read_ledger(project, root)
        ledger.latest[str(gate)] = record
        ledger.history.append(record)
        atomic_write_json(path, ledger)
    return record


def _plan_json(project: str, root: Path | None) -> dict:
    """The saved plan as plain JSON ({} when there is none or it cannot be read: Gate 2 says why)."""
    from loragate.plan.model import PLAN_FILE

    try:
        data = read_json_object(project_dir(project, root) / PLAN_FILE)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _audit_command(project: str, plan: dict, record: GateRecord | None) -> str | None:
    """Gate 1's command with the folder, and the trigger and model the plan trains with, filled in."""
    dataset = plan.get("dataset") if isinstance(plan.get("dataset"), dict) else {}
    folder = dataset.get("path") or (record.subject.get("dataset") if record else None)
    if not folder:
        return None
    words = ["loragate", "audit", str(folder)]
    for flag, value in (("--trigger", plan.get("trigger")), ("--model", plan.get("model")), ("--type", plan.get("training_type"))):
        if value:
            words += [flag, str(value)]
    extension = dataset.get("caption_extension") or (record.subject.get("caption_extension") if record else None)
    if extension and extension != ".txt":
        words += ["--caption-ext", str(extension)]
    return shlex.join(words + ["--name", project])


def _other_dataset(record: GateRecord, plan: dict) -> str | None:
    """Why Gate 1's verdict is not about the data the plan trains on, if it is not."""
    dataset = plan.get("dataset") if isinstance(plan.get("dataset"), dict) else {}
    planned = dataset.get("path")
    checked = record.subject.get("dataset")
    if not planned or not checked:
        return None
    if os.path.realpath(planned) != os.path.realpath(checked):
        return f"Gate 1 (dataset) checked {checked}, but the plan trains on {planned}."
    planned_ext = dataset.get("caption_extension") or ".txt"
    checked_ext = record.subject.get("caption_extension") or ".txt"
    if planned_ext != checked_ext:
        return f"Gate 1 (dataset) checked the {checked_ext} captions, but the plan trains with the {planned_ext} ones."
    return None


def gate_status(project: str, root: Path | None = None) -> GateStatus:
    """Each gate's verdict, its age, and whether what it judged is unchanged since."""
    folder = project_dir(project, root)
    if not folder.is_dir():
        raise LoragateError(
            f"There is no project {project!r} in {folder.parent}.",
            "Check the name (each folder under grimoire/training/ is a project), or start one with "
            f"`loragate audit DATASET --name {project}`.",
        )
    ledger = read_ledger(project, root)
    plan = _plan_json(project, root)
    now = datetime.now(timezone.utc)
    states: list[GateState] = []
    for gate, (name, command) in GATES.items():
        record = ledger.latest.get(str(gate))
        run = (_audit_command(project, plan, record) if gate == 1 else None) or command.format(name=project)
        if record is None:
            states.append(GateState(gate=gate, name=name, run=run, problem=f"Gate {gate} ({name}) has not been run."))
            continue
        state = GateState(
            gate=gate,
            name=name,
            run=run,
            verdict=record.verdict,
            recorded_at=record.recorded_at,
            age_seconds=round((now - record.recorded_at).total_seconds(), 1),
        )
        parts = fingerprint_parts(record.subject)
        elsewhere = _other_dataset(record, plan) if gate == 1 else None
        if elsewhere:
            state.problem = elsewhere
        elif combine_parts(parts) != record.fingerprint:
            # records made before parts were kept can only say which parts there are
            changed = [k for k in parts if parts[k] != record.parts.get(k)] if record.parts else sorted(parts)
            what = " and ".join(", ".join(changed).rsplit(", ", 1))
            state.problem = f"Gate {gate} ({name}) is stale: the {what} changed after it was checked."
        elif record.verdict != "GO":
            blocking = ", ".join(record.blocking) or "blocking findings"
            state.problem = f"Gate {gate} ({name}) said NO-GO ({blocking})."
        else:
            state.current = True
        states.append(state)
    return GateStatus(project=project, ready=all(s.current for s in states), gates=states)


def require_all_gates(project: str, root: Path | None = None) -> GateStatus:
    """Raise with the first missing or stale gate and the command to run; there is no override."""
    status = gate_status(project, root)
    if not status.ready:
        problems = [s for s in status.gates if not s.current]
        lines = " ".join(s.problem or "" for s in problems)
        first = problems[0]
        raise GatesNotPassed(f"Training cannot start: {lines}", f"Run `{first.run}` first.")
    return status
