"""The config validator: trainer commands, config TOMLs and dataset TOMLs checked together."""

from loragate.validate.validate import InvocationSummary, ValidationReport, validate_commands, validate_files

__all__ = ["InvocationSummary", "ValidationReport", "validate_commands", "validate_files"]
