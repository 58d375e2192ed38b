"""The words every stage shares: backends, training types, preset levels, platforms, experts,
stages, precisions. A leaf module: it imports nothing from loragate, so any stage may use it
without depending on another stage's models."""

from __future__ import annotations

from typing import Literal

BackendName = Literal["musubi", "sdscripts"]
TrainingType = Literal["character", "style", "object"]
PresetName = Literal["quick", "standard", "thorough"]
Platform = Literal["local", "runpod", "modal"]
ExpertName = Literal["high", "low"]
ExpertChoice = Literal["high", "low", "both"]  # which Wan 2.2 expert(s) a plan trains
Stage = Literal["cache_latents", "cache_text_encoder", "train"]
Precision = Literal["bf16", "fp16", "fp32"]
