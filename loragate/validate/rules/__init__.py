"""Every validator rule, registered by importing its module (each adds itself to RULES)."""

from __future__ import annotations

from loragate.validate.rules import (  # noqa: F401 - imported for registration
    caching,
    captions_read,
    dataset_folders,
    dataset_toml,
    flags,
    learning_rate,
    lightning,
    lycoris,
    memory,
    model,
    one_frame,
    paths,
    precision,
    run_length,
    sd_families,
    sdscripts,
    timesteps,
)
from loragate.validate.rules.base import RULES, Hit, Rule, Setup

__all__ = ["RULES", "Hit", "Rule", "Setup"]
