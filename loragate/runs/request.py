"""What a dry run (Gate 4) takes, as one model for both doors: `loragate dry-run` and MCP's dry_run
build the same DryRunRequest, so the step bounds exist once and a bad value is refused with the
same sentence. Light: pydantic only."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from loragate.plain import door_request

# Enough steps to prove the pipeline, few enough to be cheap.
MIN_STEPS, MAX_STEPS = 2, 5
DryRunSteps = Annotated[int, Field(ge=MIN_STEPS, le=MAX_STEPS)]


class DryRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    steps: DryRunSteps = MAX_STEPS


def dry_run_request(**values: Any) -> DryRunRequest:
    """A DryRunRequest from a door's arguments; a value it refuses is said in words (exit 2)."""
    return door_request(DryRunRequest, values, "The dry run cannot start",
                        f"Give {MIN_STEPS} to {MAX_STEPS} steps ({MAX_STEPS} is the default): enough to prove the pipeline, "
                        "short enough to be cheap.")
