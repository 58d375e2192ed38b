"""The published VRAM figures (loragate/data/vram_published.toml) beside the estimator's answer.

Shared by benchmarks/bench_vram.py and the tests, so the check that keeps the calibration honest is
one piece of code."""

from __future__ import annotations

from pydantic import BaseModel

from loragate.catalog.datafile import read_data_toml
from loragate.vram.estimate import base_estimate
from loragate.vram.model import VramRequest

LOW = 0.7  # an estimate under 70% of a published "fits in X" figure would be uselessly optimistic


class PublishedCheck(BaseModel):
    id: str
    kind: str
    gpu_gb: float
    estimate_gb: float
    ratio: float
    ok: bool
    source: str
    assumed: list[str]
    request: VramRequest


def check_published() -> list[PublishedCheck]:
    """Every published figure with its uncorrected estimate; ok when 0.7 X < estimate <= X."""
    rows = []
    for fig in read_data_toml("vram_published.toml")["figure"]:
        request = VramRequest.model_validate(fig["request"])
        result = base_estimate(request)
        # a measured reading was taken while training; a "fits" claim covers every phase of the run
        estimate = result.phases["training"] if fig["kind"] == "measured" else result.estimate_gb
        ratio = estimate / fig["gpu_gb"]
        rows.append(
            PublishedCheck(
                id=fig["id"], kind=fig["kind"], gpu_gb=fig["gpu_gb"], estimate_gb=estimate, ratio=round(ratio, 3),
                ok=LOW < ratio <= 1.0, source=fig["source"], assumed=fig.get("assumed", []), request=request,
            )
        )
    return rows
