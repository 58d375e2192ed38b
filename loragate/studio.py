"""`grimoire/studio.md`: the artist's machine and trainers, as `key: value` lines.

People edit this file by hand, so placeholder values ("(e.g. 24)") and unknown keys are ignored.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from loragate.workspace import grimoire_dir

_LINE = re.compile(r"^\s*[-*]?\s*\**([A-Za-z_]+)\**\s*:\s*(.+?)\s*$")


class Studio(BaseModel):
    gpu: str | None = None
    gpu_gb: float | None = None
    platform: str | None = None
    musubi_tuner_dir: str | None = None
    sd_scripts_dir: str | None = None
    trainer_python: str | None = None
    comfyui_url: str | None = None
    gpu_price_per_hour: float | None = None


def read_studio(root: Path | None = None) -> Studio:
    """The studio facts that loragate uses; an absent file gives an empty Studio."""
    path = grimoire_dir(root) / "studio.md"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return Studio()
    values: dict[str, object] = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        key, value = match.group(1).lower(), match.group(2).strip().strip("`")
        if key not in Studio.model_fields or key in values or not value or value.startswith(("(", "<")):
            continue
        if key in ("gpu_gb", "gpu_price_per_hour"):
            number = re.match(r"^(\d+(?:\.\d+)?)", value)
            if not number:
                continue
            values[key] = float(number.group(1))
        else:
            values[key] = value
    return Studio.model_validate(values)
