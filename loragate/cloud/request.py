"""What the cloud operations that take the user's numbers take, one model each for both doors:
`loragate cloud offers|up|sync` and MCP's cloud_offers, cloud_up and cloud_sync build the same
requests, so providers, caps and idle minutes have their bounds and choices once and a bad value is
refused with the same sentence. Light: pydantic only."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from loragate.cloud.model import ProviderName
from loragate.plain import door_request

# The machine needs a few minutes to start, and a forgotten one should not bill for half a day.
MIN_GUARD, MAX_GUARD = 10, 720
# The pod's watchdog: idle minutes after the last work before it ends the pod.
MIN_IDLE, MAX_IDLE = 5, 720
RentalProvider = Literal["runpod", "vast"]  # Modal runs functions, not machines: nothing to rent
GuardMinutes = Annotated[int, Field(ge=MIN_GUARD, le=MAX_GUARD)]
IdleMinutes = Annotated[int, Field(ge=MIN_IDLE, le=MAX_IDLE)]
SpendCap = Annotated[float, Field(gt=0)]


class OffersRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: ProviderName | None = None
    project: str | None = None


class UpRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project: str
    provider: RentalProvider
    gpu: str
    max_usd: SpendCap | None = None
    idle_minutes: GuardMinutes | None = None


class SyncRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project: str
    install: bool = True
    idle_minutes: IdleMinutes = 30


def offers_request(**values: Any) -> OffersRequest:
    return door_request(OffersRequest, values, "The offers cannot be listed",
                        "Correct it and ask again.")


def up_request(**values: Any) -> UpRequest:
    return door_request(UpRequest, values, "Nothing can be rented",
                        "Correct it and ask again. Nothing was spent.")


def sync_request(**values: Any) -> SyncRequest:
    return door_request(SyncRequest, values, "The project cannot be sent to the pod",
                        "Correct it and sync again.")
