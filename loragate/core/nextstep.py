"""The next step a finding, an error or a gate state points to, said once for every door.

The engine names an operation and its arguments; it never writes a shell command. The CLI
renders a step as a `loragate ...` command line (loragate.cli.nextstep), the MCP server as a
call of the tool with the same name and arguments (mcp_server.nextstep). An action is the
operation's MCP tool name and `args` use that tool's argument names, so a step is already the
tool call MCP clients make.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

ArgValue = str | int | float | bool | list[str]

# Every operation a next step may name. The doors test that each one renders.
ACTIONS = (
    "audit_dataset",
    "find_duplicates",
    "quarantine_files",
    "generate_config",
    "check_plan",
    "validate_config",
    "validate_env",
    "dry_run",
    "gate_status",
    "launch",
    "monitor",
    "stop",
    "adopt_run",
    "continue_run",
    "evaluate",
    "cloud_up",
)


class NextStep(BaseModel):
    """An operation to run next, with the arguments that are known. An argument left out is one
    the person must supply (the CLI shows it as a placeholder such as DATASET)."""

    action: str = Field(description="The operation: an MCP tool name such as audit_dataset or check_plan.")
    args: dict[str, ArgValue] = Field(default_factory=dict, description="Its arguments, by the MCP tool's names.")

    def model_post_init(self, _: object) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown next-step action {self.action!r}")


def step(action: str, **args: ArgValue | None) -> NextStep:
    """A NextStep, leaving out the arguments that are None (unknown here)."""
    return NextStep(action=action, args={k: v for k, v in args.items() if v is not None})
