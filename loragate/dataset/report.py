"""The Gate 1 record: `grimoire/training/NAME/dataset-report.md` for people, `.json` beside it for code,
and the verdict in the gate ledger with a fingerprint of the dataset as it is now."""

from __future__ import annotations

from pathlib import Path

from loragate.dataset.model import AuditReport
from loragate.dataset.thresholds import thresholds_path
from loragate.core.findings import Finding
from loragate.gates.conclude import conclude
from loragate.gates.standard import dataset_subject
from loragate.workspace import project_dir

REPORT_MD = "dataset-report.md"
REPORT_JSON = "dataset-report.json"

QUALITY_CODES = {
    "DS_LOW_RES", "DS_ASPECT_EXTREME", "DS_CMYK", "DS_PALETTE", "DS_16BIT", "DS_ALPHA", "DS_EXIF_ROTATED",
    "DS_GRAYSCALE", "DS_DARK", "DS_BRIGHT", "DS_BLURRY", "DS_LOW_INFO", "DS_TOO_LARGE", "DS_TRUNCATED",
    "DS_ZERO_BYTE", "DS_NOT_AN_IMAGE", "DS_EXT_MISMATCH", "DS_UNSUPPORTED_FORMAT", "DS_UNREADABLE",
    "DS_ANIMATED", "DS_BROKEN_SYMLINK", "DS_SYMLINK_LOOP",
}  # fmt: skip


def record_audit(report: AuditReport, name: str) -> Path:
    """Record Gate 1 in the ledger, then write the report pair atomically. Returns the .md path."""
    md_path = project_dir(name, create=True) / REPORT_MD
    report.report_path = str(md_path)
    blocking = [f for f in report.findings if f.severity == "block"]
    conclude(
        "dataset",
        name,
        report,
        dataset_subject(report.dataset, report.caption_extension, report.trigger, report.model, report.training_type,
                        str(thresholds_path(name))),
        markdown=(REPORT_MD, lambda r: render_markdown(r, name)),
        json_file=REPORT_JSON,
        summary=f"{report.images} images, {report.videos} clips, {len(blocking)} blocking, "
        f"{report.counts.get('warn', 0)} warnings",
    )
    return md_path


# From this many findings of one kind on as many files, the report lists them as one entry.
GROUP_FROM = 3
LISTED_FILES = 12


def _entries(findings: list[Finding]) -> list[list[Finding]]:
    """Findings in order, those of one code on several files gathered into one entry."""
    by_code: dict[str, list[Finding]] = {}
    for f in findings:
        by_code.setdefault(f.code, []).append(f)
    gathered = {code for code, same in by_code.items() if len(same) >= GROUP_FROM and all(g.path for g in same)}
    entries: list[list[Finding]] = []
    done: set[str] = set()
    for f in findings:
        same = by_code[f.code]
        if f.code in gathered:
            if f.code not in done:
                done.add(f.code)
                entries.append(same)
        else:
            entries.append([f])
    return entries


def _entry_text(entry: list[Finding]) -> str:
    """What is wrong and what to do, for one finding or a gathered group of them."""
    first = entry[0]
    if len(entry) == 1:
        return f"{first.message} Fix: {first.fix}" if first.fix else first.message
    files = ", ".join(f"`{f.path}`" for f in entry[:LISTED_FILES])
    more = f" and {len(entry) - LISTED_FILES} more" if len(entry) > LISTED_FILES else ""
    return f"{len(entry)} files ({files}{more}). For example: {first.message} Fix: {first.fix}"


def _lines(findings: list[Finding]) -> list[str]:
    out = []
    for entry in _entries(findings):
        f = entry[0]
        where = f" (`{f.path}`)" if len(entry) == 1 and f.path and f.path not in f.message else ""
        out.append(f"- **{f.severity}** `{f.code}`{where}: {_entry_text(entry)}")
    return out


def _section(title: str, findings: list[Finding], empty: str) -> list[str]:
    lines = [f"## {title}", ""]
    lines += _lines(findings) or [empty]
    return lines + [""]


def _median_text(r: AuditReport) -> str:
    parts = []
    if r.median_resolution:
        parts.append(f"images {r.median_resolution[0]}x{r.median_resolution[1]}")
    if r.median_clip_resolution:
        parts.append(f"clips {r.median_clip_resolution[0]}x{r.median_clip_resolution[1]}")
    return "; ".join(parts) or "-"


def clip_lengths(r: AuditReport) -> str:
    """'81 frames median (33-121), about 5.1 s, at 16 fps (12 clips)': what Wan's frame buckets read."""
    c = r.clips
    if c is None:
        return "-"
    span = f" ({c.frames_min}-{c.frames_max})" if c.frames_min != c.frames_max else ""
    rates = ", ".join(f"{fps} fps ({n} clip{'s' if n != 1 else ''})" for fps, n in c.fps.items())
    return f"{c.frames_median} frames median{span}, about {c.seconds_median:g} s, at {rates}"


def _resolution_table(r: AuditReport) -> list[str]:
    if not r.resolutions and not r.clip_resolutions:
        return ["No decodable images or clips."]
    sizes = list(dict.fromkeys([*r.resolutions, *r.clip_resolutions]))
    rows = ["| size | images | clips |", "|---|---|---|"]
    rows += [f"| {s} | {r.resolutions.get(s, 0)} | {r.clip_resolutions.get(s, 0)} |" for s in sizes[:15]]
    if len(sizes) > 15:
        rest = sizes[15:]
        rows.append(f"| ({len(rest)} other sizes) | {sum(r.resolutions.get(s, 0) for s in rest)} | "
                    f"{sum(r.clip_resolutions.get(s, 0) for s in rest)} |")
    return rows


def render_markdown(report: AuditReport, name: str) -> str:
    r, cs = report, report.caption_stats
    media = r.images + r.videos
    captioned_pct = f"{100 * cs.captioned / media:.0f}%" if media else "-"
    median = _median_text(r)
    dup_files = sum(len(g.paths) for g in r.duplicate_groups)
    quality = [f for f in r.findings if f.code in QUALITY_CODES or f.code.startswith("DS_VIDEO")]
    caption_findings = [f for f in r.findings if f.code.startswith(("DS_CAPTION", "DS_TRIGGER"))]
    in_quality = {id(f) for f in quality}  # by identity: `in` on a list of models compares field by field, n^2
    other = [f for f in r.findings if id(f) not in in_quality and not f.code.startswith(("DS_CAPTION", "DS_TRIGGER", "DS_DUPLICATE"))]
    lines = [
        f"# Dataset Report: {name}",
        "",
        "## Summary",
        f"- Dataset: `{r.dataset}` ({r.layout} layout)",
        f"- Model: {r.model or 'not given'}; training type: {r.training_type or 'not given'}; trigger: {r.trigger or 'not given'}",
        f"- Images: {r.images}; clips: {r.videos}; usable: {r.size.usable_images + r.size.usable_videos}",
        f"- Captioned: {cs.captioned}/{media} ({captioned_pct})",
        f"- Median size: {median} (model trains at {r.training_resolution[0]}x{r.training_resolution[1]})"
        if r.training_resolution
        else f"- Median size: {median}",
        *([f"- Clips: {clip_lengths(r)}"] if r.clips else []),
        f"- Duplicates found: {len(r.duplicate_groups)} group(s), {dup_files} files (removed: 0; nothing is deleted)",
        f"- Quality issues: {len(quality)}",
        f"- Findings: {r.counts.get('block', 0)} blocking, {r.counts.get('warn', 0)} warnings, {r.counts.get('info', 0)} notes",
        "",
        "## Captions",
        f"- Caption files: {r.captions} ({r.caption_extension}); missing: {cs.missing}; empty: {cs.empty}; unused (orphan): {cs.orphans}",
    ]
    if r.trigger:
        lines.append(f"- Captions with the trigger '{r.trigger}': {cs.with_trigger}/{cs.caption_texts}")
    if cs.style:
        lines.append("- Style: " + ", ".join(f"{k} {v}" for k, v in sorted(cs.style.items())))
    limit = f" (encoder reads {cs.token_limit})" if cs.token_limit else ""
    lines += [f"- Length: about {cs.tokens_mean} tokens on average, {cs.tokens_max} at most{limit}", ""]
    lines += _lines(caption_findings) + ([""] if caption_findings else [])
    lines += ["## Resolution", ""]
    lines += _resolution_table(r)
    lines += ["", "## Duplicates", ""]
    if r.duplicate_groups:
        lines += [f"- {g.kind}: " + ", ".join(f"`{p}`" for p in g.paths) for g in r.duplicate_groups]
        lines.append("")
        lines.append("Which copy to keep is your choice; `loragate quarantine` moves files aside and can undo it.")
    else:
        lines.append("None found.")
    lines.append("")
    lines += _section("Quality Issues", quality, "None found.")
    lines += ["## Diversity Notes", ""]
    lines += _diversity(r)
    lines.append("")
    lines += _section("Other Notes", other, "None.")
    lines += [f"## Gate 1 Decision: {r.verdict}", ""]
    blocking = [f for f in r.findings if f.severity == "block"]
    if blocking:
        lines += ["The dataset cannot train as it is. Fix these, then run the audit again:", ""]
        lines += [f"{i}. {_entry_text(entry)}" for i, entry in enumerate(_entries(blocking), 1)]
    else:
        lines += _go_notes(r, name)
    return "\n".join(lines) + "\n"


def _go_notes(r: AuditReport, name: str) -> list[str]:
    """What a GO dataset should train well, and the limits the warnings leave."""
    items = r.size.usable_images + r.size.usable_videos
    what = f"a {r.training_type} LoRA" if r.training_type else "a LoRA"
    good = f"Nothing blocks training: {items} usable items for {what}"
    good += f" on {r.model}" if r.model else ""
    good += ", every one captioned"
    if r.trigger:
        good += f" with the trigger word '{r.trigger}'"
    lines = [good + ".", ""]
    warnings = [f for f in r.findings if f.severity == "warn"]
    if warnings:
        lines += ["Known limitations, worth a look before spending GPU time:", ""]
        for entry in _entries(warnings):
            lines.append(f"- {_entry_text(entry)}")
        lines.append("")
    model = f" --model {r.model}" if r.model else " --model FAMILY"
    lines.append(f"Next: make the training plan (`loragate plan new {name}{model} ...`), which checks the settings and memory (Gate 2).")
    return lines


def _diversity(r: AuditReport) -> list[str]:
    notes = []
    if r.resolutions:
        portrait = sum(c for s, c in r.resolutions.items() if int(s.split("x")[1]) > int(s.split("x")[0]))
        landscape = sum(c for s, c in r.resolutions.items() if int(s.split("x")[0]) > int(s.split("x")[1]))
        square = sum(r.resolutions.values()) - portrait - landscape
        notes.append(f"- Framing: {portrait} portrait, {landscape} landscape, {square} square.")
    if r.duplicate_groups:
        notes.append(f"- {len(r.duplicate_groups)} group(s) of near-identical pictures reduce the effective variety.")
    if r.size.recommended:
        low, high = r.size.recommended
        n = r.size.usable_images + r.size.usable_videos
        notes.append(f"- {n} usable items against {low}-{high} recommended for a {r.training_type} LoRA.")
    notes.append(
        "- Variety of pose, angle, lighting and background cannot be measured from pixels alone; "
        "look through the set for clusters of similar shots."
    )
    balance = CONTENT_STYLE_BALANCE.get(r.training_type or "")
    if balance:
        notes.append(f"- Content and style: {balance}")
    return notes


# What the LoRA should absorb versus what the captions should name, per training type: what a
# caption describes stays promptable; what it leaves out is learned into the trigger word.
CONTENT_STYLE_BALANCE = {
    "character": "the character should be the only thing every picture shares. Vary outfits, settings and "
    "drawing styles, and let the captions name what changes (clothes, place, pose), so those stay "
    "promptable instead of becoming part of the character.",
    "style": "the look should be the only thing every picture shares. Vary the subjects, and let the "
    "captions describe what is shown, not how it is drawn, so the style goes into the trigger word "
    "and not into one recurring subject.",
    "object": "the object should be the only thing every picture shares. Show it from several sides, in "
    "several places and lights, and let the captions name the setting, so the background is not "
    "learned as part of the object.",
}
