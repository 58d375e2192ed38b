"""TensorBoard scalars of a run, when the trainer wrote event files and `tensorboard` is installed.

Both trainers log through accelerate's TensorBoard tracker into
`{logging_dir}/{log_prefix}{YYYYmmddHHMMSS}/network_train/events.out.tfevents.*` with the tags
`loss/current`, `loss/average`, `lr/<group>` per step and `loss/epoch` (musubi) or
`loss/epoch_average` (sd-scripts) per epoch (reference musubi-tuner.md §3, sd-scripts.md §4.5).
Without the package the monitor still works from the console log; `available()` says which.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

class Scalars(BaseModel):
    files: list[str] = Field(default_factory=list)
    series: dict[str, list[tuple[int, float]]] = Field(default_factory=dict)
    note: str | None = Field(default=None, description="Why no scalars were read, when none were.")

    @property
    def lr(self) -> dict[str, float]:
        return {tag: points[-1][1] for tag, points in self.series.items() if tag.startswith("lr/") and points}


def available() -> bool:
    try:
        import tensorboard.backend.event_processing.event_file_loader  # noqa: F401
    except ImportError:
        return False
    return True


def event_files(logging_dir: Path) -> list[Path]:
    """Event files under a logging dir, newest run last."""
    if not logging_dir.is_dir():
        return []
    return sorted(logging_dir.rglob("events.out.tfevents.*"), key=lambda p: (p.stat().st_mtime, str(p)))


def _value(value) -> float | None:  # noqa: ANN001 - a tensorboard Summary.Value
    kind = value.WhichOneof("value")
    if kind == "simple_value":
        return float(value.simple_value)
    if kind == "tensor":
        from tensorboard.util import tensor_util

        array = tensor_util.make_ndarray(value.tensor)
        return float(array.reshape(-1)[0]) if array.size else None
    return None


def read_scalars(logging_dir: Path) -> Scalars:
    """Every scalar of the newest run's event files."""
    files = event_files(logging_dir)
    if not files:
        return Scalars(note="no TensorBoard event files")
    if not available():
        return Scalars(files=[str(f) for f in files], note="TensorBoard event files exist; install `tensorboard` to read them")
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    newest_run = files[-1].parent
    chosen = [f for f in files if f.parent == newest_run]
    series: dict[str, list[tuple[int, float]]] = {}
    for file in chosen:
        try:
            for event in EventFileLoader(str(file)).Load():
                if not event.HasField("summary"):
                    continue
                for value in event.summary.value:
                    number = _value(value)
                    if number is not None:
                        series.setdefault(value.tag, []).append((int(event.step), number))
        except Exception as exc:  # noqa: BLE001 - a half-written record must not break the monitor
            return Scalars(files=[str(f) for f in chosen], series=series, note=f"event file partly unreadable ({exc.__class__.__name__})")
    for points in series.values():
        points.sort(key=lambda p: p[0])
    return Scalars(files=[str(f) for f in chosen], series=series)
