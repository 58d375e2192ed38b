"""How sd-scripts' failures read in its log and what they mean (loragate.backends.failures).

Sources: reference sd-scripts.md §1 (model flags), §3, §4.4, §6; sd-scripts 48d368fa, the file named
beside each text.
"""

from __future__ import annotations

from loragate.backends.failures import TrainerFailures, TrainerText, WeightFlag
from loragate.backends.kohya_log import KOHYA_LOG

SDSCRIPTS_FAILURES = TrainerFailures(
    weights=(
        WeightFlag("--pretrained_model_name_or_path", "the base model"),
        WeightFlag("--clip_l", "the CLIP-L text encoder"),
        WeightFlag("--t5xxl", "the T5-XXL text encoder"),
        WeightFlag("--ae", "the FLUX autoencoder"),
        WeightFlag("--network_weights", "the LoRA checkpoint to continue from"),
    ),
    main_weights=("--pretrained_model_name_or_path",),
    stage_weights={},  # it caches inside its training script
    packages=("library", "networks"),  # folders of the checkout, importable from inside it
    install="`pip install -r requirements.txt` (sd-scripts)",
    # library/train_util.py --vae_batch_size: how many images the VAE encodes at once while caching
    oom_fixes={"cache_latents": "Cache latents a few images at a time (a lower --vae_batch_size, 1 at the least), or close "
                                "other programs using the GPU."},
    texts=(
        # library/train_util.py, reading the captions
        TrainerText(("illegal char in file (not UTF-8)",), "caption_encoding"),
        TrainerText(("caption file is empty",), "caption_empty"),
        # sd-scripts.md §6.2: train_network.py logs it and exits 0.
        TrainerText(
            ("No data found. Please verify arguments",), "no_samples",
            fix=("Point the plan's dataset at the folder that holds the images and captions, with the right caption "
                 "extension, then run `loragate audit` again."),
        ),
        # library/train_util.py cache_batch_latents: the SDXL VAE in fp16.
        TrainerText(
            ("NaN detected in latents",), "nan_latents",
            message="The VAE produced invalid numbers (NaN) while encoding an image: the SDXL VAE does this in fp16.",
            fix="Keep the VAE in full precision (no_half_vae in the plan), or train in bf16.",
            flag="--no_half_vae",
        ),
    ),
    log=KOHYA_LOG,
)
