"""musubi-tuner pitfalls reported in its issue tracker and confirmed in its source (30c658c): another
model's caching script, ComfyUI's Qwen-Image-Edit-2511 DiT under another version, jsonl lines sharing
an image name."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import PurePath
from typing import Iterator

from loragate.catalog.models import get_family, load_catalog
from loragate.environment.safetensors_header import MUSUBI_DIT_PREFIXES
from loragate.validate.parse_toml import DatasetConfig
from loragate.backends.command_family import selector_value
from loragate.validate.rules.base import Hit, Setup, rule
from loragate.backends.rules.weights_header import file_name, header_keys

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


# ComfyUI's Qwen-Image-Edit-2511 release marks itself with a tensor (models.toml weight_markers); musubi-tuner
# loads it only as the 2511 model (30c658c qwen_image/qwen_image_model.py:1497-1499, qwen_image_train.py:131-135).
_EDIT_2511 = "qwen-image-edit-2511"


@rule("QWEN_EDIT_2511_DIT_VERSION", "block", "The ComfyUI Qwen-Image-Edit-2511 DiT trained as another model version.",
      "musubi-tuner PR #808 / #809 (2511 support, ComfyUI 2511 safetensors); 30c658c qwen_image/qwen_image_model.py:1497-1499 "
      "(assert: 'Found __index_timestep_zero__ in state_dict, the model must be 2511 variant'), qwen_image_train_network.py:408 "
      "(zero_cond_t only for --model_version edit-2511)")
def edit_2511_dit_version(setup: Setup) -> Iterator[Hit]:
    edit_2511 = get_family(_EDIT_2511)
    task, markers = edit_2511.task, edit_2511.weight_markers.get("dit", [])
    for inv in setup.trains("musubi"):
        family = setup.family(inv)
        if family is None or (family.variant_of or family.id) != "qwen-image" or not inv.value("--dit"):
            continue
        version = selector_value(inv, "--model_version")
        keys = header_keys(setup, inv, "--dit") or set()
        marker = next((m for m in markers for p in MUSUBI_DIT_PREFIXES if p + m in keys), None)
        if version == task or marker is None:
            continue
        yield Hit(f"{file_name(inv.value('--dit'))} is ComfyUI's Qwen-Image-Edit-2511 file (it has the {marker} "
                  f"marker), but the command trains --model_version {version}; musubi-tuner stops right after loading "
                  "the model ('the model must be 2511 variant').",
                  f"Train with --model_version {task} (and cache with it too), or give the DiT of the model you mean to train.",
                  inv.evidence("--model_version", version=version, dit=inv.value("--dit")))


@rule("MUSUBI_JSONL_SAME_NAME", "block", "Two lines of an image jsonl whose images share a file name.",
      "musubi-tuner issue #400 (Kontext pairs sharing an image_path: one cache file left, 'caption mismatch ... overwrite'; "
      "kohya: 'one image can only have one control image. Please copy and rename the image'); 30c658c "
      "dataset/datasources.py ImageJsonlDatasource (the item key is image_path) and dataset/image_video_dataset.py:152-171 "
      "(cache files are named by its base name)")
def jsonl_same_name(setup: Setup) -> Iterator[Hit]:
    for config in setup.datasets.values():
        if config.error is not None or config.schema != "musubi":
            continue
        for i, ds in enumerate(config.datasets):
            value = ds.get("image_jsonl_file")
            lines = _jsonl_image_paths(setup, config, value) if isinstance(value, str) else None
            by_name: dict[str, list[int]] = {}
            for number, image_path in lines or []:
                by_name.setdefault(PurePath(image_path.replace("\\", "/")).stem, []).append(number)
            clashes = {name: numbers for name, numbers in by_name.items() if len(numbers) > 1}
            if not clashes:
                continue
            name, numbers = next(iter(clashes.items()))
            yield Hit(f"{file_name(value)}: {sum(len(n) for n in clashes.values())} lines share image file names "
                      f"(e.g. '{name}' on lines {', '.join(map(str, numbers[:4]))}); musubi-tuner names each cache file after "
                      "the image's name, so the last of them overwrites the others and those pairs and captions are lost "
                      "without an error.",
                      "Give every line its own image file: copy the image under a new name for each of its control images "
                      "or captions (musubi-tuner reads one control image set per image).",
                      config.evidence("datasets", i, "image_jsonl_file", clashes=len(clashes), example=name, lines=numbers[:4]))


def _jsonl_image_paths(setup: Setup, config: DatasetConfig, value: str) -> list[tuple[int, str]] | None:
    """(line number, image_path) of each readable line of a jsonl the dataset names, when it may be read."""
    path = setup.resolve(value, config.base_dir)
    if not setup.may_look(path, value) or not path.is_file():
        return None
    found: list[tuple[int, str]] = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            item = json.loads(line) if line.strip() else None
        except ValueError:
            continue  # musubi logs the line and skips it too
        image_path = item.get("image_path", item.get("image_path_0")) if isinstance(item, dict) else None
        if isinstance(image_path, str):
            found.append((number, image_path))
    return found
