"""Vast.ai through its REST API, the one the vastai client (1.9.1) speaks.

Base `$VAST_URL` (default https://console.vast.ai) + `/api/v0`, `Authorization: Bearer KEY`.
Offers: POST /bundles/ (the client's search_offers, same default filters); rent: PUT /asks/ID/
(answers `new_contract`); status: GET /instances/ID/?owner=me (`actual_status`,
`intended_status`, `ssh_host`, `ssh_port`, `dph_total`); stop: PUT /instances/ID/ {"state":
"stopped"}; end: DELETE /instances/ID/. An instance that exits keeps billing its disk until it is
destroyed.
"""

from __future__ import annotations

from urllib.parse import quote

from loragate.cloud.http import NoCapacity, request_json
from loragate.cloud.keys import api_key
from loragate.cloud.model import GpuOffer, InstanceInfo, InstanceState, SshEndpoint
from loragate.cloud.prices import canonical_gpu, storage_rate
from loragate.cloud.providers.base import CreateRequest, api_base
from loragate.cloud.start_guard import vast_onstart


class Vast:
    name = "vast"

    def __init__(self, key: str | None = None) -> None:
        self._key = key

    def _url(self, path: str) -> str:
        return api_base("vast") + "/api/v0" + path

    def _call(self, method: str, path: str, body: object = None) -> dict:
        answer = request_json(method, self._url(path), self._key or api_key("vast"), body, provider="Vast.ai")
        return answer if isinstance(answer, dict) else {}

    def offers(self, min_memory_gb: float = 0.0, volume_gb: int = 50) -> list[GpuOffer]:
        query = {"verified": {"eq": True}, "external": {"eq": False}, "rentable": {"eq": True}, "rented": {"eq": False},
                 "num_gpus": {"eq": 1}, "gpu_ram": {"gte": int(min_memory_gb * 1000)},
                 "order": [["dph_total", "asc"]], "type": "on-demand", "allocated_storage": float(volume_gb), "limit": 200}
        answer = self._call("POST", "/bundles/", query)
        cheapest: dict[str, GpuOffer] = {}
        default_rate = storage_rate("vast")
        for o in answer.get("offers") or []:
            memory = round(float(o.get("gpu_ram") or 0) / 1024, 1)
            price = o.get("dph_base") or o.get("dph_total")
            if not price or memory < min_memory_gb:
                continue
            name = canonical_gpu(str(o.get("gpu_name")), str(o.get("gpu_name")))
            offer = GpuOffer(provider="vast", gpu=name, provider_gpu=str(o.get("gpu_name")), memory_gb=memory,
                             usd_per_hour=float(price), offer_id=str(o.get("id")),
                             max_cuda=str(o["cuda_max_good"]) if o.get("cuda_max_good") else None,
                             storage_usd_gb_month=float(o.get("storage_cost") or default_rate),
                             live=True, source="Vast.ai API (bundles), now")
            # one line per card: the cheapest host that has it
            if name not in cheapest or offer.usd_per_hour < cheapest[name].usd_per_hour:
                cheapest[name] = offer
        return list(cheapest.values())

    def create(self, request: CreateRequest) -> InstanceInfo:
        if not request.offer_id:
            raise NoCapacity("A Vast.ai rental needs the offer id of one host.", "Run `loragate cloud offers --provider vast` and rent from it.")
        body = {"client_id": "me", "image": request.image, "disk": float(request.volume_gb), "label": request.name,
                "env": dict(request.env), "runtype": "ssh_proxy",
                "onstart": vast_onstart(request.guard) if request.guard else None}
        answer = self._call("PUT", f"/asks/{quote(request.offer_id, safe='')}/", body)
        contract = answer.get("new_contract")
        if not answer.get("success", bool(contract)) or not contract:
            why = answer.get("msg") or answer.get("error") or "the host is no longer available"
            raise NoCapacity(f"Vast.ai did not rent that host ({why}).", "Run `loragate cloud offers --provider vast` again and pick a current offer.")
        return InstanceInfo(instance_id=str(contract), state="starting", usd_per_hour=request.usd_per_hour)

    def status(self, instance_id: str) -> InstanceInfo:
        answer = self._call("GET", f"/instances/{quote(instance_id, safe='')}/?owner=me")
        row = answer.get("instances")
        if not row:
            return InstanceInfo(instance_id=instance_id, state="terminated", message="Vast.ai no longer knows this instance.")
        actual = str(row.get("actual_status") or "")
        intended = str(row.get("intended_status") or "")
        state: InstanceState
        if actual == "running":
            state = "running"
        elif actual == "exited":
            state = "exited"
        elif intended == "stopped" or actual == "stopped":
            state = "stopped"
        else:
            state = "starting"
        ssh = SshEndpoint(host=str(row["ssh_host"]), port=int(row["ssh_port"])) if row.get("ssh_host") and row.get("ssh_port") else None
        return InstanceInfo(instance_id=instance_id, state=state, usd_per_hour=row.get("dph_total"), ssh=ssh,
                            message=str(row.get("status_msg") or f"Vast.ai status {actual or 'pending'}"))

    def stop(self, instance_id: str) -> InstanceInfo:
        self._call("PUT", f"/instances/{quote(instance_id, safe='')}/", {"state": "stopped"})
        return self.status(instance_id)

    def terminate(self, instance_id: str) -> InstanceInfo:
        self._call("DELETE", f"/instances/{quote(instance_id, safe='')}/", {})
        return self.status(instance_id)
