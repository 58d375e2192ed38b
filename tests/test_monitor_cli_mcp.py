"""`loragate monitor`, `loragate checkpoints` and the MCP `monitor` tool: the same engine, its exit codes and JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loragate.cli import app
from tests.monitor_helpers import fixture_log, make_job, tqdm, train_argv, write_lora

runner = CliRunner()


def _running(workspace: Path) -> Path:
    log = workspace / "grimoire/training/p/train.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("".join(tqdm(n, 50, 0.1) for n in range(1, 11)), encoding="utf-8")
    make_job("p", [{"role": "train", "argv": train_argv(workspace / "out"), "log": str(log), "pid": os.getpid(), "status": "running"}])
    return log


def test_monitor_json_and_exit_codes(workspace: Path) -> None:
    _running(workspace)
    ok = runner.invoke(app, ["monitor", "p", "--json"])
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.stdout)
    assert {"status", "step", "total_steps", "epoch", "loss", "anomalies", "cause", "checkpoints", "eta_seconds", "rate", "vram_gb", "logs"} <= set(data)
    assert data["status"] == "RUNNING" and data["step"] == 10 and data["total_steps"] == 50

    oom = fixture_log("musubi-oom.log", workspace / "grimoire/training/q/train.log", workspace / "out")
    make_job("q", [{"role": "train", "argv": train_argv(workspace / "out"), "log": str(oom), "status": "failed", "exit_code": 1}])
    failed = runner.invoke(app, ["monitor", "q", "--json"])
    assert failed.exit_code == 1 and json.loads(failed.stdout)["cause"].startswith("The GPU ran out of memory")

    table = runner.invoke(app, ["monitor", "q"])
    assert table.exit_code == 1 and "FAILED" in table.stdout

    missing = runner.invoke(app, ["monitor", "nope"])
    assert missing.exit_code == 2 and "no project named" in " ".join(missing.stderr.split())
    neither = runner.invoke(app, ["monitor"])
    assert neither.exit_code == 2


def test_monitor_log_file_and_follow(workspace: Path, tmp_path: Path) -> None:
    log = fixture_log("sdxl-assert.log", tmp_path / "train.log", tmp_path / "out")
    result = runner.invoke(app, ["monitor", "--log", str(log), "--follow", "--json", "--interval", "0.1"])
    assert result.exit_code == 1  # --follow returns at once: the run has already failed
    assert "AssertionError" in json.loads(result.stdout)["cause"]


def test_checkpoints_command(workspace: Path) -> None:
    out = workspace / "out"
    for e in range(1, 6):
        write_lora(out / f"mylora-{e:06d}.safetensors")
        os.utime(out / f"mylora-{e:06d}.safetensors", (1000 + e, 1000 + e))
    write_lora(out / "mylora.safetensors")
    make_job("p", [], output_dir=out)
    listed = runner.invoke(app, ["checkpoints", "p", "--json"])
    assert listed.exit_code == 0 and len(json.loads(listed.stdout)["prunable"]) == 2
    pinned = runner.invoke(app, ["checkpoints", "p", "--pin", "mylora-000001.safetensors", "--prune", "--json"])
    assert pinned.exit_code == 0
    assert json.loads(pinned.stdout)["removed"] == ["mylora-000002.safetensors"]
    assert (out / "mylora-000001.safetensors").exists() and (out / "mylora.safetensors").exists()
    bad = runner.invoke(app, ["checkpoints", "p", "--pin", "x.safetensors"])
    assert bad.exit_code == 2


@pytest.mark.anyio
async def test_mcp_monitor_tool(workspace: Path) -> None:
    from mcp import Client

    from mcp_server.server import build_server

    _running(workspace)
    async with Client(build_server()) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        tool = tools["monitor"]
        assert {"status", "step", "anomalies", "checkpoints"} <= set(tool.output_schema["properties"])
        # it writes progress.md and its state: honestly not read-only, but never destructive
        assert tool.annotations.read_only_hint is False and tool.annotations.destructive_hint is False
        result = await client.call_tool("monitor", {"project": "p"})
        assert not result.is_error and result.structured_content["status"] == "RUNNING"
        assert result.structured_content["step"] == 10
        missing = await client.call_tool("monitor", {"project": "nope"})
        assert missing.is_error and "no project named 'nope'" in missing.content[0].text
        bad = await client.call_tool("monitor", {"project": "../etc"})
        assert bad.is_error
