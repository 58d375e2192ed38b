"""RunPod through its GraphQL API, the one the runpod SDK (1.12) speaks.

Same endpoint and auth as the SDK: POST `$RUNPOD_API_BASE_URL/graphql` (default
https://api.runpod.io) with `Authorization: Bearer KEY`; errors come back as `{"errors": [...]}`.
Queries and mutations follow the SDK's `api/queries` and `api/mutations` (gpuTypes with
securePrice, podFindAndDeployOnDemand, pod, podStop, podTerminate).
"""

from __future__ import annotations

import json
from typing import Any

from loragate.cloud.http import AuthError, CloudError, NoCapacity, request_json
from loragate.cloud.keys import api_key
from loragate.cloud.model import GpuOffer, InstanceInfo, InstanceState, SshEndpoint
from loragate.cloud.prices import canonical_gpu, storage_rate
from loragate.cloud.providers.base import CreateRequest, api_base
from loragate.cloud.start_guard import runpod_start_command

POD_FIELDS = "id desiredStatus costPerHr uptimeSeconds runtime { ports { ip isIpPublic privatePort publicPort type } }"
NO_CAPACITY_WORDS = ("no longer any instances available", "not enough free gpus", "no instances available", "out of capacity")


class Enum(str):
    """A GraphQL enum value: written bare, not quoted."""


def gql_value(value: Any) -> str:
    """A Python value as a GraphQL literal; strings through JSON, so quotes and backslashes are escaped."""
    if isinstance(value, Enum):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(gql_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {gql_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no GraphQL literal for {type(value).__name__}")


class RunPod:
    name = "runpod"

    def __init__(self, key: str | None = None) -> None:
        self._key = key

    def _call(self, query: str) -> dict:
        answer = request_json("POST", f"{api_base('runpod')}/graphql", self._key or api_key("runpod"), {"query": query}, provider="RunPod")
        errors = answer.get("errors") if isinstance(answer, dict) else None
        if errors:
            text = str(errors[0].get("message", errors[0]))
            lowered = text.lower()
            if any(w in lowered for w in NO_CAPACITY_WORDS):
                raise NoCapacity(f"RunPod has no free machine with that card right now ({text}).",
                                 "Pick another card from `loragate cloud offers`, or try again later.")
            if "unauthorized" in lowered or "api key" in lowered:
                raise AuthError("RunPod refused the API key.", "Check RUNPOD_API_KEY or ~/.runpod/config.toml.")
            raise CloudError(f"RunPod said: {text}", "Check the request in the RunPod console, or try again.")
        return answer.get("data") or {}

    def offers(self, min_memory_gb: float = 0.0, volume_gb: int = 50) -> list[GpuOffer]:
        data = self._call("query GpuTypes { gpuTypes { id displayName memoryInGb secureCloud securePrice communityPrice } }")
        rate = storage_rate("runpod", running=True)
        found: list[GpuOffer] = []
        for t in data.get("gpuTypes") or []:
            # loragate rents in RunPod's Secure Cloud (cloudType SECURE below), so only its price counts
            price = t.get("securePrice") if t.get("secureCloud", True) else None
            memory = float(t.get("memoryInGb") or 0)
            if not price or memory < min_memory_gb:
                continue
            found.append(GpuOffer(provider="runpod", gpu=canonical_gpu(t.get("displayName") or t["id"], t["id"]),
                                  provider_gpu=t["id"], memory_gb=memory, usd_per_hour=float(price),
                                  storage_usd_gb_month=rate, live=True, source="RunPod API (gpuTypes), now"))
        return found

    def create(self, request: CreateRequest) -> InstanceInfo:
        fields: dict[str, Any] = {
            "name": request.name, "imageName": request.image, "cloudType": Enum("SECURE"),
            "gpuTypeId": request.provider_gpu, "gpuCount": request.gpus, "supportPublicIp": True, "startSsh": True,
            "volumeInGb": request.volume_gb, "containerDiskInGb": 20, "volumeMountPath": "/workspace", "ports": "22/tcp",
        }
        if request.allowed_cuda:
            fields["allowedCudaVersions"] = request.allowed_cuda
        if request.guard:
            fields["dockerArgs"] = runpod_start_command(request.guard)
        if request.env:
            fields["env"] = [{"key": k, "value": v} for k, v in request.env.items()]
        data = self._call(f"mutation {{ podFindAndDeployOnDemand(input: {gql_value(fields)}) {{ id costPerHr desiredStatus }} }}")
        pod = data.get("podFindAndDeployOnDemand") or {}
        if not pod.get("id"):
            raise NoCapacity("RunPod did not start a pod.", "Pick another card from `loragate cloud offers`, or try again later.")
        return InstanceInfo(instance_id=str(pod["id"]), state="starting", usd_per_hour=pod.get("costPerHr") or request.usd_per_hour)

    def status(self, instance_id: str) -> InstanceInfo:
        data = self._call(f"query pod {{ pod(input: {{podId: {gql_value(instance_id)}}}) {{ {POD_FIELDS} }} }}")
        pod = data.get("pod")
        if not pod:
            return InstanceInfo(instance_id=instance_id, state="terminated", message="RunPod no longer knows this pod.")
        return _info(instance_id, pod)

    def stop(self, instance_id: str) -> InstanceInfo:
        self._call(f"mutation {{ podStop(input: {{podId: {gql_value(instance_id)}}}) {{ id desiredStatus }} }}")
        return self.status(instance_id)

    def terminate(self, instance_id: str) -> InstanceInfo:
        self._call(f"mutation {{ podTerminate(input: {{podId: {gql_value(instance_id)}}}) }}")
        return self.status(instance_id)


def _info(instance_id: str, pod: dict) -> InstanceInfo:
    desired = str(pod.get("desiredStatus") or "").upper()
    runtime = pod.get("runtime")
    state: InstanceState
    if desired == "TERMINATED":
        state = "terminated"
    elif desired == "EXITED":
        state = "stopped"
    elif desired == "RUNNING":
        state = "running" if runtime else "starting"
    else:
        state = "unknown"
    ssh = None
    for port in (runtime or {}).get("ports") or []:
        if port.get("privatePort") == 22 and port.get("isIpPublic") and port.get("ip"):
            ssh = SshEndpoint(host=str(port["ip"]), port=int(port["publicPort"]))
    return InstanceInfo(instance_id=instance_id, state=state, usd_per_hour=pod.get("costPerHr"), ssh=ssh,
                        message=f"RunPod status {desired or 'unknown'}")
