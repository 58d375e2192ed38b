"""Reading only what a log gained since the last poll, and noticing when it was replaced.

The state remembers the byte offset, the file's identity (device, inode) and a fingerprint of its
first bytes. A different inode (rotated), a smaller size (truncated) or different first bytes
(copied over and truncated) restart the parse from byte 0.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from pathlib import Path

from pydantic import BaseModel, Field

from loragate.runs.logparse import LogFacts, LogParser, split_segments

HEAD_BYTES = 256
CHUNK = 8 * 1024 * 1024


PARSER_VERSION = 2  # bump when LogFacts are derived differently: saved states are then re-read from byte 0


class TailState(BaseModel):
    log: str
    parser_version: int = PARSER_VERSION
    device: int | None = None
    inode: int | None = None
    offset: int = Field(default=0, description="Bytes parsed into complete segments.")
    head: str = Field(default="", description="sha1 of the first bytes, to notice a replaced file.")
    partial: str = Field(default="", description="Base64 of the unfinished last segment.")
    size: int = 0
    mtime: float | None = None
    last_progress_at: float | None = Field(default=None, description="When the step count last moved (log mtime).")
    last_step: int | None = None
    resets: int = Field(default=0, description="How often the log was found truncated or replaced.")
    facts: LogFacts = Field(default_factory=LogFacts)


class PollResult(BaseModel):
    state: TailState
    bytes_read: int
    reset: str | None = Field(default=None, description="Why the parse restarted from the beginning, if it did.")


def _head_hash(handle, length: int) -> str:
    handle.seek(0)
    return hashlib.sha1(handle.read(min(length, HEAD_BYTES))).hexdigest()


def poll_log(path: Path, state: TailState | None) -> PollResult:
    """Parse what is new in the log since `state` (None: from the start)."""
    if state is not None and state.parser_version != PARSER_VERSION:
        state = None
    state = state.model_copy(deep=True) if state else TailState(log=str(path))
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return PollResult(state=state, bytes_read=0)

    reset = None
    with open(path, "rb") as handle:
        if state.inode is not None and (stat.st_ino != state.inode or stat.st_dev != state.device):
            reset = "the log was replaced by a new file"
        elif stat.st_size < state.offset:
            reset = "the log was truncated"
        elif state.offset and state.head and _head_hash(handle, state.offset) != state.head:
            reset = "the log was rewritten"
        if reset:
            state = TailState(log=str(path), resets=state.resets + 1)

        parser = LogParser(state.facts)
        pending = base64.b64decode(state.partial) if state.partial else b""
        handle.seek(state.offset + len(pending))
        read = 0
        offset = state.offset
        while True:
            chunk = handle.read(CHUNK)
            if not chunk:
                break
            read += len(chunk)
            segments, pending_new = split_segments(pending + chunk)
            offset += len(pending) + len(chunk) - len(pending_new)
            pending = pending_new
            parser.feed_segments(segments)
        if pending:
            parser.peek(pending.decode("utf-8", errors="replace"))
        if not state.head or state.offset < HEAD_BYTES:
            state.head = _head_hash(handle, offset) if offset else ""

    before = state.last_step
    state.offset = offset
    state.partial = base64.b64encode(pending).decode() if pending else ""
    state.device, state.inode, state.size, state.mtime = stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime
    state.facts = parser.facts
    if parser.facts.step is not None and parser.facts.step != before:
        state.last_step = parser.facts.step
        state.last_progress_at = stat.st_mtime
    elif state.last_progress_at is None:
        state.last_progress_at = stat.st_mtime
    return PollResult(state=state, bytes_read=read, reset=reset)


def seconds_since(timestamp: float | None, now: float | None = None) -> float | None:
    return None if timestamp is None else max(0.0, (now or time.time()) - timestamp)
