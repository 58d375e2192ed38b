"""`loragate cloud down` and `loragate cloud status`: end what bills, and list everything
loragate started in every project with what it has cost so far."""

from __future__ import annotations

from datetime import datetime, timezone

from loragate.cloud.http import CloudError
from loragate.cloud.model import (
    BILLING_STATES,
    HOURS_PER_MONTH,
    CloudStatus,
    InstanceCost,
    InstanceRecord,
)
from loragate.cloud.prices import storage_rate
from loragate.cloud.providers import get_provider
from loragate.cloud.record import all_instances, read_cloud, save_instance
from loragate.cloud.start_guard import guard_reason
from loragate.core.errors import LoragateError
from loragate.cloud.results import DownResult  # noqa: F401 - also imported from here


def cost_of(record: InstanceRecord, now: datetime | None = None) -> InstanceCost:
    """GPU time and storage since the start, at the recorded price (what the provider bills, give or take its rounding)."""
    end = record.ended_at or now or datetime.now(timezone.utc)
    hours = max(0.0, (end - record.started_at).total_seconds() / 3600)
    usd = hours * record.usd_per_hour * record.gpus + record.volume_gb * record.storage_usd_gb_month * hours / HOURS_PER_MONTH
    billing = record.ended_at is None and record.state in BILLING_STATES
    return InstanceCost(record=record, hours=round(hours, 3), usd_so_far=round(usd, 2), over_cap=usd >= record.cap_usd, billing=billing)


def _volume_warning(record: InstanceRecord) -> str:
    if record.provider == "runpod":
        return ("Terminating deleted the pod's own volume. A RunPod network volume, if you attached one, still bills "
                "until you delete it in the console (Storage).")
    return "Destroying the instance deleted its disk; nothing of it bills any more."


def _mark_ended(record: InstanceRecord, now: datetime) -> None:
    """Record an instance the provider no longer runs, with the likeliest reason."""
    record.state, record.ended_at = "terminated", now
    record.note = guard_reason(record, now) or record.note or "ended outside this session (watchdog, provider or console)"
    save_instance(record)


def down(project: str, instance_id: str | None = None) -> DownResult:
    """Terminate the project's instances that still bill (or the one named) and mark them TERMINATED."""
    records = [r for r in read_cloud(project).instances if r.ended_at is None and (instance_id is None or r.instance_id == instance_id)]
    if instance_id and not records:
        raise LoragateError(f"{project} has no open instance {instance_id}.", f"`loragate cloud status` lists what {project} started.")
    ended: list[InstanceRecord] = []
    warnings: list[str] = []
    for record in records:
        provider = get_provider(record.provider)
        gone = provider.status(record.instance_id)
        if gone.state == "terminated":
            # ended already (its start guard, the watchdog or the console): asking again would be refused
            _mark_ended(record, datetime.now(timezone.utc))
            ended.append(record)
            warnings.append(f"{record.provider} {record.instance_id} was already gone: {record.note}.")
            continue
        info = provider.terminate(record.instance_id)
        if info.state != "terminated":
            warnings.append(f"{record.provider} still shows {record.instance_id} as {info.state} after the terminate request: "
                            "check the provider's console in a minute and end it there if it is still listed.")
            record.state = info.state
            save_instance(record)
            continue
        record.state, record.ended_at = "terminated", datetime.now(timezone.utc)
        save_instance(record)
        ended.append(record)
        warnings.append(_volume_warning(record))
    if not records:
        message = f"{project} has nothing running or billing."
    else:
        spent = sum(cost_of(r).usd_so_far for r in ended)
        message = f"Terminated {len(ended)} of {len(records)} instance(s) of {project}; they cost about ${spent:.2f}."
    return DownResult(project=project, ended=ended, warnings=warnings, message=message)


def cloud_status(refresh: bool = True) -> CloudStatus:
    """Every instance in every project, with its running cost; asks the providers for the current state unless told not to."""
    costs: list[InstanceCost] = []
    problems: list[str] = []
    for record in all_instances():
        if refresh and record.ended_at is None:
            try:
                info = get_provider(record.provider).status(record.instance_id)
            except (CloudError, LoragateError) as exc:
                problems.append(f"{record.provider} {record.instance_id}: could not ask ({exc.message}); shown as last recorded.")
            else:
                if info.state != record.state:
                    now = datetime.now(timezone.utc)
                    if info.state == "terminated":
                        _mark_ended(record, now)
                    else:
                        record.state = info.state
                        if info.state == "stopped" and (why := guard_reason(record, now)):
                            record.note = why.replace("ended", "stopped", 1) + "; its disk bills until `loragate cloud down`"
                        save_instance(record)
        if record.state == "stopped" and record.provider == "runpod":
            record.storage_usd_gb_month = storage_rate("runpod", running=False)
        costs.append(cost_of(record))
    billing = [c for c in costs if c.billing]
    per_hour = sum(c.record.usd_per_hour * c.record.gpus for c in billing if c.record.state in ("running", "starting"))
    per_hour += sum(c.record.volume_gb * c.record.storage_usd_gb_month / HOURS_PER_MONTH for c in billing)
    if billing:
        names = ", ".join(f"{c.record.provider} {c.record.instance_id} ({c.record.project}, {c.record.state}, ${c.usd_so_far:.2f} so far)" for c in billing)
        message = f"{len(billing)} instance(s) still bill, ${per_hour:.2f}/hour together: {names}. End them with `loragate cloud down NAME`."
    else:
        message = "Nothing loragate started is billing."
    if problems:
        message += " " + " ".join(problems)
    return CloudStatus(instances=costs, billing_usd_per_hour=round(per_hour, 2), message=message)
