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
from loragate.errors import LoragateError
from loragate.imaging import open_image

if TYPE_CHECKING:
    from PIL import Image, ImageFont

THUMB = 240
LABEL_H = 44
HEADER_H = 34
PAD = 8
GROUP_COLUMNS = 4
ALL_COLUMNS = 6
MAX_PER_GROUP = 24
MAX_ON_ALL = 300
SHEET_PREFIX = "group-"
ALL_SHEET = "all-flagged.png"
SHEET_NAME = re.compile(rf"{SHEET_PREFIX}\d{{3,}}-(exact|near)\.png")


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _thumbnail(path: Path) -> Image.Image:
    """The picture as the trainer reads it (EXIF rotation not applied), or a grey card if unreadable."""
    from PIL import Image

    try:
        if path.suffix.lower() in VIDEO_EXTENSIONS:
            from loragate.duplicates.video import sample_frames

            frames = sample_frames(path, count=1)
            img = frames[0] if frames else None
        else:
            with open_image(path) as opened:
                opened.draft("RGB", (THUMB * 2, THUMB * 2))
                opened.thumbnail((THUMB, THUMB))
                img = opened.convert("RGB")
        if img is not None:
            img.thumbnail((THUMB, THUMB))
            return img
    except Exception:  # noqa: BLE001 - a sheet must not fail because one file is broken
        pass
    return Image.new("RGB", (THUMB, THUMB // 2), (90, 90, 90))


def _size_text(path: Path) -> str:

    try:
        size = path.stat().st_size
        dims = ""
        if path.suffix.lower() not in VIDEO_EXTENSIONS:
            with open_image(path) as img:
                dims = f"{img.width}x{img.height}, "
        return f"{dims}{size / 1e6:.1f} MB" if size >= 1e5 else f"{dims}{size / 1e3:.0f} KB"
    except Exception:  # noqa: BLE001
        return "unreadable"


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


def _sheet(root: Path, cells: list[tuple[str, str]], title: str, columns: int) -> bytes:
    """cells: (relative path, tag shown before the name). Returns PNG bytes."""
    import io

    from PIL import Image, ImageDraw

    cols = max(1, min(columns, len(cells)))
    rows = (len(cells) + cols - 1) // cols
    cell_w, cell_h = THUMB + PAD, THUMB + LABEL_H + PAD
    sheet = Image.new("RGB", (PAD + cols * cell_w, HEADER_H + rows * cell_h + PAD), (250, 250, 248))
    draw = ImageDraw.Draw(sheet)
    draw.text((PAD, 9), title, fill=(20, 20, 20), font=_font(16))
    small = _font(12)
    for n, (rel, tag) in enumerate(cells):
        x = PAD + (n % cols) * cell_w
        y = HEADER_H + (n // cols) * cell_h
        thumb = _thumbnail(root / rel)
        sheet.paste(thumb, (x + (THUMB - thumb.width) // 2, y + (THUMB - thumb.height) // 2))
        draw.rectangle((x - 1, y - 1, x + THUMB, y + THUMB), outline=(200, 200, 200))
        draw.text((x, y + THUMB + 4), _fit(f"{tag}{rel}", 34), fill=(20, 20, 20), font=small)
        draw.text((x, y + THUMB + 22), _size_text(root / rel), fill=(110, 110, 110), font=small)
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
        atomic_write_bytes(path, _sheet(dataset_root, [(p, "") for p in shown], title, GROUP_COLUMNS))
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
