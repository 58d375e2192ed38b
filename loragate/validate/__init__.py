"""The config validator: trainer commands, config TOMLs and dataset TOMLs checked together.

The names below load on first use (PEP 562), so `loragate.validate.report` can be imported, by the
MCP server's tool list, without the rules and parsers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loragate.validate.report import InvocationSummary, ValidationReport
    from loragate.validate.validate import validate_commands, validate_files

__all__ = ["InvocationSummary", "ValidationReport", "validate_commands", "validate_files"]


def __getattr__(name: str) -> Any:
    if name in ("InvocationSummary", "ValidationReport"):
        from loragate.validate import report

        return getattr(report, name)
    if name in ("validate_commands", "validate_files"):
        from loragate.validate import validate

        return getattr(validate, name)
    raise AttributeError(f"module 'loragate.validate' has no attribute {name!r}")
