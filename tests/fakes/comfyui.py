"""A ComfyUI stand-in speaking its HTTP API, for tests (written from ComfyUI's documented API, no code of its own).

- `GET /system_stats`, `GET /object_info/NODE` (dropdown lists: the LoRAs and models it can see),
- `POST /prompt` -> `{"prompt_id"}`, or 400 `{"error", "node_errors"}` when an input is not in its list
  or a node class is unknown (ComfyUI's "Prompt outputs failed validation"),
- `GET /history/ID` -> outputs once "rendered", `GET /view?filename=` -> the file.

Rendering: tests/fakes/faketrainer/render.py (the seed's picture pulled towards a pattern by the
LoRA's strength; as in ComfyUI, keys the model does not have are not loaded).
"""

from __future__ import annotations

import itertools
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.fakes.faketrainer.render import lora_pull, png

KNOWN_NODES = {
    "CheckpointLoaderSimple", "LoraLoader", "LoraLoaderModelOnly", "CLIPTextEncode", "EmptyLatentImage", "KSampler",
    "VAEDecode", "SaveImage", "UNETLoader", "DualCLIPLoader", "CLIPLoader", "VAELoader", "FluxGuidance",
    "EmptySD3LatentImage", "ModelSamplingSD3", "EmptyHunyuanLatentVideo", "KSamplerAdvanced", "SaveAnimatedWEBP",
    "ModelSamplingDiscrete",  # comfy_extras/nodes_model_advanced.py: sampling eps | v_prediction | ..., zsnr
}
LIST_INPUTS = {
    ("CheckpointLoaderSimple", "ckpt_name"): "checkpoints", ("LoraLoader", "lora_name"): "loras",
    ("LoraLoaderModelOnly", "lora_name"): "loras", ("UNETLoader", "unet_name"): "unets", ("VAELoader", "vae_name"): "vaes",
    ("CLIPLoader", "clip_name"): "clips", ("DualCLIPLoader", "clip_name1"): "clips", ("DualCLIPLoader", "clip_name2"): "clips",
}


class FakeComfy:
    def __init__(self, lora_dir: Path, models: dict[str, list[str]], key_prefix: str = "lora_unet_input_blocks_", size: int = 64) -> None:
        self.lora_dir = lora_dir
        self.models = models
        self.key_prefix = key_prefix
        self.size = size
        self.outputs: dict[str, bytes] = {}
        self.history: dict[str, dict[str, Any]] = {}
        self.prompts: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ---------------------------------------------------------------- lists
    def listing(self, kind: str) -> list[str]:
        if kind == "loras":
            return sorted(p.name for p in self.lora_dir.glob("*.safetensors"))
        return list(self.models.get(kind, []))

    def object_info(self, node: str) -> dict[str, Any]:
        inputs = {field: [self.listing(kind)] for (cls, field), kind in LIST_INPUTS.items() if cls == node}
        return {node: {"input": {"required": inputs}, "output": [], "name": node}} if node in KNOWN_NODES else {}

    # ---------------------------------------------------------------- queue
    def validate(self, workflow: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        for node_id, node in workflow.items():
            cls = node.get("class_type")
            if cls not in KNOWN_NODES:
                errors[node_id] = {"class_type": cls, "errors": [{"type": "invalid_prompt", "message": f"Cannot execute because node {cls} does not exist.", "details": f"Node ID '#{node_id}'", "extra_info": {}}]}
                continue
            for (list_cls, field), kind in LIST_INPUTS.items():
                if list_cls == cls and node["inputs"].get(field) not in self.listing(kind):
                    value = node["inputs"].get(field)
                    errors[node_id] = {"class_type": cls, "dependent_outputs": [], "errors": [{
                        "type": "value_not_in_list", "message": "Value not in list",
                        "details": f"{field}: '{value}' not in {self.listing(kind)}", "extra_info": {"input_name": field}}]}
        return errors

    def strength(self, workflow: dict[str, Any]) -> float:
        """The LoRAs' pull: strength x effect x the share of their keys this model has."""
        return sum(
            lora_pull(self.lora_dir / n["inputs"]["lora_name"], float(n["inputs"]["strength_model"]), self.key_prefix)
            for n in workflow.values() if n["class_type"] in ("LoraLoader", "LoraLoaderModelOnly")
        )

    def render(self, workflow: dict[str, Any]) -> bytes:
        seed = next(int(n["inputs"].get("seed", n["inputs"].get("noise_seed", 0))) for n in workflow.values() if n["class_type"].startswith("KSampler"))
        text = next(n["inputs"]["text"] for n in workflow.values() if n["class_type"] == "CLIPTextEncode")
        return png(seed, text, self.strength(workflow), self.size)

    def render_animation(self, workflow: dict[str, Any]) -> bytes:
        """An animated WebP of the latent's length, the frames drifting as a clip would."""
        import io

        import numpy as np
        from PIL import Image

        length = next(int(n["inputs"]["length"]) for n in workflow.values() if n["class_type"] == "EmptyHunyuanLatentVideo")
        first = np.asarray(Image.open(io.BytesIO(self.render(workflow))))
        frames = [Image.fromarray(np.roll(first, n, axis=1)) for n in range(length)]
        buf = io.BytesIO()
        frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:], duration=62, loop=0, lossless=True)
        return buf.getvalue()

    def queue(self, workflow: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        errors = self.validate(workflow)
        if errors:
            return 400, {"error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation", "details": ""}, "node_errors": errors}
        prompt_id = f"p{next(self._ids)}"
        self.prompts.append(workflow)
        save = next(node_id for node_id, n in workflow.items() if n["class_type"].startswith("Save"))
        if workflow[save]["class_type"] == "SaveAnimatedWEBP":
            name = f"{workflow[save]['inputs']['filename_prefix']}_00001_.webp"
            self.outputs[name] = self.render_animation(workflow)
        else:
            name = f"{workflow[save]['inputs']['filename_prefix']}_00001_.png"
            self.outputs[name] = self.render(workflow)
        self.history[prompt_id] = {
            "prompt": [0, prompt_id, workflow, {}, [save]],
            "outputs": {save: {"images": [{"filename": name, "subfolder": "", "type": "output"}]}},
            "status": {"status_str": "success", "completed": True, "messages": []},
        }
        return 200, {"prompt_id": prompt_id, "number": len(self.prompts), "node_errors": {}}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, code: int, body: bytes, kind: str = "application/json") -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urllib.parse.urlparse(self.path)
                if url.path == "/system_stats":
                    self._send(200, json.dumps({"system": {"comfyui_version": "fake"}, "devices": []}).encode())
                elif url.path.startswith("/object_info/"):
                    self._send(200, json.dumps(fake.object_info(urllib.parse.unquote(url.path.split("/", 2)[2]))).encode())
                elif url.path.startswith("/history/"):
                    prompt_id = url.path.split("/", 2)[2]
                    entry = fake.history.get(prompt_id)
                    self._send(200, json.dumps({prompt_id: entry} if entry else {}).encode())
                elif url.path == "/view":
                    name = urllib.parse.parse_qs(url.query).get("filename", [""])[0]
                    if name in fake.outputs:
                        self._send(200, fake.outputs[name], "image/png")
                    else:
                        self._send(404, b"{}")
                else:
                    self._send(404, b"{}")

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if self.path != "/prompt":
                    self._send(404, b"{}")
                    return
                code, answer = fake.queue(body.get("prompt", {}))
                self._send(code, json.dumps(answer).encode())

        return Handler
