"""The after-training doors: `loragate eval/diagnose/register/loras`, scripts/eval-grid.sh and the MCP
tools evaluate, diagnose, register_lora, list_loras: the same engine, exit codes and JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from mcp import Client
from typer.testing import CliRunner

from loragate.cli import app
from mcp_server.server import build_server
from tests.eval_helpers import trained_project
from tests.plan_helpers import FAKES
from tests.test_scripts import run as run_script

runner = CliRunner()


@pytest.fixture
def project(workspace: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    monkeypatch.setenv("LORAGATE_LOCK_DIR", str(workspace.parent / "locks"))
    return trained_project(workspace, trainer_dir=str(FAKES / "sd-scripts"), trainer_python=sys.executable)


def test_cli_eval_register_loras(project, workspace: Path) -> None:  # noqa: ANN001
    estimate = runner.invoke(app, ["eval", "mira", "--estimate", "--json", "--engine", "scripts"])
    assert estimate.exit_code == 0, estimate.output
    assert json.loads(estimate.stdout)["cost"]["cells"] == 6 + 3 * 5 * 6
    wrong = runner.invoke(app, ["eval", "mira", "--model", "flux1-dev", "--estimate"])
    assert wrong.exit_code == 2 and "trained on sdxl" in wrong.output
    made = runner.invoke(app, ["eval", "mira", "--engine", "scripts", "--max-prompts", "1", "--weight", "0.5", "--weight", "1.0"])
    assert made.exit_code == 0, made.output
    assert "takes effect" in made.stdout and "Recommended weight" not in made.stdout
    refused = runner.invoke(app, ["register", "mira", "--checkpoint", "nope.safetensors", "--weight", "0.7"])
    assert refused.exit_code == 2 and "no LoRA file" in refused.output
    done = runner.invoke(app, ["register", "mira", "--checkpoint", "mira.safetensors", "--weight", "0.7", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["lora"]["weight"] == 0.7
    listed = runner.invoke(app, ["loras", "--json"])
    assert [entry["name"] for entry in json.loads(listed.stdout)["loras"]] == ["mira"]
    diagnosis = runner.invoke(app, ["diagnose", "mira", "--symptom", "it copies my training pictures"])
    assert diagnosis.exit_code == 0 and "next step:" in diagnosis.stdout


def test_eval_grid_script_translates_the_workflow_flags(project, workspace: Path) -> None:  # noqa: ANN001
    lora = Path(project.output_dir) / "mira-000004.safetensors"
    out = run_script("eval-grid.sh", "--lora", str(lora), "--model", "sdxl", "--trigger", "mira", "--prompt", "riding a horse",
                     "--estimate", "--json", "--engine", "scripts", cwd=workspace, env={"LORAGATE_ROOT": str(workspace)})
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert [c["path"] for c in report["checkpoints"]] == [str(lora)]
    assert report["prompts"][-1] == {"label": "own 1", "text": "mira, riding a horse", "seed": 1234, "own": True}
    bad = run_script("eval-grid.sh", "--lora", str(lora), "--trigger", "zed", cwd=workspace, env={"LORAGATE_ROOT": str(workspace)})
    assert bad.returncode == 2 and "trigger 'mira'" in bad.stderr


@pytest.mark.anyio
async def test_mcp_tools(project, workspace: Path) -> None:  # noqa: ANN001
    async with Client(build_server()) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"evaluate", "diagnose", "register_lora", "list_loras"} <= names
        estimate = await client.call_tool("evaluate", {"project": "mira", "engine": "scripts"})
        assert estimate.structured_content["cost"]["cells"] > 0 and estimate.structured_content["cells"] == []
        refused = await client.call_tool("register_lora", {"project": "mira", "checkpoint": "mira.safetensors", "weight": 0.7})
        assert refused.is_error and "has not been evaluated" in refused.content[0].text
        made = await client.call_tool("evaluate", {"project": "mira", "engine": "scripts", "estimate_only": False,
                                                   "max_standard_prompts": 1, "weights": [1.0], "checkpoints": ["mira.safetensors"]})
        assert made.structured_content["verdict"] == "GO"
        registered = await client.call_tool("register_lora", {"project": "mira", "checkpoint": "mira.safetensors", "weight": 0.8})
        assert not registered.is_error and registered.structured_content["lora"]["weight"] == 0.8
        listed = await client.call_tool("list_loras", {})
        assert listed.structured_content["loras"][0]["trigger"] == "mira"
        diagnosis = await client.call_tool("diagnose", {"project": "mira", "symptom": "no effect at all"})
        assert diagnosis.structured_content["diagnoses"][0]["id"] == "no_effect"
