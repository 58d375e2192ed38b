"""A ComfyUI server over its HTTP API: what it lists, queueing a workflow, and fetching the result.

`GET /object_info/NODE` lists a node's inputs, including the files its dropdowns offer (the LoRAs
ComfyUI can see); `POST /prompt {"prompt": workflow}` queues it (400 with `node_errors` when a
node refuses its inputs); `GET /history/ID` holds the outputs once it ran; `GET /view` returns a
file. Errors come back as LoragateError in plain words.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

from loragate.core.errors import LoragateError
from loragate.evaluate.workflows import Workflow, lora_nodes, model_inputs

DEFAULT_URL = "http://127.0.0.1:8188"


class ComfyUI:
    def __init__(self, url: str, timeout_s: float = 900.0, poll_s: float = 0.5) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.client_id = uuid.uuid4().hex
        self._lists: dict[tuple[str, str], list[str]] = {}

    # ---------------------------------------------------------------- HTTP
    def _get(self, path: str, timeout: float = 30.0) -> bytes:
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            raise LoragateError(f"ComfyUI at {self.url} answered {exc.code} to {path}.", "Check the ComfyUI console.") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise LoragateError(
                f"ComfyUI does not answer at {self.url} ({getattr(exc, 'reason', exc)}).",
                "Start ComfyUI, or give its address with --comfyui-url (or comfyui_url in grimoire/studio.md).",
            ) from exc

    def reachable(self) -> bool:
        try:
            self._get("/system_stats", timeout=3.0)
            return True
        except LoragateError:
            return False

    def choices(self, node: str, field: str) -> list[str]:
        """The files a node's dropdown offers (e.g. LoraLoader's lora_name)."""
        key = (node, field)
        if key not in self._lists:
            data = json.loads(self._get(f"/object_info/{urllib.parse.quote(node)}"))
            spec = data.get(node, {}).get("input", {})
            entry = (spec.get("required", {}) or {}).get(field) or (spec.get("optional", {}) or {}).get(field)
            options = entry[0] if entry and isinstance(entry[0], list) else []
            self._lists[key] = [str(o) for o in options]
        return self._lists[key]

    # ---------------------------------------------------------------- checks
    def check_files(self, workflow: Workflow) -> None:
        """Every model and LoRA the workflow names must be in ComfyUI's lists, else say where to put it."""
        node = next((n["class_type"] for n in workflow.values() if n["class_type"] in ("LoraLoader", "LoraLoaderModelOnly")), None)
        for lora in lora_nodes(workflow):
            listed = self.choices(node or "LoraLoader", "lora_name")
            if lora not in listed and not any(item.replace("\\", "/").endswith("/" + lora) for item in listed):
                raise LoragateError(
                    f"ComfyUI cannot see the LoRA {lora}: it is not in ComfyUI's LoRA list ({len(listed)} files).",
                    "Copy or link the file into ComfyUI/models/loras/ (or a folder in extra_model_paths.yaml) and run again.",
                )
        for node_class, field, name in model_inputs(workflow):
            listed = self.choices(node_class, field)
            if listed and name not in listed:
                raise LoragateError(
                    f"ComfyUI has no model file {name} for {node_class} (it lists {', '.join(listed[:5])}"
                    + (", ..." if len(listed) > 5 else "") + ").",
                    "Put the base model the LoRA was trained on into ComfyUI's models folder, or set the plan's weights to ComfyUI's file names.",
                )

    # ---------------------------------------------------------------- run
    def queue(self, workflow: Workflow) -> str:
        body = json.dumps({"prompt": workflow, "client_id": self.client_id}).encode()
        request = urllib.request.Request(self.url + "/prompt", data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30.0) as response:
                return str(json.loads(response.read())["prompt_id"])
        except urllib.error.HTTPError as exc:
            raise LoragateError(node_errors_text(exc.read()), "Fix the input named, or export the workflow and open it in ComfyUI.") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise LoragateError(f"ComfyUI does not answer at {self.url} ({exc}).", "Start ComfyUI and run again.") from exc

    def wait(self, prompt_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            history = json.loads(self._get(f"/history/{prompt_id}")).get(prompt_id)
            if history:
                status = history.get("status", {})
                if status.get("status_str") == "error":
                    raise LoragateError(f"ComfyUI failed while generating: {execution_error(status)}.", "Read the ComfyUI console for the full error.")
                if status.get("completed", True) and history.get("outputs"):
                    return history
            time.sleep(self.poll_s)
        raise LoragateError(f"ComfyUI did not finish within {self.timeout_s:.0f} s.", "Check the ComfyUI queue, then run again.")

    def fetch(self, history: dict[str, Any]) -> tuple[str, bytes]:
        """The first image (or animated picture) the workflow saved: its name and bytes."""
        for output in history.get("outputs", {}).values():
            for item in output.get("images", []) + output.get("gifs", []):
                query = urllib.parse.urlencode({"filename": item["filename"], "subfolder": item.get("subfolder", ""), "type": item.get("type", "output")})
                return str(item["filename"]), self._get(f"/view?{query}")
        raise LoragateError("ComfyUI finished but saved no picture.", "Check that the workflow ends in a Save node.")

    def generate(self, workflow: Workflow) -> tuple[str, bytes]:
        return self.fetch(self.wait(self.queue(workflow)))


def node_errors_text(body: bytes) -> str:
    """ComfyUI's 400 answer in words: which node, which input, what is wrong."""
    try:
        data = json.loads(body)
    except ValueError:
        return f"ComfyUI refused the workflow: {body[:200]!r}"
    parts: list[str] = []
    for node_id, info in (data.get("node_errors") or {}).items():
        for err in info.get("errors", []):
            detail = err.get("details") or err.get("message", "")
            extra = err.get("extra_info", {}) or {}
            name = extra.get("input_name")
            parts.append(f"node {node_id} ({info.get('class_type', '?')})" + (f", input '{name}'" if name else "") + f": {detail}")
    top = data.get("error", {})
    head = top.get("message", "the workflow was refused") if isinstance(top, dict) else str(top)
    return "ComfyUI refused the workflow: " + head + (". " + "; ".join(parts) if parts else "")


def execution_error(status: dict[str, Any]) -> str:
    for kind, info in status.get("messages", []):
        if kind == "execution_error":
            return f"{info.get('node_type', 'a node')}: {info.get('exception_message', '').strip()}"
    return "an error the history does not describe"
