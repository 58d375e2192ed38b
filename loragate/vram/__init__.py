"""VRAM in layers: a pure first-principles estimate checked against published figures (estimate), a
per-machine correction learned from dry runs on top of it (calibration), and the fit plan above both
(fitplan); `estimate_vram` (answer) puts them together for every door."""

from loragate.vram.calibration import record_measurement
from loragate.vram.changes import MemoryChange, cheaper_changes
from loragate.vram.answer import estimate_vram, machine_correction
from loragate.vram.estimate import base_estimate
from loragate.vram.model import FitStep, VramEstimate, VramRequest, make_request
from loragate.vram.plan import apply_to_plan, plan_levers, request_from_plan

__all__ = [
    "FitStep", "MemoryChange", "VramEstimate", "VramRequest", "apply_to_plan", "base_estimate", "cheaper_changes",
    "estimate_vram", "machine_correction",
    "make_request", "plan_levers", "record_measurement", "request_from_plan",
]
