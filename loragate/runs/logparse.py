"""Incremental parser of a trainer's console log: tqdm steps, epochs, checkpoint saves, tracebacks.

tqdm writes `\\rsteps:  40%|████      | 40/100 [00:10<00:15,  3.95it/s, avr_loss=0.0821]` to stderr
with carriage returns and no newline until it closes. The trainers' own lines (the progress bar's
name, epochs, saves, the line that starts training, the dataset counts, "no data") are each
backend's (loragate.backends.failures: LogFormat). A CUDA OOM is a traceback ending in
`torch.OutOfMemoryError: CUDA out of memory. ...` (or `torch.cuda.OutOfMemoryError`), and
`accelerate launch` may add its own `subprocess.CalledProcessError` traceback after it.

The parser keeps only small facts (latest values, a thinned loss series), so its state can be
saved between polls and a poll only parses the bytes that are new.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from pydantic import BaseModel, Field

from loragate.backends.failures import KnownFailures, known_failures
from loragate.runs.quiet import quiet_problems
from loragate.runs.richlog import CONTINUATION, RECORD, record_text

MAX_POINTS = 2000  # loss series kept for the curve and anomaly checks; thinned by halving
SAMPLE_EVERY = 64
# tqdm smooths its rate with weight 0.3 per update: after 10 steps the first weighs under 3 %.
FIRST_STEP_WINDOW = 10

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_TQDM = re.compile(
    r"(?P<desc>[A-Za-z][\w ]*?): *(?P<pct>\d+)%\|[^|]*\| *(?P<n>\d+)/(?P<total>\d+) "
    r"\[(?P<elapsed>[\d:]+)<(?P<remaining>[\d:?]+), *(?:(?P<rate>[\d.]+)|\?)(?P<unit>it/s|s/it)(?P<postfix>[^\]]*)\]"
)
_POSTFIX_LOSS = re.compile(r"\b(?:avr_loss|loss)=(?P<loss>[-+]?(?:nan|inf|[\d.]+(?:e[-+]?\d+)?))", re.IGNORECASE)
_EXCEPTION = re.compile(r"^(?P<type>(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Interrupt|Exit)):?\s*(?P<text>.*)$")
_OOM = re.compile(r"OutOfMemoryError|CUDA out of memory")
# What a shell writes to the log it redirects when its child dies from a signal, which leaves no
# Python traceback: bash's "train.sh: line 3: 12345 Killed   python ...", a job line "[1]+ Killed
# ...", or the bare word (SIGKILL from the host's out-of-memory killer, SIGSEGV, SIGABRT, ...).
_SHELL_DEATH = re.compile(
    r"^(?:.*: line \d+: +\d+ +|\[\d+\][+-]? +)?"
    r"(?P<signal>Killed|Segmentation fault|Aborted|Bus error|Illegal instruction|Terminated)(?: \(core dumped\))?(?: +.*)?$"
)


@dataclass(frozen=True)
class _Marks:
    """Every trainer's log lines, joined once (loragate.backends.failures)."""

    known: KnownFailures
    progress: frozenset[str]
    restart: tuple[str, ...]
    epoch: tuple[re.Pattern[str], ...]
    saving: tuple[re.Pattern[str], ...]
    removing: tuple[re.Pattern[str], ...]
    model_saved: tuple[str, ...]
    no_data: tuple[str, ...]  # the runs that found nothing to train


@lru_cache(maxsize=1)
def _marks() -> _Marks:
    known = known_failures()
    logs = known.logs
    return _Marks(
        known=known, progress=frozenset(log.progress for log in logs), restart=tuple(log.restart for log in logs),
        epoch=tuple(log.epoch for log in logs), saving=tuple(log.saving for log in logs),
        removing=tuple(log.removing for log in logs), model_saved=tuple(log.model_saved for log in logs),
        no_data=tuple(t for entry in known.texts("no_samples") for t in entry.texts),
    )


def _search(patterns: tuple[re.Pattern[str], ...], text: str) -> re.Match[str] | None:
    return next((m for p in patterns for m in [p.search(text)] if m), None)


class LogFacts(BaseModel):
    """What a log has said so far; saved between polls."""

    step: int | None = None
    total_steps: int | None = None
    elapsed_seconds: float | None = None
    rate: float | None = Field(default=None, description="Steps per second, as tqdm measured it.")
    loss: float | None = Field(default=None, description="Latest avr_loss.")
    epoch: int | None = None
    total_epochs: int | None = None
    losses: list[tuple[int, float]] = Field(default_factory=list, description="(step, avr_loss), thinned.")
    stride: int = Field(default=1, description="Keep one point every `stride` steps once thinned.")
    saved: list[str] = Field(default_factory=list, description="Checkpoint paths the log says were saved.")
    removed: list[str] = Field(default_factory=list)
    model_saved: bool = False
    nan_at_step: int | None = None
    oom: str | None = Field(default=None, description="The out-of-memory line.")
    exception: str | None = Field(default=None, description="Last line of the trainer's own traceback.")
    launcher_error: str | None = Field(default=None, description="accelerate's CalledProcessError line.")
    no_data: str | None = None
    error_line: str | None = Field(default=None, description="The last ERROR log line.")
    killed: str | None = Field(default=None, description="The shell's line saying the trainer died from a signal (Killed, Segmentation fault...).")
    restarts: int = 0
    found_nothing: str | None = Field(default=None, description="musubi's 'found 0 images' line, while no dataset found any.")
    found_something: bool = False
    quiet: dict[str, str] = Field(default_factory=dict, description="Problems the trainer only mentions (loragate.runs.quiet): code -> line.")
    rich_record: str | None = Field(default=None, description="A rich log record that may still continue on the next line.")
    first_step: int | None = Field(default=None, description="The first step tqdm showed done, and its elapsed time:")
    first_step_elapsed: float | None = Field(default=None, description="the speed is measured after it (loading, caching and "
                                             "warm-up make the first step slow).")
    tqdm_seen: int = 0
    in_traceback: bool = False
    lines_parsed: int = 0

    @property
    def seconds_per_step(self) -> float | None:
        """Seconds per step. tqdm's figure is a moving average that still holds the first step, which
        also builds the optimizer state and warms the caches (seconds on a GPU, minutes on a CPU); so
        for the first steps the time since the first step is used, until tqdm's average has forgotten it."""
        if (self.first_step is not None and self.first_step_elapsed is not None and self.step is not None
                and self.elapsed_seconds is not None and 0 < self.step - self.first_step < FIRST_STEP_WINDOW):
            spent = self.elapsed_seconds - self.first_step_elapsed
            if spent >= 1:  # tqdm shows whole seconds: below that the difference says nothing
                return spent / (self.step - self.first_step)
        return 1 / self.rate if self.rate else None


def _clock(text: str) -> float:
    total = 0.0
    for part in text.split(":"):
        total = total * 60 + float(part)
    return total


def _to_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


class LogParser:
    """Feed it text as it arrives; `facts` is always current."""

    def __init__(self, facts: LogFacts | None = None) -> None:
        self.facts = facts or LogFacts()

    def feed_segments(self, segments: list[str]) -> None:
        # tqdm rewrites one status line per step; each overrides the last, so only every
        # `stride`-th one (what the thinned loss series keeps) and the newest need parsing.
        # Once a log has shown many updates, at least every SAMPLE_EVERY-th is read even when
        # the step did not move (inner bars, repeated refreshes). A NaN, which stays in
        # avr_loss for a whole epoch, is therefore noticed within a few steps.
        f = self.facts
        held: str | None = None
        seen = f.tqdm_seen  # a local: attribute writes on the pydantic model are slow per line
        for raw in segments:
            if not raw:
                continue
            if "%|" in raw and not f.in_traceback:
                seen += 1
                every = f.stride if seen <= 2 * MAX_POINTS else max(f.stride, SAMPLE_EVERY)
                if seen % every:
                    held = raw
                    continue
                held = None
            elif held is not None:
                self._segment(held)
                held = None
            self._segment(raw)
        if held is not None:
            self._segment(held)
        f.tqdm_seen = seen
        if f.rich_record is not None:
            self._plain(f.rich_record, partial=True)  # the log may end inside it; read again when it is whole

    def peek(self, partial: str) -> None:
        """A segment still being written (tqdm's current status): only progress is taken from it,
        which a later full parse repeats harmlessly."""
        if "%|" in partial:
            self._progress(_ANSI.sub("", partial))

    # --- one segment (the text between two \r or \n) -------------------------------------
    def _segment(self, raw: str) -> None:
        f = self.facts
        f.lines_parsed += 1
        line = _ANSI.sub("", raw) if "\x1b" in raw else raw
        if "%|" in line:
            end = self._progress(line)
            if end is not None:
                rest = line[end:]
                if rest.strip():
                    self._segment(rest)  # text glued to tqdm's unfinished status line (a shell's "Killed", a traceback)
                return
        text = line.strip()
        if not text:
            return
        if f.rich_record is not None:
            more = CONTINUATION.match(line)
            if more and not f.in_traceback:
                f.rich_record += " " + more["text"]
                return
            record, f.rich_record = f.rich_record, None
            self._plain(record)
        if not f.in_traceback:
            start = RECORD.match(line)
            if start:
                f.rich_record = record_text(start)
                return
        if f.in_traceback and (line.startswith(" ") or line.startswith("\t")):
            return
        if text.startswith("Traceback (most recent call last)"):
            f.in_traceback = True
            return
        exc = _EXCEPTION.match(text)
        if exc and (f.in_traceback or exc.group("type").endswith(("Error", "Exception"))):
            f.in_traceback = False
            self._exception(text, exc.group("type"))
            return
        f.in_traceback = False
        death = _SHELL_DEATH.match(text)
        if death:
            f.killed = text
            return
        self._plain(text)

    def _exception(self, text: str, kind: str) -> None:
        f = self.facts
        if kind.endswith("CalledProcessError"):
            f.launcher_error = text
            return
        f.exception = text
        if _OOM.search(text):
            f.oom = text

    def _plain(self, text: str, partial: bool = False) -> None:
        """One line or log record; `partial`: a record that may go on, read now only for what reading
        it again later cannot double (not a restart)."""
        f = self.facts
        marks = _marks()
        if any(r in text for r in marks.restart) and (f.step or f.exception) and not partial:
            self._restart()
        found = marks.known.found_counts(text) if "found" in text else []  # cheap gate: every dataset count says "found"
        if found:
            if found[0][0]:
                f.found_something, f.found_nothing = True, None
            elif not f.found_something:
                f.found_nothing = text
        if "No " in text or "found" in text:  # cheap gate before the patterns
            for problem, line, _ in quiet_problems([text]):
                f.quiet.setdefault(problem.code, line)
        epoch = _search(marks.epoch, text)
        if epoch:
            f.epoch, f.total_epochs = int(epoch["n"]), int(epoch["total"])
            return
        saving = _search(marks.saving, text)
        if saving:
            if saving["path"] not in f.saved:
                f.saved.append(saving["path"])
            return
        removing = _search(marks.removing, text)
        if removing:
            if removing["path"] not in f.removed:
                f.removed.append(removing["path"])
            return
        if any(m in text for m in marks.model_saved):
            f.model_saved = True
        elif _OOM.search(text):
            f.oom = text
        elif any(marker in text for marker in marks.no_data):
            f.no_data = text
        elif " ERROR " in f" {text[:40]} " or text.startswith("ERROR:"):
            f.error_line = text

    def _restart(self) -> None:
        """A new attempt appended to the same log: its failures and progress start afresh."""
        f = self.facts
        f.restarts += 1
        f.step = f.total_steps = f.elapsed_seconds = f.rate = f.loss = None
        f.epoch = f.total_epochs = f.nan_at_step = None
        f.oom = f.exception = f.launcher_error = f.no_data = f.error_line = f.killed = f.rich_record = None
        f.first_step = f.first_step_elapsed = None
        f.losses, f.stride, f.model_saved = [], 1, False

    def _progress(self, line: str) -> int | None:
        """Take the step, loss and speed from the last tqdm status in `line`; the index where it
        ends, or None when the line holds none."""
        match = None
        for match in _TQDM.finditer(line):  # noqa: B007 - the last status is the one kept
            pass
        if match is None:
            return None
        if match["desc"].strip() not in _marks().progress:
            return match.end()
        f = self.facts
        n, total = int(match["n"]), int(match["total"])
        if f.step is not None and n < f.step and f.total_steps == total and n <= 1 and f.step > 1:
            self._restart()
        f.step, f.total_steps = n, total
        f.elapsed_seconds = _clock(match["elapsed"])
        if n > 0 and f.first_step is None:
            f.first_step, f.first_step_elapsed = n, f.elapsed_seconds
        if match["rate"]:
            rate = float(match["rate"])
            f.rate = (1 / rate if rate else None) if match["unit"] == "s/it" else rate
        loss = _POSTFIX_LOSS.search(match["postfix"] or "")
        if loss and n > 0:
            value = _to_float(loss["loss"])
            f.loss = value
            if not math.isfinite(value) and f.nan_at_step is None:
                f.nan_at_step = n
            self._record(n, value)
        return match.end()

    def _record(self, step: int, loss: float) -> None:
        f = self.facts
        if f.losses and step <= f.losses[-1][0]:
            return
        if f.losses and step - f.losses[-1][0] < f.stride:
            return
        f.losses.append((step, loss))
        if len(f.losses) > MAX_POINTS:
            f.losses = f.losses[::2]
            f.stride *= 2


def split_segments(data: bytes) -> tuple[list[str], bytes]:
    """Complete segments (ended by \\r or \\n) and the unfinished tail, which stays bytes so a
    multi-byte character cut by the read is decoded whole next time."""
    cut = max(data.rfind(b"\n"), data.rfind(b"\r"))
    if cut < 0:
        return [], data
    text = data[: cut + 1].decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")[:-1], data[cut + 1 :]
