"""Say what a file is when it is not something a trainer reads (a picture, a README), in plain words."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

# Magic numbers of what artists most often pick by mistake.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "a JPEG image"), (0, b"\x89PNG\r\n\x1a\n", "a PNG image"), (0, b"GIF8", "a GIF image"),
    (8, b"WEBP", "a WebP image"), (4, b"ftyp", "a video (MP4 / MOV)"), (0, b"\x1aE\xdf\xa3", "a video (MKV / WebM)"),
    (0, b"%PDF", "a PDF document"), (0, b"PK\x03\x04", "a ZIP archive"), (0, b"\x1f\x8b", "a gzip archive"),
)
_TEXT_KINDS = {".md": "a Markdown document", ".markdown": "a Markdown document", ".json": "a JSON file",
               ".yaml": "a YAML file", ".yml": "a YAML file", ".py": "a Python script", ".ipynb": "a Jupyter notebook",
               ".html": "a web page", ".txt": "a text file", ".log": "a log file", ".caption": "a caption file"}


@lru_cache(maxsize=1)
def trainer_mention() -> re.Pattern[str]:
    """A trainer script named anywhere on a line: a command with a typo is still a command. The kohya
    trainers' script names share these words; a trainer installed as a package (trainers.toml
    `package`) also runs as `python -m <package>.<script>`."""
    from loragate.environment.trainer import load_trainer_data

    packages = [re.escape(facts.package) + r"\.\w+" for facts in load_trainer_data().trainer.values() if facts.package]
    return re.compile("(" + "|".join(["train_network", "cache_latents", "cache_text_encoder_outputs", *packages]) + ")")


def binary_kind(data: bytes, suffix: str = "") -> str | None:
    """What a file that is no text is, or None for text."""
    for offset, magic, kind in _MAGIC:
        if data[offset:offset + len(magic)] == magic:
            return kind
    if len(data) > 9 and data[8:9] == b"{" and int.from_bytes(data[:8], "little") < 100_000_000:
        return "a safetensors weights file"
    if suffix.lower() == ".bmp" and data[:2] == b"BM":
        return "a BMP image"
    return "a binary file" if b"\0" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")) else None


def text_kind(path: Path) -> str:
    return _TEXT_KINDS.get(path.suffix.lower(), "a text file")
