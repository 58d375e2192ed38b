"""The dated price table and the card speeds (loragate/data/cloud.toml).

Live prices come from the providers; this table answers when they cannot be reached, and says
its date and source. Card speeds (dense BF16 TFLOPS) scale a measured seconds-per-step between cards.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pydantic import BaseModel, Field

from loragate.catalog.datafile import read_data_toml
from loragate.cloud.model import GpuOffer


class CardFacts(BaseModel):
    name: str
    memory_gb: float
    tflops: float
    capability: str
    aliases: list[str] = Field(default_factory=list)
    runpod_id: str | None = None
    runpod_usd_h: float | None = None
    modal_gpu: str | None = None
    modal_usd_h: float | None = None


class ImageFacts(BaseModel):
    cuda: str
    torch: str
    oldest_arch: str
    runpod: str
    vast: str
    modal: str


class CloudFacts(BaseModel):
    fallback: dict[str, str]
    storage: dict[str, float]
    cards: dict[str, CardFacts]
    images: list[ImageFacts]
    guard_minutes: int = Field(description="Minutes a rented machine waits for `cloud sync` before its start guard ends it.")


@lru_cache(maxsize=1)
def cloud_facts() -> CloudFacts:
    raw = read_data_toml("cloud.toml")
    cards = {name: CardFacts(name=name, **facts) for name, facts in raw["gpu"].items()}
    images = [ImageFacts(**i) for i in raw["image"]]
    return CloudFacts(fallback=raw["fallback"], storage=raw["storage"], cards=cards, images=images,
                      guard_minutes=int(raw["guard"]["minutes"]))


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower().replace("nvidia", "").replace("geforce", ""))


def card(name: str | None) -> CardFacts | None:
    """The speed table's entry for a card named the way any provider or nvidia-smi names it."""
    if not name:
        return None
    wanted = _key(name)
    for facts in cloud_facts().cards.values():
        if wanted in {_key(facts.name), *(_key(a) for a in facts.aliases)} or wanted == _key(facts.runpod_id or ""):
            return facts
    return None


def canonical_gpu(display: str, provider_id: str) -> str:
    facts = card(provider_id) or card(display)
    return facts.name if facts else display


def storage_rate(provider: str, running: bool = True) -> float:
    storage = cloud_facts().storage
    if provider == "runpod":
        return storage["runpod_running" if running else "runpod_stopped"]
    if provider == "modal":
        return storage["modal_volume"]
    return storage["vast_default"]


def table_offers(provider: str) -> list[GpuOffer]:
    """The dated table's offers for a provider (none for Vast, a marketplace with no list price)."""
    facts = cloud_facts()
    date = facts.fallback.get(f"{provider}_date")
    source = facts.fallback.get(f"{provider}_source", "")
    offers: list[GpuOffer] = []
    for c in facts.cards.values():
        provider_gpu = c.runpod_id if provider == "runpod" else c.modal_gpu if provider == "modal" else None
        price = c.runpod_usd_h if provider == "runpod" else c.modal_usd_h if provider == "modal" else None
        if provider_gpu and price:
            offers.append(GpuOffer(provider=provider, gpu=c.name, provider_gpu=provider_gpu, memory_gb=c.memory_gb,  # type: ignore[arg-type]
                                   usd_per_hour=price, storage_usd_gb_month=storage_rate(provider), live=False, dated=date,
                                   source=f"price table dated {date} ({source})"))
    return offers


def speed_ratio(measured_on: str | None, target: str) -> float | None:
    """How many times faster `target` is than the card the dry run measured on (None when either is unknown)."""
    a, b = card(measured_on), card(target)
    if not a or not b:
        return None
    return b.tflops / a.tflops
