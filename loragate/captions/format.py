"""Put a caption in the model's style with the trigger word first.

Both trainers read only the first line of a caption file (# reference sd-scripts.md §3.1: "Only
the first line is used unless enable_wildcard"), so a caption is always written as one line.
Booru-style models (Pony, Illustrious) read comma-separated tags; FLUX, Wan and SDXL read
sentences (the `caption_style` of each family in loragate/data/models.toml).
"""

from __future__ import annotations

import re

from loragate.dataset.captions import caption_style as detect_style

_SPACES = re.compile(r"\s+")


def _trigger_pattern(trigger: str) -> re.Pattern[str]:
    # Whole words only: the trigger 'mira' must not match inside 'miracle'.
    return re.compile(rf"(?<![\w]){re.escape(trigger)}(?![\w])", re.IGNORECASE)


def format_caption(text: str, trigger: str, style: str) -> tuple[str, list[str]]:
    """Return the caption as it will be written, and warnings for the artist.

    - booru: tags split on commas and line breaks, trimmed, duplicates dropped, any tag equal to
      the trigger removed, then the trigger as the first tag.
    - natural / mixed: one line; a stand-alone comma-separated trigger is moved to the front; a
      trigger inside a sentence stays there (cutting it out would break the sentence) and is also
      put first, so the caption always starts with it.
    Returns "" when nothing but the trigger is left.
    """
    warnings: list[str] = []
    pattern = _trigger_pattern(trigger)
    if style == "booru":
        tags: list[str] = []
        seen: set[str] = set()
        for raw in re.split(r"[,\n\r]+", text):
            tag = _SPACES.sub(" ", raw).strip()
            key = tag.lower()
            if not tag or key == trigger.lower() or key in seen:
                continue
            seen.add(key)
            tags.append(tag)
        body = ", ".join(tags)
        if tags and detect_style(body) == "natural":
            warnings.append("This model reads booru tags, but the caption reads like sentences; short comma-separated tags work better.")
        return (f"{trigger}, {body}" if body else ""), warnings

    line = _SPACES.sub(" ", text).strip()
    segments = [s.strip() for s in line.split(",")]
    kept = [s for s in segments if s.lower() != trigger.lower()]
    body = ", ".join(s for s in kept if s)
    if body and style == "natural" and detect_style(body) == "booru":
        warnings.append("This model reads sentences, but the caption is a list of tags; describe the picture in plain sentences.")
    if not body:
        return "", warnings
    start = pattern.match(body)
    if start:
        return trigger + body[start.end():], warnings  # already first; spelled exactly as the trigger
    first = body.split(" ", 1)[0]
    if first[0].isupper() and (first[1:].islower() or len(first) == 1) and first != "I":
        body = body[0].lower() + body[1:]  # "mira, a woman..." rather than "mira, A woman..."; names like "NASA" stay
    return f"{trigger}, {body}", warnings
