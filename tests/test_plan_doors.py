"""The plan through its two doors: `loragate plan new|check|show` and the MCP tools."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loragate.cli import app
from tests.plan_helpers import flat_dataset, wan_dataset

runner = CliRunner()


def _run(*args: str):  # noqa: ANN202
    return runner.invoke(app, list(args))


def test_cli_new_check_show(workspace: Path) -> None:
    data = flat_dataset(workspace)
    made = _run("plan", "new", "mira", "--model", "sdxl", "--dataset", str(data), "--trigger", "mira",
                "--gpu-gb", "24", "--json")
    assert made.exit_code == 0, made.output
    out = json.loads(made.stdout)
    assert out["gate2"]["verdict"] == "GO" and set(out["files"]) >= {"plan.json", "train.sh", "config.md"}
    checked = _run("plan", "check", "mira", "--json")
    assert checked.exit_code == 0 and json.loads(checked.stdout)["verdict"] == "GO"
    shown = _run("plan", "show", "mira", "--json")
    assert shown.exit_code == 0 and json.loads(shown.stdout)["model"] == "sdxl"
    human = _run("plan", "show", "mira")
    assert human.exit_code == 0 and "sdxl_train_network.py" in human.stdout


def test_cli_no_go_exits_1(workspace: Path) -> None:
    result = _run("plan", "new", "big", "--model", "wan2.1-t2v-14b", "--dataset", str(wan_dataset(workspace)),
                  "--trigger", "mira", "--gpu-gb", "8")
    assert result.exit_code == 1
    assert "NO-GO" in result.stdout
    assert _run("plan", "check", "big").exit_code == 1


def test_cli_options_reach_the_plan(workspace: Path) -> None:
    result = _run("plan", "new", "w22", "--model", "wan2.2-t2v-a14b", "--dataset", str(wan_dataset(workspace)),
                  "--trigger", "mira", "--expert", "high", "--platform", "runpod", "--resolution", "512x512",
                  "--frames", "1", "--frames", "17", "--weights", "dit_high_noise=/workspace/m/h.safetensors", "--json")
    assert result.exit_code in (0, 1), result.output
    plan = json.loads(result.stdout)["plan"]
    assert [e["expert"] for e in plan["experts"]] == ["high"]
    assert plan["experts"][0]["dit"] == "/workspace/m/h.safetensors"
    assert plan["dataset"]["resolution"] == [512, 512] and plan["dataset"]["target_frames"] == [1, 17]
    assert plan["output_dir"] == "/workspace/output/w22"


@pytest.mark.parametrize("args", [
    ("plan", "new", "../evil", "--model", "sdxl", "--dataset", "DATA", "--trigger", "t"),
    ("plan", "new", "ok", "--model", "nope", "--dataset", "DATA", "--trigger", "t"),
    ("plan", "new", "ok", "--model", "sdxl", "--dataset", "DATA", "--trigger", "t", "--expert", "middle"),
    ("plan", "check", "a/b"),
    ("plan", "check", "never_made"),
    ("plan", "show", "never_made"),
])
def test_cli_cannot_run_exits_2(args: tuple[str, ...], workspace: Path) -> None:
    data = str(flat_dataset(workspace))
    result = _run(*[data if a == "DATA" else a for a in args])
    assert result.exit_code == 2, result.output
    assert not (workspace / "grimoire" / "training" / "evil").exists()


@pytest.mark.anyio
async def test_mcp_generate_and_check(workspace: Path) -> None:
    from mcp import Client

    from mcp_server.server import build_server

    flat_dataset(workspace)
    async with Client(build_server()) as client:
        made = await client.call_tool("generate_config", {"name": "mira", "model": "sd15", "dataset": "datasets/flat",
                                                          "trigger": "mira", "gpu_gb": 12})
        assert not made.is_error, made
        assert made.structured_content["gate2"]["verdict"] == "GO"
        assert made.structured_content["plan"]["dataset"]["path"] == str(workspace / "datasets" / "flat")
        # the CLI's --output-dir and --trainer-python exist here too, paths confined to the workspace
        placed = await client.call_tool("generate_config", {"name": "placed", "model": "sd15", "dataset": "datasets/flat",
                                                            "trigger": "mira", "gpu_gb": 12, "output_dir": "loras/mira",
                                                            "trainer_python": "python3"})
        assert not placed.is_error, placed
        assert placed.structured_content["plan"]["output_dir"] == str(workspace / "loras" / "mira")
        assert placed.structured_content["plan"]["trainer_python"] == "python3"
        escaped = await client.call_tool("generate_config", {"name": "esc", "model": "sd15", "dataset": "datasets/flat",
                                                             "trigger": "mira", "trainer_python": "/usr/bin/python3"})
        assert escaped.is_error
        checked = await client.call_tool("check_plan", {"name": "mira"})
        assert not checked.is_error and checked.structured_content["verdict"] == "GO"
        outside = await client.call_tool("generate_config", {"name": "x", "model": "sd15", "dataset": "/etc",
                                                             "trigger": "mira"})
        assert outside.is_error
        hostile = await client.call_tool("check_plan", {"name": "../../etc"})
        assert hostile.is_error
