"""What an evaluation will cost before it runs: cells x seconds per cell, and money on a cloud GPU.

Seconds per cell come from, in order: the first cell of this run (measured), the dry run's
seconds per training step scaled to generation (a forward pass is about a third of a training
step, done twice for guidance, for each sampling step), or a typical figure for the family.
"""

from __future__ import annotations

import json

from loragate.catalog.models import ModelFamily
from loragate.evaluate.model import CostEstimate
from loragate.workspace import project_dir

# Typical seconds per picture on a 24 GB card at the standard sizes and steps (a clip: 17 frames), per
# family tuning, with the models the figure was taken on (musubi's other DiTs are counted as Wan).
TYPICAL_S: dict[str, tuple[float, str]] = {"sd": (6.0, "SD"), "flux": (25.0, "FLUX"), "musubi-dit": (150.0, "WAN")}
FORWARD_SHARE = 2 / 3  # two forward passes (guidance) of ~1/3 of a training step each


def _dry_run_seconds(project: str) -> float | None:
    try:
        data = json.loads((project_dir(project) / "dry-run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = data.get("seconds_per_step") if isinstance(data, dict) else None
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def estimate_cost(
    project: str, family: ModelFamily, cells: int, steps: int, gpu: str | None, price_per_hour: float | None,
    measured_s: float | None = None, engine: str = "scripts",
) -> CostEstimate:
    if measured_s is not None:
        per, source = measured_s, "measured on the first cell"
    elif (train_s := _dry_run_seconds(project)) is not None:
        per, source = train_s * FORWARD_SHARE * steps, "the dry run's seconds per step"
    else:
        per, taken_on = TYPICAL_S[family.tuning]
        source = f"a typical {taken_on} figure for a 24 GB card"
    if engine == "scripts" and family.tuning != "sd":
        per += 30.0 if family.tuning == "flux" else 60.0  # each cell is its own process: the model loads every time
        source += ", plus model loading per process"
    total = round(per * cells, 1)
    price = round(total / 3600 * price_per_hour, 2) if price_per_hour else None
    return CostEstimate(
        cells=cells, seconds_per_cell=round(per, 1), source=source, total_seconds=total, gpu=gpu,
        price_per_hour=price_per_hour, price=price,
    )


def cost_text(cost: CostEstimate) -> str:
    minutes = cost.total_seconds / 60
    text = f"{cost.cells} pictures x {cost.seconds_per_cell:.0f} s ({cost.source}) = about {minutes:.0f} min"
    if cost.gpu:
        text += f" on the {cost.gpu}"
    if cost.price is not None:
        text += f", about {cost.price:.2f} at {cost.price_per_hour:.2f} per hour"
    return text
