"""Write a state dict's layout as a .safetensors file of seeded random values, one tensor at a time.

Runs inside a trainer's virtual environment (it needs torch). The builders give it the trainer's
own modules built on the meta device, so the file has exactly the key names and shapes the trainer
loads, and no full-precision model is ever held in memory. Fill: biases 0, norm scales (1-D
weights, `gamma`, `scale`) 1, integer buffers 0..n-1, every other tensor N(0, 1/fan_in).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from pathlib import Path

import torch

DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32"}


def _fill(name: str, shape: tuple[int, ...], dtype: torch.dtype, seed: int) -> torch.Tensor:
    if not dtype.is_floating_point:
        return torch.arange(math.prod(shape), dtype=dtype, device="cpu").reshape(shape)
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "bias" or name.endswith("_bias"):
        return torch.zeros(shape, dtype=dtype, device="cpu")
    if leaf in ("gamma", "scale") or (leaf == "weight" and len(shape) == 1):
        return torch.ones(shape, dtype=dtype, device="cpu")
    fan_in = math.prod(shape[1:]) if len(shape) > 1 else max(shape[0] if shape else 1, 1)
    generator = torch.Generator().manual_seed(seed ^ int(hashlib.sha256(name.encode()).hexdigest()[:12], 16))
    return (torch.randn(shape, generator=generator, device="cpu") / math.sqrt(fan_in)).to(dtype)


def write_random(tensors: dict[str, torch.Tensor], path: Path, dtype: torch.dtype, seed: int,
                 metadata: dict[str, str] | None = None) -> int:
    """Write `tensors` (meta or real; only names and shapes are used) as `dtype`; returns the byte size.
    Integer tensors keep their own dtype."""
    layout: dict[str, tuple[tuple[int, ...], torch.dtype]] = {}
    for name, tensor in tensors.items():
        shape = tuple(int(d) for d in tensor.shape)
        layout[name] = (shape, tensor.dtype if not tensor.dtype.is_floating_point else dtype)
    header: dict[str, object] = {"__metadata__": metadata or {}}
    offset = 0
    for name, (shape, kind) in layout.items():
        size = math.prod(shape) * torch.empty((), dtype=kind, device="cpu").element_size()
        header[name] = {"dtype": DTYPES[kind], "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as out:
        out.write(struct.pack("<Q", len(raw)) + raw)
        for name, (shape, kind) in layout.items():
            data = _fill(name, shape, kind, seed).contiguous()
            out.write(data.reshape(-1).view(torch.uint8).numpy().tobytes())
    os.replace(partial, path)
    return path.stat().st_size
