"""Every validator rule, registered by importing its module (each adds itself to RULES).

The rules know the trainers, so they live with the backends: every module of each package in
loragate.backends.RULE_PACKAGES is imported here, in name order (the order rules run and are listed in).
"""

from __future__ import annotations

import pkgutil
from importlib import import_module

from loragate.backends import RULE_PACKAGES
from loragate.validate.rules.base import RULES, Hit, Rule, Setup

for _package in RULE_PACKAGES:
    for _module in sorted(m.name for m in pkgutil.iter_modules(import_module(_package).__path__)):
        import_module(f"{_package}.{_module}")

__all__ = ["RULES", "Hit", "Rule", "Setup"]
