"""The VRAM answer every door shows, in three layers: the pure estimate (loragate.vram.estimate, the
same for a request everywhere), this machine's correction from dry runs on top (loragate.vram.calibration,
named in the notes with its factor and file whenever it changes a number), and the fit plan above both
(loragate.vram.fitplan, judged with that same correction)."""

from __future__ import annotations

from loragate.vram.calibration import apply_correction, correction_for
from loragate.vram.estimate import base_estimate
from loragate.vram.fitplan import plan_fit
from loragate.vram.model import Correction, VramEstimate, VramRequest


def machine_correction(req: VramRequest, use_correction: bool = True) -> Correction | None:
    """This machine's correction for the request's family (None when off or never measured)."""
    return correction_for(req.model) if use_correction else None


def estimate_vram(req: VramRequest, *, use_correction: bool = True, fit_plan: bool = True) -> VramEstimate:
    """Peak GPU memory of a LoRA training configuration and host RAM; with gpu_gb, whether it fits with
    the 20% margin and the cheapest changes that make it fit. `use_correction=False` is the pure estimate."""
    correction = machine_correction(req, use_correction)
    estimate = apply_correction(base_estimate(req), correction)
    if estimate.fits is False and fit_plan:
        estimate.fit_plan = plan_fit(req, correction=correction)
    return estimate
