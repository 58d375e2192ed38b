"""One input model per operation: the CLI and the MCP tool build the same request, so the same bad
value is refused with the same sentence by both doors (and nothing is saved)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from loragate.cli import app
from loragate.plan.store import plan_path
from mcp_server.nextstep import SCHEMA_HINT
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


# Every other operation whose arguments have bounds or choices, one bad value each:
# (CLI words, MCP tool, MCP arguments, the sentence both say). "{data}" is a dataset folder.
OPERATIONS_BAD: list[tuple[list[str], str, dict[str, Any], str]] = [
    (["audit", "{data}", "--type", "portrait"], "audit_dataset", {"dataset": "{data}", "training_type": "portrait"},
     "training_type must be one of 'character', 'style' or 'object'"),
    (["env", "--backend", "kohya"], "validate_env", {"backend": "kohya"}, "backend must be one of 'musubi' or 'sdscripts'"),
    (["dry-run", "mira", "--steps", "9"], "dry_run", {"project": "mira", "steps": 9}, "steps must be at most 5 (got 9)"),
    (["dry-run", "mira", "--steps", "1"], "dry_run", {"project": "mira", "steps": 1}, "steps must be at least 2 (got 1)"),
    (["eval", "mira", "--weight", "3"], "evaluate", {"project": "mira", "weights": [3]}, "weights must be at most 2 (got 3)"),
    (["eval", "mira", "--seed", "-1"], "evaluate", {"project": "mira", "seeds": [-1]}, "seeds must be at least 0 (got -1)"),
    (["eval", "mira", "--steps", "0"], "evaluate", {"project": "mira", "steps": 0}, "steps must be at least 1 (got 0)"),
    (["eval", "mira", "--steps", "500"], "evaluate", {"project": "mira", "steps": 500}, "steps must be at most 200 (got 500)"),
    (["eval", "mira", "--engine", "dalle"], "evaluate", {"project": "mira", "engine": "dalle"},
     "engine must be one of 'auto', 'comfyui', 'scripts' or 'export'"),
    (["eval", "mira", "--max-prompts", "0"], "evaluate", {"project": "mira", "max_standard_prompts": 0},
     "max_standard_prompts must be at least 1 (got 0)"),
    (["vram", "--model", "sdxl", "--resolution", "1024", "--batch", "0"], "estimate_vram",
     {"model": "sdxl", "resolution": "1024", "batch": 0}, "batch must be at least 1 (got 0)"),
    (["vram", "--model", "sdxl", "--resolution", "1024", "--precision", "fp32"], "estimate_vram",
     {"model": "sdxl", "resolution": "1024", "precision": "fp32"}, "precision must be one of 'bf16' or 'fp16'"),
    (["cloud", "offers", "--provider", "aws"], "cloud_offers", {"provider": "aws"},
     "provider must be one of 'runpod', 'vast' or 'modal'"),
    (["cloud", "up", "mira", "--provider", "modal", "--gpu", "A100 80GB", "--yes"], "cloud_up",
     {"project": "mira", "provider": "modal", "gpu": "A100 80GB"}, "provider must be one of 'runpod' or 'vast'"),
    (["cloud", "up", "mira", "--provider", "runpod", "--gpu", "A100 80GB", "--max-usd", "-5", "--yes"], "cloud_up",
     {"project": "mira", "provider": "runpod", "gpu": "A100 80GB", "max_usd": -5}, "max_usd must be more than 0"),
    (["cloud", "up", "mira", "--provider", "runpod", "--gpu", "A100 80GB", "--idle-minutes", "5", "--yes"], "cloud_up",
     {"project": "mira", "provider": "runpod", "gpu": "A100 80GB", "idle_minutes": 5}, "idle_minutes must be at least 10 (got 5)"),
    (["cloud", "sync", "mira", "--idle", "2"], "cloud_sync", {"project": "mira", "idle_minutes": 2},
     "idle_minutes must be at least 5 (got 2)"),
]


@pytest.mark.anyio
async def test_every_operation_refuses_alike_in_both_doors(workspace: Path) -> None:
    from mcp import Client

    from mcp_server.server import build_server

    data = str(flat_dataset(workspace))
    async with Client(build_server()) as client:
        for cli, tool, mcp, sentence in OPERATIONS_BAD:
            said = runner.invoke(app, [data if word == "{data}" else word for word in cli], env={"COLUMNS": "300"})
            assert said.exit_code == 2, (cli, said.output)
            assert sentence in _words(said.stderr) and "Traceback" not in said.output, (cli, said.stderr)
            arguments = {key: data if value == "{data}" else value for key, value in mcp.items()}
            result = await client.call_tool(tool, arguments)
            assert result.is_error and sentence in _words(result.content[0].text), (tool, mcp, result.content)
            # each door says where its choices are listed, and only its own way
            assert "--help lists the choices" in _words(said.stderr), (cli, said.stderr)
            assert SCHEMA_HINT in _words(result.content[0].text), (tool, result.content)
            assert "loragate " not in result.content[0].text and "--help" not in result.content[0].text, (tool, result.content)
    assert not (workspace / "grimoire" / "training" / "mira").exists()


def test_the_tools_offer_the_request_models_bounds() -> None:
    """Each MCP tool's schema states the bounds and choices its request model holds, nothing of its own."""
    from loragate.cloud.request import SyncRequest, UpRequest
    from loragate.evaluate.request import EvalRequest
    from loragate.runs.request import DryRunRequest
    from mcp_server.server import build_server

    limits = ("minimum", "maximum", "exclusiveMinimum", "enum")

    def bounds(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for option in schema.get("anyOf", [schema]):
            option = defs.get(option.get("$ref", "").rpartition("/")[2], option)
            found |= {k: v for k, v in option.items() if k in limits}
            found |= {f"items.{k}": v for k, v in option.get("items", {}).items() if k in limits}
        return found

    tools = {t.name: t.parameters for t in build_server()._tool_manager.list_tools()}  # type: ignore[attr-defined]
    for tool, model, renamed in (("dry_run", DryRunRequest, {"project": "name"}), ("evaluate", EvalRequest, {}),
                                 ("cloud_up", UpRequest, {}), ("cloud_sync", SyncRequest, {})):
        offered, wanted = tools[tool], model.model_json_schema()
        for name, schema in offered["properties"].items():
            field = renamed.get(name, name)
            if field in wanted["properties"]:
                assert bounds(schema, offered.get("$defs", {})) == bounds(wanted["properties"][field], wanted.get("$defs", {})), (tool, name)


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
