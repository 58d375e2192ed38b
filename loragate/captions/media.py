"""A picture small enough to send: images are downscaled, clips give their middle frame.

Vision pricing grows with pixels and the model sees little more above ~1 megapixel, so each
picture is sent as a JPEG no larger than `MAX_SIDE` on its long side.
"""

from __future__ import annotations

import io
from pathlib import Path

from loragate.dataset.scan import VIDEO_EXTENSIONS
from loragate.imaging import open_image

MAX_SIDE = 1024
JPEG_QUALITY = 85


def jpeg_for_vision(path: Path, max_side: int = MAX_SIDE) -> bytes:
    """JPEG bytes of the image (or the clip's middle frame), upright, RGB, long side <= max_side."""
    from PIL import Image, ImageOps

    if path.suffix.lower() in VIDEO_EXTENSIONS:
        picture = _middle_frame(path)
    else:
        with open_image(path) as opened:
            opened.load()
            picture = ImageOps.exif_transpose(opened) or opened
    if picture.mode in ("RGBA", "LA", "P", "PA"):
        picture = picture.convert("RGBA")
        backdrop = Image.new("RGB", picture.size, (255, 255, 255))
        backdrop.paste(picture, mask=picture.getchannel("A"))
        picture = backdrop
    elif picture.mode != "RGB":
        picture = picture.convert("RGB")
    picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def _middle_frame(path: Path):  # -> PIL.Image.Image
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = stream.frames or 0
        target = frames // 2
        last = None
        for index, frame in enumerate(container.decode(stream)):
            last = frame
            if index >= target:
                break
        if last is None:
            raise ValueError("the clip has no frames that can be decoded")
        return last.to_image()
