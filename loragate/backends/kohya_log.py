"""The console lines both kohya trainers print while they train: musubi-tuner's training loop is
sd-scripts' train_network.py carried over, so the texts are the same (musubi-tuner 30c658c
training/trainer_base.py, sd-scripts 48d368fa train_network.py; reference musubi-tuner.md §3,
sd-scripts.md §4.2-4.4)."""

from __future__ import annotations

import re

from loragate.backends.failures import LogFormat

KOHYA_LOG = LogFormat(
    restart="running training / 学習開始",  # accelerator.print before the first step
    epoch=re.compile(r"^epoch (?P<n>\d+)/(?P<total>\d+)$"),
    saving=re.compile(r"saving checkpoint: (?P<path>.+?\.safetensors)\s*$"),
    removing=re.compile(r"removing old checkpoint: (?P<path>.+?)\s*$"),
    model_saved="model saved.",
    progress="steps",  # tqdm(..., desc="steps")
    stepping=("running training", "epoch 1/"),
    # sd-scripts library/train_util.py caches inside its training script: "caching latents.",
    # "caching text encoder outputs."
    caching_latents=("caching latents",),
    caching_text_encoder=("caching text encoder outputs", "cache text encoder outputs"),
)
