"""progress.md and the loss-curve PNG of a monitored run, for people to read."""

from __future__ import annotations

import io
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING

from loragate.atomic import atomic_write_bytes

if TYPE_CHECKING:
    from loragate.runs.logtail import TailState
    from loragate.runs.monitor import MonitorReport


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min" if minutes else f"{seconds} s"


def _loss(value: float | None) -> str:
    if value is None:
        return "-"
    return "NaN" if math.isnan(value) else f"{value:.4f}"


def _of(n: int | None, total: int | None) -> str:
    if n is None:
        return "-"
    if not total:
        return str(n)
    return f"{n}/{total} ({100 * n / total:.0f} %)"


def loss_text(r: "MonitorReport") -> str:
    """The loss line: one value, or each Wan 2.2 expert's."""
    if len(r.streams) > 1:
        return ", ".join(f"{s.expert or s.role} {_loss(s.loss)}" for s in r.streams)
    return _loss(r.loss)


def speed_text(r: "MonitorReport") -> str:
    """Seconds per step: one value, or each expert's (the slower one sets the time left)."""
    if len(r.streams) > 1:
        return ", ".join(f"{s.expert or s.role} {s.seconds_per_step:.2f} s/step" if s.seconds_per_step else f"{s.expert or s.role} -"
                         for s in r.streams)
    return f"{1 / r.rate:.2f} s/step" if r.rate else "-"


def render_progress_md(r: "MonitorReport") -> str:
    title = r.project or (Path(r.logs[0]).name if r.logs else "training")
    lines = [f"# Progress: {title}", "", f"**Status: {r.status}**", ""]
    if r.cause:
        lines += [f"- Why: {r.cause}"]
        if r.fix:
            lines += [f"- What to do: {r.fix}"]
        lines += [""]
    lines += [
        f"- Step: {_of(r.step, r.total_steps)}",
        f"- Epoch: {_of(r.epoch, r.total_epochs)}",
        f"- Loss (smoothed by the trainer): {loss_text(r)}",
        f"- Speed: {speed_text(r)}",
        f"- Time left: {duration(r.eta_seconds) if r.status == 'RUNNING' else '-'}",
        f"- GPU memory: {f'{r.vram_gb:.1f} GB' if r.vram_gb is not None else 'not measured'}",
        f"- Updated: {r.checked_at:%Y-%m-%d %H:%M:%S} UTC",
        "",
    ]
    if r.notes:
        lines += [f"> {note}" for note in r.notes] + [""]
    if len(r.streams) > 1:
        lines += ["## Experts", "", "| expert | status | step | loss | time left |", "|---|---|---|---|---|"]
        for s in r.streams:
            lines.append(f"| {s.expert or s.role} | {s.status} | {_of(s.step, s.total_steps)} | {_loss(s.loss)} | {duration(s.eta_seconds)} |")
        lines.append("")
    lines += ["## Warnings", ""]
    lines += [f"- {a.code}: {a.message}" for a in r.anomalies] or ["- none"]
    lines += ["", "## Checkpoints", ""]
    if r.checkpoints:
        lines += ["| file | kind | size | kept |", "|---|---|---|---|"]
        for c in r.checkpoints:
            kept = "final" if c.kind == "final" else ("pinned" if c.pinned else ("yes" if c.keep else "can be pruned"))
            lines.append(f"| {c.file} | {c.kind} | {c.size_bytes / 1e6:.1f} MB | {kept} |")
        if r.prunable and r.project:
            lines += ["", f"{len(r.prunable)} older checkpoint(s) can be removed with `loragate checkpoints {r.project} --prune` "
                          "(the final file and pinned ones are never removed)."]
    else:
        lines.append("- none yet")
    if r.events:
        lines += ["", "## Events", ""] + [f"- {e}" for e in r.events]
    lines += ["", "## Logs", ""] + [f"- {p}" for p in r.logs]
    if r.loss_plot:
        lines += ["", f"![loss curve]({Path(r.loss_plot).name})"]
    if r.samples_sheet:
        lines += ["", f"![samples at each checkpoint]({Path(r.samples_sheet).name})"] + ([r.samples_note] if r.samples_note else [])
    return "\n".join(lines) + "\n"


def _signature(states: dict[str, "TailState"]) -> list[tuple[str, int, int]]:
    return sorted((k, len(v.facts.losses), v.facts.losses[-1][0] if v.facts.losses else -1) for k, v in states.items())


PLOT_EVERY_S = 60  # while running, redraw at most this often: a poll should cost milliseconds


def write_loss_plot(path: Path, states: dict[str, "TailState"], previous: dict[str, "TailState"], final: bool = False) -> Path | None:
    """Draw avr_loss per log with its moving average; skipped when nothing changed since the last
    drawing, or (unless the run has ended) when that drawing is less than a minute old."""
    if not any(s.facts.losses for s in states.values()):
        return None
    if path.exists():
        if _signature(states) == _signature(previous):
            return path
        if not final and time.time() - path.stat().st_mtime < PLOT_EVERY_S:
            return path
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from loragate.runs.anomalies import ema

    figure = Figure(figsize=(8, 4), dpi=100)
    axes = figure.add_subplot()
    for log, state in states.items():
        points = [(s, v) for s, v in state.facts.losses if math.isfinite(v)]
        if not points:
            continue
        steps, values = zip(*points)
        label = Path(log).stem
        axes.plot(steps, values, linewidth=0.8, alpha=0.5, label=f"{label} avr_loss")
        axes.plot(steps, ema(list(values)), linewidth=1.6, label=f"{label} smoothed")
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper right", fontsize="small")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    atomic_write_bytes(path, buffer.getvalue())
    return path
