"""Log records that rich wrapped over several lines, joined back into one.

sd-scripts logs through rich's handler, which lays a record out in columns: time (left blank when
it repeats), level, the message, and the source location at the right margin. Written to a file
with COLUMNS unset, the console is 80 characters wide and a long message wraps onto lines that
start with 29 spaces (reference real-trainers-on-cpu.md):

    2026-12-07 00:46:57 INFO     Loading dataset config from    train_network.py:519
                                 /data/dataset.toml
                        ERROR    No data found. Please verify   train_network.py:576
                                 arguments (train_data_dir must

loragate gives the trainers a wide console, but an artist's own log may still be wrapped.
"""

from __future__ import annotations

import re

RECORD = re.compile(
    r"^(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d| {19}) (?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL) +(?P<message>.*?)"
    r"(?: {2,}(?P<source>[\w.-]+\.py:\d+))? *$"
)
CONTINUATION = re.compile(r"^ {29}(?P<text>\S.*?) *$")


def record_text(match: re.Match[str]) -> str:
    """A record's first line as `LEVEL message`, without the columns' padding and the source."""
    return f"{match['level']} {match['message'].strip()}"


def unwrap(lines: list[str]) -> list[str]:
    """Lines with each wrapped rich record joined into one `LEVEL message` line; other lines as they were."""
    out: list[str] = []
    open_record = False
    for line in lines:
        record = RECORD.match(line)
        if record:
            out.append(record_text(record))
            open_record = True
            continue
        more = CONTINUATION.match(line) if open_record else None
        if more:
            out[-1] += " " + more["text"]
            continue
        open_record = False
        out.append(line)
    return out


def log_lines(text: str) -> list[str]:
    """A log's lines (tqdm's carriage-return updates split apart), wrapped records joined, stripped."""
    return [line.strip() for line in unwrap(re.split(r"[\r\n]+", text)) if line.strip()]
