"""Per-image checks.

Two kinds:
- quality properties in the cleanvision manner: one small class per property whose `score`
  is computed from the reduced decode in `analyze.py`, and a threshold that marks the issue.
  Scores are cached; thresholds are applied at audit time, so changing one needs no re-decode.
- facts about the file itself (decode errors, size, colour mode, EXIF rotation), judged against
  the model's training resolution.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np

from loragate.dataset.model import ImageAnalysis
from loragate.dataset.thresholds import QualityThresholds
from loragate.core.findings import Finding, Severity

# Reduced decodes are at most this many pixels on the long side; scores are computed there.
ANALYSIS_SIZE = 512


class Pixels:
    """The reduced decode as arrays, with the brightness histogram shared by several properties."""

    def __init__(self, rgb: np.ndarray, gray: np.ndarray) -> None:
        self.rgb = rgb  # uint8, H x W x 3
        self.gray = gray  # uint8, H x W (ITU-R BT.601 luma, as Pillow's convert("L"))
        self._hist: np.ndarray | None = None

    @property
    def hist(self) -> np.ndarray:
        if self._hist is None:
            self._hist = np.bincount(self.gray.ravel(), minlength=256).astype(np.float64)
        return self._hist

    def gray_percentile(self, q: float) -> float:
        """Percentile of brightness (0-255) from the histogram: no sort of the pixels."""
        cdf = np.cumsum(self.hist)
        return float(np.searchsorted(cdf, q / 100.0 * cdf[-1]))


class QualityProperty:
    """A score, and the side of the threshold that is an issue."""

    name: ClassVar[str]
    """Its key in thresholds.toml [quality], where its threshold lives."""
    code: ClassVar[str]
    issue_when: ClassVar[Literal["below", "above"]]
    message: ClassVar[str]
    fix: ClassVar[str]

    @staticmethod
    def score(px: Pixels) -> float:
        raise NotImplementedError

    @classmethod
    def is_issue(cls, score: float, threshold: float) -> bool:
        return score < threshold if cls.issue_when == "below" else score > threshold


class Grayscale(QualityProperty):
    """Mean spread between the colour channels; grayscale pictures (and JPEG chroma noise) stay near 0."""

    name = "grayscale"
    code = "DS_GRAYSCALE"
    issue_when = "below"
    message = "is black and white; the model will learn that the subject has no colour"
    fix = "Keep it only if black and white is part of what you are teaching, and say so in its caption ('monochrome')."

    @staticmethod
    def score(px: Pixels) -> float:
        sample = px.rgb[::2, ::2]  # a statistic over the picture: every other pixel is plenty
        r, g, b = sample[..., 0], sample[..., 1], sample[..., 2]
        # Channel by channel: numpy's max/min over a 3-long last axis is several times slower.
        spread = np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)
        return float(spread.mean() / 255.0)


class Dark(QualityProperty):
    """95th percentile of brightness: below 0.2, nearly the whole picture is in deep shadow."""

    name = "dark"
    code = "DS_DARK"
    issue_when = "below"
    message = "is very dark; the details the model should learn are hard to see"
    fix = "Brighten it in an editor or replace it with a better-lit picture."

    @staticmethod
    def score(px: Pixels) -> float:
        return px.gray_percentile(95) / 255.0


class Bright(QualityProperty):
    """5th percentile of brightness: above 0.9, even the darkest parts are near white (washed out)."""

    name = "bright"
    code = "DS_BRIGHT"
    issue_when = "above"
    message = "is washed out (almost everything is near white)"
    fix = "Lower its exposure or replace it; for line art on white paper this is expected and can be ignored."

    @staticmethod
    def score(px: Pixels) -> float:
        return px.gray_percentile(5) / 255.0


class Blurry(QualityProperty):
    """Strength of the sharpest edges: the 99.5th percentile of |Laplacian| on the reduced image.

    Percentile rather than variance so flat-shaded art with crisp outlines counts as sharp.
    On the labelled pictures of benchmarks/labelled_quality.py: sharp 1-4 MP photos 36-150,
    Gaussian blur of sigma 5 px per 1024 px of the long side 5-9.
    """

    name = "blurry"
    code = "DS_BLURRY"
    issue_when = "below"
    message = "looks soft or out of focus; the model learns the blur as part of the look"
    fix = "Replace it with a sharper version or remove it."

    @staticmethod
    def score(px: Pixels) -> float:
        g = px.gray.astype(np.int16)
        if g.shape[0] < 3 or g.shape[1] < 3:
            return 0.0
        lap = np.abs(4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]).ravel()
        k = min(lap.size - 1, int(0.995 * lap.size))
        return float(np.partition(lap, k)[k])


class LowInformation(QualityProperty):
    """Entropy of the brightness histogram over 8 bits: near-blank pictures score low."""

    name = "low_info"
    code = "DS_LOW_INFO"
    issue_when = "below"
    message = "carries very little detail (mostly one flat tone)"
    fix = "Check it is not a blank, placeholder or failed export; remove it if so."

    @staticmethod
    def score(px: Pixels) -> float:
        p = px.hist[px.hist > 0] / px.hist.sum()
        return float(max(0.0, -(p * np.log2(p)).sum() / 8.0))


QUALITY_PROPERTIES: tuple[type[QualityProperty], ...] = (Grayscale, Dark, Bright, Blurry, LowInformation)


def quality_scores(rgb: np.ndarray, gray: np.ndarray) -> dict[str, float]:
    """Every property's score from one reduced decode (uint8 RGB and its uint8 luma)."""
    px = Pixels(rgb, gray)
    return {prop.name: round(prop.score(px), 5) for prop in QUALITY_PROPERTIES}


def quality_findings(analysis: ImageAnalysis, thresholds: QualityThresholds) -> list[Finding]:
    """The picture's scores against the thresholds in force (the project's, or the shipped ones)."""
    findings = []
    for prop in QUALITY_PROPERTIES:
        score = analysis.scores.get(prop.name)
        threshold = getattr(thresholds, prop.name)
        if score is None or not prop.is_issue(score, threshold):
            continue
        findings.append(
            Finding(
                code=prop.code,
                severity="warn",
                message=f"'{analysis.path}' {prop.message}.",
                fix=prop.fix,
                path=analysis.path,
                evidence={"score": score, "threshold": threshold, "issue_when": prop.issue_when},
            )
        )
    return findings


# --- facts about the file -------------------------------------------------------------------

DECODE_ERRORS: dict[str, tuple[Severity, str, str]] = {
    "DS_ZERO_BYTE": ("block", "is an empty file (0 bytes)", "Re-export or re-download it, or remove it."),
    "DS_NOT_AN_IMAGE": (
        "block",
        "is not a picture the trainer can open, despite its name",
        "Open it in an image editor; if it opens, export it again as PNG or JPEG, otherwise remove it.",
    ),
    "DS_TRUNCATED": (
        "block",
        "is cut off or damaged partway through (an incomplete download or copy)",
        "Copy or export it again from the original, or remove it.",
    ),
    "DS_UNREADABLE": ("block", "cannot be read (permission denied or a disk error)", "Fix its permissions (chmod u+r) or remove it."),
    "DS_TOO_LARGE": (
        "block",
        "is so large that opening it could exhaust memory, so it was not opened",
        "Resize it to at most a few thousand pixels on each side; training never uses more than that.",
    ),
}

# Which real format an extension promises; Pillow's format names.
EXTENSION_FORMATS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".webp": "WEBP",
    ".bmp": "BMP",
}

# Beyond this long-side/short-side ratio, bucketing crops or squeezes the picture hard.
# reference sd-scripts.md §3.1: buckets run from min_bucket_reso 256 to max_bucket_reso in steps of 64.
ASPECT_LIMIT = 2.5
# Below this fraction of the training area, the trainer upscales the picture and it looks soft.
LOW_RES_AREA = 0.5


# Said of a picture over Pillow's limit in a format that cannot be checked in pieces: blocked.
UNCHECKED = ", too large to check here"


def _pillow_limit() -> int:
    from PIL import Image

    return int(Image.MAX_IMAGE_PIXELS or 0)


def decode_finding(analysis: ImageAnalysis) -> Finding | None:
    if not analysis.error:
        return None
    severity, what, fix = DECODE_ERRORS[analysis.error]
    if analysis.error == "DS_TOO_LARGE" and analysis.pixels <= 2 * _pillow_limit() and UNCHECKED not in analysis.error_detail:
        # Between Pillow's warning and its hard limit the trainer still opens it (with a warning).
        severity = "warn"
    # The decoder's own words ("image file is truncated (0 bytes not processed)") mean nothing to an
    # artist; they stay in the evidence, the message says what happened.
    shown = analysis.error_detail and analysis.error not in ("DS_TRUNCATED", "DS_NOT_AN_IMAGE")
    detail = f" ({analysis.error_detail})" if shown else ""
    return Finding(
        code=analysis.error,
        severity=severity,
        message=f"'{analysis.path}' {what}{detail}.",
        fix=fix,
        path=analysis.path,
        evidence={"detail": analysis.error_detail, "width": analysis.width, "height": analysis.height, "pixels": analysis.pixels},
    )


def file_findings(analysis: ImageAnalysis, training_resolution: tuple[int, int]) -> list[Finding]:
    """Extension, size, shape, colour mode and EXIF facts of a decoded image."""
    path, w, h = analysis.path, analysis.width, analysis.height
    out: list[Finding] = []
    ext = "." + path.rsplit(".", 1)[-1].lower()
    promised = EXTENSION_FORMATS.get(ext)
    if analysis.format and promised and analysis.format != promised:
        out.append(
            Finding(
                code="DS_EXT_MISMATCH",
                severity="warn",
                message=f"'{path}' is named {ext} but is really a {analysis.format} file.",
                fix=_rename_fix(analysis.format),
                path=path,
                evidence={"extension": ext, "actual": analysis.format},
            )
        )
    if analysis.frames > 1:
        out.append(
            Finding(
                code="DS_ANIMATED",
                severity="warn",
                message=f"'{path}' is animated ({analysis.frames} frames); the trainer uses only the first frame.",
                fix="Save the frame you want as a still image, or turn the animation into a video clip.",
                path=path,
                evidence={"frames": analysis.frames},
            )
        )
    tw, th = training_resolution
    if w and h and w * h < LOW_RES_AREA * tw * th:
        scale = ((tw * th) / (w * h)) ** 0.5
        out.append(
            Finding(
                code="DS_LOW_RES",
                severity="warn",
                message=f"'{path}' is {w}x{h}, smaller than the {tw}x{th} the model trains at; "
                f"it will be enlarged about {scale:.1f}x and look soft.",
                fix="Use a larger original, upscale it carefully yourself, or remove it.",
                path=path,
                evidence={"width": w, "height": h, "training_resolution": [tw, th]},
            )
        )
    if w and h and max(w, h) / min(w, h) > ASPECT_LIMIT:
        out.append(
            Finding(
                code="DS_ASPECT_EXTREME",
                severity="warn",
                message=f"'{path}' is {w}x{h}, a very long strip (ratio {max(w, h) / min(w, h):.1f}:1); "
                "bucketing will crop or squeeze it.",
                fix="Crop it to the part that matters, closer to square (at most about 2:1).",
                path=path,
                evidence={"width": w, "height": h, "ratio": round(max(w, h) / min(w, h), 2)},
            )
        )
    out += _mode_findings(analysis)
    if analysis.exif_orientation not in (0, 1):
        out.append(
            Finding(
                code="DS_EXIF_ROTATED",
                severity="warn",
                message=f"'{path}' relies on an EXIF rotation tag (orientation {analysis.exif_orientation}) to appear upright; "
                "the trainers ignore that tag and will learn it sideways or mirrored.",
                fix="Open it and export it again upright (most editors apply the rotation on export).",
                path=path,
                evidence={"orientation": analysis.exif_orientation},
            )
        )
    return out


def _rename_fix(actual: str) -> str:
    """Suggest a new name only when the real format is one the trainers read by its extension."""
    readable = {v: k for k, v in EXTENSION_FORMATS.items() if k != ".jpeg"} | {"MPO": ".jpg"}
    if actual in readable:
        return f"Rename it to {readable[actual]} or re-export it; some tools trust the name."
    return f"Re-export it as PNG or JPEG: the trainers do not read {actual} files under their own name."


def _mode_findings(analysis: ImageAnalysis) -> list[Finding]:
    path, mode = analysis.path, analysis.mode
    out = []
    if mode == "CMYK":
        out.append(
            Finding(
                code="DS_CMYK",
                severity="warn",
                message=f"'{path}' is a CMYK (print) image; the trainer's plain conversion to RGB shifts its colours.",
                fix="Convert it to sRGB in an image editor and export it again.",
                path=path,
                evidence={"mode": mode},
            )
        )
    if mode in ("P", "PA"):
        out.append(
            Finding(
                code="DS_PALETTE",
                severity="info",
                message=f"'{path}' uses a limited colour palette (indexed colour); gradients may show banding.",
                fix="Fine for pixel art or flat colours; otherwise export it as a full-colour PNG or JPEG.",
                path=path,
                evidence={"mode": mode},
            )
        )
    if analysis.bit_depth > 8:
        gray16 = mode.startswith("I") or mode == "F"
        depth = "32-bit floating-point" if analysis.bit_depth == 32 else "16-bit"
        out.append(
            Finding(
                code="DS_16BIT",
                severity="block" if gray16 else "info",
                message=(
                    f"'{path}' is a {depth} grayscale image; the trainer's conversion to RGB turns it almost entirely white."
                    if gray16
                    else f"'{path}' has 16 bits per channel; the trainer reduces it to 8 bits, which is harmless."
                ),
                fix="Export it as an 8-bit PNG or JPEG." if gray16 else "Nothing required.",
                path=path,
                evidence={"mode": mode, "bit_depth": analysis.bit_depth},
            )
        )
    if analysis.alpha_used:
        out.append(
            Finding(
                code="DS_ALPHA",
                severity="warn",
                message=f"'{path}' has transparent areas; the trainer drops transparency, and whatever colour hides "
                "behind it (often black) becomes the background.",
                fix="Flatten it onto the background you want (e.g. white) and export it again.",
                path=path,
                evidence={"mode": mode},
            )
        )
    return out
