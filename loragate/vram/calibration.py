"""Per-machine VRAM correction learned from dry runs.

The dry run (Gate 4) measures the real peak of a few training steps and calls `record_measurement`;
the ratio measured / estimated is stored per GPU setup (`hardware_fingerprint`: host, GPU models and
driver, which is what memory behaviour depends on; a pip install or a trainer update keeps it) and model
family in
`$LORAGATE_CACHE_DIR/vram-calibration.json` (else `grimoire/vram-calibration.json`). Later estimates on
the same machine multiply by the median of that family's recent ratios (or, when the family itself
has not been measured yet, those of the families tuned like it: catalog.models.Tuning) and say so in
their notes.

This is the middle layer: `correction_for` reads this machine's factor, `apply_correction` puts it on
top of the pure estimate (loragate.vram.estimate.base_estimate), which never reads this file.
"""

from __future__ import annotations

import os
import statistics
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from loragate.atomic import atomic_write_json
from loragate.catalog.models import get_family
from loragate.core.errors import LoragateError
from loragate.fsguard import read_json_object
from loragate.vram.estimate import base_estimate, fits
from loragate.vram.model import Correction, VramEstimate, VramRequest
from loragate.workspace import grimoire_dir

CALIBRATION_FILE = "vram-calibration.json"
_RECENT = 5  # the median of the last few runs follows driver/torch upgrades without one outlier taking over
_BOUNDS = (0.5, 2.0)  # a ratio outside this is a broken measurement, not a calibration


# Records written before families had a `tuning` kept it in `group`, where "wan" meant every
# musubi-tuner DiT (Qwen-Image, Z-Image, FLUX.2 ... too): read so, they pool as they always did.
_LEGACY_GROUP_TUNING = {"wan": "musubi-dit"}


class Measurement(BaseModel):
    family: str
    group: str = Field(description="The family's model line (catalog.models.FamilyGroup).")
    tuning: str = Field(description="The families it pools with when this family has no ratios of its own.")
    estimated_gb: float = Field(description="Uncorrected estimate for the measured request.")
    measured_gb: float
    ratio: float
    request: VramRequest
    at: datetime


def calibration_path() -> Path:
    cache = os.environ.get("LORAGATE_CACHE_DIR")
    return (Path(cache).expanduser() if cache else grimoire_dir()) / CALIBRATION_FILE


def _machine(machine: str | None) -> str:
    if machine:
        return machine
    from loragate.environment.machine import hardware_fingerprint

    return hardware_fingerprint()


def _load() -> dict[str, list[dict]]:
    path = calibration_path()
    if not path.exists():
        return {}
    try:
        data = read_json_object(path)
    except (OSError, ValueError):
        return {}  # a damaged file only loses the correction; the estimate still stands
    return data if isinstance(data, dict) else {}


def record_measurement(
    family: str, request: VramRequest, measured_peak_gb: float, machine: str | None = None
) -> Measurement:
    """Store a dry run's measured peak (GB, 1e9 bytes, as `torch.cuda.max_memory_reserved()` or the
    nvidia-smi peak reports it) beside the uncorrected estimate of the same request."""
    fam = get_family(family)
    if request.model != fam.id:
        request = request.model_copy(update={"model": fam.id})
    if not measured_peak_gb > 0:
        raise LoragateError(f"A measured peak of {measured_peak_gb} GB cannot be right.", "Pass the peak in GB, above 0.")
    estimated = base_estimate(request).estimate_gb
    entry = Measurement(
        family=fam.id,
        group=fam.group,
        tuning=fam.tuning,
        estimated_gb=estimated,
        measured_gb=round(measured_peak_gb, 3),
        ratio=round(measured_peak_gb / estimated, 4),
        request=request,
        at=datetime.now(timezone.utc),
    )
    data = _load()
    data.setdefault(_machine(machine), []).append(entry.model_dump(mode="json"))
    path = calibration_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, data)
    return entry


def correction_for(family: str, machine: str | None = None) -> Correction | None:
    """This machine's correction for a family, or None when no usable dry run was recorded."""
    path = calibration_path()
    if not path.exists():
        return None
    fam = get_family(family)
    entries = _load().get(_machine(machine), [])
    usable = [e for e in entries if _BOUNDS[0] <= float(e.get("ratio", 0)) <= _BOUNDS[1]]
    # basis "group" (what Gate 2 reports) is the pool of families tuned alike
    bases: tuple[tuple[Literal["family", "group"], str], ...] = (("family", fam.id), ("group", fam.tuning))
    for basis, value in bases:
        ratios = [float(e["ratio"]) for e in usable if _pool_key(e, basis) == value][-_RECENT:]
        if ratios:
            return Correction(factor=round(statistics.median(ratios), 4), samples=len(ratios), basis=basis, source=str(path))
    return None


def _pool_key(entry: dict, basis: Literal["family", "group"]) -> object:
    """The family a record was measured on, or the tuning it pools by (an old record's group read as one)."""
    if basis == "family":
        return entry.get("family")
    if "tuning" in entry:
        return entry["tuning"]
    group = entry.get("group")
    return _LEGACY_GROUP_TUNING.get(group, group) if isinstance(group, str) else None


def apply_correction(estimate: VramEstimate, correction: Correction | None) -> VramEstimate:
    """The estimate with a machine correction on top, saying so; unchanged without one (or a factor of 1)."""
    if correction is None or correction.factor == 1.0:
        return estimate
    factor = correction.factor
    phases = {name: round(gb * factor, 2) for name, gb in estimate.phases.items()}
    corrected = estimate.model_copy(update={
        "phases": phases,
        "estimate_gb": phases[estimate.peak_phase],
        "breakdown": {k: round(v * factor, 2) for k, v in estimate.breakdown.items()},
        "fits": fits(phases[estimate.peak_phase], estimate.gpu_gb) if estimate.gpu_gb is not None else None,
        "correction": correction,
        "uncorrected_gb": estimate.estimate_gb,
        "notes": [correction_note(estimate, correction), *estimate.notes],
    })
    return corrected


def corrected_estimate(req: VramRequest, correction: Correction | None) -> VramEstimate:
    """The pure estimate of `req` with a given correction on top (the fit plan compares these)."""
    return apply_correction(base_estimate(req), correction)


def correction_note(estimate: VramEstimate, correction: Correction) -> str:
    """One sentence: the factor, what it was learned from, where it is kept, and the number without it."""
    name = get_family(estimate.model).display_name
    measured = name if correction.basis == "family" else f"models like {name}"
    return (f"Corrected by x{correction.factor:.2f} for this machine (without it: {estimate.estimate_gb:.1f} GB), "
            f"learned from {correction.samples} dry run(s) of {measured} recorded in {correction.source}.")
