"""Modal: containers that exist only while a function runs, so there is no machine to rent.

Modal publishes no price API; its offers are the dated table's (loragate/data/cloud.toml). Work
on Modal goes through the generated app (`loragate cloud modal`), not create/terminate.
"""

from __future__ import annotations

from loragate.cloud.model import GpuOffer, InstanceInfo
from loragate.cloud.prices import table_offers
from loragate.cloud.providers.base import CreateRequest
from loragate.core.errors import LoragateError

NO_MACHINES = LoragateError(
    "Modal has no machine to start or end: its containers live only while a function runs.",
    "Use `loragate cloud modal write NAME`, then `loragate cloud modal run NAME`.",
)


class Modal:
    name = "modal"

    def offers(self, min_memory_gb: float = 0.0, volume_gb: int = 50) -> list[GpuOffer]:
        return [o for o in table_offers("modal") if o.memory_gb >= min_memory_gb]

    def create(self, request: CreateRequest) -> InstanceInfo:
        raise NO_MACHINES

    def status(self, instance_id: str) -> InstanceInfo:
        raise NO_MACHINES

    def stop(self, instance_id: str) -> InstanceInfo:
        raise NO_MACHINES

    def terminate(self, instance_id: str) -> InstanceInfo:
        raise NO_MACHINES
