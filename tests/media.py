"""Builders for test media made at run time: images, videos, captions, safetensors headers."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
from PIL import Image


def textured(width: int, height: int, seed: int = 0) -> Image.Image:
    """A detailed, non-uniform RGB image (gradients plus noise plus shapes) that hashes distinctly per seed."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    fx, fy, phase = rng.uniform(2, 9), rng.uniform(2, 9), rng.uniform(0, 6.28)
    base = np.stack(
        [
            127 + 100 * np.sin(x / width * fx + phase),
            127 + 100 * np.cos(y / height * fy + phase),
            127 + 100 * np.sin((x + y) / (width + height) * (fx + fy)),
        ],
        axis=-1,
    )
    noise = rng.normal(0, 12, size=(height, width, 3))
    img = np.clip(base + noise, 0, 255).astype(np.uint8)
    for _ in range(6):
        cx, cy = rng.integers(0, width), rng.integers(0, height)
        r = int(rng.integers(max(2, min(width, height) // 20), max(3, min(width, height) // 5)))
        img[max(0, cy - r) : cy + r, max(0, cx - r) : cx + r] = rng.integers(0, 255, size=3)
    return Image.fromarray(img, "RGB")


def write_image(path: Path, width: int = 1024, height: int = 1024, seed: int = 0, **save_kwargs: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    textured(width, height, seed).save(path, **save_kwargs)
    return path


def write_caption(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def write_video(path: Path, frames: int = 33, fps: int = 16, width: int = 320, height: int = 192, seed: int = 0) -> Path:
    """An H.264 (mp4/mkv/mov) or VP9 (webm) clip of moving texture, encoded with PyAV."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    codec = "libvpx-vp9" if path.suffix.lower() == ".webm" else "libx264"
    base = np.asarray(textured(width * 2, height, seed))
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            shift = (i * 4) % width
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(base[:, shift : shift + width]), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


DTYPE_SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "I64": 8, "I32": 4, "U8": 1}


def write_safetensors_header(path: Path, tensors: dict[str, tuple[str, list[int]]], metadata: dict[str, str] | None = None) -> Path:
    """A valid safetensors file whose data region is sparse (zeros, no disk use).

    Header readers see real dtypes and shapes, e.g. a 14B Wan DiT, without gigabytes on disk.
    """
    header: dict[str, object] = {}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        size = DTYPE_SIZES[dtype] * int(np.prod(shape)) if shape else DTYPE_SIZES[dtype]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    if metadata:
        header["__metadata__"] = metadata
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(blob)))
        handle.write(blob)
        handle.truncate(8 + len(blob) + offset)
    return path
