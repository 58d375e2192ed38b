"""The end every gate shares: decide from the findings, record the verdict with the fingerprint of
what was judged, and write the report for people (markdown) and for code (JSON).

A gate's own module gathers findings and builds its report model; `decide` and `conclude` do the
rest the same way for every gate, so a new gate cannot record without a fingerprint or forget
its files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol, TypeVar

from loragate.atomic import atomic_write_json, atomic_write_text
from loragate.core.findings import Finding, Verdict, sort_findings, verdict_of
from loragate.gates.ledger import GateRecord, record_gate
from loragate.workspace import project_dir


class GateReport(Protocol):
    """What every gate's report model has (AuditReport, Gate2Report, EnvReport, DryRunReport)."""

    verdict: Verdict
    findings: list[Finding]


R = TypeVar("R", bound=GateReport)


def decide(findings: Iterable[Finding]) -> tuple[list[Finding], Verdict]:
    """Blocking findings first, and the verdict: NO-GO when any blocks."""
    ordered = sort_findings(findings)
    return ordered, verdict_of(ordered)


def conclude(
    gate: str,
    project: str,
    report: R,
    subject: dict[str, str],
    *,
    markdown: tuple[str, Callable[[R], str]],
    json_file: str | None = None,
    summary: str | None = None,
    on_record: Callable[[GateRecord], None] | None = None,
    root: Path | None = None,
) -> GateRecord:
    """Record `report`'s verdict for `gate` with `subject`'s fingerprint, then write the markdown
    (file name, renderer) and, when named, the report as JSON, beside the plan. The report has a
    `verdict` and `findings` (and a `summary`, unless one is given). `on_record` sees the record
    before the files are written (to put its fingerprint in the report)."""
    said = summary if summary is not None else str(getattr(report, "summary", ""))
    record = record_gate(project, gate, report.verdict, subject, report.findings, said, root)
    if on_record is not None:
        on_record(record)
    folder = project_dir(project, root, create=True)
    if json_file:
        atomic_write_json(folder / json_file, report)
    name, render = markdown
    atomic_write_text(folder / name, render(report))
    return record
