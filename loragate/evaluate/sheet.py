"""Labelled grids of pictures: rows and columns with their titles, a clip as a strip of frames.

One drawing routine serves the training progression sheet (rows = checkpoints, columns = prompts),
the evaluation grid (rows = weights, columns = prompts) and the checkpoint comparison.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from loragate.atomic import atomic_write_bytes
from loragate.dataset.scan import VIDEO_EXTENSIONS
from loragate.duplicates.contact import _font

if TYPE_CHECKING:
    from PIL import Image

CELL = 256  # the long side of one picture in a grid
STRIP_FRAMES = 4
ROW_LABEL_W = 150
HEADER_H = 40
COL_LABEL_H = 28
PAD = 6
BACKGROUND = (250, 250, 248)


def is_clip(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def clip_frames(path: Path, limit: int = 64) -> list[Image.Image]:
    """Every frame of a clip, decoded in order (at most `limit`), as RGB pictures."""
    import av

    frames: list[Image.Image] = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_image().convert("RGB"))
            if len(frames) >= limit:
                break
    return frames


def _spread(frames: list[Image.Image], count: int) -> list[Image.Image]:
    if len(frames) <= count:
        return frames
    return [frames[round(i * (len(frames) - 1) / (count - 1))] for i in range(count)]


def _animation_frames(path: Path) -> list[Image.Image]:
    """The frames of an animated picture (ComfyUI saves Wan clips as animated WebP); [] for a still."""
    from PIL import Image, ImageSequence

    with Image.open(path) as img:
        if getattr(img, "n_frames", 1) <= 1:
            return []
        return [frame.convert("RGB") for frame in ImageSequence.Iterator(img)]


def frames_of(path: Path) -> list[Image.Image]:
    """A clip's or an animated picture's frames; [] for a still picture."""
    return clip_frames(path) if is_clip(path) else _animation_frames(path)


def picture(path: Path, side: int = CELL) -> Image.Image:
    """A cell's picture: the image, or a clip's frames side by side; a grey card when unreadable."""
    from PIL import Image

    try:
        moving = frames_of(path)
        if moving:
            frames = _spread(moving, STRIP_FRAMES)
            thumbs = [f.copy() for f in frames]
            for thumb in thumbs:
                thumb.thumbnail((side, side))
            strip = Image.new("RGB", (sum(t.width for t in thumbs), max(t.height for t in thumbs)), BACKGROUND)
            x = 0
            for thumb in thumbs:
                strip.paste(thumb, (x, 0))
                x += thumb.width
            return strip
        with Image.open(path) as opened:
            img = opened.convert("RGB")
        img.thumbnail((side, side))
        return img
    except Exception:  # noqa: BLE001 - one broken output must not lose the whole sheet
        return Image.new("RGB", (side, side // 2), (90, 90, 90))


def draw_grid(
    title: str, rows: list[str], columns: list[str], cells: dict[tuple[int, int], Path | None], out: Path,
    note: str = "",
) -> Path:
    """Write a PNG grid: `cells[(row, column)]` is a picture or clip (None leaves the cell empty)."""
    from PIL import Image, ImageDraw

    shown = {key: picture(path) for key, path in cells.items() if path is not None}
    cell_w = max([img.width for img in shown.values()] + [CELL])
    cell_h = max([img.height for img in shown.values()] + [CELL // 2])
    header = HEADER_H + (18 if note else 0)
    width = ROW_LABEL_W + len(columns) * (cell_w + PAD) + PAD
    height = header + COL_LABEL_H + len(rows) * (cell_h + PAD) + PAD
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    draw.text((PAD, 10), title, fill=(20, 20, 20), font=_font(18))
    if note:
        draw.text((PAD, HEADER_H - 4), note[:200], fill=(150, 60, 20), font=_font(12))
    small = _font(13)
    for c, label in enumerate(columns):
        draw.text((ROW_LABEL_W + c * (cell_w + PAD), header + 6), label[: max(8, cell_w // 7)], fill=(20, 20, 20), font=small)
    for r, label in enumerate(rows):
        y = header + COL_LABEL_H + r * (cell_h + PAD)
        draw.text((PAD, y + cell_h // 2 - 8), label[:22], fill=(20, 20, 20), font=small)
        for c in range(len(columns)):
            x = ROW_LABEL_W + c * (cell_w + PAD)
            img = shown.get((r, c))
            draw.rectangle((x - 1, y - 1, x + cell_w, y + cell_h), outline=(210, 210, 210))
            if img is not None:
                sheet.paste(img, (x + (cell_w - img.width) // 2, y + (cell_h - img.height) // 2))
            elif (r, c) in cells:
                draw.text((x + 8, y + 8), "missing", fill=(160, 40, 40), font=small)
    buf = io.BytesIO()
    sheet.save(buf, "PNG")
    atomic_write_bytes(out, buf.getvalue())
    return out


def animated_webp(clips: list[Path], out: Path, side: int = CELL) -> Path | None:
    """The clips of one row playing side by side, as an animated WebP (16 fps, Wan's rate)."""
    from PIL import Image

    decoded = [clip_frames(path) for path in clips if path.is_file()]
    decoded = [frames for frames in decoded if frames]
    if not decoded:
        return None
    length = max(len(frames) for frames in decoded)
    canvas_frames: list[Image.Image] = []
    for index in range(length):
        tiles = []
        for frames in decoded:
            tile = frames[min(index, len(frames) - 1)].copy()
            tile.thumbnail((side, side))
            tiles.append(tile)
        canvas = Image.new("RGB", (sum(t.width for t in tiles), max(t.height for t in tiles)), BACKGROUND)
        x = 0
        for tile in tiles:
            canvas.paste(tile, (x, 0))
            x += tile.width
        canvas_frames.append(canvas)
    buf = io.BytesIO()
    canvas_frames[0].save(buf, "WEBP", save_all=True, append_images=canvas_frames[1:], duration=1000 // 16, loop=0)
    atomic_write_bytes(out, buf.getvalue())
    return out
