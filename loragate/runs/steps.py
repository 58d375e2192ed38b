"""How far a training log got: steps done, the total, and seconds per step, read with the
monitor's log parser (loragate.runs.logparse), so the dry run, the supervisor and the monitor
agree on what a log says."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from loragate.runs.logparse import LogParser, split_segments


@dataclass
class StepProgress:
    steps: int = 0
    total: int | None = None
    seconds_per_step: float | None = None


def parse_step_progress(data: bytes) -> StepProgress:
    segments, rest = split_segments(data)
    if rest:
        segments.append(rest.decode("utf-8", errors="replace"))
    parser = LogParser()
    parser.feed_segments(segments)
    facts = parser.facts
    sps = facts.seconds_per_step
    return StepProgress(steps=facts.step or 0, total=facts.total_steps, seconds_per_step=round(sps, 4) if sps else None)


def read_step_progress(log: Path) -> StepProgress:
    try:
        return parse_step_progress(log.read_bytes())
    except OSError:
        return StepProgress()
