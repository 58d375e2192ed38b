"""What a stand-in "generates": a picture fixed by seed and prompt, pulled towards a red striped
pattern by the LoRA's strength. Shared by the ComfyUI and generation-script stand-ins.

Like the real loaders, a LoRA key the model does not have is not loaded: only keys with the
model's prefix count. A LoRA's metadata `fake_effect` scales its pull (0 = it learned nothing).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from safetensors import safe_open  # the trainer's venv has it; loragate itself is not installed there

PREFIX = {"sd": "lora_unet_down_blocks_", "sdxl": "lora_unet_input_blocks_", "flux": "lora_unet_double_blocks_", "wan": "lora_unet_blocks_",
          "sd3": "lora_unet_joint_blocks_"}


def lora_pull(path: str | Path, strength: float, prefix: str | tuple[str, ...]) -> float:
    with safe_open(str(path), framework="np") as lora:
        keys = {k.split(".")[0] for k in lora.keys()}
        metadata = lora.metadata() or {}
    loaded = sum(k.startswith(prefix) for k in keys) / max(len(keys), 1)
    return strength * float(metadata.get("fake_effect", "1")) * loaded


def pixels(seed: int, text: str, pull: float, size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(seed + sum(map(ord, text)))
    base = rng.integers(0, 255, size=(size, size, 3)).astype(np.float32)
    pattern = np.zeros_like(base)
    pattern[..., 0] = 230
    pattern[::8, :, 1] = 200
    amount = min(max(pull, 0.0), 1.0) * 0.7
    return (base * (1 - amount) + pattern * amount).astype(np.uint8)


def png(seed: int, text: str, pull: float, size: int = 64) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels(seed, text, pull, size)).save(buf, "PNG")
    return buf.getvalue()


def write_clip(path: Path, seed: int, text: str, pull: float, frames: int, size: int = 64) -> None:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=16)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for n in range(frames):
            frame = av.VideoFrame.from_ndarray(np.roll(pixels(seed, text, pull, size), n, axis=1), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_samples(args, epoch: int, musubi: bool) -> None:  # noqa: ANN001 - the trainer's argparse Namespace
    """`--sample_prompts`: one sample per prompt line into OUTPUT_DIR/sample/, named as the trainers
    name them: `{output_name}_e{epoch:06d}_{prompt:02d}_{YYYYmmddHHMMSS}_{seed}` + `.png` (musubi
    images add `_000`; musubi clips are `.mp4`). The pull grows with the epoch, as a LoRA learns."""
    import re
    import time

    if not getattr(args, "sample_prompts", None):
        return
    lines = [line.strip() for line in Path(args.sample_prompts).read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    folder = Path(args.output_dir) / "sample"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d%H%M%S")
    for index, line in enumerate(lines):
        parts = line.split(" --")
        options = {m.group(1): m.group(2) for p in parts[1:] if (m := re.match(r"(\w+) (.+)", p))}
        seed = int(options.get("d", 0))
        frames = int(options.get("f", 1))
        stem = folder / f"{args.output_name}_e{epoch:06d}_{index:02d}_{stamp}_{seed}"
        pull = min(epoch / 4, 1.0)
        if musubi and frames > 1:
            write_clip(stem.with_name(stem.name + ".mp4"), seed, parts[0], pull, frames)
        else:
            stem.with_name(stem.name + ("_000.png" if musubi else ".png")).write_bytes(png(seed, parts[0], pull))
