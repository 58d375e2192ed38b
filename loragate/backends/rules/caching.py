"""musubi's cache steps, checked against the training command they feed."""

from __future__ import annotations

from typing import Iterator

from loragate.backends.command_family import DEFAULT_TASK
from loragate.validate.invocation import Invocation
from loragate.validate.rules.base import Hit, Setup, rule


def _same_dataset(setup: Setup, a: Invocation, b: Invocation) -> bool:
    da, db = setup.dataset_for(a), setup.dataset_for(b)
    if da is not None and db is not None:
        return da is db
    va, vb = a.value("--dataset_config"), b.value("--dataset_config")
    if va is None or vb is None:
        return True
    return setup.resolve(va, setup.base_dir(a)) == setup.resolve(vb, setup.base_dir(b))


def _i2v_task(setup: Setup, inv: Invocation) -> bool:
    task = inv.value("--task") or DEFAULT_TASK
    family = setup.family(inv)
    return ("i2v" in task or "flf2v" in task) if inv.has("--task") or not family else family.i2v


@rule("WAN_I2V_CACHE", "block", "I2V training on latents cached without --i2v (Wan 2.2) or --clip (Wan 2.1).",
      "reference musubi-tuner.md §1.1, §5.9 (issue #123: KeyError 'latents_image')")
def i2v_cache(setup: Setup) -> Iterator[Hit]:
    caches = setup.stage("cache_latents")
    for train in setup.trains("musubi"):
        mine = [c for c in caches if c.trainer == "musubi" and _same_dataset(setup, c, train)]
        if not mine:
            continue
        family = setup.family(train)
        wan21 = bool(family and family.id.startswith("wan2.1"))
        if _i2v_task(setup, train):
            for cache in mine:
                if wan21 and not cache.has("--clip"):
                    yield Hit("Wan 2.1 image-to-video needs CLIP image features in the latent cache, but this cache "
                              "step has no --clip; training stops with a missing-key error.",
                              "Add --clip models_clip_open-clip-xlm-roberta-large-vit-huge-14.pth to the latent "
                              "caching (it implies --i2v) and cache again.", cache.evidence("--clip", train=train.source))
                elif not wan21 and not (cache.has("--i2v") or cache.has("--clip") or cache.has("--image_encoder")):
                    yield Hit("This trains an image-to-video model but the latent cache step has no --i2v, so the "
                              "first-frame latents are missing and training stops with KeyError: 'latents_image'.",
                              "Add --i2v to the latent caching command and cache again.",
                              cache.evidence("--i2v", train=train.source))
        else:
            for cache in mine:
                if cache.has("--i2v") or cache.has("--clip"):
                    yield Hit("The latents are cached for image-to-video (--i2v/--clip) but the training task is "
                              "text-to-video; the extra image latents are wasted work.",
                              "Drop --i2v/--clip from the caching, or check the training --task.",
                              cache.evidence("--i2v" if cache.has("--i2v") else "--clip"), severity="warn")


@rule("WAN_CACHE_MISSING", "warn", "Training with no cache step for latents or text-encoder outputs.",
      "reference musubi-tuner.md §2 ('No training items found ... cache has been created beforehand')")
def cache_missing(setup: Setup) -> Iterator[Hit]:
    trains = list(setup.trains("musubi"))
    if not trains:
        return
    latents = [c for c in setup.stage("cache_latents") if c.trainer == "musubi"]
    text = [c for c in setup.stage("cache_text_encoder") if c.trainer == "musubi"]
    if not latents and not text:
        yield Hit("There is no caching step here. musubi trains only from cached latents and text-encoder outputs; "
                  "if they were not made for this dataset config, training stops with 'No training items found'.",
                  "Run wan_cache_latents.py and wan_cache_text_encoder_outputs.py with the same --dataset_config first.",
                  trains[0].evidence("--dataset_config"), severity="info")
        return
    for missing, script in ((latents, "wan_cache_latents.py"), (text, "wan_cache_text_encoder_outputs.py")):
        if not missing:
            yield Hit(f"The other cache step is here but {script} is not; a latent cache without its text-encoder "
                      "file (or the reverse) is skipped, so training finds no items.",
                      f"Add {script} with the same --dataset_config before training.",
                      trains[0].evidence("--dataset_config", missing=script))


@rule("WAN_CACHE_ORDER", "warn", "A training command runs before the cache step it needs.",
      "reference musubi-tuner.md §2 (training enumerates the cache files)")
def cache_order(setup: Setup) -> Iterator[Hit]:
    for train in setup.trains("musubi"):
        for cache in setup.invocations:
            if cache.stage in ("cache_latents", "cache_text_encoder") and cache.file == train.file \
                    and cache.index > train.index and _same_dataset(setup, cache, train):
                yield Hit(f"Training ({train.source}) comes before the {cache.script} step ({cache.source}), so it "
                          "reads caches that are old or missing.", "Put both cache steps before the training commands.",
                          train.evidence("--dataset_config", cache=cache.source))
                break


@rule("WAN_CACHE_DATASET_MISMATCH", "block", "Cache steps and training read different dataset configs.",
      "reference musubi-tuner.md §2 / §5.16 (training only sees the cache files of its own dataset config)")
def cache_dataset(setup: Setup) -> Iterator[Hit]:
    caches = [c for c in setup.invocations if c.trainer == "musubi" and c.stage in ("cache_latents", "cache_text_encoder")]
    if not caches:
        return
    for train in setup.trains("musubi"):
        if not train.has("--dataset_config") or any(_same_dataset(setup, c, train) for c in caches):
            continue
        yield Hit(f"Training reads {train.value('--dataset_config')} but the cache steps use "
                  f"{', '.join(sorted({c.value('--dataset_config') or '?' for c in caches}))}; its caches may not exist "
                  "or may be stale.", "Give the cache steps and training the same --dataset_config.",
                  train.evidence("--dataset_config"))


@rule("WAN_CACHE_SHARED_DIR", "warn", "Two dataset configs share a cache folder without --keep_cache.",
      "reference musubi-tuner.md §1.1 (--keep_cache: cache files not in the current config are deleted)")
def cache_shared_dir(setup: Setup) -> Iterator[Hit]:
    seen: dict[str, tuple[Invocation, str]] = {}
    for cache in setup.invocations:
        if cache.trainer != "musubi" or cache.stage not in ("cache_latents", "cache_text_encoder"):
            continue
        config = setup.dataset_for(cache)
        if config is None:
            continue
        for ds in config.datasets:
            directory = ds.get("cache_directory")
            if not isinstance(directory, str):
                continue
            key = f"{cache.stage}:{directory}"
            earlier = seen.get(key)
            if earlier and earlier[1] != config.name and not cache.has("--keep_cache"):
                yield Hit(f"{config.name} and {earlier[1]} both cache into {directory}; this step deletes cache files "
                          "that are not in its own config, i.e. the other config's caches.",
                          "Give each dataset config its own cache_directory, or add --keep_cache.",
                          cache.evidence("--keep_cache", cache_directory=directory))
            seen.setdefault(key, (cache, config.name))


@rule("WAN_FLF2V_NOT_ONE_FRAME", "block", "Wan 2.1 FLF2V-14B trained on an ordinary latent cache.",
      "musubi-tuner 30c658c docs/wan_1f.md ('For intermediate frame one-frame training, the FLF2V model is used', with "
      "--one_frame at caching); wan/modules/model.py MLPProj.forward (FLF2V reads CLIP tokens of two frames, 2 x 257); "
      "wan_cache_latents.py encode_and_save_batch (an ordinary cache holds the first frame's 257 only)")
def flf2v_not_one_frame(setup: Setup) -> Iterator[Hit]:
    caches = setup.stage("cache_latents")
    for train in setup.trains("musubi"):
        if train.value("--task") != "flf2v-14B":
            continue
        for cache in (c for c in caches if c.trainer == "musubi" and _same_dataset(setup, c, train)):
            if not cache.has("--one_frame"):
                yield Hit("FLF2V-14B learns from a first and a last frame, and musubi-tuner caches both only in its "
                          "one-frame mode; on this ordinary cache the model reads one frame's image features as if "
                          "they were two (training stops at batch size 1, or pairs two different clips' frames above it).",
                          "For clips, train --task i2v-14B with its own weights; for FLF2V, follow musubi's one-frame "
                          "training (docs/wan_1f.md: --one_frame at caching and training), which loragate plans with "
                          "--model wan2.1-flf2v-14b.",
                          cache.evidence("--one_frame", train=train.source))
