"""How musubi-tuner's failures read in its log and what they mean (loragate.backends.failures).

Sources: reference musubi-tuner.md §1.3 (model flags), §2, §3, §5; musubi-tuner 30c658c, the file
named beside each text.
"""

from __future__ import annotations

import re

from loragate.backends.failures import TrainerFailures, TrainerText, WeightFlag
from loragate.backends.kohya_log import KOHYA_LOG

MUSUBI_FAILURES = TrainerFailures(
    weights=(
        WeightFlag("--dit", "the Wan DiT model"),
        WeightFlag("--dit_high_noise", "the Wan 2.2 high-noise expert"),
        WeightFlag("--vae", "the VAE"),
        WeightFlag("--t5", "the T5 text encoder"),
        WeightFlag("--clip", "the CLIP vision model"),
        WeightFlag("--network_weights", "the LoRA checkpoint to continue from"),
    ),
    main_weights=("--dit",),
    # the caching scripts read one model each: the VAE (and CLIP for I2V), the text encoder
    stage_weights={"cache_latents": "--vae", "cache_text_encoder": "--t5"},
    packages=("musubi_tuner",),  # installed from the checkout with pip install -e . (trainers.toml)
    install="`{python} -m pip install -e .` (musubi-tuner)",
    texts=(
        # training/trainer_base.py and the per-model trainers; hv_1_5_cache_latents.py
        TrainerText(("path to DiT model is required",), "weights_missing", flag="--dit"),
        TrainerText(("vae checkpoint is required",), "weights_missing", flag="--vae"),
        # musubi-tuner.md §5.9: I2V training on latents cached without --i2v.
        TrainerText(
            ("KeyError: 'latents_image'",), "weights_wrong_keys",
            message="The latent cache was made for text-to-video, but the plan trains image-to-video.",
            fix="Cache latents again with --i2v (the plan does this for I2V tasks): run `loragate dry-run` again, which re-caches.",
            flag="--i2v",
        ),
        # musubi-tuner.md §2: training/trainer_base.py raises it when the caches are missing.
        TrainerText(
            ("No training items found in the dataset",), "no_samples",
            fix=("The latent and text-encoder caches are missing or do not match the dataset: run both caching steps "
                 "again (`loragate dry-run` does), and check the dataset folder and caption extension in the plan."),
        ),
    ),
    oom_fixes={
        "cache_text_encoder": "Cache the text encoder in fp8 (--fp8_t5) or with a smaller caching batch, or free the GPU of other programs.",
        "cache_latents": "Cache with a smaller batch, or keep the VAE cache on the CPU (--vae_cache_cpu); close other programs using the GPU.",
    },
    # wan_train_network.py: --timestep_boundary is an int (0-1000) in older versions
    value_example="--timestep_boundary takes 875, not 0.875",
    # dataset/datasources.py logs how many media files each dataset entry found; it counts only files
    # with a caption file, and a caching step that found none writes nothing and exits 0.
    found_media=re.compile(r"\bfound (\d+) (?:images|videos)\b"),
    found_nothing=("{doing} found no image or clip to work on, so nothing was cached and the training "
                   "would have nothing to learn from. musubi-tuner skips every image or clip that has no caption file beside it."),
    log=KOHYA_LOG,
)
