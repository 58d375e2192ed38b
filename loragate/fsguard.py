"""Reading files that someone else made: only regular files, never more than a cap, never through a
link that leaves the folder being checked.

A FIFO named `x.txt` blocks a plain `open()` forever, a link to /dev/zero never ends, and a link
`up -> ..` leads out of the dataset. Everything that reads an artist's or a caller's file goes
through here, so one rule covers every reader.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

# Captions, TOMLs, scripts, manifests and records are small; a file beyond this is not one of them.
TEXT_CAP = 4 * 1024 * 1024

SPECIAL_KINDS = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


class NotARegularFile(OSError):
    """The path is a pipe, device, socket or folder: opening it could block or never end."""


class TooLarge(OSError):
    """The file is bigger than what this kind of file can sensibly be."""


def special_kind(mode: int) -> str | None:
    """'a named pipe (FIFO)' etc. for a special file's st_mode, None for a file or a folder."""
    return SPECIAL_KINDS.get(stat.S_IFMT(mode))


def inside(path: Path, root: Path) -> bool:
    """Whether `path` with every link resolved stays in `root` (itself resolved)."""
    try:
        resolved = Path(path).resolve()
    except (OSError, RuntimeError):
        return False
    return resolved == root or resolved.is_relative_to(root)


def read_capped(path: Path | str, cap: int = TEXT_CAP) -> bytes:
    """The bytes of a regular file of at most `cap` bytes.

    Raises NotARegularFile for anything else (checked on the opened descriptor, so a file swapped
    for a FIFO after a check still cannot block) and TooLarge past the cap.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a FIFO with no writer, or a socket
            raise NotARegularFile(errno.ENXIO, "not a regular file", str(path)) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            what = special_kind(st.st_mode) or "a folder"
            raise NotARegularFile(errno.EINVAL, f"{what}, not a regular file", str(path))
        if st.st_size > cap:
            raise TooLarge(errno.EFBIG, f"{st.st_size:,} bytes, more than the {cap:,} a file like this can be", str(path))
        chunks = []
        left = cap + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > cap:  # grew while being read
            raise TooLarge(errno.EFBIG, f"more than the {cap:,} bytes a file like this can be", str(path))
        return data
    finally:
        os.close(fd)


def read_text_capped(path: Path | str, cap: int = TEXT_CAP, encoding: str = "utf-8") -> str:
    return read_capped(path, cap).decode(encoding)


def read_json_object(path: Path | str, cap: int = TEXT_CAP) -> dict[str, Any]:
    """A JSON object from a capped regular file. Anything else (a list, `null`, nesting deep
    enough to exhaust the parser, bad UTF-8) raises ValueError, which callers already treat as
    a damaged file; OSError as before."""
    try:
        data = json.loads(read_capped(path, cap).decode("utf-8"))
    except RecursionError:
        raise ValueError(f"{path} is nested too deeply to be a loragate file") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds {type(data).__name__}, not a JSON object")
    return data
