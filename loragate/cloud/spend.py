"""The spend gate's record (loragate.gates.spend): no instance starts until the artist said yes to
this provider, card, price and cap.

The yes is a verdict in the gate ledger, with the quote's terms as its subject. A different card,
a price that moved or another cap makes the yes stale, and an approval older than 30 minutes has
expired (prices move): `up` asks again. There is no override.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from loragate.cloud.model import SpendQuote
from loragate.core.errors import GatesNotPassed
from loragate.gates.ledger import GateRecord, read_ledger, record_gate
from loragate.gates.spend import QUOTE_PART, SPEND, expired, spend_terms
from loragate.workspace import project_dir


def spend_subject(quote: SpendQuote) -> dict[str, str]:
    """The terms of the quote, as the gate records them (`card` is the quote's card as the artist named it)."""
    terms = {"provider": quote.provider, "gpu": quote.provider_gpu, "card": quote.gpu, "offer": quote.offer_id or "",
             "gpus": str(quote.gpus), "usd_per_hour": f"{quote.usd_per_hour:.4f}", "cap_usd": f"{quote.cap_usd:.2f}",
             "volume_gb": str(quote.volume_gb), "guard_minutes": str(quote.guard_minutes)}
    return {QUOTE_PART + key: value for key, value in terms.items()}


def approve_spend(quote: SpendQuote, root: Path | None = None) -> GateRecord:
    """Record the artist's yes to this quote (the doors call it only after an explicit yes)."""
    project_dir(quote.project, root, create=True)
    return record_gate(quote.project, SPEND, "GO", spend_subject(quote), summary=quote.message, root=root)


def require_spend(quote: SpendQuote, root: Path | None = None, now: datetime | None = None) -> GateRecord:
    ask = f"Run `loragate cloud up {quote.project} --provider {quote.provider} --gpu \"{quote.gpu}\"` and answer yes to the cost it states."
    folder = project_dir(quote.project, root)
    record = read_ledger(quote.project, root).latest.get(SPEND) if folder.is_dir() else None
    if record is None or record.verdict != "GO":
        raise GatesNotPassed("No spend was approved for this project: nothing is rented without a yes to its cost.", ask)
    approved = spend_terms(record)
    changed = [key[len(QUOTE_PART):] for key, value in spend_subject(quote).items() if approved.get(key[len(QUOTE_PART):]) != value]
    if changed:
        raise GatesNotPassed(f"The approved spend was for something else (the {', '.join(changed)} changed since).", ask)
    too_old = expired(record, now)
    if too_old:
        raise GatesNotPassed(too_old, ask)
    return record
