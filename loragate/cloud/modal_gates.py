"""The gates inside a Modal container.

Each Modal function runs in a fresh container, and Gate 3's machine fingerprint includes the host,
so no container can inherit another's Gate 3. The rule on Modal: the `check` function runs Gates 3
and 4 on the same image and GPU type; each training function runs Gate 3 again in its own
container, and trains only when Gates 1 and 2 are GO and current, Gate 3 is GO here, and Gate 4
said GO for the dataset and plan as they are now (its machine part is the check container's).
"""

from __future__ import annotations

from loragate.core.errors import GatesNotPassed
from loragate.gates.fingerprint import fingerprint_parts
from loragate.gates.ledger import gate_status, read_ledger
from loragate.core.nextstep import step


def require_modal_gates(project: str) -> str:
    status = {s.gate: s for s in gate_status(project).gates}
    problems = [status[g].problem or "" for g in (1, 2, 3) if not status[g].current]
    gate4 = read_ledger(project).latest.get("dry_run")
    if gate4 is None or gate4.verdict != "GO":
        problems.append("Gate 4 (dry run) has not said GO on Modal: run the app's `check` function first.")
    else:
        now = fingerprint_parts({k: v for k, v in gate4.subject.items() if k != "machine"})
        changed = [k for k, v in now.items() if gate4.parts.get(k) != v]
        if changed:
            problems.append(f"Gate 4 (dry run) is stale: the {' and '.join(changed)} changed after it ran.")
    if problems:
        raise GatesNotPassed("Training cannot start on Modal: " + " ".join(problems), "Run the dry run in the check function.",
                             step("dry_run", project=project))
    return "Gates 1-4 GO for this container."
