"""The spend gate: no instance starts until the artist said yes to this provider, card, price and cap.

Kept beside the gate ledger as `spend.json` (the same record shape), fingerprinted on what the
yes was for. A different card, a price that moved or another cap makes the yes stale, and an
approval older than 30 minutes has expired (prices move): `up` asks again. There is no override.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel

from loragate.atomic import atomic_write_json
from loragate.cloud.model import SpendQuote
from loragate.errors import GatesNotPassed
from loragate.workspace import project_dir

SPEND_FILE = "spend.json"
VALID_S = 30 * 60


class SpendApproval(BaseModel):
    fingerprint: str
    subject: dict[str, str]
    recorded_at: datetime
    message: str


def spend_subject(quote: SpendQuote) -> dict[str, str]:
    return {"provider": quote.provider, "gpu": quote.provider_gpu, "offer": quote.offer_id or "",
            "gpus": str(quote.gpus), "usd_per_hour": f"{quote.usd_per_hour:.4f}", "cap_usd": f"{quote.cap_usd:.2f}",
            "volume_gb": str(quote.volume_gb), "guard_minutes": str(quote.guard_minutes)}


def spend_fingerprint(quote: SpendQuote) -> str:
    return hashlib.sha256(json.dumps(spend_subject(quote), sort_keys=True).encode()).hexdigest()


def approve_spend(quote: SpendQuote, root: Path | None = None) -> SpendApproval:
    """Record the artist's yes to this quote (the doors call it only after an explicit yes)."""
    approval = SpendApproval(fingerprint=spend_fingerprint(quote), subject=spend_subject(quote),
                             recorded_at=datetime.now(timezone.utc), message=quote.message)
    atomic_write_json(project_dir(quote.project, root, create=True) / SPEND_FILE, approval)
    return approval


def require_spend(quote: SpendQuote, root: Path | None = None, now: datetime | None = None) -> SpendApproval:
    path = project_dir(quote.project, root) / SPEND_FILE
    ask = f"Run `loragate cloud up {quote.project} --provider {quote.provider} --gpu \"{quote.gpu}\"` and answer yes to the cost it states."
    try:
        approval = SpendApproval.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise GatesNotPassed("No spend was approved for this project: nothing is rented without a yes to its cost.", ask) from None
    if approval.fingerprint != spend_fingerprint(quote):
        changed = [k for k, v in spend_subject(quote).items() if approval.subject.get(k) != v]
        raise GatesNotPassed(f"The approved spend was for something else (the {', '.join(changed)} changed since).", ask)
    age = ((now or datetime.now(timezone.utc)) - approval.recorded_at).total_seconds()
    if age > VALID_S:
        raise GatesNotPassed(f"The spend approval is {age / 60:.0f} minutes old and prices move.", ask)
    return approval
