"""The validator's rules: one module per topic, each registering its checks with `@rule`
(loragate.validate.rules.base). loragate.validate.rules imports every module in this package, in
name order, so a new rule module is a new file here and nothing else."""

from __future__ import annotations

# Importing one rule module first would register it after the others: load them all, in order.
import loragate.validate.rules  # noqa: F401
