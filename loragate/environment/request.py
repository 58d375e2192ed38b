"""What the environment check (Gate 3) takes, as one model for both doors: `loragate env` and MCP's
validate_env build the same EnvRequest, so the trainer choices cannot differ and a bad value is
refused with the same sentence. Light: pydantic only."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from loragate.core.vocabulary import BackendName
from loragate.plain import door_request


class EnvRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: str | None = None
    backend: BackendName | None = None


def env_request(**values: Any) -> EnvRequest:
    """An EnvRequest from a door's arguments; a value it refuses is said in words (exit 2)."""
    return door_request(EnvRequest, values, "The machine cannot be checked",
                        "Correct it and check again.")
