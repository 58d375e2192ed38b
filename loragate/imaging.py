"""Opening pictures someone else made: Pillow may only try the formats the trainers are given.

Pillow recognises files by content, not name, and some of its plugins hand the file to an outside
program (EPS to Ghostscript) or raise errors other than OSError (DDS: NotImplementedError, PPM and
PNG text chunks: ValueError). Every picture loragate opens goes through `open_image`, limited to
the formats of the trainers' extensions (.png .jpg .jpeg .webp .bmp) plus the two that cameras and
editors save under those names (GIF and TIFF are named here only so a mislabelled one is reported by
its real format rather than as "not a picture"). JPEG's plugin also opens MPO, a JPEG with a second
frame.

`decode_webp` decodes a still WebP that Pillow has opened through imagecodecs' libwebp binding, which
returns the same pixels about 40% faster than Pillow's animation decoder plus copy (PNGs have their
own: `loragate/png_decode.py`).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import IO, Any

TRAINER_FORMATS = ("PNG", "JPEG", "WEBP", "BMP")
RECOGNISED_FORMATS = TRAINER_FORMATS + ("GIF", "TIFF")


def open_image(source: Path | str | IO[bytes]) -> Any:
    """`PIL.Image.open` restricted to RECOGNISED_FORMATS; raises UnidentifiedImageError for the rest."""
    from PIL import Image

    register_formats()
    return Image.open(source, formats=list(RECOGNISED_FORMATS))


@functools.cache
def register_formats() -> None:
    """Load the plugins of RECOGNISED_FORMATS. Pillow registers five at first use; asked for any
    other, it imports all of its forty-odd plugins (a tenth of a second in every process)."""
    from PIL import Image, TiffImagePlugin, WebPImagePlugin  # noqa: F401 - importing registers them

    Image.preinit()


def decode_webp(img: Any, handle: IO[bytes]) -> Any | None:
    """The pixels of a still WebP that `open_image` opened (so its size and format are checked and
    the decompression-bomb limit applied) as a new Pillow image: RGBA when Pillow chose RGBA, else
    RGBX, the RGB picture with the padding byte Pillow keeps for RGB anyway, made on libwebp's own
    buffer instead of copied (analysis converts it to RGB after the reduction).

    None when imagecodecs is not installed, the picture is animated, or libwebp refuses the data:
    the caller then decodes with Pillow, whose error message is what the artist sees. Pillow and
    imagecodecs both call libwebp with the same checks; on 176 cut and bit-flipped copies they
    refuse the same files (tests/test_audit_webp_decode.py).
    """
    try:
        from imagecodecs import webp_decode
    except ImportError:  # an install from before the dependency: Pillow decodes, only slower
        return None
    from PIL import Image

    if img.format != "WEBP" or img.mode not in ("RGB", "RGBA") or getattr(img, "n_frames", 1) != 1:
        return None
    handle.seek(0)
    try:
        pixels = webp_decode(handle.read(), hasalpha=True)  # four bytes a pixel, alpha 255 without transparency
    except Exception:  # noqa: BLE001 - imagecodecs.WebpError and friends; Pillow will say what is wrong
        return None
    if pixels.shape != (img.height, img.width, 4):
        return None
    if img.mode == "RGB":
        return Image.frombuffer("RGBX", img.size, pixels, "raw", "RGBX", 0, 1)
    decoded = Image.new(img.mode, img.size, None)  # not filled: every byte is written next
    decoded.frombytes(pixels)
    return decoded
