"""`loragate validate` (exit codes, --json) and the validate_config MCP tool."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loragate.cli import app

FIX = Path(__file__).parent / "fixtures" / "validate"
runner = CliRunner()


def test_cli_exit_codes_and_json_shape() -> None:
    good = runner.invoke(app, ["validate", str(FIX / "sdxl_corrected.sh"), "--no-check-paths", "--json"])
    assert good.exit_code == 0, good.output
    data = json.loads(good.stdout)
    assert data["verdict"] == "GO" and data["model"] == "sdxl" and data["counts"]["block"] == 0
    assert data["invocations"][0]["script"] == "sdxl_train_network.py"

    bad = runner.invoke(app, ["validate", str(FIX / "sdxl_doc_broken.txt"), "--json", "--no-check-paths"])
    assert bad.exit_code == 1
    data = json.loads(bad.stdout)
    assert data["verdict"] == "NO-GO"
    first = data["findings"][0]
    assert {"code", "severity", "message", "fix", "evidence"} <= set(first) and first["severity"] == "block"
    assert {"file", "line", "flag"} <= set(first["evidence"])


def test_cli_human_output_and_could_not_run(tmp_path: Path) -> None:
    shown = runner.invoke(app, ["validate", str(FIX / "sdxl_doc_broken.txt"), "--no-check-paths"])
    assert shown.exit_code == 1 and "NO-GO" in shown.stdout and "text_encoder_lr1" in shown.stdout
    missing = runner.invoke(app, ["validate", str(tmp_path / "nope.sh")])
    assert missing.exit_code == 2
    unknown = runner.invoke(app, ["validate", str(FIX / "wan21_doc.sh"), "--model", "wan9"])
    assert unknown.exit_code == 2 and "Unknown model family" in unknown.stderr
    empty = tmp_path / "empty.sh"
    empty.write_text("echo hello\n")
    assert runner.invoke(app, ["validate", str(empty)]).exit_code == 2


def test_cli_model_flag_overrides_inference() -> None:
    result = runner.invoke(app, ["validate", str(FIX / "wan21_doc.sh"), "--model", "wan2.2-t2v-a14b",
                                 "--no-check-paths", "--json"])
    data = json.loads(result.stdout)
    assert data["model_source"] == "given" and result.exit_code == 1
    assert "WAN_TASK_WEIGHTS" in {f["code"] for f in data["findings"]}


@pytest.mark.anyio
async def test_mcp_validate_config(workspace: Path) -> None:
    from mcp import Client

    from mcp_server.server import build_server

    for name in ("wan22_t2v_experts.sh", "ds.toml", "sdxl_doc_broken.txt"):
        shutil.copy(FIX / name, workspace / name)
    async with Client(build_server()) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert tools["validate_config"].annotations.read_only_hint is True
        ok = await client.call_tool("validate_config", {"files": ["wan22_t2v_experts.sh", "ds.toml"],
                                                        "check_paths": False})
        assert not ok.is_error and ok.structured_content["verdict"] == "GO"
        assert ok.structured_content["model"] == "wan2.2-t2v-a14b"
        bad = await client.call_tool("validate_config", {"files": ["sdxl_doc_broken.txt"]})
        assert bad.structured_content["verdict"] == "NO-GO"
        outside = await client.call_tool("validate_config", {"files": ["/etc/passwd"]})
        assert outside.is_error and "outside" in outside.content[0].text
