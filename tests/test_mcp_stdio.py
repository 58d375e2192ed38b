"""The installed `loragate-mcp` over stdio with the official client, in both protocol eras
(legacy is what Claude Code uses for stdio): every tool it lists is called with valid arguments on
tiny data, each structured result matches the tool's output schema, launch asks first and a
declined launch starts nothing, the reference docs are resources, and the train prompt renders."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any, Iterator

import jsonschema
import pytest
from mcp.shared.exceptions import MCPError
from mcp import Client, StdioServerParameters
from mcp.types import ElicitResult

from loragate.runs.job import read_job
from mcp_server.tools.resources import RESOURCES_DIR, resource_files
from tests.anthropic_fake import FakeMessagesApi, serve
from tests.cloud_fixtures import RUNPOD_KEY
from tests.fakes.cloud_api import FakeCloud
from tests.media import write_image, write_safetensors_header
from tests.plan_helpers import fake_weights, flat_dataset
from tests.runs_fixtures import FAKES, _kill_leftovers, pass_gates, wan_plan


def _server_command() -> str:
    beside = Path(sys.executable).parent / "loragate-mcp"
    found = str(beside) if beside.exists() else shutil.which("loragate-mcp")
    if not found:
        pytest.skip("the loragate-mcp console script is not installed (pip install -e .)")
    return found


@pytest.fixture
def api() -> Iterator[FakeMessagesApi]:
    yield from serve()


@pytest.fixture
def setup(workspace: Path, tmp_path: Path, api: FakeMessagesApi) -> Iterator[dict[str, Any]]:
    """A ready Wan project on the trainer stand-in (all gates GO), a captioned flat dataset with
    model files, and a scratch dataset for captions and quarantine."""
    plan = wan_plan(workspace)
    pass_gates(workspace, plan)
    flat = flat_dataset(workspace)
    weights = fake_weights(workspace, "sdxl")
    scratch = workspace / "scratch"
    write_image(scratch / "a.png", 64, 64, seed=1)
    write_image(scratch / "b.png", 64, 64, seed=2)
    checkpoint = write_safetensors_header(workspace / "output" / "mira" / "mira-000001.safetensors", {"lora_unet.w": ("BF16", [4, 4])})
    env = {
        "PATH": os.pathsep.join([str(FAKES / "bin"), str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "LORAGATE_ROOT": str(workspace),
        "LORAGATE_CACHE_DIR": str(tmp_path / "cache"),
        "LORAGATE_LOCK_DIR": str(tmp_path / "locks"),
        "FAKE_STEP_SECONDS": "0.05",
        "ANTHROPIC_API_KEY": "test-key",
        "ANTHROPIC_BASE_URL": api.url,
        "RUNPOD_API_KEY": RUNPOD_KEY,
    }
    from tests.eval_helpers import WAN_KEYS, write_lora

    trained = write_lora(workspace / "output" / "mira" / "mira-000002.safetensors", WAN_KEYS)
    with FakeCloud("runpod", RUNPOD_KEY) as runpod:
        runpod.state.ssh_port = 9  # nothing listens there: SSH to the stand-in pod is refused at once
        env["RUNPOD_API_BASE_URL"] = runpod.url
        yield {"workspace": workspace, "flat": flat, "weights": weights, "scratch": scratch, "checkpoint": checkpoint, "env": env,
               "trained": trained, "runpod": runpod}
    _kill_leftovers(workspace)


def _calls(s: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every tool, in an order that makes each call meaningful (launch twice: declined, then accepted)."""
    ws, flat, scratch = s["workspace"], str(s["flat"]), str(s["scratch"])
    gen = ws / "grimoire" / "training" / "gen"
    return [
        ("list_models", {}),
        ("estimate_vram", {"model": "sdxl", "resolution": "1024", "batch": 1, "rank": 16, "gpu_gb": 24}),
        ("audit_dataset", {"dataset": flat, "trigger": "mira woman", "name": "flat"}),
        ("find_duplicates", {"dataset": flat, "name": "flat"}),
        ("quarantine_files", {"dataset": scratch, "files": ["b.png"]}),
        ("quarantine_files", {"dataset": scratch, "files": [], "undo": True}),
        ("write_captions", {"dataset": scratch, "trigger": "mira", "model": "flux1-dev",
                            "captions": [{"image": "a.png", "caption": "a cat on a rug", "content": ["cat"], "style": ["flat"]}],
                            "save_as": "grimoire/training/flat/APPROVED.json"}),
        ("caption_dataset", {"dataset": scratch, "trigger": "mira", "model": "flux1-dev", "examples": "grimoire/training/flat/APPROVED.json"}),
        ("generate_config", {"name": "gen", "model": "sdxl", "dataset": flat, "trigger": "mira woman", "preset": "quick",
                             "gpu_gb": 24, "weights": {"base_model": s["weights"]["base_model"]}}),
        ("check_plan", {"name": "gen"}),
        ("validate_config", {"files": [str(gen / "train.sh"), str(gen / "dataset.toml")]}),
        ("import_plan", {"name": "imp", "trigger": "mira woman", "gpu_gb": 24,
                         "files": [str(gen / "train.sh"), str(gen / "dataset.toml")]}),
        ("validate_env", {"backend": "musubi"}),
        ("gate_status", {"project": "mira"}),
        ("evaluate", {"project": "mira", "checkpoints": [str(s["trained"])], "engine": "scripts"}),
        ("evaluate", {"project": "mira", "checkpoints": [str(s["trained"])], "engine": "scripts", "estimate_only": False,
                      "max_standard_prompts": 1, "weights": [1.0]}),
        ("register_lora", {"project": "mira", "checkpoint": str(s["trained"]), "weight": 0.8}),
        ("list_loras", {}),
        ("diagnose", {"project": "mira", "symptom": "blurry and burnt"}),
        ("dry_run", {"project": "mira", "steps": 2}),
        ("launch", {"project": "mira"}),
        ("launch", {"project": "mira"}),
        ("monitor", {"project": "mira"}),
        ("stop", {"project": "mira", "grace_seconds": 2}),
        ("adopt_run", {"project": "mira"}),  # stopped: nothing to adopt (adopting: tests/test_runs_adopt.py)
        ("continue_run", {"project": "mira", "checkpoint": str(s["checkpoint"]), "learning_rate": 5e-5}),
        ("generate_config", {"name": "pod", "model": "sdxl", "dataset": flat, "trigger": "mira woman", "preset": "quick",
                             "gpu_gb": 24, "platform": "runpod"}),
        ("cloud_offers", {"provider": "runpod", "project": "pod"}),
        ("cloud_up", {"project": "pod", "provider": "runpod", "gpu": "A100 80GB", "max_usd": 20}),
        ("cloud_status", {}),
        ("cloud_sync", {"project": "pod"}),
        ("cloud_run", {"project": "pod", "step": "monitor"}),
        ("cloud_pull", {"project": "pod"}),
        ("cloud_down", {"project": "pod"}),
        ("generate_config", {"name": "gm", "model": "sdxl", "dataset": flat, "trigger": "mira woman", "preset": "quick",
                             "gpu_gb": 24, "platform": "modal"}),
        ("cloud_modal", {"project": "gm", "action": "write"}),
    ]


NEEDS_SSH = {"cloud_sync", "cloud_run", "cloud_pull"}


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_every_tool_over_stdio(setup: dict[str, Any], api: FakeMessagesApi, mode: str) -> None:
    asked: list[str] = []
    answers = ["decline", "accept", "accept"]

    async def elicit(context: Any, params: Any) -> ElicitResult:
        asked.append(params.message)
        answer = answers.pop(0)
        return ElicitResult(action=answer, content={"proceed": True} if answer == "accept" else None)

    params = StdioServerParameters(command=_server_command(), env=setup["env"], cwd=str(setup["workspace"]))
    async with Client(params, mode=mode, elicitation_callback=elicit) as client:
        assert client.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
        tools = {t.name: t for t in (await client.list_tools()).tools}
        calls = _calls(setup)
        assert set(tools) == {name for name, _ in calls}, "a tool is listed but not exercised here (or gone)"
        for tool in tools.values():
            assert tool.input_schema.get("type") == "object", tool.name
            assert tool.output_schema and tool.output_schema.get("type") == "object", tool.name
            assert tool.annotations is not None and tool.annotations.read_only_hint is not None, tool.name
            assert tool.annotations.open_world_hint is not None, tool.name
            if not tool.annotations.read_only_hint:
                # only ending a rented machine destroys something (the pod's own disk, after cloud_pull)
                assert tool.annotations.destructive_hint is (tool.name == "cloud_down"), tool.name
            # A description that tells a model when to use the tool ("Call it when/after ...").
            assert tool.description and len(tool.description) > 80, tool.name
            assert re.search(r"\b(call|when|whenever|after|before)\b", tool.description, re.IGNORECASE), tool.name

        launched: list[bool] = []
        for name, args in calls:
            result = await client.call_tool(name, args)
            text = result.content[0].text if result.content else ""
            if name in NEEDS_SSH:  # the stand-in pod has no SSH server: the tool says so in words
                assert result.is_error and "Could not connect" in text, f"{name}: {text}"
                continue
            if name == "adopt_run":  # refused before asking anyone: the run was stopped, no orphan
                assert result.is_error and "no orphan to adopt" in text, text
                continue
            assert not result.is_error, f"{name}: {text}"
            jsonschema.validate(result.structured_content, tools[name].output_schema)
            if name == "launch":
                launched.append(result.structured_content["launched"])
                if len(launched) == 1:  # declined: nothing started
                    assert read_job("mira", setup["workspace"]) is None
            if name == "caption_dataset":
                assert [c["image"] for c in result.structured_content["captioned"]] == ["b.png"]
    assert launched == [False, True] and len(asked) == 3 and "$1.64/hour" in asked[2]
    assert setup["runpod"].state.terminated, "cloud_down ended the rented pod"
    assert (setup["scratch"] / "b.txt").read_text().startswith("mira, ")
    assert len(api.requests) == 1


@pytest.mark.anyio
async def test_resources_and_train_prompt_over_stdio(setup: dict[str, Any]) -> None:
    params = StdioServerParameters(command=_server_command(), env=setup["env"], cwd=str(setup["workspace"]))
    async with Client(params, mode="legacy") as client:
        listed = {str(r.uri) for r in (await client.list_resources()).resources}
        expected = {f"loragate://resources/{p.relative_to(RESOURCES_DIR).as_posix()}" for p in resource_files()}
        assert expected and listed >= expected
        guide = await client.read_resource("loragate://resources/dataset/captioning-guide.md")
        assert guide.contents[0].text == (RESOURCES_DIR / "dataset" / "captioning-guide.md").read_text(encoding="utf-8")
        templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
        assert "loragate://resources/{section}/{name}" in templates
        for hostile in ("loragate://resources/..%2F..%2Fpyproject.toml/x", "loragate://resources/dataset/..%2F..%2Fpyproject.toml",
                        "loragate://resources/dataset/missing.md"):
            with pytest.raises(MCPError):
                await client.read_resource(hostile)

        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        assert {a.name for a in prompts["train"].arguments or []} >= {"project", "dataset", "goal"}
        rendered = await client.get_prompt("train", {"project": "mira", "dataset": "data/mira", "goal": "my character"})
        text = rendered.messages[0].content.text
        assert "grimoire/training/mira/" in text and "data/mira" in text and "my character" in text
        tools = {t.name for t in (await client.list_tools()).tools}
        missing = sorted(name for name in tools if name not in text)
        assert not missing, f"the train prompt does not mention {missing}"
        order = [text.index(word) for word in ("Gate 1", "Gate 2", "Gate 3", "Gate 4", "launch (")]
        assert order == sorted(order)
