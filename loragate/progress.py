"""A progress callback the engine calls on long work; the CLI draws a bar, MCP sends notifications."""

from __future__ import annotations

from typing import Callable, Optional

# progress(done, total, message)
ProgressFn = Callable[[int, int, str], None]


def no_progress(done: int, total: int, message: str) -> None:  # noqa: ARG001
    return None


def or_silent(progress: Optional[ProgressFn]) -> ProgressFn:
    return progress or no_progress
