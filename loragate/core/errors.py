"""The one error type the engine raises for problems a person must fix.

The CLI prints it and exits 2; the MCP door turns it into a tool error with the same text.
"""

from __future__ import annotations

import errno
from importlib import metadata

from loragate.core.nextstep import NextStep


class LoragateError(Exception):
    """A problem that stops a command from running, said in plain words with the next step.

    `fix` says what to do in words; `next` is the operation to run, which each door renders in
    its own form (a command line, a tool call). Neither names a CLI command."""

    def __init__(self, message: str, fix: str | None = None, next: NextStep | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.next = next

    def __str__(self) -> str:
        return self.message if not self.fix else f"{self.message} {self.fix}"


class BadArguments(LoragateError):
    """An operation's arguments refused by its input model. Each door adds where its choices are
    listed (the CLI its --help, MCP the tool's schema), so the fix names neither."""


class GatesNotPassed(LoragateError):
    """Launch refused: a gate is missing, stale or NO-GO. A verdict, not a failure to run, so the
    CLI exits 1 (NO-GO) rather than 2."""


_OS_WORDS = {
    errno.ENOSPC: ("the disk is full", "Free some space on that disk (or point the output elsewhere) and run it again."),
    errno.EDQUOT: ("the disk quota is used up", "Free some space in your quota and run it again."),
    errno.EACCES: ("permission was denied", "Check the permissions of that file or folder."),
    errno.EPERM: ("the operation is not permitted", "Check the permissions of that file or folder."),
    errno.EROFS: ("the disk is read-only", "Work in a folder on a writable disk."),
    errno.ENAMETOOLONG: ("a file name is longer than the filesystem allows", "Use shorter file or folder names."),
    errno.EMFILE: ("too many files are open", "Close other programs and run it again."),
    errno.EIO: ("the disk reported a read or write error", "Check the disk; copy the data elsewhere if it is failing."),
}


def unexpected_error_sentence(exc: BaseException) -> str:
    """A plain sentence for an exception no check anticipated: never a traceback, never a bare
    'Error executing tool'. Disk and permission problems are named; anything else is a loragate
    bug, said as such with the exception's type (its text may hold paths or values from files)."""
    if isinstance(exc, OSError) and exc.errno in _OS_WORDS:
        what, fix = _OS_WORDS[exc.errno]
        name = str(exc.filename or "")
        where = f" ({name if len(name) <= 120 else name[:60] + '...' + name[-40:]})" if name else ""
        return f"This could not finish because {what}{where}. {fix}"
    if isinstance(exc, RecursionError):
        return "A file given is nested too deeply to read (thousands of levels of brackets or tables). Check the file."
    if isinstance(exc, MemoryError):
        return "This ran out of memory. Close other programs, or check the input for something absurdly large."
    if isinstance(exc, OSError):
        return f"A file operation failed ({exc.strerror or type(exc).__name__}). Check the paths and the disk, then try again."
    return (f"loragate stopped on a problem it did not expect ({type(exc).__name__}); this is a bug in loragate, "
            "not a NO-GO: nothing was decided or launched. Please report it at "
            f"{report_place()} with the command you ran.")


FALLBACK_PLACE = "the loragate project's issue tracker"


def report_place() -> str:
    """Where bugs go: the package's `Issues` URL when its metadata names one."""
    try:
        urls: list[str] = [str(u) for u in metadata.metadata("loragate").get_all("Project-URL") or []]
    except metadata.PackageNotFoundError:
        urls = []
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() in {"issues", "bug tracker", "bugs"} and url.strip():
            return url.strip()
    return FALLBACK_PLACE
