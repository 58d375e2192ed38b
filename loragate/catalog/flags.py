"""Every argparse flag of the trainer scripts, from the upstream parsers (JSON dumps in
loragate/data/flags/: musubi-tuner v0.3.4 and v0.2.15 (Qwen-Image, Z-Image, FLUX.2, FLUX.1 Kontext, HunyuanVideo 1.5: 30c658c), sd-scripts 48d368fa).

The validator uses them to catch typos (a misspelt key in a config TOML is silently ignored by
the trainer) and flags from the other trainer; the test stand-ins use them to reject unknown
flags exactly as argparse does.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from pydantic import BaseModel

from loragate.core.errors import LoragateError


class FlagSpec(BaseModel):
    name: str  # with leading dashes, e.g. --network_dim
    type: str  # "str", "int", "float", "flag (store_true)" / "store_true", "str (nargs=*)", ...
    default: Any = None
    choices: list[Any] | None = None
    nargs: str | int | None = None
    required: bool = False
    help: str = ""

    @property
    def is_switch(self) -> bool:
        """True for store_true flags, which take no value."""
        return "store_true" in self.type

    @property
    def takes_many(self) -> bool:
        return self.nargs in ("*", "+") or "nargs=*" in self.type or "nargs=+" in self.type

    @property
    def value_type(self) -> str:
        """The base type: str, int, float, int_or_float, path or switch."""
        if self.is_switch:
            return "switch"
        base = self.type.split(" ")[0].lstrip("_")
        return {"pathlib.Path": "path", "Path": "path"}.get(base, base)


# script name -> (file, filter on present_in when the dump covers several scripts)
_SCRIPTS: dict[str, tuple[str, str | None]] = {
    "wan_train_network.py": ("musubi-wan-train-flags.json", None),
    "wan_cache_latents.py": ("musubi-wan-cache-latents-flags.json", None),
    "wan_cache_text_encoder_outputs.py": ("musubi-wan-cache-te-flags.json", None),
    "qwen_image_train_network.py": ("musubi-qwen-image-train-flags.json", None),
    "qwen_image_cache_latents.py": ("musubi-qwen-image-cache-latents-flags.json", None),
    "qwen_image_cache_text_encoder_outputs.py": ("musubi-qwen-image-cache-te-flags.json", None),
    "zimage_train_network.py": ("musubi-zimage-train-flags.json", None),
    "zimage_cache_latents.py": ("musubi-zimage-cache-latents-flags.json", None),
    "zimage_cache_text_encoder_outputs.py": ("musubi-zimage-cache-te-flags.json", None),
    "flux_2_train_network.py": ("musubi-flux-2-train-flags.json", None),
    "flux_2_cache_latents.py": ("musubi-flux-2-cache-latents-flags.json", None),
    "flux_2_cache_text_encoder_outputs.py": ("musubi-flux-2-cache-te-flags.json", None),
    "flux_kontext_train_network.py": ("musubi-flux-kontext-train-flags.json", None),
    "flux_kontext_cache_latents.py": ("musubi-flux-kontext-cache-latents-flags.json", None),
    "flux_kontext_cache_text_encoder_outputs.py": ("musubi-flux-kontext-cache-te-flags.json", None),
    "hv_1_5_train_network.py": ("musubi-hv-1-5-train-flags.json", None),
    "hv_1_5_cache_latents.py": ("musubi-hv-1-5-cache-latents-flags.json", None),
    "hv_1_5_cache_text_encoder_outputs.py": ("musubi-hv-1-5-cache-te-flags.json", None),
    "train_network.py": ("sdscripts-train-network-flags.json", "train_network.py"),
    "sdxl_train_network.py": ("sdscripts-train-network-flags.json", "sdxl_train_network.py"),
    "flux_train_network.py": ("sdscripts-flux-train-network-flags.json", "flux_train_network.py"),
    # dumped from sd3_train_network.py's own parser (tests/contract/probe.py)
    "sd3_train_network.py": ("sdscripts-sd3-train-network-flags.json", None),
    # generation scripts the evaluation runs (tests/contract/test_flag_lists.py holds them to the
    # real parsers)
    "gen_img.py": ("sdscripts-gen-img-flags.json", None),
    "sdxl_gen_img.py": ("sdscripts-sdxl-gen-img-flags.json", None),
    "flux_minimal_inference.py": ("sdscripts-flux-minimal-inference-flags.json", None),
    "wan_generate_video.py": ("musubi-wan-generate-video-flags.json", None),
    "qwen_image_generate_image.py": ("musubi-qwen-image-generate-flags.json", None),
    "zimage_generate_image.py": ("musubi-zimage-generate-flags.json", None),
    "flux_2_generate_image.py": ("musubi-flux-2-generate-flags.json", None),
    "flux_kontext_generate_image.py": ("musubi-flux-kontext-generate-flags.json", None),
    "hv_1_5_generate_video.py": ("musubi-hv-1-5-generate-flags.json", None),
    "sd3_minimal_inference.py": ("sdscripts-sd3-minimal-inference-flags.json", None),
}

_V0215 = {
    "wan_train_network.py": "musubi-wan-train-flags.v0.2.15.json",
    "wan_cache_latents.py": "musubi-wan-cache-latents-flags.v0.2.15.json",
    "wan_cache_text_encoder_outputs.py": "musubi-wan-cache-te-flags.v0.2.15.json",
}


# The sd-scripts dump lists train_network.py's 193 flags; sdxl_train_network.py adds three more
# (sdxl_train_util.add_sdxl_training_arguments; reference sd-scripts.md section 2: 196 flags).
_EXTRA = {"sdxl_train_network.py": "sdscripts-sdxl-extra-flags.json"}


def _read(filename: str) -> list[dict[str, Any]]:
    raw: list[dict[str, Any]] = json.loads(resources.files("loragate.data").joinpath("flags", filename).read_text(encoding="utf-8"))
    return raw


def known_scripts() -> list[str]:
    return sorted(_SCRIPTS)


@lru_cache(maxsize=None)
def script_flags(script: str, version: str = "latest") -> dict[str, FlagSpec]:
    """Flags accepted by a trainer script (its base name), keyed by name with dashes."""
    base = script.replace("\\", "/").rsplit("/", 1)[-1]
    if base not in _SCRIPTS:
        raise LoragateError(f"loragate has no flag list for {script!r}.", f"Known scripts: {', '.join(known_scripts())}.")
    filename, present_in = _SCRIPTS[base]
    if version == "0.2.15" and base in _V0215:
        filename = _V0215[base]
    flags: dict[str, FlagSpec] = {}
    for entry in _read(filename) + (_read(_EXTRA[base]) if base in _EXTRA else []):
        scripts = entry.get("present_in")
        if present_in and scripts and present_in not in scripts:
            continue
        spec = FlagSpec.model_validate({k: v for k, v in entry.items() if k in FlagSpec.model_fields})
        flags[spec.name] = spec
    return flags
