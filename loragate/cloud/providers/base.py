"""The small interface every provider adapter speaks."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, Field

from loragate.cloud.model import GpuOffer, InstanceInfo


class CreateRequest(BaseModel):
    """What `up` asks a provider for (the quote the artist said yes to, in provider terms)."""

    name: str = Field(description="A label for the instance: loragate-<project>.")
    provider_gpu: str
    offer_id: str | None = None
    gpus: int = 1
    image: str
    volume_gb: int
    allowed_cuda: list[str] = Field(default_factory=list, description="CUDA versions the image runs on (RunPod filters hosts by them).")
    env: dict[str, str] = Field(default_factory=dict)
    usd_per_hour: float


class Provider(Protocol):
    name: str

    def offers(self, min_memory_gb: float = 0.0, volume_gb: int = 50) -> list[GpuOffer]: ...

    def create(self, request: CreateRequest) -> InstanceInfo: ...

    def status(self, instance_id: str) -> InstanceInfo: ...

    def stop(self, instance_id: str) -> InstanceInfo: ...

    def terminate(self, instance_id: str) -> InstanceInfo: ...
