"""What the trainers print, in their real formats.

- tqdm progress on stderr with `\\r` between updates, desc "steps", 10-character bar when the
  output is not a terminal (reference sd-scripts.md section 4.2, musubi-tuner.md section 3).
- print()/accelerator.print() on stdout; logging on stderr (musubi: `INFO:<module>:<msg>`,
  sd-scripts: rich-style `YYYY-mm-dd HH:MM:SS INFO     msg     file.py:line`).
"""

from __future__ import annotations

import os
import sys
import textwrap
import time

_BLOCKS = " ▏▎▍▌▋▊▉█"  # tqdm's unicode charset: 8 partial steps per cell
_BAR_CELLS = 10


def out(text: str = "") -> None:
    """stdout, flushed so the merged log keeps the order a terminal would show."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def err(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


class Logger:
    """The trainer's logging: musubi uses logging.basicConfig, sd-scripts a rich handler."""

    _last_stamp = ""  # rich leaves the time column blank while it repeats

    def __init__(self, flavour: str, module: str, source: str) -> None:
        self.flavour, self.module, self.source = flavour, module, source

    def _emit(self, level: str, message: str) -> None:
        if self.flavour == "musubi":
            err(f"{level}:{self.module}:{message}")
            return
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        shown = stamp if stamp != Logger._last_stamp else " " * len(stamp)
        Logger._last_stamp = stamp
        err("\n".join(rich_record(shown, level, message, self.source)))

    def info(self, message: str) -> None:
        self._emit("INFO", message)

    def warning(self, message: str) -> None:
        self._emit("WARNING", message)

    def error(self, message: str) -> None:
        self._emit("ERROR", message)


def rich_record(stamp: str, level: str, message: str, source: str) -> list[str]:
    """A record as rich's log handler lays it out on a console COLUMNS wide (80 when unset, as for a
    file): time, level, the message wrapped in the middle column, the source at the right margin,
    every line padded to the full width."""
    width = int(os.environ.get("COLUMNS") or 80)
    left = len(stamp) + 1 + 9
    column = max(10, width - left - len(source) - 1)
    parts = textwrap.wrap(message, column, break_on_hyphens=False) or [""]
    lines = [f"{stamp} {level:<8} {parts[0]:<{column}} {source}"]
    lines += [f"{'':<{left}}{part:<{width - left}}" for part in parts[1:]]
    return lines


def format_interval(seconds: float) -> str:
    mins, secs = divmod(int(seconds), 60)
    hours, mins = divmod(mins, 60)
    return f"{hours:d}:{mins:02d}:{secs:02d}" if hours else f"{mins:02d}:{secs:02d}"


def format_num(value: float) -> str:
    """tqdm.format_num: 3 significant digits unless str() is shorter."""
    short = f"{value:.3g}".replace("+0", "+").replace("-0", "-")
    plain = str(value)
    return short if len(short) < len(plain) else plain


def tqdm_line(desc: str, n: int, total: int, elapsed: float, postfix: dict[str, float] | None = None) -> str:
    """One tqdm status, e.g. `steps:  40%|████      | 40/100 [00:10<00:15,  3.95it/s, avr_loss=0.0821]`."""
    frac = n / total if total else 0.0
    bar_len, part = divmod(int(frac * _BAR_CELLS * 8), 8)
    bar = _BLOCKS[-1] * bar_len
    if bar_len < _BAR_CELLS:
        bar += _BLOCKS[part] + " " * (_BAR_CELLS - bar_len - 1)
    rate = n / elapsed if elapsed > 0 and n else None
    if rate is None:
        rate_fmt, remaining = "?it/s", "?"
    else:
        rate_fmt = f"{1 / rate:5.2f}s/it" if rate < 1 else f"{rate:5.2f}it/s"
        remaining = format_interval((total - n) / rate)
    tail = "".join(f", {k}={format_num(v) if isinstance(v, float) else v}" for k, v in sorted((postfix or {}).items()))
    return f"{desc}: {frac * 100:3.0f}%|{bar}| {n}/{total} [{format_interval(elapsed)}<{remaining}, {rate_fmt}{tail}]"


class Progress:
    """A tqdm bar writing `\\r`-separated updates to stderr, ended by a newline on close."""

    def __init__(self, total: int, desc: str = "steps") -> None:
        self.total, self.desc, self.n = total, desc, 0
        self.start = time.monotonic()
        self.postfix: dict[str, float] = {}
        self._draw()

    def _draw(self) -> None:
        sys.stderr.write("\r" + tqdm_line(self.desc, self.n, self.total, time.monotonic() - self.start, self.postfix))
        sys.stderr.flush()

    def update(self, n: int = 1, avr_loss: float | None = None) -> None:
        self.n += n
        if avr_loss is not None:
            self.postfix = {"avr_loss": avr_loss}
        self._draw()

    def close(self) -> None:
        self._draw()
        sys.stderr.write("\n")
        sys.stderr.flush()
