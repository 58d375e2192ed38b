"""Sidecar captions: present, readable, UTF-8, carrying the trigger word, in the model's style, short
enough for its text encoder.

A caption belongs to the media file with the same name minus extension in the same folder
(# reference sd-scripts.md §3.1: "Read from `<image basename><caption_extension>`"), so two media
files sharing a stem share one caption and, in both trainers, one latent cache file name.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from loragate.dataset.model import CaptionStats, DatasetScan
from loragate.dataset.rules import DatasetRules
from loragate.core.errors import LoragateError
from loragate.core.findings import Finding, listed
from loragate.fsguard import NotARegularFile, TooLarge, read_capped

UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
CAPTION_CAP = 1024 * 1024  # a caption longer than this is not a caption
LISTED = 20  # how many file names a dataset-level finding lists in its evidence

_WORD = re.compile(r"[^\W_]+(?:[_'-][^\W_]+)*|[^\w\s]")


def approx_tokens(text: str) -> int:
    """Approximate text-encoder tokens of a caption.

    Rule: every word and every punctuation mark is one token, and a word of 9 or more characters
    adds one more token per further 8 characters (BPE splits long and rare words). On English
    captions this is close to CLIP's tokenizer and slightly over T5's, which errs on the side of
    warning.
    """
    count = 0
    for match in _WORD.finditer(text):
        word = match.group(0)
        count += 1 + max(0, (len(word) - 1) // 8)
    return count


def caption_style(text: str) -> str:
    """'booru' (comma-separated short tags), 'natural' (sentences) or 'mixed'."""
    segments = [s.strip() for s in re.split(r"[,\n]", text) if s.strip()]
    if not segments:
        return "mixed"
    words = [len(s.split()) for s in segments]
    short = sum(1 for n in words if n <= 3) / len(segments)
    underscores = sum(1 for s in segments if "_" in s and " " not in s)
    sentence = bool(re.search(r"[.!?](\s|$)", text))
    if len(segments) >= 3 and short >= 0.75 and not sentence or underscores >= 2:
        return "booru"
    if sentence or sum(words) / len(segments) >= 4:
        return "natural"
    return "mixed"


def check_trigger(trigger: str | None) -> str | None:
    if trigger is None:
        return None
    trigger = trigger.strip()
    if not trigger or "\n" in trigger or len(trigger) > 100:
        raise LoragateError(
            f"The trigger word {trigger!r} cannot be used.",
            "Give one short word or phrase, such as 'mira' or 'ohwx style'.",
        )
    return trigger


def check_captions(scan: DatasetScan, trigger: str | None, rules: DatasetRules) -> tuple[list[Finding], CaptionStats]:
    root = Path(scan.root)
    ext = scan.caption_extension
    findings: list[Finding] = []
    stats = CaptionStats(token_limit=rules.token_limit)
    media = scan.images + scan.videos

    findings += _duplicate_stems([m.path for m in media], ext)
    media_stems = {m.path.rsplit(".", 1)[0] for m in media}
    for caption in scan.captions:
        if caption[: -len(ext)] not in media_stems:
            stats.orphans += 1
            findings.append(
                Finding(
                    code="DS_CAPTION_ORPHAN",
                    severity="warn",
                    message=f"The caption '{caption}' has no image or clip of the same name beside it, so it is unused.",
                    fix="Rename it to match its image (same name, different extension) or delete it if the image is gone.",
                    path=caption,
                )
            )

    texts: dict[str, str] = {}
    for item in media:
        if item.caption is None:
            stats.missing += 1
            findings.append(
                Finding(
                    code="DS_CAPTION_MISSING",
                    severity="block",
                    message=f"'{item.path}' has no caption file ({item.path.rsplit('.', 1)[0]}{ext}); "
                    "the trainer would learn it with an empty caption.",
                    fix=f"Write a caption for it in a {ext} file with the same name"
                    + (f", starting with '{trigger}'." if trigger else "."),
                    path=item.path,
                )
            )
            continue
        text, problem = _read_caption(root / item.caption, item.caption)
        if problem:
            findings.append(problem)
            if problem.severity == "block":
                continue
        assert text is not None
        if not text.strip():
            stats.empty += 1
            findings.append(
                Finding(
                    code="DS_CAPTION_EMPTY",
                    severity="block",
                    message=f"The caption '{item.caption}' is empty; sd-scripts stops on an empty caption file.",
                    fix="Write a caption into it" + (f", starting with '{trigger}'." if trigger else "."),
                    path=item.caption,
                )
            )
            continue
        stats.captioned += 1
        texts[item.caption] = text
        if re.search(r"[\r\n]", text.strip()):  # Python's text mode splits lines at \r too
            # reference sd-scripts.md §3.1: "Only the first line is used unless enable_wildcard".
            findings.append(
                Finding(
                    code="DS_CAPTION_MULTILINE",
                    severity="warn",
                    message=f"The caption '{item.caption}' has several lines; sd-scripts reads only the first one.",
                    fix="Join it into a single line.",
                    path=item.caption,
                )
            )

    stats.caption_texts = len(texts)
    findings += _trigger_findings(texts, trigger, stats)
    findings += _style_findings(texts, rules, stats)
    findings += _length_findings(texts, rules, stats)
    return findings, stats


def _read_caption(path: Path, rel: str) -> tuple[str | None, Finding | None]:
    try:
        raw = read_capped(path, CAPTION_CAP)
    except (NotARegularFile, TooLarge) as exc:
        return None, Finding(
            code="DS_CAPTION_NOT_TEXT",
            severity="block",
            message=f"The caption '{rel}' is {exc.strerror}; a caption is a short text file.",
            fix="Replace it with a plain one-line text file.",
            path=rel,
        )
    except OSError as exc:
        return None, Finding(
            code="DS_UNREADABLE",
            severity="block",
            message=f"The caption '{rel}' cannot be read ({exc.strerror or exc}).",
            fix="Fix its permissions (chmod u+r).",
            path=rel,
        )
    if raw.startswith(UTF16_BOMS):
        return None, Finding(
            code="DS_CAPTION_ENCODING",
            severity="block",
            message=f"The caption '{rel}' is saved as UTF-16; the trainers read captions as UTF-8 and will fail or read garbage.",
            fix="Save it again as UTF-8 (in most editors: Save As, Encoding: UTF-8).",
            path=rel,
            evidence={"encoding": "utf-16"},
        )
    if b"\x00" in raw:
        return None, _nul_finding(raw, rel)
    bom = raw.startswith(UTF8_BOM)
    try:
        text = raw[len(UTF8_BOM) :].decode("utf-8") if bom else raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        # reference sd-scripts.md §3.1: "A non-UTF-8 file fails: `illegal char in file (not UTF-8)`".
        return None, Finding(
            code="DS_CAPTION_ENCODING",
            severity="block",
            message=f"The caption '{rel}' is not UTF-8 text (likely Latin-1 or Windows-1252: accented letters "
            f"such as '{raw[exc.start:exc.start + 1].decode('latin-1')}'); sd-scripts stops with "
            "'illegal char in file (not UTF-8)'.",
            fix="Save it again as UTF-8 (in most editors: Save As, Encoding: UTF-8).",
            path=rel,
            evidence={"byte_offset": exc.start},
        )
    if bom:
        return text, Finding(
            code="DS_CAPTION_BOM",
            severity="warn",
            message=f"The caption '{rel}' starts with an invisible byte-order mark, which sticks to its first word "
            "(often the trigger word) when the trainer reads it.",
            fix="Save it again as UTF-8 without BOM.",
            path=rel,
        )
    return text, None


def _nul_finding(raw: bytes, rel: str) -> Finding:
    """NUL bytes: UTF-16 saved without a byte-order mark (every other byte NUL), or a damaged file.
    UTF-8 decoding accepts NUL, so the trainer would read the caption as text full of invisible noise."""
    half = max(1, len(raw) // 2)
    utf16 = raw[1::2].count(0) >= 0.4 * half or raw[0::2].count(0) >= 0.4 * half
    what = ("is saved as UTF-16 without a byte-order mark; the trainers read it as UTF-8, every letter separated "
            "by an invisible NUL character") if utf16 else "contains NUL bytes (invisible characters from a damaged file)"
    return Finding(
        code="DS_CAPTION_ENCODING",
        severity="block",
        message=f"The caption '{rel}' {what}.",
        fix="Save it again as UTF-8 (in most editors: Save As, Encoding: UTF-8).",
        path=rel,
        evidence={"encoding": "utf-16 without BOM" if utf16 else "NUL bytes", "nul_bytes": raw.count(0)},
    )


def _duplicate_stems(paths: list[str], ext: str) -> list[Finding]:
    by_stem: dict[str, list[str]] = defaultdict(list)
    for p in paths:
        by_stem[p.rsplit(".", 1)[0]].append(p)
    out = []
    for stem, group in sorted(by_stem.items()):
        if len(group) < 2:
            continue
        out.append(
            Finding(
                code="DS_CAPTION_DUPLICATE_STEM",
                severity="block",
                message=f"{' and '.join(repr(g) for g in group)} share the name '{stem}', so they share the caption "
                f"'{stem}{ext}' and the trainer's cache file; one silently overwrites the other.",
                fix="Rename one of them (and give it its own caption), or remove the extra copy.",
                path=group[0],
                evidence={"files": group},
            )
        )
    return out


def _trigger_findings(texts: dict[str, str], trigger: str | None, stats: CaptionStats) -> list[Finding]:
    if trigger is None or not texts:
        return []
    pattern = re.compile(r"(?<!\w)" + re.escape(trigger) + r"(?!\w)", re.IGNORECASE)
    lacking = sorted(rel for rel, text in texts.items() if not pattern.search(text))
    stats.with_trigger = len(texts) - len(lacking)
    fix = f"Add '{trigger}' to the caption, usually as its first word."
    if lacking and len(lacking) == len(texts) and len(texts) > 3:
        return [
            Finding(
                code="DS_TRIGGER_MISSING",
                severity="block",
                message=f"None of the {len(texts)} captions contains the trigger word '{trigger}', "
                "so the LoRA would have no word that calls it up.",
                fix=f"Add '{trigger}' to every caption (usually as the first word), or check the spelling of --trigger.",
                evidence={"files": lacking[:LISTED], "count": len(lacking)},
            )
        ]
    return [
        Finding(
            code="DS_TRIGGER_MISSING",
            severity="block",
            message=f"The caption '{rel}' does not contain the trigger word '{trigger}'.",
            fix=fix,
            path=rel,
        )
        for rel in lacking
    ]


def _style_findings(texts: dict[str, str], rules: DatasetRules, stats: CaptionStats) -> list[Finding]:
    styles = {rel: caption_style(text) for rel, text in texts.items()}
    for style in styles.values():
        stats.style[style] = stats.style.get(style, 0) + 1
    expected = rules.caption_style
    if expected not in ("booru", "natural"):
        return []
    other = "natural" if expected == "booru" else "booru"
    off = sorted(rel for rel, style in styles.items() if style == other)
    if not off:
        return []
    said = {"booru": "short tags separated by commas (like \"1girl, red coat, smiling\")",
            "natural": "plain sentences (like \"a woman in a red coat, smiling\")"}
    return [
        Finding(
            code="DS_CAPTION_STYLE",
            severity="warn",
            message=f"{len(off)} of {len(texts)} captions ({listed(off)}) are written as {said[other]}, but "
            f"{rules.display_name} learned from {said[expected]}; captions written the way it learned train "
            "faster and follow prompts better.",
            fix=f"Rewrite those captions as {said[expected]}.",
            evidence={"files": off[:LISTED], "count": len(off), "expected": expected},
        )
    ]


def _length_findings(texts: dict[str, str], rules: DatasetRules, stats: CaptionStats) -> list[Finding]:
    counts = {rel: approx_tokens(text) for rel, text in texts.items()}
    if counts:
        stats.tokens_max = max(counts.values())
        stats.tokens_mean = round(sum(counts.values()) / len(counts), 1)
    if not rules.token_limit:
        return []
    return [
        Finding(
            code="DS_CAPTION_TOO_LONG",
            severity="warn",
            message=f"The caption '{rel}' is about {n} tokens; {rules.token_encoder} reads {rules.token_limit}, "
            "so the end of it is cut off during training.",
            fix="Shorten it, putting the trigger word and the most important details first.",
            path=rel,
            evidence={"tokens": n, "limit": rules.token_limit, "encoder": rules.token_encoder},
        )
        for rel, n in sorted(counts.items())
        if n > rules.token_limit
    ]
