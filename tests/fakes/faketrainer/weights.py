"""Model files named on the command line must exist and be readable, as the real loaders demand."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from .faults import SafetensorError


def read_header(path: str) -> dict:
    """The safetensors header; a missing file or a damaged header fails like the real loader."""
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(2, "No such file or directory", path)
    if file.suffix != ".safetensors":
        return {}
    with open(file, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            raise SafetensorError("Error while deserializing header: HeaderTooSmall")
        (size,) = struct.unpack("<Q", head)
        if size > 100_000_000:
            raise SafetensorError("Error while deserializing header: HeaderTooLarge")
        if size > file.stat().st_size - 8:  # a download cut off inside the header
            raise SafetensorError("Error while deserializing header: InvalidHeaderLength")
        try:
            return json.loads(handle.read(size))
        except ValueError as exc:
            raise SafetensorError("Error while deserializing header: InvalidHeaderDeserialization") from exc


def dtype_of(header: dict, key_suffix: str) -> str | None:
    for name, info in header.items():
        if name.endswith(key_suffix) and isinstance(info, dict):
            return info.get("dtype")
    return None


def shape_of(header: dict, key_suffix: str) -> list[int] | None:
    for name, info in header.items():
        if name.endswith(key_suffix) and isinstance(info, dict):
            return info.get("shape")
    return None
