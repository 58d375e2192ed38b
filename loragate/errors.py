"""The one error type the engine raises for problems a person must fix.

The CLI prints it and exits 2; the MCP door turns it into a tool error with the same text.
"""

from __future__ import annotations


class LoragateError(Exception):
    """A problem that stops a command from running, said in plain words with the next step."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return self.message if not self.fix else f"{self.message} {self.fix}"


class GatesNotPassed(LoragateError):
    """Launch refused: a gate is missing, stale or NO-GO. A verdict, not a failure to run, so the
    CLI exits 1 (NO-GO) rather than 2."""
