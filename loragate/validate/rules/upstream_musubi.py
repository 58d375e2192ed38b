"""musubi-tuner pitfalls reported in its issue tracker for the image models (Z-Image, Qwen-Image-Edit)
and confirmed in the trainer's source (musubi-tuner 30c658c)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import PurePath
from typing import Iterator

from loragate.catalog.models import get_family, load_catalog
from loragate.validate.rules.base import Hit, Setup, rule, selector_value
from loragate.validate.rules.weights_header import file_name, header_keys

_CACHE_STAGES = ("cache_latents", "cache_text_encoder")


@lru_cache(maxsize=None)
def _own_cache_scripts(train_script: str) -> dict[str, frozenset[str]]:
    """cache stage -> the musubi scripts that write the cache files `train_script` reads (empty when no
    catalogue family trains with it)."""
    found: dict[str, set[str]] = {stage: set() for stage in _CACHE_STAGES}
    for family in load_catalog().families.values():
        names = {stage: PurePath(path).name for stage, path in family.scripts.items()}
        if family.trainer == "musubi" and names.get("train") == train_script:
            for stage in _CACHE_STAGES:
                if stage in names:
                    found[stage].add(names[stage])
    return {stage: frozenset(scripts) for stage, scripts in found.items()}


@rule("MUSUBI_CACHE_OTHER_MODEL", "block", "A cache step run with another model's caching script.",
      "musubi-tuner issues #919 (Z-Image trained on HunyuanVideo's text-encoder cache: llm_embed missing) and #159 "
      "(Wan cached with cache_latents.py); 30c658c dataset/image_video_dataset.py:147-171 (cache files are named "
      "*_{architecture}.safetensors / *_{architecture}_te.safetensors, dataset/architectures.py: hv, wan, zi, qi, qie ...) "
      "and training/trainer_base.py:1450 ('No training items found')")
def cache_other_model(setup: Setup) -> Iterator[Hit]:
    with_sdscripts = any(setup.trains("sdscripts"))
    for train in setup.trains("musubi"):
        own = _own_cache_scripts(train.script)
        for stage in _CACHE_STAGES:
            if not own[stage]:
                continue
            # sd-scripts' tools/cache_*.py have no trainer prefix either: only judged without sd-scripts training
            caches = [c for c in setup.stage(stage)
                      if c.trainer == "musubi" or (c.trainer is None and not with_sdscripts)]
            if not caches or any(c.script in own[stage] for c in caches):
                continue
            wanted = " or ".join(sorted(own[stage]))
            for cache in caches:
                yield Hit(f"{cache.script} writes another model's cache files; {train.script} reads only the ones "
                          f"{wanted} writes (the file names carry the model), so it finds none of its own and stops "
                          "('No training items found'), or reads outputs its model cannot use.",
                          f"Cache with {wanted} (same --dataset_config), then train.",
                          cache.evidence("--dataset_config", expected=sorted(own[stage]), train=train.source))


# ComfyUI's Qwen-Image-Edit-2511 release marks itself with this tensor; musubi-tuner loads it only as
# the 2511 model (30c658c qwen_image/qwen_image_model.py:1497-1499, qwen_image_train.py:131-135).
_EDIT_2511_KEY = "__index_timestep_zero__"
_EDIT_2511 = "qwen-image-edit-2511"


@rule("QWEN_EDIT_2511_DIT_VERSION", "block", "The ComfyUI Qwen-Image-Edit-2511 DiT trained as another model version.",
      "musubi-tuner PR #808 / #809 (2511 support, ComfyUI 2511 safetensors); 30c658c qwen_image/qwen_image_model.py:1497-1499 "
      "(assert: 'Found __index_timestep_zero__ in state_dict, the model must be 2511 variant'), qwen_image_train_network.py:408 "
      "(zero_cond_t only for --model_version edit-2511)")
def edit_2511_dit_version(setup: Setup) -> Iterator[Hit]:
    task = get_family(_EDIT_2511).task
    for inv in setup.trains("musubi"):
        family = setup.family(inv)
        if family is None or (family.variant_of or family.id) != "qwen-image" or not inv.value("--dit"):
            continue
        version = selector_value(inv, "--model_version")
        if version == task or _EDIT_2511_KEY not in (header_keys(setup, inv, "--dit") or set()):
            continue
        yield Hit(f"{file_name(inv.value('--dit'))} is ComfyUI's Qwen-Image-Edit-2511 file (it has the {_EDIT_2511_KEY} "
                  f"marker), but the command trains --model_version {version}; musubi-tuner stops right after loading "
                  "the model ('the model must be 2511 variant').",
                  f"Train with --model_version {task} (and cache with it too), or give the DiT of the model you mean to train.",
                  inv.evidence("--model_version", version=version, dit=inv.value("--dit")))

