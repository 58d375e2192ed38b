"""What the grid shows, measured without any model: does the LoRA change the picture, how much at
each weight, and does it reproduce a training picture.

- Effect: each weight's output against weight 0 at the same prompt and seed, as the mean absolute
  difference of small grey copies (0 = identical, 1 = black against white). Sampling noise is
  fixed by the seed, so any change comes from the LoRA.
- Copies: the duplicate finder's perceptual signatures (loragate.duplicates), outputs against the
  training pictures, with the same radius and thumbnail check that groups near-duplicates.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from loragate.duplicates.grouping import NEAR_RADIUS, near_links
from loragate.duplicates.signature import ImageSignature, image_signature
from loragate.evaluate.model import CopyMatch, WeightEffect
from loragate.evaluate.sheet import frames_of

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

# Below this mean change at the strongest weight the LoRA did nothing visible: 1% of the range is
# well under what a weak but working LoRA moves (compression noise between runs is ~0 at a fixed seed).
EFFECT_THRESHOLD = 0.01
_SIDE = 64


def _frames(path: Path) -> list[Image.Image]:
    """Every frame of an output (one for a still picture); [] when it cannot be read."""
    from PIL import Image

    try:
        moving = frames_of(path)
        if moving:
            return moving
        with Image.open(path) as img:
            return [img.convert("RGB")]
    except Exception:  # noqa: BLE001 - an unreadable output counts as missing
        return []


def _grey(path: Path) -> np.ndarray | None:
    """A small grey copy (a clip: its frames side by side), values 0-1."""
    import numpy as np
    from PIL import Image

    frames = _frames(path)
    if not frames:
        return None
    step = max(1, len(frames) // 4)
    arrays = [
        np.asarray(f.convert("L").resize((_SIDE, _SIDE), Image.Resampling.BOX), dtype=np.float32) / 255.0
        for f in frames[::step][:4]
    ]
    return np.concatenate(arrays, axis=1)


def change(a: Path, b: Path) -> float | None:
    """Mean absolute difference of two outputs, 0-1; None when either cannot be read."""
    import numpy as np

    x, y = _grey(a), _grey(b)
    if x is None or y is None or x.shape != y.shape:
        return None
    return round(float(np.mean(np.abs(x - y))), 4)


def strength_profile(outputs: dict[tuple[float, str], Path]) -> list[WeightEffect]:
    """Per weight (0 excluded): change against weight 0 for each prompt, and their mean."""
    weights = sorted({w for w, _ in outputs if w != 0.0})
    prompts = sorted({p for _, p in outputs})
    profile: list[WeightEffect] = []
    for weight in weights:
        per: dict[str, float] = {}
        for prompt in prompts:
            ref, out = outputs.get((0.0, prompt)), outputs.get((weight, prompt))
            if ref is None or out is None:
                continue
            value = change(ref, out)
            if value is not None:
                per[prompt] = value
        if per:
            profile.append(WeightEffect(weight=weight, mean_change=round(sum(per.values()) / len(per), 4), per_prompt=per))
    return profile


def takes_effect(profile: list[WeightEffect]) -> bool:
    strongest = max(profile, key=lambda e: e.weight, default=None)
    return strongest is not None and strongest.mean_change >= EFFECT_THRESHOLD


def _signature(frame: Image.Image) -> ImageSignature:
    copy = frame.copy()
    copy.thumbnail((512, 512))
    return image_signature(copy, frame.size)


def training_signatures(dataset: Path, caption_extension: str = ".txt") -> dict[str, ImageSignature]:
    """Signatures of the training pictures (a clip: its middle frame)."""
    from loragate.dataset.scan import scan_dataset
    from loragate.duplicates.video import sample_frames

    scan = scan_dataset(dataset, caption_extension)
    found: dict[str, ImageSignature] = {}
    for media in scan.images + scan.videos:
        path = Path(scan.root) / media.path
        try:
            frames = sample_frames(path, count=8) if media.kind == "video" else _frames(path)
        except Exception:  # noqa: BLE001 - the audit reports unreadable files; here they are skipped
            frames = []
        if frames:
            found[media.path] = _signature(frames[len(frames) // 2])
    return found


def copies(outputs: list[Path], training: dict[str, ImageSignature]) -> tuple[list[CopyMatch], int | None]:
    """Outputs that are near-copies of a training picture, and the smallest hash distance seen."""
    import numpy as np

    from loragate.duplicates.index import popcount

    out_sigs: list[tuple[Path, ImageSignature]] = []
    for path in outputs:
        frames = _frames(path)
        if frames:
            out_sigs.append((path, _signature(frames[len(frames) // 2])))
    if not out_sigs or not training:
        return [], None
    names = list(training)
    sigs = [s for _, s in out_sigs] + [training[n] for n in names]
    n_out = len(out_sigs)
    matches = [
        CopyMatch(output=str(out_sigs[a][0]), training_file=names[b - n_out], distance=dist)
        for a, b, dist, _ in near_links(sigs, radius=NEAR_RADIUS)
        if a < n_out <= b
    ]
    crops = np.stack([training[n].hashes() for n in names]).reshape(-1)
    nearest = min(int(popcount(crops ^ np.uint64(int(s.phash, 16))).min()) for _, s in out_sigs)
    return matches, nearest
