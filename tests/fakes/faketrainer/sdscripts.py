"""sd-scripts stand-ins: train_network.py (SD1.x/2.x), sdxl_train_network.py, flux_train_network.py,
sd3_train_network.py.

Behaviour from reference sd-scripts.md: dataset from --dataset_config or --train_data_dir
(`<repeats>_<tokens>` subfolders); "No data found" is logged and the process exits 0 (section 6.2);
captions default to `.caption`; TE-output caching asserts (sections 1.2, 6.5, 6.6).
"""

from __future__ import annotations

import math
import sys

from . import argv, dataset, loop, vram, weights
from .console import Logger, out
from .faults import Faults

NO_DATA = (
    "No data found. Please verify arguments (train_data_dir must be the parent of folders with images) / "
    "画像がありません。引数指定を確認してください（train_data_dirには画像があるフォルダではなく、画像があるフォルダの親フォルダを指定する必要があります）"
)


def _asserts(script: str, args) -> None:
    if args.log_with in ("tensorboard", "all") and not args.logging_dir:
        raise ValueError("logging_dir is required when log_with is tensorboard")
    if args.fp8_base:
        assert args.mixed_precision in ("fp16", "bf16"), "fp8_base requires mixed precision='fp16' or 'bf16'"
    if args.full_bf16:
        assert args.mixed_precision == "bf16", "full_bf16 requires mixed precision='bf16'"
    if args.full_fp16:
        assert args.mixed_precision == "fp16", "full_fp16 requires mixed precision='fp16'"
    caching_te = getattr(args, "cache_text_encoder_outputs", False) or getattr(args, "cache_text_encoder_outputs_to_disk", False)
    if script == "sdxl_train_network.py" and caching_te:
        assert args.network_train_unet_only, "network for Text Encoder cannot be trained with caching Text Encoder outputs"
    if script in _SWAP_MAX:
        if args.blocks_to_swap and args.cpu_offload_checkpointing:
            raise AssertionError("blocks_to_swap is not supported with cpu_offload_checkpointing")
        most, words = _SWAP_MAX[script]
        if args.blocks_to_swap and args.blocks_to_swap > most:
            raise AssertionError(f"Cannot swap more than {words}. Requested {args.blocks_to_swap} blocks.")
    if script == "flux_train_network.py" and args.model_type == "chroma":  # flux_train_network.py assert_extra_args
        assert args.apply_t5_attn_mask, "apply_t5_attn_mask must be True for Chroma"


# flux_models.py (17 double + 36 single blocks -> 35) and sd3_models.py enable_block_swap (the fake takes
# SD 3.5 Large's 38 blocks - 2)
_SWAP_MAX = {"flux_train_network.py": (35, "17 double blocks and 36 single blocks"), "sd3_train_network.py": (36, "36 blocks")}


def _weights(script: str, args) -> None:
    weights.read_header(args.pretrained_model_name_or_path or "")
    if script in ("flux_train_network.py", "sd3_train_network.py"):
        sd3 = script == "sd3_train_network.py"
        for path in (getattr(args, "ae", None), args.t5xxl, args.clip_l if sd3 or args.model_type == "flux" else None,
                     args.clip_g if sd3 else None):
            if path:
                weights.read_header(path)


def train(script: str, script_argv: list[str] | None = None) -> None:
    args = argv.parse_args(script, script_argv)
    faults = Faults.for_stage("train")
    log = Logger("sdscripts", script, f"{script}:{1000 + len(script)}")
    faults.check_imports()
    _asserts(script, args)
    _weights(script, args)

    datasets = dataset.sdscripts_datasets(args.dataset_config, args)
    items, batches, sizes, need, missing_captions = 0, 0, [], 0.0, 0
    for index, ds in enumerate(datasets):
        assert ds.resolution is not None, "resolution is required / resolution（解像度）指定は必須です"
        log.info(f"[Dataset {index}]")
        count = 0
        for sub in ds.subsets:
            log.info(f"found directory {sub.image_dir} contains {len(sub.images)} image files")
            for image in sub.images:
                caption = image.with_suffix(sub.caption_extension)
                if caption.exists():
                    caption.read_text(encoding="utf-8")  # non-UTF-8 captions fail here
                else:
                    missing_captions += 1
            count += len(sub.images) * sub.num_repeats
        log.info(f"{count} train images with repeats.")
        items += count
        batches += math.ceil(count / ds.batch_size) if count else 0
        sizes.append(ds.batch_size)
        need = max(need, vram.sd_gb(script, args, ds.batch_size, *ds.resolution))
    if missing_captions:
        log.warning(
            f"No caption file found for {missing_captions} images. Training will continue without captions for these "
            "images. If class token exists, it will be used."
        )
    if items == 0 or faults.no_data:
        log.error(NO_DATA)
        return  # upstream returns from train(): exit status 0 with nothing trained
    out("accelerator device: cuda")
    out(f"import network module: {args.network_module}")
    out("prepare optimizer, data loader etc.")
    loop.train(
        loop.Run(
            args=args, log=log, faults=faults, items=items, batches_per_epoch=batches, batch_sizes=sizes,
            vram_gb=need, banner_items_label="num train images * repeats / 学習画像の数×繰り返し回数",
            extra_banner=["num validation images * repeats / 学習画像の数×繰り返し回数: 0", "num reg images / 正則化画像の数: 0"],
            epoch_loss_tag="loss/epoch_average",
        )
    )


def main_for(script: str) -> None:
    train(script, sys.argv[1:])
