"""The cloud records: an offer with its cost, a spend quote, an instance and its state."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

ProviderName = Literal["runpod", "vast", "modal"]
PROVIDERS: tuple[ProviderName, ...] = ("runpod", "vast", "modal")
# What a provider says of an instance, in loragate's words.
InstanceState = Literal["starting", "running", "stopped", "exited", "terminated", "unknown"]
# Every state but terminated costs money: the GPU while starting or running, the disk while stopped or exited.
BILLING_STATES: tuple[InstanceState, ...] = ("starting", "running", "stopped", "exited", "unknown")
HOURS_PER_MONTH = 730  # storage is priced per GB per month


class GpuOffer(BaseModel):
    """One card a provider rents now (or rented at the table's date)."""

    provider: ProviderName
    gpu: str = Field(description="loragate's name for the card (the speed table's), e.g. 'A100 80GB'.")
    provider_gpu: str = Field(description="The provider's own id for it (RunPod gpuTypeId, Vast gpu_name, Modal gpu).")
    memory_gb: float
    usd_per_hour: float = Field(description="GPU price per hour, storage not included.")
    offer_id: str | None = Field(default=None, description="Vast: the ask id to rent.")
    max_cuda: str | None = Field(default=None, description="Newest CUDA the host's driver supports, when the provider says.")
    storage_usd_gb_month: float = 0.0
    live: bool = Field(description="True when the price came from the provider's API just now.")
    dated: str | None = Field(default=None, description="The table's date when the price is not live.")
    source: str = Field(description="Where the price comes from, with its date when it is not live.")


class CostLine(BaseModel):
    """An offer judged against a plan: does it fit, how long, how much, and the cap."""

    offer: GpuOffer
    fits: bool
    fit_note: str = ""
    gpus: int = Field(default=1, description="Cards rented: 2 when the Wan 2.2 experts train side by side on two GPUs.")
    hours: float | None = Field(default=None, description="Expected run time in hours, setup included.")
    time_basis: str = Field(default="", description="Where the time comes from: the dry run scaled to this card, or the estimate.")
    volume_gb: int = 0
    storage_usd: float = 0.0
    total_usd: float | None = None
    cap_usd: float | None = Field(default=None, description="The spend cap loragate enforces on the pod: the total plus a margin.")


class OffersReport(BaseModel):
    project: str | None = None
    estimate_gb: float | None = Field(default=None, description="The plan's memory estimate for one run, before the 20% margin.")
    runs_at_once: int = 1
    lines: list[CostLine]
    notes: list[str] = Field(default_factory=list, description="Providers that did not answer, tables used and their dates.")


class SpendQuote(BaseModel):
    """What the artist says yes to: a provider, a card, its price and the cap."""

    project: str
    provider: ProviderName
    gpu: str
    provider_gpu: str
    offer_id: str | None = None
    usd_per_hour: float
    storage_usd_gb_month: float = 0.0
    gpus: int = 1
    volume_gb: int
    hours: float | None = None
    total_usd: float | None = None
    cap_usd: float
    image: str
    max_cuda_needed: str | None = None
    guard_minutes: int = Field(default=30, description="Minutes the machine waits for `cloud sync` before its start guard ends it.")
    message: str = Field(description="The cost in plain words, to show before asking.")


class SshEndpoint(BaseModel):
    host: str
    port: int = 22
    user: str = "root"


class InstanceInfo(BaseModel):
    """What the provider says of an instance now."""

    instance_id: str
    state: InstanceState
    usd_per_hour: float | None = None
    ssh: SshEndpoint | None = None
    message: str = ""


class InstanceRecord(BaseModel):
    """An instance loragate started, kept in the project's cloud.json and in studio.md."""

    project: str
    provider: ProviderName
    instance_id: str
    gpu: str
    gpus: int = 1
    usd_per_hour: float
    storage_usd_gb_month: float = 0.0
    volume_gb: int = 0
    cap_usd: float
    image: str = ""
    started_at: datetime
    ended_at: datetime | None = None
    state: InstanceState = "starting"
    ssh: SshEndpoint | None = None
    remote_root: str = Field(default="/workspace", description="The pod folder that stands for the plan's /workspace.")
    remote_loragate: str | None = Field(default=None, description="loragate on the pod; default: the one `cloud sync` installs.")
    guard_minutes: int | None = Field(default=None, description="The start guard ends the machine this long after its start unless a sync arrives.")
    synced_at: datetime | None = Field(default=None, description="When `cloud sync` started the watchdog and the start guard stood down.")
    note: str = ""


class CloudRecord(BaseModel):
    """grimoire/training/NAME/cloud.json: every instance the project started."""

    project: str
    instances: list[InstanceRecord] = Field(default_factory=list)


class InstanceCost(BaseModel):
    record: InstanceRecord
    hours: float
    usd_so_far: float = Field(description="GPU time plus storage since it started, at the recorded price.")
    over_cap: bool
    billing: bool = Field(description="True while it costs money: running, starting, stopped (volume) or exited (disk).")


class CloudStatus(BaseModel):
    instances: list[InstanceCost]
    billing_usd_per_hour: float = Field(description="What the instances still billing cost per hour together.")
    message: str
