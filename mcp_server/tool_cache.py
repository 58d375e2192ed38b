"""The tools/list answer kept between starts, so the server answers its first tools/list without
importing the engine or building some thirty schemas (most of a cold start after the SDK's own).

The entry is keyed by a fingerprint of everything the schemas come from: every file of the
loragate and mcp_server packages (path, size, mtime), the Python, pydantic and mcp SDK in use. It
is written only after a full build of the server, which runs the data files' consistency check
first, so an entry for these very files also says that check passed. Any change to the code, the
data files or the libraries gives a new fingerprint: the next start builds in full and stores
again. A missing, unreadable or stale entry only costs the full build; it never changes an answer.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import mcp
import pydantic
import pydantic_core
from mcp.types import Tool

import loragate
import mcp_server
from loragate.atomic import atomic_write_json
from loragate.workspace import cache_dir

CACHE_NAME = "mcp-tools.json"
# Set (to anything but "") to start without the cache: neither read nor written (benchmarks, a suspect entry).
DISABLE_ENV = "LORAGATE_NO_TOOL_CACHE"


def enabled() -> bool:
    return not os.environ.get(DISABLE_ENV)


def cache_file() -> Path:
    return cache_dir() / CACHE_NAME


def _walk(root: Path, digest: Any) -> None:
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name == "__pycache__":
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
                continue
            try:
                st = entry.stat()
            except OSError:
                continue
            digest.update(f"{entry.path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))


def fingerprint() -> str:
    """Changes whenever anything a tool's schema could come from changes."""
    digest = hashlib.sha256()
    digest.update(f"{sys.version}\0{pydantic.VERSION}\0{pydantic_core.__version__}\n".encode())
    sdk = Path(mcp.__file__).parent
    _walk(sdk, digest)
    for package in (loragate, mcp_server):
        for folder in package.__path__:
            _walk(Path(folder), digest)
    return digest.hexdigest()


def load(key: str) -> list[Tool] | None:
    """The stored tools for this fingerprint, or None when there is no usable entry."""
    try:
        stored = json.loads(cache_file().read_text(encoding="utf-8"))
        if stored.get("fingerprint") != key:
            return None
        return [Tool.model_validate(tool) for tool in stored["tools"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError, pydantic.ValidationError):
        return None


def store(key: str, tools: list[Tool]) -> None:
    """Keep the full build's answer for the next start; a cache that cannot be written is skipped."""
    try:
        atomic_write_json(cache_file(), {"fingerprint": key, "tools": [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]})
    except OSError:
        pass
