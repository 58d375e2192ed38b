"""A set of photos of 1-4 megapixels, a third each JPEG, PNG and WebP, one folder per format.

For `bench_audit.py --formats`: each format's folder holds its own pictures (1/f colour scenes with
shapes and film grain, as in planted.py), saved the way cameras and editors save them (JPEG quality
85-95, PNG at Pillow's default compression, lossy WebP quality 80-92). Deterministic for a given
count and seed; reused when it already exists.
"""

from __future__ import annotations

import json
import math
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from planted import _render

FORMATS = {"jpeg": "jpg", "png": "png", "webp": "webp"}
PHOTO_ASPECTS = [1.0, 4 / 3, 3 / 2, 16 / 9, 3 / 4, 2 / 3, 9 / 16]
VERSION = 1


def _photo(task: tuple[str, str, int, int]) -> float:
    """Render and save one photo; returns its megapixels."""
    folder, fmt, seed, index = task
    rng = np.random.default_rng([seed, index, 7])
    megapixels = math.exp(rng.uniform(math.log(1.0), math.log(4.0)))
    aspect = float(rng.choice(PHOTO_ASPECTS))
    width = int(math.sqrt(megapixels * 1e6 * aspect))
    height = int(width / aspect)
    img = _render(rng, width, height, None)
    path = Path(folder) / f"photo_{index:04d}.{FORMATS[fmt]}"
    if fmt == "jpeg":
        img.save(path, "JPEG", quality=int(rng.integers(85, 96)))
    elif fmt == "png":
        img.save(path, "PNG")
    else:
        img.save(path, "WEBP", quality=int(rng.integers(80, 92)))
    return width * height / 1e6


def build(folder: Path, count: int, seed: int = 0, workers: int = 2) -> dict[str, Path]:
    """Create (or reuse) `count` photos split evenly over the formats; returns format -> folder."""
    params = {"count": count, "seed": seed, "version": VERSION}
    stamp = folder / "params.json"
    folders = {fmt: folder / fmt for fmt in FORMATS}
    if stamp.exists() and json.loads(stamp.read_text()) == params:
        return folders
    shutil.rmtree(folder, ignore_errors=True)
    tasks = []
    for n, fmt in enumerate(FORMATS):
        folders[fmt].mkdir(parents=True)
        share = count // len(FORMATS) + (n < count % len(FORMATS))
        tasks += [(str(folders[fmt]), fmt, seed, n * 100_000 + i) for i in range(share)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_photo, tasks, chunksize=4))
    stamp.write_text(json.dumps(params))
    return folders
