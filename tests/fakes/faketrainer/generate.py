"""Stand-ins for the trainers' generation scripts (gen_img.py, sdxl_gen_img.py,
flux_minimal_inference.py, musubi wan_generate_video.py): exactly their real flags (argparse from
loragate/data/flags), the model files checked, and their output names:

- gen_img / sdxl_gen_img: one line of `--from_file` per picture, with the per-line options the real
  prompt parser reads (`--w --h --s --d --am --f`); saved as `--f`'s name in `--outdir`, else
  `im_{timestamp}_{index:03d}_{seed}.png`.
- flux_minimal_inference: `{output_dir}/{YYYYmmdd_HHMMSS}.png`; LoRAs as `path;multiplier`.
- wan_generate_video: `{save_path}/{timestamp}_{seed}.mp4` (video) or a folder of frames (images);
  `--lora_weight`/`--lora_multiplier` on the low-noise model, `..._high_noise` on the high-noise one.
- musubi qwen_image / zimage / flux_2 / flux_kontext `_generate_image.py`, hv_1_5_generate_video.py:
  `{save_path}/{timestamp}_{seed}_000.png` (save_images_grid without a subfolder) or `..._{seed}.mp4`;
  the LoRA pulls only through the layers its network names (networks/lora_<model>.py targets).
  Qwen-Image-Edit refuses to run without `--control_image_path`, as the real script asserts.
- sd3_minimal_inference: `{output_dir}/{YYYYmmdd_HHMMSS}.png`; LoRAs as `path;multiplier`.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

from . import argv, render
from .console import out


def _need(path: str | None) -> None:
    if path and not Path(path).exists():
        raise FileNotFoundError(f"[Errno 2] No such file or directory: '{path}'")


def _gen_img(script: str, args) -> None:
    _need(args.ckpt)
    # gen_img.py --sdxl loads an SDXL checkpoint, as sdxl_gen_img.py does
    prefix = render.PREFIX["sdxl" if script.startswith("sdxl") or getattr(args, "sdxl", False) else "sd"]
    loras = list(zip(args.network_weights or [], args.network_mul or [1.0] * len(args.network_weights or [])))
    for path, _ in loras:
        _need(path)
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    lines = [line.strip() for line in Path(args.from_file).read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")]
    for index, line in enumerate(lines):
        parts = line.split(" --")
        options = {m.group(1).lower(): m.group(2) for p in parts[1:] if (m := re.match(r"(\w+) (.+)", p))}
        seed = int(options.get("d", args.seed or 0))
        muls = [float(v) for v in options["am"].split(",")] if "am" in options else [m for _, m in loras]
        pull = sum(render.lora_pull(path, mul, prefix) for (path, _), mul in zip(loras, muls))
        name = options.get("f") or f"im_{time.strftime('%Y%m%d%H%M%S')}_{index:03d}_{seed}.png"
        out(f"prompt {index + 1}/{len(lines)}: {parts[0]}")
        (outdir / name).write_bytes(render.png(seed, parts[0], pull))
    out("done!")


def _flux(args) -> None:
    for path in (args.ckpt_path, args.clip_l, args.t5xxl, args.ae):
        _need(path)
    pull = 0.0
    for item in args.lora_weights:
        path, _, mul = item.partition(";")
        _need(path)
        pull += render.lora_pull(path, float(mul or 1.0), render.PREFIX["flux"])
    folder = Path(args.output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{time.strftime('%Y%m%d_%H%M%S')}.png").write_bytes(render.png(args.seed or 0, args.prompt, pull))


def _wan(args) -> None:
    for path in (args.dit, args.dit_high_noise, args.vae, args.t5, args.image_path):
        _need(path)
    if "i2v" in args.task and not args.image_path:  # prepare_i2v_inputs: Image.open(args.image_path)
        raise AttributeError("'NoneType' object has no attribute 'read'")
    pull = 0.0
    for weights, muls in ((args.lora_weight, args.lora_multiplier), (args.lora_weight_high_noise, args.lora_multiplier_high_noise)):
        for n, path in enumerate(weights or []):
            _need(path)
            pull += render.lora_pull(path, (muls or [1.0])[min(n, len(muls or [1.0]) - 1)], render.PREFIX["wan"]) / 2
    folder = Path(args.save_path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    seed = args.seed or 0
    if args.output_type == "video":
        render.write_clip(folder / f"{stamp}_{seed}.mp4", seed, args.prompt, pull, args.video_length or 5)
    else:
        frames = folder / f"{stamp}_{seed}"
        frames.mkdir(parents=True, exist_ok=True)
        (frames / f"{stamp}_{seed}_000.png").write_bytes(render.png(seed, args.prompt, pull))


# script -> the key prefixes its LoRA network targets (musubi networks/lora_<model>.py module names)
MUSUBI_PREFIX = {
    "qwen_image_generate_image.py": ("lora_unet_transformer_blocks_",),
    "zimage_generate_image.py": ("lora_unet_layers_", "lora_unet_noise_refiner_", "lora_unet_context_refiner_"),
    "flux_2_generate_image.py": ("lora_unet_double_blocks_", "lora_unet_single_blocks_"),
    "flux_kontext_generate_image.py": ("lora_unet_double_blocks_", "lora_unet_single_blocks_"),
    "hv_1_5_generate_video.py": ("lora_unet_double_blocks_",),
}


def _musubi(script: str, args) -> None:
    weights = ["dit", "vae", "text_encoder", "text_encoder1", "text_encoder2", "byt5", "image_encoder", "image_path"]
    for name in weights:
        _need(getattr(args, name, None))
    control = getattr(args, "control_image_path", None)
    for path in control if isinstance(control, list) else [control] if control else []:
        _need(path)
    if script == "qwen_image_generate_image.py" and (args.model_version or "").startswith("edit") and not control:
        raise AssertionError("Qwen-Image-Edit requires control_image_path")
    muls = args.lora_multiplier if isinstance(args.lora_multiplier, list) else [args.lora_multiplier or 1.0] * len(args.lora_weight or [])
    pull = 0.0
    for path, mul in zip(args.lora_weight or [], muls):
        _need(path)
        pull += render.lora_pull(path, float(mul), MUSUBI_PREFIX[script])
    folder = Path(args.save_path)
    folder.mkdir(parents=True, exist_ok=True)
    stamp, seed = time.strftime("%Y%m%d-%H%M%S"), args.seed or 0
    if getattr(args, "output_type", "images") == "video":
        render.write_clip(folder / f"{stamp}_{seed}.mp4", seed, args.prompt, pull, args.video_length or 5)
    else:
        (folder / f"{stamp}_{seed}_000.png").write_bytes(render.png(seed, args.prompt, pull))


def _sd3(args) -> None:
    for path in (args.ckpt_path, args.clip_l, args.clip_g, args.t5xxl):
        _need(path)
    pull = 0.0
    for item in args.lora_weights:
        path, _, mul = item.partition(";")
        _need(path)
        pull += render.lora_pull(path, float(mul or 1.0), render.PREFIX["sd3"])
    folder = Path(args.output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{time.strftime('%Y%m%d_%H%M%S')}.png").write_bytes(render.png(args.seed, args.prompt, pull))


def main_for(script: str) -> None:
    args = argv.parse_args(script, sys.argv[1:])
    if script in ("gen_img.py", "sdxl_gen_img.py"):
        _gen_img(script, args)
    elif script == "flux_minimal_inference.py":
        _flux(args)
    elif script == "sd3_minimal_inference.py":
        _sd3(args)
    elif script in MUSUBI_PREFIX:
        _musubi(script, args)
    else:
        _wan(args)
