"""Local stand-ins for the RunPod GraphQL API and the Vast.ai REST API, on 127.0.0.1 only.

They keep state like the real services: an instance is created, starts after a number of status
polls (or never), runs with an SSH port, stops/exits, and is terminated; prices are billed by the
instance's uptime on a clock the test controls. They refuse a wrong key (401), can have no
capacity, and record every request so a test can look for a leaked key.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from typing_extensions import Self


@dataclass
class FakeInstance:
    id: str
    gpu: str
    price: float
    polls: int = 0
    state: str = "starting"  # starting, running, stopped, exited, terminated
    started_at: float = 0.0
    body: dict = field(default_factory=dict)


@dataclass
class CloudState:
    key: str
    start_after_polls: int = 1
    never_start: bool = False
    exit_on_start: bool = False
    capacity: bool = True
    clock: float = 0.0
    ssh_host: str = "127.0.0.1"
    ssh_port: int = 2222
    instances: dict[str, FakeInstance] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    terminated: list[str] = field(default_factory=list)
    # the key each instance gets for itself (RunPod RUNPOD_API_KEY, Vast CONTAINER_API_KEY): it acts on that instance only
    pod_keys: dict[str, str] = field(default_factory=dict)
    ended_by_pod_key: list[str] = field(default_factory=list)
    pod_key_may_destroy: bool = True
    next_id: int = 1000

    def new_id(self, prefix: str) -> str:
        self.next_id += 1
        return f"{prefix}{self.next_id}"

    def poll(self, inst: FakeInstance) -> None:
        inst.polls += 1
        if inst.state == "starting" and not self.never_start and inst.polls >= self.start_after_polls:
            inst.state = "exited" if self.exit_on_start else "running"

    def scoped_key(self, inst: FakeInstance) -> str:
        self.pod_keys[inst.id] = f"instance-scoped-{inst.id}-5d0c"
        return self.pod_keys[inst.id]

    def billed(self, inst: FakeInstance) -> float:
        return (self.clock - inst.started_at) / 3600 * inst.price


RUNPOD_GPUS: list[dict[str, Any]] = [
    {"id": "NVIDIA A100 80GB PCIe", "displayName": "A100 PCIe", "memoryInGb": 80, "secureCloud": True, "securePrice": 1.64, "communityPrice": 1.19},
    {"id": "NVIDIA GeForce RTX 4090", "displayName": "RTX 4090", "memoryInGb": 24, "secureCloud": True, "securePrice": 0.69, "communityPrice": 0.34},
    {"id": "NVIDIA H100 80GB HBM3", "displayName": "H100 SXM", "memoryInGb": 80, "secureCloud": True, "securePrice": 2.99, "communityPrice": None},
    {"id": "NVIDIA RTX A2000", "displayName": "RTX A2000", "memoryInGb": 6, "secureCloud": False, "securePrice": None, "communityPrice": None},
]

VAST_OFFERS: list[dict[str, Any]] = [
    {"id": 501, "gpu_name": "RTX 4090", "num_gpus": 1, "gpu_ram": 24564, "dph_base": 0.35, "dph_total": 0.37, "storage_cost": 0.12, "cuda_max_good": 12.8},
    {"id": 502, "gpu_name": "A100 SXM4", "num_gpus": 1, "gpu_ram": 81920, "dph_base": 1.10, "dph_total": 1.15, "storage_cost": 0.15, "cuda_max_good": 12.4},
    {"id": 503, "gpu_name": "A100 SXM4", "num_gpus": 1, "gpu_ram": 81920, "dph_base": 0.95, "dph_total": 1.00, "storage_cost": 0.20, "cuda_max_good": 12.8},
    {"id": 504, "gpu_name": "H100 SXM", "num_gpus": 1, "gpu_ram": 81559, "dph_base": 1.90, "dph_total": 1.95, "storage_cost": 0.15, "cuda_max_good": 12.9},
]


def _gql_string(query: str, name: str) -> str | None:
    match = re.search(rf"\b{name}: (\"(?:[^\"\\]|\\.)*\")", query)
    return json.loads(match.group(1)) if match else None


class _Handler(BaseHTTPRequestHandler):
    state: CloudState
    kind: str
    scope: str | None = None

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, code: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        self.state.requests.append(f"{self.command} {self.path} {raw.decode(errors='replace')}")
        return json.loads(raw) if raw else {}

    def _authorized(self, instance_id: str | None = None) -> bool:
        """The account key, or an instance's own key used on that instance."""
        given = self.headers.get("Authorization")
        self.scope = next((i for i, k in self.state.pod_keys.items() if given == f"Bearer {k}"), None)
        if given != f"Bearer {self.state.key}" and (self.scope is None or (instance_id is not None and instance_id != self.scope)):
            self._send(401, {"error": "Unauthorized request, please check your API key."})
            return False
        return True

    def do_POST(self) -> None:
        body = self._body()
        if not self._authorized(None if self.kind == "runpod" else "?"):  # RunPod scopes inside the query
            return
        if self.kind == "runpod":
            self._send(200, self._graphql(body.get("query", "")))
        elif self.path.startswith("/api/v0/bundles/"):
            wanted = (body.get("gpu_ram") or {}).get("gte", 0)
            self._send(200, {"offers": [o for o in VAST_OFFERS if o["gpu_ram"] >= wanted]})
        else:
            self._send(404, {"error": "not found"})

    def do_PUT(self) -> None:
        body = self._body()
        target = re.match(r"^/api/v0/instances/(\d+)/$", self.path)
        if not self._authorized(target.group(1) if target else "?"):
            return
        s = self.state
        if (m := re.match(r"^/api/v0/asks/(\d+)/$", self.path)):
            offer = next((o for o in VAST_OFFERS if str(o["id"]) == m.group(1)), None)
            if offer is None or not s.capacity:
                self._send(200, {"success": False, "error": "no_such_ask", "msg": "Instance type no longer available."})
                return
            rented = FakeInstance(id=str(s.new_id("")), gpu=offer["gpu_name"], price=offer["dph_total"], started_at=s.clock, body=body)
            s.instances[rented.id] = rented
            s.scoped_key(rented)
            self._send(200, {"success": True, "new_contract": int(rented.id)})
        elif (m := re.match(r"^/api/v0/instances/(\d+)/$", self.path)):
            found = s.instances.get(m.group(1))
            if found and body.get("state") == "stopped":
                found.state = "stopped"
            self._send(200, {"success": bool(found)})
        else:
            self._send(404, {"error": "not found"})

    def do_GET(self) -> None:
        self._body()
        m = re.match(r"^/api/v0/instances/(\d+)/\?owner=me$", self.path)
        if not self._authorized(m.group(1) if m else "?"):
            return
        inst = self.state.instances.get(m.group(1)) if m else None
        if inst is None or inst.state == "terminated":
            self._send(200, {"instances": None})
            return
        self.state.poll(inst)
        actual = {"starting": "loading", "running": "running", "stopped": "stopped", "exited": "exited"}[inst.state]
        row = {"id": int(inst.id), "actual_status": actual, "intended_status": "stopped" if inst.state == "stopped" else "running",
               "dph_total": inst.price, "start_date": inst.started_at, "status_msg": f"fake {actual}"}
        if inst.state == "running":
            row.update(ssh_host=self.state.ssh_host, ssh_port=self.state.ssh_port)
        self._send(200, {"instances": row})

    def do_DELETE(self) -> None:
        self._body()
        m = re.match(r"^/api/v0/instances/(\d+)/$", self.path)
        if not self._authorized(m.group(1) if m else "?"):
            return
        if self.scope and not self.state.pod_key_may_destroy:
            self._send(403, {"error": "This instance key may not destroy."})
            return
        inst = self.state.instances.get(m.group(1)) if m else None
        if inst:
            inst.state = "terminated"
            self.state.terminated.append(inst.id)
            if self.scope:
                self.state.ended_by_pod_key.append(inst.id)
        self._send(200, {"success": bool(inst)})

    def _graphql(self, query: str) -> dict:
        s = self.state
        pod_id = _gql_string(query, "podId")
        if self.scope and pod_id != self.scope:
            return {"errors": [{"message": "Unauthorized: this API key is limited to another pod."}]}
        if "gpuTypes" in query:
            return {"data": {"gpuTypes": RUNPOD_GPUS}}
        if "podFindAndDeployOnDemand" in query:
            if not s.capacity:
                return {"errors": [{"message": "There are no longer any instances available with the requested specifications. Please refresh and try again."}]}
            gpu = _gql_string(query, "gpuTypeId") or "?"
            price = next((g["securePrice"] for g in RUNPOD_GPUS if g["id"] == gpu), 1.0)
            pod = FakeInstance(id=s.new_id("pod"), gpu=gpu, price=float(price), started_at=s.clock, body={"query": query})
            s.instances[pod.id] = pod
            s.scoped_key(pod)
            return {"data": {"podFindAndDeployOnDemand": {"id": pod.id, "costPerHr": price, "desiredStatus": "RUNNING"}}}
        inst = s.instances.get(pod_id or "")
        if "podTerminate" in query:
            if inst:
                inst.state = "terminated"
                s.terminated.append(inst.id)
                if self.scope:
                    s.ended_by_pod_key.append(inst.id)
            return {"data": {"podTerminate": None}}
        if "podStop" in query:
            if inst:
                inst.state = "stopped"
            return {"data": {"podStop": {"id": pod_id, "desiredStatus": "EXITED"}}}
        if re.search(r"\bpod\(input", query):
            if inst is None or inst.state == "terminated":
                return {"data": {"pod": None}}
            s.poll(inst)
            desired = {"starting": "RUNNING", "running": "RUNNING", "stopped": "EXITED", "exited": "EXITED"}[inst.state]
            runtime = None
            if inst.state == "running":
                runtime = {"ports": [{"ip": s.ssh_host, "isIpPublic": True, "privatePort": 22, "publicPort": s.ssh_port, "type": "tcp"}]}
            return {"data": {"pod": {"id": inst.id, "desiredStatus": desired, "costPerHr": inst.price,
                                     "uptimeSeconds": int(s.clock - inst.started_at), "runtime": runtime}}}
        return {"errors": [{"message": f"unknown query: {query[:60]}"}]}


class FakeCloud:
    """Start with `with FakeCloud("runpod", key) as cloud:`; `cloud.url` is the base URL."""

    def __init__(self, kind: str, key: str) -> None:
        self.state = CloudState(key=key)
        handler = type("Handler", (_Handler,), {"state": self.state, "kind": kind})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
