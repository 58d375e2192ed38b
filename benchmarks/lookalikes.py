"""Look-alike but distinct pictures, with true copies among them: does the duplicate finder group
only what an artist would call the same picture?

Two kinds of look-alikes, each a different picture to an artist:
- crops of one photo: many crops (35-70% of each side) of a few large photos, no two overlapping
  by more than half (intersection over union < 0.5): same colours, same textures, other framing;
- a painter's series: one background (same field, palette, light) with the figures moved, resized
  and recoloured in each painting.
True copies of some of them are added the ways copies happen: JPEG re-encoded at quality 40, resized
to half, trimmed 5% on two edges, brightened 15%, saved as WebP.

Ground truth: two files are the same picture when they are a source and its copy. A near group
is false when it holds two files that are not; recall counts the copies grouped with their source.
Used by bench_duplicates.py and tests/test_duplicates_lookalikes.py.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance

from benchmarks.planted import natural_field

COPY_KINDS = ("jpeg40", "half", "trim5", "bright15", "webp")


def _field(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    return natural_field(rng, width, height, (1.7, 2.2))


def _figures(img: Image.Image, rng: np.random.Generator, count: int) -> Image.Image:
    draw = ImageDraw.Draw(img, "RGBA")
    w, h = img.size
    for _ in range(count):
        x0, y0 = rng.uniform(-0.1, 0.9) * w, rng.uniform(-0.1, 0.9) * h
        x1, y1 = x0 + rng.uniform(0.06, 0.35) * w, y0 + rng.uniform(0.06, 0.35) * h
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3)) + (int(rng.integers(150, 256)),)
        (draw.ellipse if rng.integers(0, 2) else draw.rectangle)((x0, y0, x1, y1), fill=colour)
    return img


def _picture(field: np.ndarray, rng: np.random.Generator, figures: int) -> Image.Image:
    grain = rng.normal(0, 6, size=field.shape)
    img = Image.fromarray(np.clip(field + grain, 0, 255).astype(np.uint8), "RGB")
    return _figures(img, rng, figures)


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def _crops(rng: np.random.Generator, width: int, height: int, count: int) -> list[tuple[int, int, int, int]]:
    boxes: list[tuple[int, int, int, int]] = []
    for _ in range(count * 200):
        if len(boxes) == count:
            break
        cw, ch = int(width * rng.uniform(0.35, 0.7)), int(height * rng.uniform(0.35, 0.7))
        x, y = int(rng.integers(0, width - cw)), int(rng.integers(0, height - ch))
        box = (x, y, x + cw, y + ch)
        if all(_iou(box, other) < 0.5 for other in boxes):
            boxes.append(box)
    return boxes


def _copy(img: Image.Image, kind: str, path: Path) -> Path:
    if kind == "half":
        img = img.resize((img.width // 2, img.height // 2), Image.Resampling.LANCZOS)
    elif kind == "trim5":
        img = img.crop((int(img.width * 0.05), 0, img.width, int(img.height * 0.95)))
    elif kind == "bright15":
        img = ImageEnhance.Brightness(img).enhance(1.15)
    if kind == "jpeg40":
        img.save(path.with_suffix(".jpg"), quality=40)
        return path.with_suffix(".jpg")
    if kind == "webp":
        img.save(path.with_suffix(".webp"), quality=80)
        return path.with_suffix(".webp")
    img.save(path.with_suffix(".png"))
    return path.with_suffix(".png")


def _save(img: Image.Image, path: Path, long_side: int) -> None:
    img = img.copy()
    img.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    img.save(path, quality=92)


def build(folder: Path, photos: int = 8, crops: int = 24, series: int = 4, paintings: int = 8,
          copy_every: int = 3, long_side: int = 640, seed: int = 0) -> dict[str, str]:
    """Write the set into `folder`; returns file name -> the picture it shows (copies share it)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    truth: dict[str, str] = {}
    sources: list[tuple[str, Image.Image]] = []
    for p in range(photos):
        photo = _picture(_field(rng, 1600, 1200), rng, 14)
        for c, box in enumerate(_crops(rng, 1600, 1200, crops)):
            name = f"photo{p}_crop{c:02d}.jpg"
            _save(photo.crop(box), folder / name, long_side)
            truth[name] = name
            sources.append((name, Image.open(folder / name).convert("RGB")))
    for s in range(series):
        background = _field(rng, 960, 720)
        for k in range(paintings):
            name = f"series{s}_painting{k}.jpg"
            _save(_picture(background, rng, 5), folder / name, long_side)
            truth[name] = name
            sources.append((name, Image.open(folder / name).convert("RGB")))
    for n, (name, img) in enumerate(sources[::copy_every]):
        kind = COPY_KINDS[n % len(COPY_KINDS)]
        path = _copy(img, kind, folder / f"{Path(name).stem}_copy_{kind}")
        truth[path.name] = name
    return truth


def score(groups: list[Any], truth: dict[str, str]) -> dict[str, float | int]:
    """False groups (holding two different pictures) and recall of the copies, from near/exact groups."""
    def picture(path: str) -> str:
        return truth[Path(path).name]

    false = [g for g in groups if len({picture(p) for p in g.paths}) > 1]
    wrong_pairs = sum(1 for g in groups for a, b in combinations(g.paths, 2) if picture(a) != picture(b))
    copies = [(f, src) for f, src in truth.items() if f != src]
    together = {frozenset(Path(p).name for p in g.paths) for g in groups}
    found = sum(1 for f, src in copies if any(f in g and src in g for g in together))
    return {"groups": len(groups), "false_groups": len(false), "wrong_pairs": wrong_pairs,
            "false_group_rate": len(false) / len(groups) if groups else 0.0,
            "copies": len(copies), "copies_found": found, "recall": found / len(copies) if copies else 1.0,
            "pictures": len(set(truth.values())), "files": len(truth)}
