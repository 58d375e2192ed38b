"""The spend gate: no cloud instance starts until the artist said yes to this provider, card,
price, cap, disk and start guard.

`loragate cloud up` / MCP `cloud_up` record the yes (loragate.cloud.spend) with one `quote:FIELD`
part per term of the quote; `up` compares them with the quote it is about to rent on, so a
different card, a price that moved or another cap needs a new yes. A yes older than 30 minutes
has expired (prices move). It has no number: it belongs to renting, not to every training.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from loragate.gates.registry import Gate, PlanJson, register_gate
from loragate.core.nextstep import NextStep, step

if TYPE_CHECKING:
    from loragate.gates.ledger import GateRecord

SPEND = "spend"
QUOTE_PART = "quote:"
VALID_S = 30 * 60


def spend_terms(record: GateRecord) -> dict[str, str]:
    """The quote's terms the yes was for."""
    return {key[len(QUOTE_PART):]: value for key, value in record.subject.items() if key.startswith(QUOTE_PART)}


def expired(record: GateRecord, now: datetime | None = None) -> str | None:
    age = ((now or datetime.now(timezone.utc)) - record.recorded_at).total_seconds()
    return f"The spend approval is {age / 60:.0f} minutes old and prices move." if age > VALID_S else None


def _still_valid(record: GateRecord, _plan: PlanJson) -> str | None:
    return expired(record)


def _up_step(project: str, _plan: PlanJson, record: GateRecord | None) -> NextStep:
    terms = spend_terms(record) if record else {}
    return step("cloud_up", project=project, provider=terms.get("provider"), gpu=terms.get("card"))


register_gate(Gate(key=SPEND, number=0, title="spend", next_step=_up_step, covers=_still_valid, required_for_launch=False))
