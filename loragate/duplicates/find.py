"""`find_duplicates`: the duplicate groups of a dataset, with contact sheets to look at.

It reuses the audit's scan and its one-decode image analysis (which computes each image's
signature and caches it by path, size and mtime), so running it after an audit, or again on an
unchanged dataset, decodes nothing.
"""

from __future__ import annotations

import time
from pathlib import Path


from loragate.dataset.analyze import analyze_images_counted
from loragate.dataset.scan import scan_dataset
from loragate.duplicates.contact import write_contact_sheets
from loragate.duplicates.group import DuplicatesReport
from loragate.duplicates.grouping import group_images
from loragate.duplicates.video import group_videos, video_signatures
from loragate.names import check_name
from loragate.progress import ProgressFn, or_silent
from loragate.workspace import project_dir

CONTACT_SHEETS = "contact-sheets"


def find_duplicates(
    dataset: Path,
    mirror: bool = False,
    name: str | None = None,
    sheets_dir: Path | None = None,
    progress: ProgressFn | None = None,
    caption_extension: str = ".txt",
) -> DuplicatesReport:
    """Group exact and near-duplicate images and clips; with `name` or `sheets_dir`, draw contact sheets."""
    started = time.perf_counter()
    report = or_silent(progress)
    if name is not None:
        check_name(name)
    scan = scan_dataset(Path(dataset), caption_extension)
    root = Path(scan.root)
    analyses, cached = analyze_images_counted(
        root, [m.path for m in scan.images], lambda d, t, msg: report(d, t, f"images: {msg}")
    )
    signatures = {rel: a.signature for rel, a in analyses.items() if a.signature is not None and not a.error}
    unreadable = sorted(rel for rel, a in analyses.items() if a.error)
    clips = video_signatures(root, [m.path for m in scan.videos], report)
    unreadable += sorted(rel for rel, s in clips.items() if s.error)

    report(0, 0, "comparing")
    groups = group_images(signatures, mirror=mirror) + group_videos(clips, mirror=mirror)
    result = DuplicatesReport(
        dataset=str(root),
        images=len(signatures),
        videos=sum(1 for s in clips.values() if s.frames),
        unreadable=unreadable,
        mirror=mirror,
        cached=cached,
    )
    folder = project_dir(name) / CONTACT_SHEETS if name is not None else sheets_dir
    if folder is not None:
        report(0, len(groups), "drawing contact sheets")
        groups, all_sheet = write_contact_sheets(root, groups, folder)
        result.contact_sheets = str(Path(folder).resolve())
        result.all_flagged_sheet = str(all_sheet) if all_sheet else None
    result.groups = groups
    result.seconds = round(time.perf_counter() - started, 3)
    return result
