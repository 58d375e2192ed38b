"""musubi-tuner stand-ins: wan_cache_latents.py, wan_cache_text_encoder_outputs.py, wan_train_network.py.

Caching writes the real cache names into cache_directory; training enumerates them, as upstream
does (reference musubi-tuner.md section 2): latents `{basename}_{WWWW}x{HHHH}_wan.safetensors`
(images) or `{basename}_{start:05d}-{frames:03d}_{WWWW}x{HHHH}_wan.safetensors` (video clips),
text encoder `{basename}_wan_te.safetensors`.
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

from . import argv, dataset, loop, vram, weights
from .console import Logger, out
from .faults import Faults, OutOfMemoryError, oom_message

LATENT_RE = re.compile(r"^(?P<base>.+?)_(?:\d{5}-\d{3}_)?\d{4}x\d{4}_wan\.safetensors$")
NO_ITEMS = (
    "No training items found in the dataset. Please ensure that the latent/Text Encoder cache has been created beforehand."
    " / データセットに学習データがありません。latent/Text Encoderキャッシュを事前に作成したか確認してください"
)


def _save_cache(path: Path, tensors: dict) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: np.asarray(v, dtype=np.float16) for k, v in tensors.items()}, str(path))


def _prune_foreign(cache_dir: Path, keep: set[Path], suffix_re: re.Pattern[str], args) -> None:
    # Without --keep_cache, cache files not belonging to the current config are deleted (musubi-tuner.md 1.1).
    if args.keep_cache or not cache_dir.is_dir():
        return
    for file in cache_dir.iterdir():
        if suffix_re.search(file.name) and file not in keep:
            file.unlink()


def _caching_oom(faults: Faults, need_gb: float) -> None:
    if faults.vram_gb is not None and need_gb > faults.vram_gb:
        raise OutOfMemoryError(oom_message(need_gb, faults.vram_gb))


def cache_latents(script_argv: list[str] | None = None) -> None:
    args = argv.parse_args("wan_cache_latents.py", script_argv)
    faults = Faults.for_stage("cache_latents")
    log = Logger("musubi", "musubi_tuner.wan_cache_latents", "wan_cache_latents.py")
    faults.check_imports()
    if args.clip is not None:
        args.i2v = True
    assert args.vae is not None, "vae checkpoint is required"
    weights.read_header(args.vae)
    if args.clip:
        weights.read_header(args.clip)
    blocks = dataset.musubi_blocks(args.dataset_config)
    log.info(f"Load dataset config from {args.dataset_config}")
    done = 0
    for index, block in enumerate(blocks):
        log.info(f"[Dataset {index}]")
        frames = max(block.target_frames)
        _caching_oom(faults, 2.0 + frames * block.resolution[0] * block.resolution[1] / 1e6 * 0.5)
        written: set[Path] = set()
        for media in block.media:
            items = media.clips if block.kind == "video" else [None]
            for clip in items:
                size = f"{media.width:04d}x{media.height:04d}"
                name = f"{media.basename}_{clip.start:05d}-{clip.frames:03d}_{size}_wan.safetensors" if clip else f"{media.basename}_{size}_wan.safetensors"
                path = block.cache_directory / name
                written.add(path)
                if args.skip_existing and path.exists():
                    continue
                tensors = {"latents_1x1x1_float16": [[[0.0]]]}
                if args.i2v:
                    tensors["latents_image_1x1x1_float16"] = [[[0.0]]]
                _save_cache(path, tensors)
            done += 1
            faults.after_step(done)
        _prune_foreign(block.cache_directory, written, re.compile(r"_\d{4}x\d{4}_wan\.safetensors$"), args)


def _read_caption(media: dataset.Media, ext: str | None) -> str:
    path = media.path.with_name(media.basename + (ext or ".txt"))
    with open(path, encoding="utf-8") as handle:  # missing / non-UTF-8 captions fail here
        return handle.read().strip()


def cache_text_encoder(script_argv: list[str] | None = None) -> None:
    args = argv.parse_args("wan_cache_text_encoder_outputs.py", script_argv)
    faults = Faults.for_stage("cache_text_encoder")
    faults.check_imports()
    weights.read_header(args.t5)
    # umt5-xxl is ~11 GB in bf16; the docs advise --fp8_t5 below ~16 GB (musubi-tuner.md 1.2)
    _caching_oom(faults, 6.5 if args.fp8_t5 else 12.0)
    done = 0
    for block in dataset.musubi_blocks(args.dataset_config):
        written: set[Path] = set()
        for media in block.media:
            _read_caption(media, block.caption_extension)
            path = block.cache_directory / f"{media.basename}_wan_te.safetensors"
            written.add(path)
            if not (args.skip_existing and path.exists()):
                _save_cache(path, {"varlen_t5_float16": [[0.0]]})
            done += 1
            faults.after_step(done)
        _prune_foreign(block.cache_directory, written, re.compile(r"_wan_te\.safetensors$"), args)


def _check_weights(args, log: Logger) -> None:
    if args.dit is None:
        raise ValueError("path to DiT model is required")
    for path in (args.dit, args.dit_high_noise, args.vae, args.t5, args.clip):
        if path:
            header = weights.read_header(path)
            if path in (args.dit, args.dit_high_noise):
                _check_dit(header, args, log)


def _check_dit(header: dict, args, log: Logger) -> None:
    dtype = weights.dtype_of(header, "blocks.0.cross_attn.k.weight")
    if dtype is None:
        return
    torch_dtype = {"BF16": "torch.bfloat16", "F16": "torch.float16", "F32": "torch.float32"}.get(dtype, "torch.float8_e4m3fn")
    Logger("musubi", "musubi_tuner.wan.modules.model", "").info(f"Detected DiT dtype: {torch_dtype}")
    # handle_model_specific_args: the file dtype must match --mixed_precision (musubi-tuner.md section 5.7)
    if dtype == "F16":
        assert args.mixed_precision in ("fp16", "no"), "DiT weights are in fp16, mixed precision must be fp16 or no"
    if dtype == "BF16":
        assert args.mixed_precision in ("bf16", "no"), "DiT weights are in bf16, mixed precision must be bf16 or no"
    in_dim = (weights.shape_of(header, "patch_embedding.weight") or [0, 0])[1]
    wants = 36 if ("i2v" in args.task or "flf2v" in args.task) else 16
    if in_dim and not args.task.endswith("FC") and in_dim != wants:
        raise RuntimeError(
            "Error(s) in loading state_dict for WanModel:\n\tsize mismatch for patch_embedding.weight: copying a param "
            f"with shape torch.Size([5120, {in_dim}, 1, 2, 2]) from checkpoint, the shape in current model is "
            f"torch.Size([5120, {wants}, 1, 2, 2])."
        )


def train(script_argv: list[str] | None = None) -> None:
    args = argv.parse_args("wan_train_network.py", script_argv)
    faults = Faults.for_stage("train")
    log = Logger("musubi", "musubi_tuner.hv_train_network", "wan_train_network.py")
    faults.check_imports()
    if not (args.sdpa or args.flash_attn or args.flash3 or args.sage_attn or args.xformers):
        raise ValueError("either --sdpa, --flash-attn, --flash3, --sage-attn or --xformers must be specified")
    if args.fp8_scaled:
        assert args.fp8_base, "fp8_scaled requires fp8_base"
    if args.log_with in ("tensorboard", "all") and not args.logging_dir:
        raise ValueError("logging_dir is required when log_with is tensorboard")
    _check_weights(args, log)

    blocks = dataset.musubi_blocks(args.dataset_config)
    items, batches, sizes, need = 0, 0, [], 0.0
    for index, block in enumerate(blocks):
        found = 0
        if block.cache_directory.is_dir():
            for file in sorted(block.cache_directory.iterdir()):
                match = LATENT_RE.match(file.name)
                if not match:
                    continue
                if not (block.cache_directory / f"{match['base']}_wan_te.safetensors").exists():
                    log.warning(f"Text encoder cache file not found for {file}")
                    continue
                if "i2v" in args.task or "flf2v" in args.task:
                    from safetensors import safe_open

                    with safe_open(str(file), framework="numpy") as cache:
                        if not any(k.startswith("latents_image") for k in cache.keys()):
                            raise KeyError("latents_image")
                found += 1
        count = found * block.num_repeats
        log.info(f"[Dataset {index}]\n  is_image_dataset: {block.kind == 'image'}\n  resolution: {block.resolution}\n  batch_size: {block.batch_size}\n  num_repeats: {block.num_repeats}\n  cache_directory: \"{block.cache_directory}\"")
        items += count
        batches += math.ceil(count / block.batch_size) if count else 0
        sizes.append(block.batch_size)
        frames = max(block.target_frames) if block.kind == "video" else 1
        need = max(need, vram.wan_gb(args, block.batch_size, *block.resolution, frames))
    if faults.no_data:
        items, batches = 0, 0
    elif items == 0:
        raise ValueError(NO_ITEMS)
    log.info(f"total batches: {batches}")
    log.info("preparing accelerator")
    out("accelerator device: cuda")
    log.info(f"Creating WanModel. I2V: {'i2v' in args.task}, FLF2V: {'flf2v' in args.task}, V2.2: {'A14B' in args.task}, device: cuda, loading_device: cpu, fp8_scaled: {args.fp8_scaled}")
    if args.blocks_to_swap:
        out(f"WanModel: Block swap enabled. Swapping {args.blocks_to_swap} blocks out of 40 blocks. Supports backward: True")
    if args.gradient_checkpointing:
        out("WanModel: Gradient checkpointing enabled. Activation CPU offloading: False")
    out(f"import network module: {args.network_module}")
    log.info(f"create LoRA network. base dim (rank): {args.network_dim or 4}, alpha: {args.network_alpha}")
    out("prepare optimizer, data loader etc.")
    if faults.no_data:
        out("running training / 学習開始")
        out("  num train items / 学習画像、動画数: 0")
        return  # exits 0 having trained nothing
    loop.train(
        loop.Run(
            args=args, log=log, faults=faults, items=items, batches_per_epoch=batches, batch_sizes=sizes,
            vram_gb=need, banner_items_label="num train items / 学習画像、動画数", extra_banner=[],
            epoch_loss_tag="loss/epoch",
        )
    )


def main_for(script: str) -> None:
    {"wan_cache_latents.py": cache_latents, "wan_cache_text_encoder_outputs.py": cache_text_encoder,
     "wan_train_network.py": train}[script](sys.argv[1:])
