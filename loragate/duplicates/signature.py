"""The duplicate-finder's fingerprint of one image, computed from the audit's single decode.

Two questions are answered from it:

- Exact duplicates ("same pixels, whatever the file"): `digest` hashes the RGB pixels exactly
  as the caller hands them over, together with their size and the original size. The audit
  hands over its analysis copy (at most 512 px a side: JPEGs decoded at reduced DCT scale, other
  formats decoded in full and reduced once, both deterministic), so two files whose pixels are
  equal get the same digest whatever their container: a PNG and a lossless WebP of one picture
  match, and so do byte-identical files. "Same pixels" is therefore judged at the analysis
  scale, plus equal original width and height: an edit too small to survive a 512 px reduction
  (a few pixels changed by one level) still counts as the same picture, which for training it
  is. A JPEG and a PNG holding the JPEG's decoded pixels go through different decoders and are
  reported as near duplicates at distance 0.
- Near duplicates: 64-bit perceptual hashes (pHash, as ImageHash defines it: 32x32 grey, 2-D
  DCT, 8x8 low frequencies against their median). pHash alone survives resizing, JPEG
  re-encoding and brightness / contrast changes, but a 10% crop moves it by up to ~20 bits,
  as far as unrelated pictures. So every image also stores the pHash of 35 crops of itself
  (each edge trimmed by 0, 5 or 10%, at most 10% per axis in total): a cropped copy's full-frame
  hash lands within a few bits of one of the original's crop hashes. `phash_mirror` is the
  full-frame hash of the left-right mirrored picture, for the optional mirror search.
  The 32x32 resize (Pillow's LANCZOS kernel) and the DCT are linear, so all 37 hashes come from
  two small matrix products on one 128x128 grey copy; they agree with ImageHash's `phash` of the
  same crop within 2 bits (Pillow rounds to 8 bits between passes, this does not).
"""

from __future__ import annotations

import base64
import functools
import hashlib
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

# Bump when the hashes change meaning, so cached signatures from older versions are recomputed.
SIGNATURE_VERSION = 3

HASH_BITS = 64
_GREY_SIDE = 128  # every crop is cut from this square grey copy: cheap, and ample for 32x32 hashes
_DCT_SIDE = 32  # ImageHash phash: hash_size 8 x highfreq_factor 4
_LOW = 8
_THUMB_SIDE = 32

# Kept interval along one axis, as fractions of the side: trims of 0, 5 or 10% per edge,
# at most 10% in total. The first entry is the whole side.
_SPANS: tuple[tuple[float, float], ...] = ((0.0, 1.0), (0.05, 1.0), (0.1, 1.0), (0.0, 0.95), (0.05, 0.95), (0.0, 0.9))
CROP_BOXES: tuple[tuple[float, float, float, float], ...] = tuple(
    (x0, y0, x1, y1) for (x0, x1) in _SPANS for (y0, y1) in _SPANS
)


class ImageSignature(BaseModel):
    """Hashes of one image; small and JSON-serializable so the audit can cache it."""

    version: int = SIGNATURE_VERSION
    width: int = Field(description="Width of the original image in pixels.")
    height: int = Field(description="Height of the original image in pixels.")
    digest: str = Field(description="blake2b of the decoded RGB pixels and sizes: equal means same pixels.")
    phash: str = Field(description="64-bit pHash of the whole picture, 16 hex digits.")
    phash_mirror: str = Field(description="pHash of the left-right mirrored picture.")
    crop_hashes: str = Field(description="pHashes of the 35 trimmed crops, 16 hex digits each, concatenated.")
    thumb: str = Field(description="32x32 grey thumbnail of the whole picture, base64, to confirm hash matches.")

    def hashes(self) -> np.ndarray:
        """The full-frame hash followed by the crop hashes, as uint64."""
        import numpy as np
        return np.array([int(self.phash, 16)] + _split_hex(self.crop_hashes), dtype=np.uint64)


def _split_hex(joined: str) -> list[int]:
    return [int(joined[i : i + 16], 16) for i in range(0, len(joined), 16)]


def _lanczos(x: np.ndarray) -> np.ndarray:
    import numpy as np
    a = 3.0
    out = np.sinc(x) * np.sinc(x / a)
    return np.where(np.abs(x) < a, out, 0.0)


def _resample_matrix(start: float, stop: float, size_in: int, size_out: int) -> np.ndarray:
    """(size_out, size_in) weights of Pillow's LANCZOS resize of the span [start, stop) of a line,
    the same kernel, support and normalisation as Pillow's Resample.c, in floating point."""
    import numpy as np
    scale = (stop - start) / size_out
    support = 3.0 * max(scale, 1.0)
    matrix = np.zeros((size_out, size_in))
    for i in range(size_out):
        centre = start + (i + 0.5) * scale
        lo, hi = max(0, int(centre - support + 0.5)), min(size_in, int(centre + support + 0.5))
        taps = np.arange(lo, hi)
        w = _lanczos((taps + 0.5 - centre) / max(scale, 1.0))
        matrix[i, lo:hi] = w / w.sum()
    return matrix


@functools.lru_cache(maxsize=1)
def _span_operators() -> np.ndarray:
    """For each kept span of a side: the 8 low DCT-II rows applied after the 32-sample resize,
    as one (spans, 8, 128) operator. pHash of a crop is then `Ly @ grey @ Lx.T` thresholded."""
    import numpy as np
    n = np.arange(_DCT_SIDE)
    dct = 2.0 * np.cos(np.pi * np.arange(_LOW)[:, None] * (2 * n[None, :] + 1) / (2 * _DCT_SIDE))  # scipy dct, norm=None
    ops = [dct @ _resample_matrix(a * _GREY_SIDE, b * _GREY_SIDE, _GREY_SIDE, _DCT_SIDE) for a, b in _SPANS]
    return np.stack(ops)


def _bits(coeffs: np.ndarray) -> np.ndarray:
    """(n, 8, 8) low-frequency blocks -> n uint64 pHash values (bit set where above the median)."""
    import numpy as np
    flat = coeffs.reshape(len(coeffs), _LOW * _LOW)
    bits = flat > np.median(flat, axis=1, keepdims=True)
    return np.packbits(bits, axis=1).view(">u8").ravel().astype(np.uint64)


def _crop_hashes(grey: np.ndarray) -> tuple[np.ndarray, int]:
    """pHash of every crop box (CROP_BOXES order) and of the mirrored full frame."""
    import numpy as np
    ops = _span_operators()
    rows = np.einsum("ykr,rc->ykc", ops, grey)  # (spans_y, 8, 128): vertical resize + DCT
    blocks = np.einsum("ykc,xlc->xykl", rows, ops)  # (spans_x, spans_y, 8, 8)
    hashes = _bits(blocks.reshape(-1, _LOW, _LOW))
    mirror = _bits((rows[0] @ ops[0][:, ::-1].T)[None])[0]
    return hashes, int(mirror)


def pixel_digest(img: Image.Image, original_size: tuple[int, int] | None = None) -> str:
    """blake2b over the RGB pixels as decoded, the decoded size and the original size."""
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    width, height = original_size or rgb.size
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{width}x{height}:{rgb.width}x{rgb.height}:".encode())
    h.update(rgb.tobytes())
    return h.hexdigest()


def image_signature(img: Image.Image, original_size: tuple[int, int] | None = None) -> ImageSignature:
    """Signature of an already decoded image.

    `original_size` is the file's pixel size when the caller decoded at reduced scale
    (JPEG draft); it keeps a thumbnail from matching its full-size original as "exact".
    """
    import numpy as np
    from PIL import Image as PILImage

    rgb = img if img.mode == "RGB" else img.convert("RGB")
    # BOX averaging to 128x128 first: one pass over the decoded pixels; every crop's resize and
    # DCT is then a small matrix product on this array.
    grey = np.asarray(rgb.convert("L").resize((_GREY_SIDE, _GREY_SIDE), PILImage.Resampling.BOX), dtype=np.float64)
    hashes, mirror = _crop_hashes(grey)
    width, height = original_size or rgb.size
    return ImageSignature(
        width=width,
        height=height,
        digest=pixel_digest(rgb, (width, height)),
        phash=f"{int(hashes[0]):016x}",
        phash_mirror=f"{int(mirror):016x}",
        crop_hashes="".join(f"{int(h):016x}" for h in hashes[1:]),
        thumb=base64.b64encode(_thumb_of(grey)).decode("ascii"),
    )


@functools.lru_cache(maxsize=1)
def _thumb_operator() -> np.ndarray:
    return _resample_matrix(0, _GREY_SIDE, _GREY_SIDE, _THUMB_SIDE)


def warm_operators() -> None:
    """Build the cached operators now (before a process pool forks) rather than on the first image."""
    _span_operators()
    _thumb_operator()


def _thumb_of(grey: np.ndarray) -> bytes:
    import numpy as np
    full = _thumb_operator()
    return np.clip(np.rint(full @ grey @ full.T), 0, 255).astype(np.uint8).tobytes()


@functools.lru_cache(maxsize=None)
def _thumb_span(index: int) -> np.ndarray:
    a, b = _SPANS[index]
    return _resample_matrix(a * _THUMB_SIDE, b * _THUMB_SIDE, _THUMB_SIDE, _THUMB_SIDE)


def thumb_array(sig: ImageSignature) -> np.ndarray:
    import numpy as np
    return np.frombuffer(base64.b64decode(sig.thumb), dtype=np.uint8).reshape(_THUMB_SIDE, _THUMB_SIDE).astype(np.float64)


def _aligned(query: np.ndarray, item: np.ndarray, crop: int, mirrored: bool) -> tuple[np.ndarray, np.ndarray]:
    """The query thumbnail and crop number `crop` (CROP_BOXES order) of the item's, on one grid."""
    a = query[:, ::-1] if mirrored else query
    x_span, y_span = divmod(crop, len(_SPANS))
    return a, _thumb_span(y_span) @ item @ _thumb_span(x_span).T


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    import numpy as np
    a, b = a - a.mean(), b - b.mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denom) if denom > 0 else float(np.array_equal(a, b))


def correlation(query: np.ndarray, item: np.ndarray, crop: int, mirrored: bool = False) -> float:
    """How alike a query picture is to crop number `crop` (CROP_BOXES order) of an item, as the
    correlation of their grey thumbnails (`thumb_array`): near 1.0 for the same picture whatever
    its brightness or contrast; unrelated pictures that happen to share a hash score far lower."""
    return _pearson(*_aligned(query, item, crop, mirrored))


def edge_correlation(query: np.ndarray, item: np.ndarray, crop: int, mirrored: bool = False) -> float:
    """The same comparison on the thumbnails' edges (differences between neighbouring pixels). A
    painter's series shares its background and palette, so plain correlation stays high; where the
    figures sit differs, and that is what edges compare."""
    import numpy as np
    a, b = _aligned(query, item, crop, mirrored)
    edges = [np.concatenate([np.diff(t, axis=0).ravel(), np.diff(t, axis=1).ravel()]) for t in (a, b)]
    return _pearson(edges[0], edges[1])
