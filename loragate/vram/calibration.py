"""Per-machine VRAM correction learned from dry runs.

The dry run (Gate 4) measures the real peak of a few training steps and calls `record_measurement`;
the ratio measured / estimated is stored per GPU setup (`hardware_fingerprint`: host, GPU models and
driver, which is what memory behaviour depends on; a pip install or a trainer update keeps it) and model
family in
`$LORAGATE_CACHE_DIR/vram-calibration.json` (else `grimoire/vram-calibration.json`). Later estimates on
the same machine multiply by the median of that family's recent ratios (or its family group's, when
the family itself has not been measured yet) and say so in their notes.
"""

from __future__ import annotations

import os
import statistics
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, Field

from loragate.atomic import atomic_write_json
from loragate.catalog.models import get_family
from loragate.errors import LoragateError
from loragate.fsguard import read_json_object
from loragate.vram.model import VramRequest
from loragate.workspace import grimoire_dir

CALIBRATION_FILE = "vram-calibration.json"
_RECENT = 5  # the median of the last few runs follows driver/torch upgrades without one outlier taking over
_BOUNDS = (0.5, 2.0)  # a ratio outside this is a broken measurement, not a calibration


class Measurement(BaseModel):
    family: str
    group: str
    estimated_gb: float = Field(description="Uncorrected estimate for the measured request.")
    measured_gb: float
    ratio: float
    request: VramRequest
    at: datetime


class Correction(BaseModel):
    factor: float
    samples: int
    basis: str = Field(description="'family' or 'group': what the ratios were measured on.")


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
    from loragate.vram.estimate import estimate_vram

    fam = get_family(family)
    if request.model != fam.id:
        request = request.model_copy(update={"model": fam.id})
    if not measured_peak_gb > 0:
        raise LoragateError(f"A measured peak of {measured_peak_gb} GB cannot be right.", "Pass the peak in GB, above 0.")
    estimated = estimate_vram(request, use_correction=False, fit_plan=False).estimate_gb
    entry = Measurement(
        family=fam.id,
        group=fam.group,
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
    for basis, key, value in (("family", "family", fam.id), ("group", "group", fam.group)):
        ratios = [float(e["ratio"]) for e in usable if e.get(key) == value][-_RECENT:]
        if ratios:
            return Correction(factor=round(statistics.median(ratios), 4), samples=len(ratios), basis=basis)
    return None
