"""Opening pictures someone else made: Pillow may only try the formats the trainers are given.

Pillow recognises files by content, not name, and some of its plugins hand the file to an outside
program (EPS to Ghostscript) or raise errors other than OSError (DDS: NotImplementedError, PPM and
PNG text chunks: ValueError). Every picture loragate opens goes through `open_image`, limited to
the formats of the trainers' extensions (.png .jpg .jpeg .webp .bmp) plus the two that cameras and
editors save under those names (GIF and TIFF are named here only so a mislabelled one is reported by
its real format rather than as "not a picture"). JPEG's plugin also opens MPO, a JPEG with a second
frame.
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
