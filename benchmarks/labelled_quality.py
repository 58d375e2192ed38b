"""The audit's picture checks against labelled pictures: old reduction and thresholds against new.

    python benchmarks/labelled_quality.py [--bases 14] [--seed 0]

Builds (once, under benchmarks/_work/) sharp pictures of 1-4 MP, each saved as JPEG, PNG or WebP
in turn, and the same pictures with known defects at several strengths. Each carries a label per
check, what an artist would say of it; a strength in between (an artist could say either) has no
label for that check and is left out of its count:

- blurry: Gaussian blur of sigma s px per 1024 px of the long side (s <= 0.5 sharp, 1 unlabelled,
  >= 2 blurry); motion blur of m px per 1024 (m <= 2 sharp, 5 unlabelled, >= 10 blurry); a 4x
  downscale enlarged back (blurry). Sharp as well: the sharp picture at JPEG quality 15 and 40
  (blocky, not soft), at a third of its contrast, and flat-shaded art with crisp outlines. Dark
  and washed-out pictures carry no blur label (their own check speaks for them).
- dark: brightness x0.12 (dark), x0.6 (not); bright: levels squeezed into the top tenth (bright);
  grayscale: the picture in grey; low_info: a flat colour with faint grain and a gradient.

Every picture is decoded as the audit decodes it (JPEG at reduced DCT scale), reduced the old way
(Pillow's bicubic `thumbnail`, `reducing_gap=2.0`) and the new way (`analysis_copy`), and scored by
the audit's own `quality_scores`. Printed per check: agreement with the labels of the old scores at
the old thresholds and of the new scores at the thresholds in loragate/data/thresholds.toml, and the
range of new thresholds that would agree as well; and how many pictures (with those of --extra folders)
change verdict.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from planted import natural_field  # noqa: E402

WORK = HERE / "_work"
VERSION = 1
# The thresholds before the reduction changed (loragate/data/thresholds.toml at f29a84a).
OLD_THRESHOLDS = {"grayscale": 0.012, "dark": 0.2, "bright": 0.9, "blurry": 8.0, "low_info": 0.3}
CHECKS = tuple(OLD_THRESHOLDS)
FORMATS = ("jpg", "png", "webp")


def _shapes(rng: np.random.Generator, img: Image.Image, outline: bool) -> None:
    draw = ImageDraw.Draw(img, "RGBA")
    w, h = img.size
    for _ in range(int(rng.integers(4, 14))):
        x0, y0 = rng.uniform(-0.1, 1.0) * w, rng.uniform(-0.1, 1.0) * h
        x1, y1 = x0 + rng.uniform(0.05, 0.4) * w, y0 + rng.uniform(0.05, 0.4) * h
        fill = tuple(int(c) for c in rng.integers(0, 256, size=3)) + (int(rng.integers(160, 256)),)
        edge = (20, 20, 20, 255) if outline else None
        width = max(2, w // 400) if outline else 0
        if rng.integers(0, 2):
            draw.ellipse((x0, y0, x1, y1), fill=fill, outline=edge, width=width)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=fill, outline=edge, width=width)


def sharp_photo(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """Texture at every scale (1/f amplitude, as in photographs), crisp shapes, light grain."""
    rgb = natural_field(rng, width, height, slope=(1.0, 1.4))
    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    _shapes(rng, img, outline=False)
    arr = np.asarray(img, dtype=np.int16) + rng.normal(0, 3, size=(height, width, 3)).astype(np.int16)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def flat_art(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """Flat-shaded art: plain colour areas with dark outlines, no texture."""
    img = Image.new("RGB", (width, height), tuple(int(c) for c in rng.integers(150, 256, size=3)))
    _shapes(rng, img, outline=True)
    return img


def motion_blur(img: Image.Image, length: int) -> Image.Image:
    """A horizontal camera shake of `length` px: the mean of that many shifted copies."""
    arr = np.asarray(img, dtype=np.float32)
    pad = np.pad(arr, ((0, 0), (length // 2, length - length // 2), (0, 0)), mode="edge")
    csum = np.cumsum(pad, axis=1)
    csum = np.concatenate([np.zeros_like(csum[:, :1]), csum], axis=1)
    out = (csum[:, length:length + arr.shape[1]] - csum[:, : arr.shape[1]]) / length
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8), "RGB")


def variants(base: Image.Image, art: bool) -> list[tuple[str, Image.Image, dict[str, bool | None]]]:
    """(name, picture, labels) for one sharp picture; labels not given default to "no issue"."""
    per = max(base.size) / 1024
    out: list[tuple[str, Image.Image, dict[str, bool | None]]] = [("sharp", base, {})]
    for s in (0.5, 1.0, 2.0, 3.0, 5.0):
        label = None if s == 1.0 else s >= 2.0
        out.append((f"gauss{s}", base.filter(ImageFilter.GaussianBlur(s * per)), {"blurry": label}))
    for m in (2, 5, 10, 20):
        label = None if m == 5 else m >= 10
        out.append((f"motion{m}", motion_blur(base, max(1, round(m * per))), {"blurry": label}))
    small = base.resize((base.width // 4, base.height // 4), Image.Resampling.BILINEAR)
    out.append(("upscaled4x", small.resize(base.size, Image.Resampling.BICUBIC), {"blurry": True}))
    if art:
        return out
    out.append(("contrast0.33", ImageEnhance.Contrast(base).enhance(0.33), {}))
    out.append(("dark0.12", ImageEnhance.Brightness(base).enhance(0.12), {"dark": True, "blurry": None, "low_info": None}))
    out.append(("dim0.6", ImageEnhance.Brightness(base).enhance(0.6), {}))
    out.append(("washed", Image.eval(base, lambda v: 255 - (255 - v) // 10), {"bright": True, "blurry": None, "low_info": None}))
    out.append(("grey", base.convert("L").convert("RGB"), {"grayscale": True}))
    return out


def blank(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """Nearly nothing: one colour, a faint gradient, faint grain (a failed export, a placeholder)."""
    colour = rng.integers(40, 220, size=3).astype(np.float32)
    ramp = np.linspace(-4, 4, width, dtype=np.float32)[None, :, None]
    arr = colour + ramp + rng.normal(0, 1.0, size=(height, width, 3)).astype(np.float32)
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "RGB")


def _save(img: Image.Image, path: Path) -> None:
    if path.suffix == ".jpg":
        img.save(path, "JPEG", quality=int(path.stem.split("q")[-1]) if "_q" in path.stem else 92)
    elif path.suffix == ".png":
        img.save(path, "PNG", compress_level=1)
    else:
        img.save(path, "WEBP", quality=90, method=2)


def _make_base(task: tuple[str, int, int]) -> list[dict[str, object]]:
    folder, seed, index = task
    rng = np.random.default_rng([seed, index, 11])
    megapixels = math.exp(rng.uniform(math.log(1.0), math.log(4.0)))
    aspect = float(rng.choice([1.0, 4 / 3, 3 / 2, 16 / 9, 3 / 4, 2 / 3]))
    width = int(math.sqrt(megapixels * 1e6 * aspect))
    height = int(width / aspect)
    art = index % 5 == 4
    base = flat_art(rng, width, height) if art else sharp_photo(rng, width, height)
    rows: list[dict[str, object]] = []
    items = variants(base, art)
    if not art:
        items += [(f"jpeg_q{q}", base, {}) for q in (15, 40)]
    if index % 5 == 0:
        items.append(("blank", blank(rng, width, height), {"low_info": True, "blurry": None, "grayscale": None, "dark": None, "bright": None}))
    for n, (name, img, labels) in enumerate(items):
        ext = "jpg" if name.startswith("jpeg") else FORMATS[(index + n) % len(FORMATS)]
        path = Path(folder) / f"b{index:02d}_{name}.{ext}"
        _save(img, path)
        full = {check: False for check in CHECKS} | labels
        rows.append({"file": path.name, "base": index, "variant": name, "labels": full})
    return rows


def build(folder: Path, bases: int, seed: int) -> list[dict[str, object]]:
    stamp = folder / "labels.json"
    params = {"bases": bases, "seed": seed, "version": VERSION}
    if stamp.exists():
        saved = json.loads(stamp.read_text())
        if saved.get("params") == params:
            return list(saved["rows"])
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    with ProcessPoolExecutor(max_workers=2) as pool:
        rows = [row for part in pool.map(_make_base, [(str(folder), seed, i) for i in range(bases)]) for row in part]
    stamp.write_text(json.dumps({"params": params, "rows": rows}))
    return rows


def _decoded(path: Path) -> Image.Image:
    """Decoded as the audit decodes it (analyze._measure): JPEG at reduced DCT scale."""
    from loragate.dataset.analyze import _analysis_size
    from loragate.imaging import open_image

    img = open_image(path)
    if img.format == "JPEG":
        img.draft("RGB", _analysis_size(img.size))
    img.load()
    return img.convert("RGB") if img.mode != "RGB" else img


def old_copy(img: Image.Image) -> Image.Image:
    """The reduction before: Pillow's bicubic thumbnail with reducing_gap=2.0."""
    small = img.copy()
    small.thumbnail((512, 512), reducing_gap=2.0)
    return small


def _scores(path: str) -> dict[str, dict[str, float]]:
    from loragate.dataset.analyze import analysis_copy
    from loragate.dataset.image_checks import quality_scores

    img = _decoded(Path(path))
    out = {}
    for name, small in (("old", old_copy(img)), ("new", analysis_copy(img))):
        rgb = small.convert("RGB")
        out[name] = quality_scores(np.asarray(rgb), np.asarray(rgb.convert("L")))
    return out


def _agreement(rows: list[dict], scores: list[dict], which: str, check: str, threshold: float) -> tuple[int, int, list[str]]:
    from loragate.dataset.image_checks import QUALITY_PROPERTIES

    prop = next(p for p in QUALITY_PROPERTIES if p.name == check)
    right, total, wrong = 0, 0, []
    for row, score in zip(rows, scores):
        label = row["labels"][check]
        if label is None:
            continue
        total += 1
        if prop.is_issue(score[which][check], threshold) == label:
            right += 1
        else:
            wrong.append(f"{row['file']} ({score[which][check]:.3f})")
    return right, total, wrong


def _cuts(scores: list[dict], check: str) -> list[tuple[float, float]]:
    """Each gap between two neighbouring new scores: any threshold in it gives the same verdicts."""
    values = sorted({s["new"][check] for s in scores})
    return list(zip(values, values[1:]))


def _as_good(rows: list[dict], scores: list[dict], check: str, old_right: int) -> str:
    """The new-score thresholds that agree with the labels at least as often as the old ones did."""
    good = [(a, b) for a, b in _cuts(scores, check) if _agreement(rows, scores, "new", check, (a + b) / 2)[0] >= old_right]
    return f"{min(a for a, _ in good):.4g} .. {max(b for _, b in good):.4g}" if good else "none"


def _best(rows: list[dict], scores: list[dict], check: str) -> str:
    """The new-score threshold that agrees with the labels most often."""
    ranked = [(_agreement(rows, scores, "new", check, (a + b) / 2)[0], a, b) for a, b in _cuts(scores, check)]
    right, a, b = max(ranked)
    return f"{right} at {a:.4g} .. {b:.4g}"


def _flips(scores: list[dict], check: str, new_threshold: float) -> int:
    """Pictures whose verdict differs: new score at the new threshold against old at the old."""
    from loragate.dataset.image_checks import QUALITY_PROPERTIES

    prop = next(p for p in QUALITY_PROPERTIES if p.name == check)
    return sum(prop.is_issue(s["new"][check], new_threshold) != prop.is_issue(s["old"][check], OLD_THRESHOLDS[check])
               for s in scores)


def main() -> None:
    from loragate.dataset.thresholds import load_thresholds

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bases", type=int, default=15, help="sharp pictures to derive the rest from (default 15)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show-wrong", action="store_true", help="list the pictures each way gets wrong")
    parser.add_argument("--extra", type=Path, action="append", default=[],
                        help="a folder of unlabelled pictures: only count the verdicts that change (repeatable)")
    args = parser.parse_args()
    folder = WORK / f"labelled-{args.bases}-{args.seed}"
    rows = build(folder, args.bases, args.seed)
    with ProcessPoolExecutor(max_workers=2) as pool:
        scores = list(pool.map(_scores, [str(folder / str(r["file"])) for r in rows], chunksize=4))
    extra = [str(p) for d in args.extra for p in sorted(d.rglob("*")) if p.suffix.lower() in (".jpg", ".png", ".webp")]
    with ProcessPoolExecutor(max_workers=2) as pool:
        extra_scores = list(pool.map(_scores, extra, chunksize=4))
    new_thresholds = load_thresholds().quality.model_dump()
    print(f"{len(rows)} labelled pictures from {args.bases} sharp ones ({folder})")
    print(f"{'check':10} {'labelled':>8} {'old thr.':>9} {'old agree':>10} {'new thr.':>9} {'new agree':>10} {'flips':>6}"
          f"   new thresholds as good as old; the best")
    worse = False
    for check in CHECKS:
        o_right, total, o_wrong = _agreement(rows, scores, "old", check, OLD_THRESHOLDS[check])
        n_right, _, n_wrong = _agreement(rows, scores, "new", check, new_thresholds[check])
        worse |= n_right < o_right
        print(f"{check:10} {total:8d} {OLD_THRESHOLDS[check]:9.4g} {o_right:5d}/{total:<4d} {new_thresholds[check]:9.4g} "
              f"{n_right:5d}/{total:<4d} {_flips(scores + extra_scores, check, new_thresholds[check]):6d}"
              f"   {_as_good(rows, scores, check, o_right)}; {_best(rows, scores, check)}")
        if args.show_wrong:
            print(f"    old wrong: {', '.join(o_wrong) or '-'}\n    new wrong: {', '.join(n_wrong) or '-'}")
    print(f"flips: pictures whose verdict changes, of these {len(rows)} and {len(extra)} unlabelled ones (--extra)")
    if worse:
        raise SystemExit("the new scores at the shipped thresholds agree with the labels less often than the old ones")


if __name__ == "__main__":
    main()
