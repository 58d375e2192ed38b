"""VRAM in layers: the pure estimate is the same whatever calibration exists; this machine's
correction sits on top and every door says so (CLI table, MCP result, Gate 2 finding, config.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loragate.cli import app
from loragate.vram import base_estimate, estimate_vram, make_request, record_measurement
from loragate.vram.calibration import calibration_path
from tests.plan_helpers import flat_dataset

runner = CliRunner()
SDXL = ["vram", "--model", "sdxl", "--resolution", "1024", "--rank", "16"]


@pytest.fixture
def this_box(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("loragate.environment.machine.hardware_fingerprint", lambda: "this-box")


def _calibrate(factor: float) -> float:
    """Record a dry run on this machine that measured `factor` times the pure estimate; returns the latter."""
    req = make_request(model="sdxl", resolution="1024", rank=16)
    pure = base_estimate(req).estimate_gb
    record_measurement("sdxl", req, pure * factor)
    return pure


def test_pure_estimate_ignores_any_calibration_file(workspace: Path, this_box: None) -> None:
    req = make_request(model="sdxl", resolution="1024", rank=16, gpu_gb=12)
    before = base_estimate(req)
    _calibrate(1.3)
    assert calibration_path().exists()
    after = base_estimate(req)
    assert after == before and after.correction is None
    assert estimate_vram(req, use_correction=False).estimate_gb == before.estimate_gb
    # the corrected answer is the pure one times the factor, and carries both numbers
    corrected = estimate_vram(req)
    assert corrected.correction is not None and corrected.correction.factor == pytest.approx(1.3, abs=0.01)
    assert corrected.uncorrected_gb == before.estimate_gb
    assert corrected.estimate_gb == pytest.approx(before.estimate_gb * 1.3, abs=0.02)
    assert corrected.correction.source == str(calibration_path())


def test_cli_shows_the_correction_only_when_applied(workspace: Path, this_box: None) -> None:
    wide = {"COLUMNS": "240"}
    plain = runner.invoke(app, SDXL, env=wide)
    assert plain.exit_code == 0, plain.output
    assert "correction" not in plain.stdout
    pure = _calibrate(1.25)
    shown = runner.invoke(app, SDXL, env=wide)
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.stdout.split())
    assert "Corrected by x1.25 for this machine" in text and f"without it: {pure:.1f} GB" in text
    assert "vram-calibration.json" in text
    assert "estimate before this machine's correction" in text and f"{pure:.2f}" in text
    data = json.loads(runner.invoke(app, [*SDXL, "--json"]).stdout)
    assert data["correction"]["factor"] == pytest.approx(1.25, abs=0.01) and data["uncorrected_gb"] == pure


def test_fit_plan_uses_the_same_correction(workspace: Path, this_box: None) -> None:
    """A card the pure estimate fits can fail once this machine measured more; the fit plan then fixes
    the corrected number, not the pure one."""
    pure = _calibrate(1.6)
    gpu = round(pure * 1.3, 1)  # fits the pure estimate with the 20% margin, not the corrected one
    req = make_request(model="sdxl", resolution="1024", rank=16, gpu_gb=gpu)
    assert base_estimate(req).fits is True
    corrected = estimate_vram(req)
    assert corrected.fits is False and corrected.fit_plan
    last = corrected.fit_plan[-1]
    assert last.fits and last.estimate_gb * 1.2 <= gpu
    again = estimate_vram(req.model_copy(update=last.settings))
    assert again.correction is not None and again.estimate_gb == pytest.approx(last.estimate_gb, abs=0.02)


@pytest.mark.anyio
async def test_mcp_result_carries_the_correction(workspace: Path, this_box: None) -> None:
    from mcp import Client

    from mcp_server.server import build_server

    args = {"model": "sdxl", "resolution": "1024", "rank": 16}
    async with Client(build_server()) as client:
        plain = (await client.call_tool("estimate_vram", args)).structured_content
        assert plain["correction"] is None and plain["uncorrected_gb"] is None
        _calibrate(1.2)
        shown = (await client.call_tool("estimate_vram", args)).structured_content
    assert shown["correction"]["factor"] == pytest.approx(1.2, abs=0.01)
    assert shown["correction"]["source"].endswith("vram-calibration.json")
    assert shown["notes"][0].startswith("Corrected by x1.20 for this machine")


def test_gate2_and_config_md_say_when_the_correction_changed_the_numbers(workspace: Path, this_box: None) -> None:
    from loragate.plan.gate2 import check_plan, generate_config

    first = generate_config("mira", "sdxl", flat_dataset(workspace), "mira", gpu_gb=24).gate2
    assert "PLAN_VRAM_CORRECTED" not in {f.code for f in first.findings}
    assert "This machine's correction" not in Path(first.config_path).read_text()
    _calibrate(1.15)
    gate = check_plan("mira")
    finding = next(f for f in gate.findings if f.code == "PLAN_VRAM_CORRECTED")
    assert finding.severity == "info" and "x1.15" in finding.message
    assert gate.vram is not None and finding.evidence["uncorrected_gb"] == first.vram.estimate_gb  # type: ignore[union-attr]
    config = Path(gate.config_path).read_text()
    assert "This machine's correction is applied: x1.15" in config and "vram-calibration.json" in config
