"""Contact sheets: each duplicate group as thumbnails side by side, and one sheet of every flagged
file, so the artist looks instead of reads. Which copy to keep is theirs to decide; the sheets
only show (file name, pixel size and file size under each thumbnail).

Sheets go to grimoire/training/NAME/contact-sheets/ or a folder the caller names, never into
the dataset.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from loragate.atomic import atomic_write_bytes
from loragate.dataset.scan import VIDEO_EXTENSIONS
from loragate.duplicates.group import DuplicateGroup, group_likeness
from loragate.core.errors import LoragateError
from loragate.imaging import open_image

if TYPE_CHECKING:
    from PIL import Image, ImageDraw, ImageFont

THUMB = 240  # on the sheet of every flagged file
GROUP_THUMB = 360  # a group's own sheet: few pictures, shown large enough to compare details
LABEL_H = 48
PAD = 10
MIN_WIDTH = 760  # a sheet of two is still wide enough for its title and labels
GROUP_COLUMNS = 4
ALL_COLUMNS = 6
MAX_PER_GROUP = 24
MAX_ON_ALL = 300
CLIP_FRAMES = 3  # first, middle and last: enough to tell two takes apart
SHEET_PREFIX = "group-"
ALL_SHEET = "all-flagged.png"
SHEET_NAME = re.compile(rf"{SHEET_PREFIX}\d{{3,}}-(exact|near)\.png")


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _clip_strip(path: Path, size: int) -> Image.Image | None:
    """A clip as its first, middle and last frames side by side."""
    from PIL import Image

    from loragate.duplicates.video import sample_frames

    frames = sample_frames(path, count=CLIP_FRAMES)
    if not frames:
        return None
    each = size // len(frames)
    for frame in frames:
        frame.thumbnail((each, size))
    strip = Image.new("RGB", (each * len(frames), max(f.height for f in frames)), (30, 30, 30))
    for n, frame in enumerate(frames):
        strip.paste(frame, (n * each + (each - frame.width) // 2, 0))
    return strip


def _thumbnail(path: Path, size: int) -> Image.Image:
    """The picture as the trainer reads it (EXIF rotation not applied), or a grey card if unreadable."""
    from PIL import Image

    try:
        if path.suffix.lower() in VIDEO_EXTENSIONS:
            img = _clip_strip(path, size)
        else:
            with open_image(path) as opened:
                opened.draft("RGB", (size * 2, size * 2))
                opened.thumbnail((size, size))
                img = opened.convert("RGB")
        if img is not None:
            img.thumbnail((size, size))
            return img
    except Exception:  # noqa: BLE001 - a sheet must not fail because one file is broken
        pass
    return Image.new("RGB", (size, size // 2), (90, 90, 90))


def _bytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.0f} KB"


def _size_text(path: Path) -> str:
    """What tells copies apart: pixel size and file size; for a clip its frames, length and frame rate."""
    try:
        size = path.stat().st_size
        if path.suffix.lower() in VIDEO_EXTENSIONS:
            from loragate.dataset.video_probe import probe_file

            probe = probe_file(str(path), path.name)
            if probe.error:
                return f"unreadable clip, {_bytes(size)}"
            return (f"{probe.frames} frames, {probe.duration_s:.1f} s at {probe.fps:g} fps, "
                    f"{probe.width}x{probe.height}, {_bytes(size)}")
        with open_image(path) as img:
            return f"{img.width}x{img.height}, {_bytes(size)}"
    except Exception:  # noqa: BLE001
        return "unreadable"


def _fit(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont, width: int) -> str:
    """The text, shortened at its start (the file name's end is what differs) to fit `width` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength("…" + text, font=font) > width:
        text = text[1:]
    return "…" + text


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont, width: int) -> list[str]:
    """The title over as many lines as it needs: it is never cut."""
    lines: list[str] = []
    for word in text.split():
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return lines


def _sheet(root: Path, cells: list[tuple[str, str]], title: str, columns: int, thumb: int = THUMB) -> bytes:
    """cells: (relative path, tag shown before the name). Returns PNG bytes."""
    import io

    from PIL import Image, ImageDraw

    cols = max(1, min(columns, len(cells)))
    rows = (len(cells) + cols - 1) // cols
    cell_w, cell_h = thumb + PAD, thumb + LABEL_H + PAD
    width = max(PAD + cols * cell_w, MIN_WIDTH)
    big, small = _font(18), _font(13)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    title_lines = _wrap(measure, title, big, width - 2 * PAD)
    header = 12 + 24 * len(title_lines)
    sheet = Image.new("RGB", (width, header + rows * cell_h + PAD), (250, 250, 248))
    draw = ImageDraw.Draw(sheet)
    for n, line in enumerate(title_lines):
        draw.text((PAD, 8 + 24 * n), line, fill=(20, 20, 20), font=big)
    left = (width - cols * cell_w + PAD) // 2  # a narrow group sits in the middle
    for n, (rel, tag) in enumerate(cells):
        x = left + (n % cols) * cell_w
        y = header + (n // cols) * cell_h
        image = _thumbnail(root / rel, thumb)
        sheet.paste(image, (x + (thumb - image.width) // 2, y + (thumb - image.height) // 2))
        draw.rectangle((x - 1, y - 1, x + thumb, y + thumb), outline=(200, 200, 200))
        draw.text((x, y + thumb + 5), _fit(draw, f"{tag}{rel}", small, thumb), fill=(20, 20, 20), font=small)
        facts = _size_text(root / rel).split(", ")
        while len(facts) > 1 and draw.textlength(", ".join(facts), font=small) > thumb:
            facts.pop()  # the least telling fact goes first (file size, then pixel size)
        draw.text((x, y + thumb + 25), ", ".join(facts), fill=(110, 110, 110), font=small)
    buf = io.BytesIO()
    sheet.save(buf, "PNG", optimize=False)
    return buf.getvalue()


def _title(number: int, group: DuplicateGroup) -> str:
    noun = "clips" if group.media == "video" else "pictures"
    return f"Group {number}: {len(group.paths)} {noun}, {group_likeness(group)}. Keep the one you like best."


def sheets_folder(dataset_root: Path, out_dir: Path) -> Path:
    """`out_dir` resolved, refused when it lies inside the dataset."""
    folder = Path(out_dir).expanduser().resolve()
    if folder == dataset_root or folder.is_relative_to(dataset_root):
        raise LoragateError(
            f"The contact-sheet folder {folder} is inside the dataset; the trainer would read the sheets as training images.",
            "Name a folder outside the dataset, or pass a project name to write them under grimoire/training/NAME/contact-sheets/.",
        )
    return folder


def write_contact_sheets(dataset_root: Path, groups: list[DuplicateGroup], out_dir: Path) -> tuple[list[DuplicateGroup], Path | None]:
    """One PNG per group plus one of all flagged files. Returns the groups with `contact_sheet` set
    and the path of the all-flagged sheet (None when there are no groups)."""
    folder = sheets_folder(dataset_root, out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    # Sheets from an earlier run with more groups would be misleading; they are ours to replace.
    for old in folder.glob(f"{SHEET_PREFIX}*.png"):
        if SHEET_NAME.fullmatch(old.name):
            old.unlink()
    out: list[DuplicateGroup] = []
    tags: dict[str, list[int]] = {}  # each file once on the overview, with every group it is in
    for number, group in enumerate(groups, 1):
        shown = group.paths[:MAX_PER_GROUP]
        path = folder / f"{SHEET_PREFIX}{number:03d}-{group.kind}.png"
        title = _title(number, group)
        if len(group.paths) > len(shown):
            title += f" First {len(shown)} shown."
        atomic_write_bytes(path, _sheet(dataset_root, [(p, "") for p in shown], title, GROUP_COLUMNS, GROUP_THUMB))
        out.append(group.model_copy(update={"contact_sheet": str(path)}))
        for p in group.paths:
            tags.setdefault(p, []).append(number)
    all_path = folder / ALL_SHEET
    if not groups:
        all_path.unlink(missing_ok=True)
        return out, None
    everything = [(p, " ".join(f"#{n}" for n in numbers) + " ") for p, numbers in tags.items()]
    title = f"{len(everything)} flagged files in {len(groups)} groups (#N = group number)"
    if len(everything) > MAX_ON_ALL:
        title += f"; first {MAX_ON_ALL} shown, see the group sheets for the rest"
    atomic_write_bytes(all_path, _sheet(dataset_root, everything[:MAX_ON_ALL], title, ALL_COLUMNS))
    return out, all_path
