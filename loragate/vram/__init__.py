"""VRAM: a first-principles estimate calibrated on published figures, a fit plan, and a per-machine
correction learned from dry runs."""

from loragate.vram.calibration import record_measurement
from loragate.vram.changes import MemoryChange, cheaper_changes
from loragate.vram.estimate import estimate_vram
from loragate.vram.model import FitStep, VramEstimate, VramRequest, make_request
from loragate.vram.plan import apply_to_plan, plan_levers, request_from_plan

__all__ = [
    "FitStep", "MemoryChange", "VramEstimate", "VramRequest", "apply_to_plan", "cheaper_changes", "estimate_vram",
    "make_request", "plan_levers", "record_measurement", "request_from_plan",
]
