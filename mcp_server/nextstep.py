"""A next step as the MCP tool call that does it: the action is the tool's name and its arguments
are the tool's own, so only the wording of error text is left to this door."""

from __future__ import annotations

import json

from loragate.core.errors import BadArguments, LoragateError
from loragate.core.nextstep import NextStep


# Where a client finds the values a tool takes, said after any refused argument.
SCHEMA_HINT = "The tool's input schema lists the allowed values."


def tool_call(next_step: NextStep) -> str:
    """`call the tool check_plan with {"name": "mira"}` (arguments the step lacks are the caller's to give)."""
    return f"call the tool {next_step.action} with {json.dumps(next_step.args, ensure_ascii=False)}"


def error_text(exc: LoragateError) -> str:
    """An engine error for the model to read: what happened, what to do, and the tool to call next."""
    text = str(exc)
    if isinstance(exc, BadArguments):
        text += f" {SCHEMA_HINT}"
    if exc.next is not None:
        text += f" Next: {tool_call(exc.next)}."
    return text
