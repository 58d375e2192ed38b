"""The gate ledger, `grimoire/training/NAME/gates.json`.

Each gate records its verdict with the fingerprint of its subject. `launch` asks `gate_status`
whether all four are GO *and* current; a caption edited after Gate 1 makes Gate 1 stale.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, model_validator

from loragate.atomic import atomic_write_json
from loragate.core.errors import GatesNotPassed, LoragateError
from loragate.core.findings import Finding, Verdict, block_reasons
from loragate.fsguard import read_json_object
from loragate.gates.fingerprint import combine_parts, fingerprint_parts, part_label
from loragate.gates.registry import Gate, gates, get_gate
from loragate.core.nextstep import NextStep, step
from loragate.workspace import project_dir

LEDGER_FILE = "gates.json"


class GateRecord(BaseModel):
    gate: int = Field(description="The gate's number (1-4, a later gate 5...), for people and older readers.")
    name: str = Field(default="", description="The gate's name, the ledger key: dataset, config, environment, dry_run.")
    verdict: Verdict
    fingerprint: str
    subject: dict[str, str] = Field(description="What was judged: dataset folder, trigger, plan file, machine.")
    parts: dict[str, str] = Field(default_factory=dict, description="Each part's fingerprint, to name what changed.")
    recorded_at: datetime
    summary: str = ""
    blocking: list[str] = Field(default_factory=list, description="Codes of the blocking findings.")
    reasons: str = Field(default="", description="The blocking findings in words, for people.")

    @model_validator(mode="after")
    def _named(self) -> GateRecord:
        # records written before gates had names carry only their number
        if not self.name:
            self.name = get_gate(self.gate).key
        return self


class GateLedger(BaseModel):
    project: str
    latest: dict[str, GateRecord] = Field(default_factory=dict, description="Gate name -> its latest record.")
    history: list[GateRecord] = Field(default_factory=list)

    @model_validator(mode="after")
    def _keyed_by_name(self) -> GateLedger:
        # ledgers written before gates had names key them "1".."4"
        self.latest = {record.name or key: record for key, record in self.latest.items()}
        return self


class GateState(BaseModel):
    gate: int = Field(description="The gate's number, in the order they run.")
    key: str = Field(description="The gate's name in the ledger: dataset, config, environment, dry_run.")
    name: str = Field(description="The gate in words: dataset, config, environment, dry run.")
    verdict: Verdict | None = None
    recorded_at: datetime | None = None
    age_seconds: float | None = None
    current: bool = False
    problem: str | None = Field(default=None, description="Why this gate does not count as passed now.")
    required_for_launch: bool = Field(default=True, description="False for a gate after training (the evaluation).")
    next: NextStep = Field(description="The operation that (re)runs this gate.")


class GateStatus(BaseModel):
    project: str
    ready: bool = Field(description="True when every gate a launch needs is GO for what exists now.")
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
    gate: str | int,
    verdict: Verdict,
    subject: dict[str, str],
    findings: list[Finding] | None = None,
    summary: str = "",
    root: Path | None = None,
) -> GateRecord:
    """Store a gate's verdict with the fingerprint of its subject as it is now. `gate` is the
    gate's name (or, as older callers write it, its number)."""
    spec = get_gate(gate)
    parts = fingerprint_parts(subject)
    record = GateRecord(
        gate=spec.number,
        name=spec.key,
        verdict=verdict,
        fingerprint=combine_parts(parts),
        subject=dict(subject),
        parts=parts,
        recorded_at=datetime.now(timezone.utc),
        summary=summary,
        blocking=sorted({f.code for f in findings or [] if f.severity == "block"}),
        reasons=block_reasons(findings or []),
    )
    path = _ledger_path(project, root)
    with _locked(path):
        ledger = read_ledger(project, root)
        ledger.latest[spec.key] = record
        ledger.history.append(record)
        atomic_write_json(path, ledger)
    return record


def _plan_json(project: str, root: Path | None) -> dict[str, Any]:
    """The saved plan as plain JSON ({} when there is none or it cannot be read: Gate 2 says why)."""
    from loragate.core.plan import PLAN_FILE

    try:
        data = read_json_object(project_dir(project, root) / PLAN_FILE)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def stale_reason(gate: Gate, record: GateRecord) -> str | None:
    """Which parts of what the gate judged changed since, in words (None when none did)."""
    parts = fingerprint_parts(record.subject)
    if combine_parts(parts) == record.fingerprint:
        return None
    if any(value.startswith("unreadable:") for value in parts.values()):
        return f"{gate.label} is stale: the plan it judged cannot be read now (checking the plan says why)."
    # records made before parts were kept can only say which parts there are
    changed = [k for k in parts if parts[k] != record.parts.get(k)] if record.parts else sorted(parts)
    words = [part_label(k, record.subject) for k in changed] or ["what it judged"]
    what = " and ".join(", ".join(words).rsplit(", ", 1))
    return f"{gate.label} is stale: the {what} changed after it was checked."


def _state(gate: Gate, project: str, record: GateRecord | None, plan: dict[str, Any], now: datetime) -> GateState:
    state = GateState(gate=gate.number, key=gate.key, name=gate.title, required_for_launch=gate.required_for_launch,
                      next=gate.next_step(project, plan, record))
    if record is None:
        state.problem = f"{gate.label} has not been run."
        return state
    state.verdict = record.verdict
    state.recorded_at = record.recorded_at
    state.age_seconds = round((now - record.recorded_at).total_seconds(), 1)
    state.problem = (gate.covers(record, plan) if gate.covers else None) or stale_reason(gate, record)
    if state.problem is None and record.verdict != "GO":
        why = record.reasons or ", ".join(record.blocking) or "blocking findings"  # older records kept codes only
        state.problem = f"{gate.label} said NO-GO: {why}."
    state.current = state.problem is None
    return state


def gate_status(project: str, root: Path | None = None) -> GateStatus:
    """Each gate's verdict, its age, and whether what it judged is unchanged since."""
    _require_project(project, root)
    ledger = read_ledger(project, root)
    plan = _plan_json(project, root)
    now = datetime.now(timezone.utc)
    states = [_state(gate, project, ledger.latest.get(gate.key), plan, now) for gate in gates()]
    required = {g.key for g in gates() if g.required_for_launch}
    return GateStatus(project=project, ready=all(s.current for s in states if s.key in required), gates=states)


def gate_state(project: str, gate: str, root: Path | None = None) -> tuple[GateState, GateRecord | None]:
    """One gate's state and its latest record (a gate after training checks only its own)."""
    _require_project(project, root)
    spec = get_gate(gate)
    record = read_ledger(project, root).latest.get(spec.key)
    return _state(spec, project, record, _plan_json(project, root), datetime.now(timezone.utc)), record


def _require_project(project: str, root: Path | None) -> None:
    folder = project_dir(project, root)
    if not folder.is_dir():
        raise LoragateError(
            f"There is no project {project!r} in {folder.parent}.",
            "Check the name (each folder under grimoire/training/ is a project), or start one by auditing its dataset "
            "with this name.",
            step("audit_dataset", name=project),
        )


def require_all_gates(project: str, root: Path | None = None) -> GateStatus:
    """Raise with the first missing or stale gate and the step that re-runs it; there is no override."""
    status = gate_status(project, root)
    if not status.ready:
        required = {g.key for g in gates() if g.required_for_launch}
        problems = [s for s in status.gates if not s.current and s.key in required]
        lines = " ".join(s.problem or "" for s in problems)
        first = problems[0]
        raise GatesNotPassed(f"Training cannot start: {lines}", f"Re-run Gate {first.gate} ({first.name}) first.", first.next)
    return status
