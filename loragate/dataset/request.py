"""What a dataset audit (Gate 1) takes, as one model for both doors: `loragate audit` and MCP's
audit_dataset build the same AuditRequest, so a choice cannot differ between them and a bad value
is refused with the same sentence (loragate.plain.describe_validation). Light: pydantic only, so
the MCP server can offer the tool without importing the image engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from loragate.core.vocabulary import TrainingType
from loragate.plain import door_request


class AuditRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: Path
    trigger: str | None = None
    model: str | None = None
    training_type: TrainingType | None = None
    name: str | None = None
    caption_extension: str = ".txt"


def audit_request(**values: Any) -> AuditRequest:
    """An AuditRequest from a door's arguments; a value it refuses is said in words (exit 2)."""
    return door_request(AuditRequest, values, "The dataset cannot be audited",
                        "Correct it and audit again.")
