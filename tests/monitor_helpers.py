"""Shared by the monitor tests: fixture logs with their output folder filled in, tqdm lines."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "logs"


def fixture_log(name: str, dest: Path, out: Path) -> Path:
    """Copy a fixture log, pointing its `{OUT}` checkpoint paths at `out`."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes((FIXTURES / name).read_bytes().replace(b"{OUT}", str(out).encode()))
    return dest


def tqdm(n: int, total: int, loss: float, seconds_per_step: float = 0.5) -> str:
    """A tqdm status as the trainers print it (reference sd-scripts.md section 4.2)."""
    pct = 100 * n // total
    bar = ("█" * (pct // 10)).ljust(10)
    elapsed = int(n * seconds_per_step)
    left = int((total - n) * seconds_per_step)
    rate = f"{1 / seconds_per_step:5.2f}it/s" if seconds_per_step <= 1 else f"{seconds_per_step:5.2f}s/it"
    return (f"\rsteps: {pct:3d}%|{bar}| {n}/{total} [{elapsed // 60:02d}:{elapsed % 60:02d}<"
            f"{left // 60:02d}:{left % 60:02d}, {rate}, avr_loss={loss:.3g}]")
