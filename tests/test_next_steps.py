"""Next steps are said once by the engine and rendered by each door: a command line for the CLI,
a call of the tool of the same name for MCP. Neither door can drift from the other."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import anyio
import pytest
import typer
from mcp import Client
from typer.testing import CliRunner

from loragate.cli import app
from loragate.cli.nextstep import CLI_FORMS, command_line
from loragate.core.errors import LoragateError
from loragate.gates.ledger import gate_status
from loragate.core.nextstep import ACTIONS, NextStep, step
from mcp_server.nextstep import error_text
from mcp_server.server import build_server


def _tool_schemas() -> dict[str, dict[str, Any]]:
    async def schemas() -> dict[str, dict[str, Any]]:
        async with Client(build_server()) as client:
            return {t.name: t.input_schema for t in (await client.list_tools()).tools}

    return anyio.run(schemas)


def test_every_action_is_an_mcp_tool_and_a_cli_command_with_the_same_arguments() -> None:
    tools = _tool_schemas()
    group = typer.main.get_command(app)
    assert set(CLI_FORMS) == set(ACTIONS)
    for action, form in CLI_FORMS.items():
        assert action in tools, action
        properties = set(tools[action]["properties"])
        assert set(form.positional) | set(form.options) <= properties, (action, set(form.positional) | set(form.options) - properties)
        # the command words and every option exist in the CLI
        command: Any = group
        for word in form.words:
            command = command.get_command(None, word)  # type: ignore[union-attr]
            assert command is not None, (action, word)
        flags = {opt for param in command.params for opt in param.opts}
        assert set(form.options.values()) <= flags, (action, set(form.options.values()) - flags)


def test_a_step_renders_as_a_command_that_parses_and_as_a_tool_call() -> None:
    audit = step("audit_dataset", dataset="/data/my set", trigger="mira woman", model="sdxl", name="mira", caption_extension=None)
    line = command_line(audit)
    assert line == "loragate audit '/data/my set' --trigger 'mira woman' --model sdxl --name mira"
    assert shlex.split(line)[2] == "/data/my set"
    assert command_line(step("continue_run", project="mira")) == "loragate continue mira --from CHECKPOINT"
    err = LoragateError("Gate 1 is stale.", "Audit the dataset again.", audit)
    text = error_text(err)
    assert "loragate" not in text.replace("grimoire", "")
    assert 'call the tool audit_dataset with {"dataset": "/data/my set", "trigger": "mira woman"' in text


def test_an_unknown_action_is_refused() -> None:
    with pytest.raises(ValueError):
        NextStep(action="rm_rf", args={})


def test_mcp_gate_status_carries_tool_calls_not_shell_commands(workspace: Path) -> None:
    (workspace / "grimoire" / "training" / "p").mkdir(parents=True)
    status = gate_status("p")
    assert [s.next.action for s in status.gates] == ["audit_dataset", "check_plan", "validate_env", "dry_run", "evaluate", "cloud_up"]
    dumped = status.model_dump_json()
    assert "loragate " not in dumped


def test_cli_error_shows_the_command_to_run(workspace: Path) -> None:
    result = CliRunner().invoke(app, ["plan", "check", "nothing_here"], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert "run: loragate plan new nothing_here --model MODEL --dataset DATASET --trigger TRIGGER" in result.stderr
