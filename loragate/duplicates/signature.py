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
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from PIL import Image

# Bump when the hashes change meaning, so cached signatures from older versions are recomputed.
SIGNATURE_VERSION = 1

HASH_BITS = 64
_GREY_SIDE = 128  # every crop is cut from this square grey copy: cheap, and ample for 32x32 hashes
_DCT_SIDE = 32  # ImageHash phash: hash_size 8 x highfreq_factor 4
_LOW = 8

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

    def hashes(self) -> np.ndarray:
        """The full-frame hash followed by the crop hashes, as uint64."""
        return np.array([int(self.phash, 16)] + _split_hex(self.crop_hashes), dtype=np.uint64)


def _split_hex(joined: str) -> list[int]:
    return [int(joined[i : i + 16], 16) for i in range(0, len(joined), 16)]


def _phash_bits(stack: np.ndarray) -> np.ndarray:
    """ImageHash's pHash of each 32x32 grey array in `stack` (n, 32, 32) -> n uint64 values."""
    from scipy.fft import dct

    coeffs = dct(dct(stack, axis=-2), axis=-1)[:, :_LOW, :_LOW].reshape(len(stack), _LOW * _LOW)
    bits = coeffs > np.median(coeffs, axis=1, keepdims=True)
    return np.packbits(bits, axis=1).view(">u8").ravel().astype(np.uint64)


def _grey_crops(grey: Image.Image) -> np.ndarray:
    from PIL import Image as PILImage

    side = _GREY_SIDE
    out = np.empty((len(CROP_BOXES), _DCT_SIDE, _DCT_SIDE), dtype=np.float32)
    for i, (x0, y0, x1, y1) in enumerate(CROP_BOXES):
        box = (x0 * side, y0 * side, x1 * side, y1 * side)
        out[i] = np.asarray(grey.resize((_DCT_SIDE, _DCT_SIDE), PILImage.Resampling.LANCZOS, box=box), dtype=np.float32)
    return out


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
    from PIL import Image as PILImage

    rgb = img if img.mode == "RGB" else img.convert("RGB")
    # BOX averaging to 128x128 first: one pass over the decoded pixels, then all crops are cheap.
    grey = rgb.convert("L").resize((_GREY_SIDE, _GREY_SIDE), PILImage.Resampling.BOX)
    hashes = _phash_bits(_grey_crops(grey))
    mirror_grey = grey.transpose(PILImage.Transpose.FLIP_LEFT_RIGHT)
    mirror_full = np.asarray(mirror_grey.resize((_DCT_SIDE, _DCT_SIDE), PILImage.Resampling.LANCZOS), dtype=np.float32)
    mirror = _phash_bits(mirror_full[None])[0]
    width, height = original_size or rgb.size
    return ImageSignature(
        width=width,
        height=height,
        digest=pixel_digest(rgb, (width, height)),
        phash=f"{int(hashes[0]):016x}",
        phash_mirror=f"{int(mirror):016x}",
        crop_hashes="".join(f"{int(h):016x}" for h in hashes[1:]),
    )
