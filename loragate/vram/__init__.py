"""VRAM: a first-principles estimate calibrated on published figures, a fit plan, and a per-machine
correction learned from dry runs."""

from loragate.vram.calibration import record_measurement
from loragate.vram.estimate import estimate_vram
from loragate.vram.model import FitStep, VramEstimate, VramRequest, make_request
from loragate.vram.plan import request_from_plan

__all__ = ["FitStep", "VramEstimate", "VramRequest", "estimate_vram", "make_request", "record_measurement", "request_from_plan"]
