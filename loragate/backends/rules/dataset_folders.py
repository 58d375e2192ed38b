"""Dataset TOMLs against the folders they name, when those folders exist on this machine."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

from loragate.dataset.scan import IMAGE_EXTENSIONS
from loragate.imaging import open_image
from loragate.validate.parse_toml import DatasetConfig
from loragate.validate.rules.base import Hit, Setup, rule
from loragate.backends.rules.captions_read import REPEAT_FOLDER
from loragate.backends.rules.dataset_toml import sds_value, users


_MAX_IMAGES_FOR_BUCKETS = 3000


def _files(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.is_file()]
    except OSError:
        return []


def _images(folder: Path) -> list[Path]:
    return [p for p in _files(folder) if p.suffix.lower() in IMAGE_EXTENSIONS]


def _folder(setup: Setup, config: DatasetConfig, value: Any) -> Path | None:
    if not isinstance(value, str):
        return None
    path = setup.resolve(value, config.base_dir)
    return path if setup.may_look(path, value) and path.is_dir() else None


def _train_data_dir_problem(folder: Path) -> str | None:
    subfolders = [p for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []
    if any(REPEAT_FOLDER.match(p.name) for p in subfolders):
        return None
    if _images(folder):
        return "holds the images directly"
    if subfolders:
        return f"has folders without a repeat count ({', '.join(p.name for p in subfolders[:3])})"
    return "has no images"


@rule("TOML_TRAIN_DATA_DIR", "block", "--train_data_dir or image_dir pointing at the wrong level.",
      "reference sd-scripts.md §6.2 ('No data found ... train_data_dir must be the parent of folders with images'; "
      "exits 0) and §3.1 (image_dir holds the images; no N_name parsing)")
def train_data_dir(setup: Setup) -> Iterator[Hit]:
    for inv in setup.trains("sdscripts"):
        if inv.has("--dataset_config"):
            continue
        for flag in ("--train_data_dir", "--reg_data_dir"):
            value = inv.value(flag)
            folder = setup.resolve(value, setup.base_dir(inv)) if value else None
            if folder is None or not setup.may_look(folder, value) or not folder.is_dir():
                continue
            problem = _train_data_dir_problem(folder)
            if problem:
                yield Hit(f"{flag} {value} {problem}; sd-scripts expects it to be the PARENT of folders named like "
                          "10_name (repeats_name). It finds no data and exits as if it had succeeded.",
                          f"Move the images into {value}/10_<name>/ (10 = repeats), or point {flag} at the parent.",
                          inv.evidence(flag))
    for config in setup.datasets.values():
        if config.schema != "sdscripts" or config.error:
            continue
        for i, ds in enumerate(config.datasets):
            for j, sub in enumerate(ds.get("subsets", []) or []):
                folder = _folder(setup, config, sub.get("image_dir")) if isinstance(sub, dict) else None
                if folder is None or _images(folder):
                    continue
                nested = [p.name for p in folder.iterdir() if p.is_dir() and REPEAT_FOLDER.match(p.name)]
                if nested:
                    yield Hit(f"image_dir {sub['image_dir']} has no images of its own, only repeat folders "
                              f"({', '.join(nested[:3])}); in a dataset TOML image_dir must be the image folder itself.",
                              f"Point image_dir at {sub['image_dir']}/{nested[0]} and set num_repeats there.",
                              config.evidence("datasets", i, "subsets", j, "image_dir"))


def _buckets(reso: tuple[int, int], step: int, low: int, high: int) -> list[tuple[int, int]]:
    """sd-scripts train_util.make_bucket_resolutions."""
    area = reso[0] * reso[1]
    side = int(math.sqrt(area) // step) * step
    resos = {(side, side)}
    width = low
    while width <= high:
        height = min(high, int((area // width) // step) * step)
        if height >= low:
            resos.update({(width, height), (height, width)})
        width += step
    return sorted(resos)


def _image_size(path: Path) -> tuple[int, int] | None:
    try:
        with open_image(path) as image:
            return image.size
    except Exception:  # noqa: BLE001 - Pillow raises ValueError, NotImplementedError... for bad files
        return None


def dataset_images(setup: Setup, config: DatasetConfig, i: int) -> list[tuple[Path, int]]:
    ds = config.datasets[i]
    if config.schema == "musubi":
        folder = _folder(setup, config, ds.get("image_directory"))
        repeats = ds.get("num_repeats", config.general.get("num_repeats", 1))
        return [(p, int(repeats)) for p in _images(folder)] if folder and isinstance(repeats, int) else []
    out: list[tuple[Path, int]] = []
    for sub in ds.get("subsets", []) or []:
        folder = _folder(setup, config, sub.get("image_dir")) if isinstance(sub, dict) else None
        repeats = sub.get("num_repeats", ds.get("num_repeats", config.general.get("num_repeats", 1))) if folder else 1
        if folder and isinstance(repeats, int) and not sub.get("is_reg"):
            out += [(p, repeats) for p in _images(folder)]
    return out


@rule("TOML_BATCH_GT_BUCKET", "warn", "batch_size larger than the images in a bucket.",
      "sd-scripts train_util (batches are made per aspect-ratio bucket); musubi-tuner §2 (buckets per resolution)")
def batch_gt_bucket(setup: Setup) -> Iterator[Hit]:
    for config in setup.datasets.values():
        if config.error or not config.schema:
            continue
        for i, ds in enumerate(config.datasets):
            raw_batch = ds.get("batch_size", config.general.get("batch_size"))
            if raw_batch is None and config.schema == "sdscripts":
                raw_batch = next((inv.value("--train_batch_size") for inv in users(setup, config)
                                  if inv.has("--train_batch_size")), None)
            try:
                batch = int(raw_batch or 1)
            except (TypeError, ValueError):
                continue
            images = dataset_images(setup, config, i)
            if batch <= 1 or not images:
                continue
            total = sum(r for _, r in images)
            if total < batch:
                yield Hit(f"batch_size is {batch} but dataset {i + 1} has only {total} images (with repeats); every "
                          "step runs with fewer images than the batch size you planned for.",
                          f"Use batch_size = {max(1, total)} or add images.", config.evidence("datasets", i, "batch_size"))
                continue
            bucketed = ds.get("enable_bucket", config.general.get("enable_bucket"))
            if config.schema == "sdscripts":
                bucketed = sds_value(setup, config, i, "enable_bucket") in (True, "True")
            if not bucketed or len(images) > _MAX_IMAGES_FOR_BUCKETS:
                continue
            res_value = ds.get("resolution", config.general.get("resolution", [960, 544]))
            res = (res_value, res_value) if isinstance(res_value, int) else tuple(res_value) if isinstance(res_value, list) else None
            if res is None or len(res) != 2:
                continue
            step = 16 if config.schema == "musubi" else 64
            buckets = _buckets((int(res[0]), int(res[1])), step, 256 if config.schema == "sdscripts" else step * 8,
                               max(res) * 2)
            ratios = [w / h for w, h in buckets]
            counts: Counter[tuple[int, int]] = Counter()
            for path, repeats in images:
                size = _image_size(path)
                if size:
                    ar = size[0] / size[1]
                    counts[buckets[min(range(len(ratios)), key=lambda k: abs(ratios[k] - ar))]] += repeats
            small = [(b, n) for b, n in counts.items() if n < batch]
            if small:
                listed = ", ".join(f"{w}x{h}: {n}" for (w, h), n in sorted(small, key=lambda x: x[1])[:4])
                yield Hit(f"With batch_size {batch}, {len(small)} aspect-ratio bucket(s) hold fewer images than one "
                          f"batch ({listed}); their steps run with smaller batches than planned.",
                          "Crop those images to a common aspect ratio, add similar images, or lower batch_size.",
                          config.evidence("datasets", i, "batch_size", small_buckets=len(small)))
