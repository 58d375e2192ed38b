"""A synthetic dataset with planted duplicates and a ground truth, for bench_audit.py.

Pictures are 1/f ("natural image" spectrum) colour noise with random shapes, scaled to 0.5-12
megapixels and given film grain, saved as JPEG, PNG or WebP. About 15% of them are originals
of a family: each gets 1-3 derived copies made with the transformations the duplicate finder
must survive (resize, JPEG quality 30, crops up to 10%, brightness, contrast, a combination,
left-right mirror) or exact copies (the same pixels as lossless WebP, or the same bytes).
A few pictures are made dark, bright, grey or blurry so every quality check has work to do.

The ground truth (ground_truth.json) lists every file's family and how it was made. The set is
deterministic for a given count and seed and is reused when it already exists.
"""

from __future__ import annotations

import json
import math
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

GENERATOR_VERSION = 2
FAMILY_SHARE = 0.15
ASPECTS = [1.0, 4 / 3, 3 / 2, 16 / 9, 3 / 4, 2 / 3, 9 / 16, 1.0, 4 / 3, 3 / 4, 3.2]
TRANSFORMS = ["resize", "jpeg30", "crop", "brightness", "contrast", "combo", "mirror", "exact_webp", "exact_bytes"]
FLAWS = {"dark": 0.02, "light": 0.02, "grayscale": 0.02, "blurry": 0.03}


def natural_field(rng: np.random.Generator, width: int, height: int, slope: tuple[float, float] = (1.6, 2.4)) -> np.ndarray:
    """A 1/f colour field (a natural image's spectrum), float RGB around mid-grey."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    freq = np.sqrt(fx**2 + fy**2)
    freq[0, 0] = 1.0
    amp = freq ** -rng.uniform(*slope)
    amp[0, 0] = 0.0
    latent = []
    for _ in range(3):
        spectrum = amp * (rng.normal(size=amp.shape) + 1j * rng.normal(size=amp.shape))
        field = np.fft.irfft2(spectrum, s=(height, width))
        latent.append((field - field.mean()) / (field.std() + 1e-9))
    mix = rng.normal(0, 45, size=(3, 3))
    return np.tensordot(np.stack(latent, -1), mix, axes=1) + rng.uniform(70, 185, size=3)


def _scene(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """A 1/f colour field with shapes, at most 320 px on the long side."""
    scale = 320 / max(width, height)
    lw, lh = max(8, round(width * scale)), max(8, round(height * scale))
    rgb = natural_field(rng, lw, lh)
    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img, "RGBA")
    for _ in range(int(rng.integers(3, 12))):
        x0, y0 = rng.uniform(-0.1, 1.0) * lw, rng.uniform(-0.1, 1.0) * lh
        x1, y1 = x0 + rng.uniform(0.05, 0.5) * lw, y0 + rng.uniform(0.05, 0.5) * lh
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3)) + (int(rng.integers(120, 256)),)
        shape = rng.integers(0, 3)
        if shape == 0:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif shape == 1:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.line((x0, y0, x1, y1), fill=colour, width=int(rng.integers(2, 10)))
    return img


def _grain(rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0, 7, size=(509, 511, 3)).astype(np.int16)


def _render(rng: np.random.Generator, width: int, height: int, flaw: str | None) -> Image.Image:
    small = _scene(rng, width, height)
    if flaw == "blurry":
        small = small.filter(ImageFilter.GaussianBlur(3))
    img = small.resize((width, height), Image.Resampling.BICUBIC)
    if flaw != "blurry":
        arr = np.asarray(img, dtype=np.int16)
        grain = _grain(rng)
        reps = (math.ceil(height / grain.shape[0]), math.ceil(width / grain.shape[1]), 1)
        arr = arr + np.tile(grain, reps)[:height, :width]
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    if flaw == "dark":
        img = ImageEnhance.Brightness(img).enhance(0.12)
    elif flaw == "light":
        img = Image.eval(img, lambda v: 255 - (255 - v) // 10)
    elif flaw == "grayscale":
        img = img.convert("L").convert("RGB")
    return img


def _size(rng: np.random.Generator) -> tuple[int, int]:
    megapixels = math.exp(rng.uniform(math.log(0.5), math.log(12)))
    aspect = float(rng.choice(ASPECTS))
    width = int(math.sqrt(megapixels * 1e6 * aspect))
    return width, max(64, int(width / aspect))


def _save(img: Image.Image, path: Path, fmt: str, rng: np.random.Generator) -> None:
    if fmt == "jpg":
        img.save(path, "JPEG", quality=int(rng.integers(80, 96)))
    elif fmt == "png":
        img.save(path, "PNG", compress_level=1)
    else:
        img.save(path, "WEBP", quality=int(rng.integers(80, 92)), method=2)


def _derive(rng: np.random.Generator, img: Image.Image, how: str) -> Image.Image:
    w, h = img.size
    if how == "resize":
        s = rng.uniform(0.35, 0.75)
        return img.resize((max(32, int(w * s)), max(32, int(h * s))), Image.Resampling.LANCZOS)
    if how in ("crop", "combo"):
        fx, fy = rng.uniform(0.03, 0.10), rng.uniform(0.03, 0.10)
        left, top = rng.uniform(0, fx), rng.uniform(0, fy)
        img = img.crop((int(w * left), int(h * top), w - int(w * (fx - left)), h - int(h * (fy - top))))
        if how == "combo":
            s = rng.uniform(0.5, 0.8)
            img = img.resize((int(img.width * s), int(img.height * s)), Image.Resampling.BICUBIC)
            img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.8, 1.2))
        return img
    if how == "brightness":
        return ImageEnhance.Brightness(img).enhance(float(rng.choice([rng.uniform(0.7, 0.85), rng.uniform(1.15, 1.3)])))
    if how == "contrast":
        return ImageEnhance.Contrast(img).enhance(float(rng.choice([rng.uniform(0.7, 0.85), rng.uniform(1.15, 1.3)])))
    if how == "mirror":
        return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return img  # jpeg30: only the encoding changes


def _make_family(task: tuple[str, int, int, int, str | None]) -> dict[str, dict[str, object]]:
    """One original and its derived copies; returns name -> ground-truth record."""
    folder, seed, index, copies, flaw = task
    rng = np.random.default_rng([seed, index])
    out: dict[str, dict[str, object]] = {}
    width, height = _size(rng)
    kinds = list(rng.choice(TRANSFORMS, size=copies, replace=False)) if copies else []
    if "exact_webp" in kinds:  # lossless WebP of a large picture is slow to write; keep it modest
        width, height = min(width, 1800), min(height, 1800)
    img = _render(rng, width, height, flaw)
    fmt = "png" if "exact_webp" in kinds else str(rng.choice(["jpg"] * 6 + ["png"] * 2 + ["webp"] * 2))
    name = f"img_{index:05d}.{fmt}"
    _save(img, Path(folder) / name, fmt, rng)
    family = index if copies else None
    out[name] = {"family": family, "made": "original", "flaw": flaw, "megapixels": round(width * height / 1e6, 2)}
    for n, how in enumerate(kinds):
        copy_name = f"img_{index:05d}_{n}_{how}"
        if how == "exact_webp":
            copy_name += ".webp"
            img.save(Path(folder) / copy_name, "WEBP", lossless=True, quality=0, method=0)
        elif how == "exact_bytes":
            copy_name += f".{fmt}"
            shutil.copyfile(Path(folder) / name, Path(folder) / copy_name)
        else:
            derived = _derive(rng, img, how)
            copy_fmt = "jpg" if how in ("jpeg30", "combo") or rng.random() < 0.6 else str(rng.choice(["png", "webp"]))
            copy_name += f".{copy_fmt}"
            if how in ("jpeg30", "combo"):
                derived.save(Path(folder) / copy_name, "JPEG", quality=30 if how == "jpeg30" else int(rng.integers(30, 60)))
            else:
                _save(derived, Path(folder) / copy_name, copy_fmt, rng)
        out[copy_name] = {"family": family, "made": how, "flaw": None}
    return out


def build(folder: Path, count: int, seed: int = 0, workers: int = 2) -> dict[str, dict[str, object]]:
    """Create (or reuse) the dataset in `folder`; returns its ground truth."""
    truth_file = folder / "ground_truth.json"
    params = {"count": count, "seed": seed, "version": GENERATOR_VERSION}
    if truth_file.exists():
        saved = json.loads(truth_file.read_text())
        if saved.get("params") == params:
            return saved["files"]
    if folder.exists():
        shutil.rmtree(folder)
    data = folder / "data"
    data.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    tasks = []
    total, index = 0, 0
    while total < count:
        copies = int(rng.integers(1, 4)) if rng.random() < FAMILY_SHARE else 0
        copies = min(copies, count - total - 1)
        flaw = None
        if not copies:
            r, acc = rng.random(), 0.0
            for name, share in FLAWS.items():
                acc += share
                if r < acc:
                    flaw = name
                    break
        tasks.append((str(data), seed, index, copies, flaw))
        total += 1 + copies
        index += 1
    files: dict[str, dict[str, object]] = {}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for part in pool.map(_make_family, tasks, chunksize=4):
            files.update(part)
    truth_file.write_text(json.dumps({"params": params, "files": files}, indent=1))
    return files


def true_pairs(files: dict[str, dict[str, object]]) -> dict[frozenset[str], str]:
    """Every pair of files showing the same picture -> how the copy was made."""
    by_family: dict[int, list[str]] = {}
    for name, rec in files.items():
        if rec["family"] is not None:
            by_family.setdefault(int(rec["family"]), []).append(name)  # type: ignore[arg-type]
    pairs: dict[frozenset[str], str] = {}
    for names in by_family.values():
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                made = sorted(str(files[x]["made"]) for x in (a, b) if files[x]["made"] != "original")
                pairs[frozenset((a, b))] = "+".join(made)
    return pairs
