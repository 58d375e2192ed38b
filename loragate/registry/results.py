"""What registering and listing LoRAs answer, apart from the engine: the MCP server builds its tools
(their output schemas) from these without importing it."""

from __future__ import annotations

from pydantic import BaseModel, Field

from loragate.registry.studio_loras import RegisteredLora


class Registration(BaseModel):
    lora: RegisteredLora
    studio_md: str
    status_md: str
    sidecar: str = Field(description="The JSON written beside the LoRA file.")
    archived: list[str] = Field(default_factory=list, description="Evaluation pictures copied into training/NAME/eval/.")
    changed: bool = Field(description="False when this exact registration was already there.")


class LoraList(BaseModel):
    studio_md: str
    loras: list[RegisteredLora]
