"""The MCP door: launch asks the user first (both protocol eras), a decline launches nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp import Client
from mcp.types import ElicitResult
from typer.testing import CliRunner

from loragate.cli import app
from loragate.runs.job import read_job
from mcp_server.server import build_server
from tests.runs_fixtures import fakes_env, pass_gates, wait_for_job, wan_plan  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("fakes_env")


def _answer(proceed: bool | None):
    async def callback(context, params):  # noqa: ANN001, ANN202
        if proceed is None:
            return ElicitResult(action="decline")
        return ElicitResult(action="accept", content={"proceed": proceed})

    return callback


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_launch_declined_launches_nothing(workspace: Path, mode: str) -> None:
    plan = wan_plan(workspace)
    pass_gates(workspace, plan)
    async with Client(build_server(), mode=mode, elicitation_callback=_answer(None)) as client:
        tool = next(t for t in (await client.list_tools()).tools if t.name == "launch")
        assert tool.annotations.read_only_hint is False and tool.annotations.idempotent_hint is False
        assert (tool.meta or {}).get("anthropic/requiresUserInteraction") is True
        assert list(tool.input_schema["properties"]) == ["project"]
        result = await client.call_tool("launch", {"project": "mira"})
    assert result.structured_content["launched"] is False
    assert read_job("mira") is None


@pytest.mark.anyio
async def test_launch_confirmed_starts_the_job_and_stale_gates_refuse_without_asking(workspace: Path) -> None:
    plan = wan_plan(workspace)
    asked: list[str] = []

    async def yes(context, params):  # noqa: ANN001, ANN202
        asked.append(params.message)
        return ElicitResult(action="accept", content={"proceed": True})

    async with Client(build_server(), mode="legacy", elicitation_callback=yes) as client:
        refused = await client.call_tool("launch", {"project": "mira"})
        assert refused.is_error and "Gate 1" in refused.content[0].text and asked == []
        pass_gates(workspace, plan)
        result = await client.call_tool("launch", {"project": "mira"})
    assert result.structured_content["launched"] is True and len(asked) == 1
    assert wait_for_job("mira", workspace).status == "complete"


@pytest.mark.anyio
async def test_dry_run_tool_reports_progress(workspace: Path) -> None:
    wan_plan(workspace)
    seen: list[float] = []

    async def on_progress(progress, total, message):  # noqa: ANN001, ANN202
        seen.append(progress)

    async with Client(build_server()) as client:
        result = await client.call_tool("dry_run", {"project": "mira", "steps": 2}, progress_callback=on_progress)
    assert result.structured_content["verdict"] == "GO" and seen and seen[-1] == 3


def test_cli_dry_run_json_and_launch_refusal(workspace: Path) -> None:
    wan_plan(workspace)
    runner = CliRunner()
    out = runner.invoke(app, ["dry-run", "mira", "--steps", "2", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["verdict"] == "GO"
    out = runner.invoke(app, ["dry-run", "mira", "--steps", "9"])
    assert out.exit_code == 2
    out = runner.invoke(app, ["launch", "mira"])
    assert out.exit_code == 1 and "Gate 1" in out.output  # refused by the gates: NO-GO, not "could not run"
