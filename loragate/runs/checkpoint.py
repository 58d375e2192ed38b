"""Checking a LoRA file the trainer wrote: present, non-empty, and its safetensors header readable."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from loragate.runs.classify import argv_values

# safetensors format: 8-byte little-endian header length, then that many bytes of JSON.
MAX_HEADER = 100 * 1024 * 1024


def read_header(path: Path) -> dict:
    """The JSON header of a safetensors file (tensor names, dtypes, shapes); {} when unreadable."""
    try:
        with open(path, "rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            if 0 < length <= MAX_HEADER:
                return json.loads(handle.read(length).decode("utf-8"))
    except (OSError, ValueError, struct.error, UnicodeDecodeError):
        pass
    return {}


def lora_rank(path: Path) -> int | None:
    """The rank of a LoRA file: the first dimension of a `lora_down.weight` tensor."""
    for name, info in read_header(path).items():
        if name.endswith("lora_down.weight") and isinstance(info, dict) and info.get("shape"):
            return int(info["shape"][0])
    return None


def safetensors_problem(path: Path) -> str | None:
    """None when the file looks like a complete safetensors file, else what is wrong, in words."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            raw = handle.read(8)
            if len(raw) < 8:
                return f"{path.name} is empty or cut short ({size} bytes)."
            (length,) = struct.unpack("<Q", raw)
            if length <= 0 or length > MAX_HEADER or 8 + length > size:
                return f"{path.name} has a damaged header (it says {length} bytes, the file has {size})."
            header = json.loads(handle.read(length).decode("utf-8"))
    except FileNotFoundError:
        return f"{path.name} was not written."
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return f"{path.name} cannot be read as safetensors ({exc.__class__.__name__})."
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    if not tensors:
        return f"{path.name} holds no tensors."
    end = max(int(v.get("data_offsets", [0, 0])[1]) for v in tensors.values())
    if 8 + length + end > size:
        return f"{path.name} is incomplete: its tensors need {end} bytes of data, the file has {size - 8 - length}."
    return None


def final_checkpoint(argv: list[str]) -> Path | None:
    """`{output_dir}/{output_name}.safetensors`, the name both trainers give the final LoRA
    (musubi-tuner.md §3 "Checkpoints", sd-scripts.md §4.3)."""
    values = argv_values(argv)
    if "--output_dir" not in values or "--output_name" not in values:
        return None
    return Path(values["--output_dir"]) / f"{values['--output_name']}.safetensors"
