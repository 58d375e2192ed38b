"""The small interface every provider adapter speaks."""

from __future__ import annotations

import os
from typing import Protocol

from pydantic import BaseModel, Field

from loragate.cloud.model import GpuOffer, InstanceInfo


# Where each API lives: the variables the official clients read (runpod SDK, vastai client), else the real service.
API_BASES = {"runpod": ("RUNPOD_API_BASE_URL", "https://api.runpod.io"), "vast": ("VAST_URL", "https://console.vast.ai")}


def api_base(provider: str) -> str:
    variable, default = API_BASES[provider]
    return os.environ.get(variable, default).rstrip("/")


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
    guard: str | None = Field(default=None, description="The start guard's program: the instance runs it at start (RunPod dockerArgs, Vast onstart).")
    usd_per_hour: float


class Provider(Protocol):
    name: str

    def offers(self, min_memory_gb: float = 0.0, volume_gb: int = 50) -> list[GpuOffer]: ...

    def create(self, request: CreateRequest) -> InstanceInfo: ...

    def status(self, instance_id: str) -> InstanceInfo: ...

    def stop(self, instance_id: str) -> InstanceInfo: ...

    def terminate(self, instance_id: str) -> InstanceInfo: ...
