"""musubi's one-frame training for Wan (docs/wan_1f.md): the dataset keys the --one_frame cache reads."""

from __future__ import annotations

from typing import Iterator

from loragate.backends.command_family import TASK_FAMILY, is_wan
from loragate.catalog.models import OneFrame, get_family
from loragate.validate.invocation import Invocation
from loragate.validate.parse_toml import DatasetConfig
from loragate.validate.rules.base import Hit, Setup, rule

FLF2V_TASK = "flf2v-14B"


def _flf2v() -> OneFrame:
    """FLF2V's one-frame layout from the catalogue: a start and an end image around the target (musubi-tuner
    wan/modules/model.py MLPProj.forward views the CLIP tokens as two images' worth)."""
    one = get_family(TASK_FAMILY[FLF2V_TASK]).one_frame
    assert one is not None, "models.toml gives the FLF2V family its one_frame layout"
    return one


def _keys_text(one: OneFrame) -> str:
    return " and ".join(f"{key} = {value}" for key, value in one.dataset_keys().items())


def _image_datasets(setup: Setup, inv: Invocation) -> Iterator[tuple[int, dict, DatasetConfig]]:
    """The picture datasets of the TOML the command reads."""
    config = setup.dataset_for(inv)
    if config is None or config.error is not None:
        return
    for i, ds in enumerate(config.datasets):
        if "image_directory" in ds or "image_jsonl_file" in ds:
            yield i, ds, config


@rule("WAN_ONE_FRAME_KEYS_MISSING", "block", "A Wan one-frame latent cache on a dataset without the one-frame keys.",
      "musubi-tuner 30c658c docs/wan_1f.md (one-frame training reuses FramePack's dataset settings, docs/dataset_config.md "
      "'FramePack One Frame Training'); wan_cache_latents.py encode_and_save_batch_one_frame adds fp_1f_clean_indices "
      "and [fp_1f_target_index], which are None when the TOML leaves them out")
def one_frame_keys_missing(setup: Setup) -> Iterator[Hit]:
    for cache in setup.stage("cache_latents"):
        if not (is_wan(cache) and cache.has("--one_frame")):
            continue
        for i, ds, config in _image_datasets(setup, cache):
            missing = [key for key in _flf2v().dataset_keys() if key not in ds]
            if missing:
                yield Hit(f"Dataset {i + 1} is cached for one-frame training (--one_frame) but leaves {' and '.join(missing)} "
                          "out, so the caching step stops with a TypeError: it does not know where the control images "
                          "and the target picture sit.",
                          f"Add {_keys_text(_flf2v())} to the dataset for FLF2V "
                          "(start and end image; docs/wan_1f.md), or fp_1f_clean_indices = [0] for one start image.",
                          config.evidence("datasets", i))


@rule("WAN_FLF2V_CONTROL_COUNT", "block", "Wan 2.1 FLF2V one-frame training with other than two control images per picture.",
      "musubi-tuner 30c658c docs/wan_1f.md ('control_index=0;2, target_index=1 (in dataset settings, fp_1f_clean_indices = "
      "[0, 2] ...)'); wan/modules/model.py MLPProj.forward (FLF2V views the CLIP tokens as a start and an end image); "
      "dataset/image_video_dataset.py (one control image per fp_1f_clean_indices entry)")
def flf2v_control_count(setup: Setup) -> Iterator[Hit]:
    for train in setup.trains("musubi"):
        if train.value("--task") != FLF2V_TASK or not train.has("--one_frame"):
            continue
        one = _flf2v()
        for i, ds, config in _image_datasets(setup, train):
            indices = ds.get("fp_1f_clean_indices")
            if isinstance(indices, list) and len(indices) != len(one.clean_indices):
                yield Hit(f"Dataset {i + 1} gives {len(indices)} control image position(s) (fp_1f_clean_indices = {indices}), but "
                          "FLF2V learns each picture between a start and an end image and reads exactly two images' CLIP "
                          "features; with another count training stops with a shape error or mixes two pictures' images.",
                          f"Set {_keys_text(one)} (docs/wan_1f.md's tested example), "
                          "with each picture's start and end image in control/ as NAME_0 and NAME_1.",
                          config.evidence("datasets", i, "fp_1f_clean_indices"))
