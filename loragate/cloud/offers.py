"""`loragate cloud offers`: the cards each provider rents now, the ones the plan fits, and what
the run would take and cost on each, with the cap loragate would enforce."""

from __future__ import annotations

import math

from loragate.cloud.http import CloudError
from loragate.cloud.model import (
    HOURS_PER_MONTH,
    PROVIDERS,
    CostLine,
    GpuOffer,
    OffersReport,
)
from loragate.cloud.prices import table_offers
from loragate.cloud.providers import get_provider
from loragate.cloud.runtime import run_time
from loragate.cloud.sizing import volume_gb
from loragate.plan.fit import SAFETY_MARGIN, estimate_gb
from loragate.core.plan import TrainingPlan
from loragate.plan.store import load_project_plan

CAP_MARGIN = 1.5  # the run may take longer than expected; past 1.5x something is wrong


def cap_for(total_usd: float) -> float:
    """The spend cap for an expected total: 1.5x, rounded up to the next half dollar, at least $1."""
    return max(1.0, math.ceil(total_usd * CAP_MARGIN * 2) / 2)


def storage_cost(offer: GpuOffer, volume: int, hours: float) -> float:
    return volume * offer.storage_usd_gb_month * hours / HOURS_PER_MONTH


def judge(offer: GpuOffer, plan: TrainingPlan | None, estimate: float | None, volume: int) -> CostLine:
    """One offer against the plan: fit with the 20% margin, time, cost and cap."""
    if plan is None or estimate is None:
        return CostLine(offer=offer, fits=True, fit_note="no plan given: not checked against a run", volume_gb=volume)
    runs = max(1, len(plan.experts))
    both = estimate * runs * SAFETY_MARGIN <= offer.memory_gb
    one = estimate * SAFETY_MARGIN <= offer.memory_gb
    if not one:
        note = f"needs {estimate * SAFETY_MARGIN:.0f} GB with the 20% margin; the card has {offer.memory_gb:.0f} GB"
        return CostLine(offer=offer, fits=False, fit_note=note, volume_gb=volume)
    note = "fits with the 20% margin" + ("" if runs == 1 else "; both experts at once" if both else "; the experts one after the other")
    timing = run_time(plan, offer.gpu)
    line = CostLine(offer=offer, fits=True, fit_note=note, hours=timing.hours, time_basis=timing.basis, volume_gb=volume)
    if timing.hours is not None:
        line.storage_usd = round(storage_cost(offer, volume, timing.hours), 2)
        line.total_usd = round(timing.hours * offer.usd_per_hour + line.storage_usd, 2)
        line.cap_usd = cap_for(line.total_usd)
    return line


def provider_offers(provider: str, min_memory_gb: float, volume: int, notes: list[str]) -> list[GpuOffer]:
    """Live offers, or the dated table's with a note saying so."""
    try:
        return get_provider(provider).offers(min_memory_gb=min_memory_gb, volume_gb=volume)
    except CloudError as exc:
        why = exc.message
    except Exception as exc:  # noqa: BLE001 - a missing key or odd answer must not hide the other providers
        why = str(exc)
    table = [o for o in table_offers(provider) if o.memory_gb >= min_memory_gb]
    if table:
        notes.append(f"{provider}: no live prices ({why}) - showing {table[0].source}.")
    else:
        notes.append(f"{provider}: no live prices ({why}) and no list price to fall back on.")
    return table


def cloud_offers(provider: str | None = None, plan_name: str | None = None) -> OffersReport:
    plan = load_project_plan(plan_name) if plan_name else None
    estimate = estimate_gb(plan) if plan else None
    volume = volume_gb(plan) if plan else 0
    notes: list[str] = []
    if provider == "modal" or provider is None:
        notes.append("modal: no live price API; prices are the dated table's.")
    lines: list[CostLine] = []
    for name in [provider] if provider else list(PROVIDERS):
        # ask only for cards that can hold one run; the rest could never be rented for this plan
        minimum = estimate * SAFETY_MARGIN if estimate else 0.0
        lines += [judge(offer, plan, estimate, volume) for offer in provider_offers(name, minimum, volume or 50, notes)]
    lines.sort(key=lambda ln: (not ln.fits, ln.total_usd if ln.total_usd is not None else ln.offer.usd_per_hour * 1000))
    return OffersReport(project=plan_name, estimate_gb=estimate, runs_at_once=max(1, len(plan.experts)) if plan else 1,
                        lines=lines, notes=notes)
