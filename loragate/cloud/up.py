"""`loragate cloud up`: the quote said before any spend, then the instance, recorded at once.

An instance that does not reach `running` within the wait is terminated and recorded so: a pod
that never starts must not bill on unnoticed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone

from loragate.cloud.model import (
    BILLING_STATES,
    InstanceRecord,
    ProviderName,
    SpendQuote,
)
from loragate.cloud.offers import cloud_offers
from loragate.cloud.prices import canonical_gpu, card, cloud_facts
from loragate.cloud.providers import CreateRequest, api_base, get_provider
from loragate.cloud.request import up_request
from loragate.cloud.record import read_cloud, save_instance
from loragate.cloud.sizing import allowed_cuda, image_for
from loragate.cloud.spend import require_spend
from loragate.cloud.start_guard import guard_program
from loragate.core.errors import LoragateError
from loragate.names import check_name
from loragate.plan.fit import SAFETY_MARGIN
from loragate.plan.store import load_project_plan
from loragate.plan.paths import PLATFORM_ROOTS
from loragate.cloud.results import UpResult  # noqa: F401 - also imported from here

START_WAIT_S = 15 * 60
POLL_S = 10.0


def make_quote(project: str, provider: ProviderName, gpu: str, max_usd: float | None = None,
               idle_minutes: int | None = None) -> SpendQuote:
    """The offer for this card checked against the plan, with its time, total and cap, in words."""
    check_name(project)
    guard = cloud_facts().guard_minutes if idle_minutes is None else idle_minutes
    if provider == "modal":
        raise LoragateError("Modal runs functions, not machines: there is nothing to bring up.",
                            f"Use `loragate cloud modal write {project}` and `loragate cloud modal run {project}`.")
    up_request(project=project, provider=provider, gpu=gpu, max_usd=max_usd, idle_minutes=guard)  # the doors' bounds, for direct callers too
    plan = load_project_plan(project)
    if plan.platform != "runpod":
        # a pod trains from /workspace: a plan with this computer's (or Modal's) folders would fail there, after paying
        raise LoragateError(f"The plan of {project} is for {plan.platform}, so its folders are not the pod's.",
                            f"Make it for the pod first: `loragate plan new {project} ... --platform runpod` (RunPod and Vast.ai).")
    report = cloud_offers(provider, project)
    wanted = canonical_gpu(gpu, gpu)
    line = next((ln for ln in report.lines if wanted in (ln.offer.gpu, ln.offer.provider_gpu)), None)
    known = card(gpu)
    if line is None and known and report.estimate_gb and report.estimate_gb * SAFETY_MARGIN > known.memory_gb:
        raise LoragateError(f"The plan does not fit the {known.name}: it needs {report.estimate_gb * SAFETY_MARGIN:.0f} GB with the "
                            f"20% margin and the card has {known.memory_gb:.0f} GB.", "Pick a larger card from `loragate cloud offers --plan NAME`.")
    if line is None:
        names = ", ".join(sorted({ln.offer.gpu for ln in report.lines})) or "none"
        raise LoragateError(f"{provider} offers no {gpu} now.", f"Pick one of: {names}.")
    if not line.offer.live:
        raise LoragateError(f"{provider} did not answer with a live price ({'; '.join(report.notes)}).",
                            "Nothing is rented on a table's old price; check the network and the API key, then try again.")
    if not line.fits:
        raise LoragateError(f"The plan does not fit the {line.offer.gpu}: {line.fit_note}.", "Pick a larger card from `loragate cloud offers --plan NAME`.")
    cap = max_usd if max_usd is not None else line.cap_usd
    if cap is None:
        raise LoragateError("The run time on this card is not known, so loragate cannot set a spend cap.", "Give one with --max-usd.")
    if line.total_usd is not None and cap < line.total_usd:
        raise LoragateError(f"A cap of ${cap:.2f} is below the expected ${line.total_usd:.2f}: the pod would be ended before the run finishes.",
                            f"Raise --max-usd to at least {line.total_usd:.2f}, or choose a cheaper card.")
    image = image_for(line.offer.gpu)
    expected = (f"about {line.hours:.1f} h, expected ${line.total_usd:.2f} with storage ({line.time_basis})"
                if line.total_usd is not None else "run time unknown")
    message = (f"Rent 1x {line.offer.gpu} on {provider} at ${line.offer.usd_per_hour:.2f}/hour with a {line.volume_gb} GB volume: "
               f"{expected}. loragate ends it at ${cap:.2f} spent, when training has ended and the results are pulled, or after "
               f"the idle minutes; storage bills until it is terminated. If no `loragate cloud sync` reaches it within {guard} minutes "
               f"(say this computer sleeps), it ends itself: its start command calls the {provider} API with the key {provider} "
               "gives that machine alone (your account key is not sent).")
    return SpendQuote(project=project, provider=provider, gpu=line.offer.gpu, provider_gpu=line.offer.provider_gpu,
                      offer_id=line.offer.offer_id, usd_per_hour=line.offer.usd_per_hour,
                      storage_usd_gb_month=line.offer.storage_usd_gb_month, volume_gb=line.volume_gb,
                      hours=line.hours, total_usd=line.total_usd, cap_usd=cap, image=getattr(image, provider),
                      max_cuda_needed=image.cuda, guard_minutes=guard, message=message)


def up(quote: SpendQuote, *, wait_s: float = START_WAIT_S, poll_s: float = POLL_S,
       sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> UpResult:
    """Start the quoted instance (only with an approved spend), record it, and wait until it runs."""
    require_spend(quote)
    live = [i for i in read_cloud(quote.project).instances if i.state in BILLING_STATES and i.ended_at is None]
    if live:
        raise LoragateError(f"{quote.project} already has {live[0].provider} instance {live[0].instance_id} ({live[0].state}).",
                            f"Use it, or end it first with `loragate cloud down {quote.project}`.")
    provider = get_provider(quote.provider)
    image = image_for(quote.gpu)
    remote_root = PLATFORM_ROOTS["runpod"] if quote.provider == "runpod" else "/workspace"
    request = CreateRequest(name=f"loragate-{quote.project}", provider_gpu=quote.provider_gpu, offer_id=quote.offer_id,
                            gpus=quote.gpus, image=quote.image, volume_gb=quote.volume_gb, allowed_cuda=allowed_cuda(image),
                            env={"LORAGATE_PROJECT": quote.project}, usd_per_hour=quote.usd_per_hour, guard=guard_program(
                                quote.provider, api_base(quote.provider), remote_root, quote.guard_minutes * 60))
    info = provider.create(request)
    record = InstanceRecord(project=quote.project, provider=quote.provider, instance_id=info.instance_id, gpu=quote.gpu,
                            gpus=quote.gpus, usd_per_hour=info.usd_per_hour or quote.usd_per_hour, volume_gb=quote.volume_gb,
                            storage_usd_gb_month=quote.storage_usd_gb_month, cap_usd=quote.cap_usd, image=quote.image,
                            started_at=datetime.now(timezone.utc), state="starting",
                            remote_root=remote_root, guard_minutes=quote.guard_minutes)
    save_instance(record)
    deadline = clock() + wait_s
    while True:
        info = provider.status(record.instance_id)
        if info.state == "running" and info.ssh:
            record.state, record.ssh = "running", info.ssh
            save_instance(record)
            return UpResult(record=record, started=True, message=(
                f"{quote.provider} instance {record.instance_id} is running ({record.gpu}, ${record.usd_per_hour:.2f}/h); "
                f"ssh {record.ssh.user}@{record.ssh.host} -p {record.ssh.port}. Next: `loragate cloud sync {quote.project}`."))
        if info.state in ("terminated", "exited") or clock() >= deadline:
            why = f"it went {info.state}" if info.state in ("terminated", "exited") else f"it did not start within {wait_s / 60:.0f} minutes"
            ended = provider.terminate(record.instance_id) if info.state != "terminated" else info
            record.state, record.ended_at = ended.state, datetime.now(timezone.utc)
            record.note = f"never started: {why}; terminated so it does not bill"
            save_instance(record)
            return UpResult(record=record, started=False, message=(
                f"{quote.provider} instance {record.instance_id} never started ({why}), so loragate terminated it "
                f"(now {ended.state}). Try another card or provider from `loragate cloud offers`."))
        sleep(poll_s)

