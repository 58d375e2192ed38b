"""cloud_up over MCP asks with the cost, exactly like launch; a no rents nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client
from mcp.types import ElicitResult

from mcp_server.server import build_server
from tests.cloud_fixtures import cloud_env, make_plan  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("cloud_env")


@pytest.mark.anyio
async def test_cloud_up_declined_rents_nothing_and_accepted_rents_at_the_stated_price(workspace: Path, cloud_env) -> None:  # noqa: F811
    make_plan(workspace)
    asked: list[str] = []
    answer = {"action": "decline"}

    async def callback(context, params):
        asked.append(params.message)
        if answer["action"] == "decline":
            return ElicitResult(action="decline")
        return ElicitResult(action="accept", content={"proceed": True})

    async with Client(build_server(), mode="legacy", elicitation_callback=callback) as client:
        tool = next(t for t in (await client.list_tools()).tools if t.name == "cloud_up")
        assert (tool.meta or {}).get("anthropic/requiresUserInteraction") is True and tool.annotations.open_world_hint is True
        args = {"project": "mira", "provider": "runpod", "gpu": "A100 80GB", "max_usd": 20}
        declined = await client.call_tool("cloud_up", args)
        assert declined.structured_content["rented"] is False and cloud_env["runpod"].state.instances == {}
        assert "$1.64/hour" in asked[0] and "$20.00" in asked[0]
        answer["action"] = "accept"
        rented = await client.call_tool("cloud_up", args)
        assert rented.structured_content["rented"] is True and len(cloud_env["runpod"].state.instances) == 1
        status = await client.call_tool("cloud_status", {})
        assert "still bill" in status.structured_content["message"]
        down = await client.call_tool("cloud_down", {"project": "mira"})
        assert down.structured_content["ended"] and cloud_env["runpod"].state.terminated


@pytest.mark.anyio
async def test_cloud_up_refuses_before_asking_when_the_plan_does_not_fit(workspace: Path) -> None:
    make_plan(workspace, model="wan2.2-t2v-a14b")
    asked: list[str] = []

    async def callback(context, params):
        asked.append(params.message)
        return ElicitResult(action="accept", content={"proceed": True})

    async with Client(build_server(), mode="legacy", elicitation_callback=callback) as client:
        result = await client.call_tool("cloud_up", {"project": "mira", "provider": "runpod", "gpu": "RTX 4090"})
    assert result.is_error and "does not fit the RTX 4090" in result.content[0].text and asked == []
