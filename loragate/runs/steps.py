"""How far a training log got: steps done, the total, and seconds per step.

The monitor owns the log parser (loragate.runs.logparse); this module asks it when it is there,
and otherwise reads the tqdm `steps:` lines both trainers print (reference sd-scripts.md §4.2,
musubi-tuner.md §3), e.g. `steps:  40%|████      | 2/5 [00:02<00:03,  1.05s/it, avr_loss=0.08]`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from loragate.runs.classify import read_tail

_TQDM = re.compile(
    r"steps:\s*\d+%\|[^|]*\|\s*(?P<n>\d+)/(?P<total>\d+)\s*\[(?P<elapsed>[\d:]+)<[^,]*,\s*"
    r"(?:(?P<spi>[\d.]+)s/it|(?P<ips>[\d.]+)it/s|\?it/s)"
)


@dataclass
class StepProgress:
    steps: int = 0
    total: int | None = None
    seconds_per_step: float | None = None


def _seconds(clock: str) -> float:
    parts = [float(p) for p in clock.split(":")]
    total = 0.0
    for part in parts:
        total = total * 60 + part
    return total


def parse_step_progress(text: str) -> StepProgress:
    progress = StepProgress()
    for chunk in re.split(r"[\r\n]+", text):
        m = _TQDM.search(chunk)
        if not m:
            continue
        progress.steps = int(m.group("n"))
        progress.total = int(m.group("total"))
        if m.group("spi"):
            progress.seconds_per_step = float(m.group("spi"))
        elif m.group("ips") and float(m.group("ips")) > 0:
            progress.seconds_per_step = round(1 / float(m.group("ips")), 4)
    return progress


def read_step_progress(log: Path) -> StepProgress:
    return parse_step_progress(read_tail(log))
