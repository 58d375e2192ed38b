"""One input model per operation: the CLI and the MCP tool build the same request, so the same bad
value is refused with the same sentence by both doors (and nothing is saved)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from loragate.cli import app
from loragate.plan.store import plan_path
from tests.plan_helpers import flat_dataset

runner = CliRunner()

# (CLI options, MCP arguments, the sentence both say)
PLAN_NEW_BAD: list[tuple[list[str], dict[str, Any], str]] = [
    (["--rank", "0"], {"rank": 0}, "rank must be at least 1 (got 0)"),
    (["--rank", "5000"], {"rank": 5000}, "rank must be at most 1024 (got 5000)"),
    (["--lr", "-1"], {"learning_rate": -1}, "learning_rate must be more than 0"),
    (["--preset", "ultra"], {"preset": "ultra"}, "preset must be one of 'quick', 'standard' or 'thorough'"),
    (["--type", "portrait"], {"training_type": "portrait"}, "training_type must be one of 'character', 'style' or 'object'"),
    (["--gpu-gb", "-3"], {"gpu_gb": -3}, "gpu_gb must be more than 0"),
    (["--expert", "mid"], {"expert": "mid"}, "expert must be one of 'high', 'low' or 'both'"),
    (["--platform", "aws"], {"platform": "aws"}, "platform must be one of 'local', 'runpod' or 'modal'"),
    (["--network", "dora"], {"network": "dora"}, "network must be one of 'lora', 'loha' or 'lokr'"),
]


def _words(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.anyio
async def test_plan_new_and_generate_config_refuse_alike(workspace: Path) -> None:
    from mcp import Client

    from mcp_server.server import build_server

    data = flat_dataset(workspace)
    base = {"name": "mira", "model": "sdxl", "dataset": str(data), "trigger": "mira"}
    async with Client(build_server()) as client:
        for cli, mcp, sentence in PLAN_NEW_BAD:
            said = runner.invoke(app, ["plan", "new", "mira", "--model", "sdxl", "--dataset", str(data), "--trigger", "mira", *cli],
                                 env={"COLUMNS": "300"})
            assert said.exit_code == 2, (cli, said.output)
            assert sentence in _words(said.stderr) and "Traceback" not in said.output, (cli, said.stderr)
            result = await client.call_tool("generate_config", {**base, **mcp})
            assert result.is_error and sentence in _words(result.content[0].text), (mcp, result.content)
    assert not plan_path("mira").exists()


def test_plan_new_and_generate_config_take_one_model() -> None:
    """The MCP tool offers no choice the request model lacks, with the same bounds."""
    from loragate.plan.request import PlanRequest
    from mcp_server.server import build_server

    tool = next(t for t in build_server()._tool_manager.list_tools() if t.name == "generate_config")  # type: ignore[attr-defined]
    offered = set(tool.parameters["properties"])
    assert offered <= set(PlanRequest.model_fields), offered - set(PlanRequest.model_fields)
    rank = tool.parameters["properties"]["rank"]
    bounds = {k: v for option in rank.get("anyOf", [rank]) for k, v in option.items() if k in ("minimum", "maximum")}
    field = PlanRequest.model_json_schema()["properties"]["rank"]
    assert bounds == {k: v for option in field.get("anyOf", [field]) for k, v in option.items() if k in ("minimum", "maximum")}


def test_the_network_choices_are_the_catalogues() -> None:
    from typing import get_args

    from loragate.catalog.networks import LORA, load_networks
    from loragate.plan.request import NetworkName

    assert set(get_args(NetworkName)) == {LORA, *load_networks()}
