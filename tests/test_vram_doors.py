"""Calibration from dry runs, request_from_plan, the CLI (exit codes, JSON) and the MCP tools."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loragate.cli import app
from loragate.core.plan import DatasetSpec, MemorySpec, NetworkSpec, ScheduleSpec, TrainingPlan
from loragate.vram import estimate_vram, make_request, record_measurement, request_from_plan
from loragate.vram.calibration import calibration_path

runner = CliRunner()


def test_correction_is_applied_after_a_dry_run(workspace: Path) -> None:
    req = make_request(model="sdxl", resolution="1024", rank=16)
    before = estimate_vram(req)
    assert before.correction is None
    record_measurement("sdxl", req, before.estimate_gb * 1.25, machine="box-a")
    assert calibration_path().exists()
    from loragate.vram import calibration

    assert calibration.correction_for("sdxl", machine="box-a").factor == pytest.approx(1.25, abs=0.01)
    assert calibration.correction_for("pony", machine="box-a").basis == "group"  # same family group
    assert calibration.correction_for("sdxl", machine="box-b") is None  # another machine keeps its own


def test_estimate_applies_this_machines_correction(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("loragate.environment.machine.hardware_fingerprint", lambda: "this-box")
    monkeypatch.setattr("loragate.environment.machine.machine_fingerprint", lambda: "before-pip-install")
    req = make_request(model="flux1-dev", resolution="1024", fp8_base=True)
    plain = estimate_vram(req).estimate_gb
    record_measurement("flux1-dev", req, plain * 1.1)
    # a pip install or a trainer update changes Gate 3's fingerprint, not how this GPU uses memory
    monkeypatch.setattr("loragate.environment.machine.machine_fingerprint", lambda: "after-pip-install")
    corrected = estimate_vram(req)
    assert corrected.correction is not None and corrected.correction.factor == pytest.approx(1.1, abs=0.01)
    assert corrected.estimate_gb == pytest.approx(plain * 1.1, rel=0.01)
    assert any("dry run" in note for note in corrected.notes)
    # another GPU (or driver) keeps its own calibration
    monkeypatch.setattr("loragate.environment.machine.hardware_fingerprint", lambda: "other-gpu")
    assert estimate_vram(req).correction is None


def test_request_from_plan_takes_the_longest_clip(workspace: Path) -> None:
    plan = TrainingPlan(
        name="demo", model="wan2.2-i2v-a14b", backend="musubi", trigger="zxq", output_dir="/out", output_name="demo",
        dataset=DatasetSpec(path="/data", resolution=(832, 480), target_frames=[1, 33, 81]),
        network=NetworkSpec(module="networks.lora_wan", dim=32, alpha=32),
        schedule=ScheduleSpec(batch_size=1),
        memory=MemorySpec(mixed_precision="fp16", fp8_base=True, fp8_scaled=True, blocks_to_swap=20),
        gpu_gb=24,
    )
    req = request_from_plan(plan)
    assert (req.frames, req.rank, req.blocks_to_swap, req.gpu_gb) == (81, 32, 20, 24)
    assert req.fp8_scaled and req.cache_latents and req.cache_text_encoder_outputs
    assert estimate_vram(req).fits is not None
    assert not req.fp8_text_encoder


def test_request_from_plan_carries_the_fp8_text_encoder(workspace: Path) -> None:
    """A plan that caches with --fp8_t5 is estimated with the 8-bit text encoder, by every caller."""
    plan = TrainingPlan(
        name="demo", model="wan2.1-t2v-1.3b", backend="musubi", trigger="zxq", output_dir="/out", output_name="demo",
        dataset=DatasetSpec(path="/data", resolution=(832, 480), target_frames=[1]),
        network=NetworkSpec(module="networks.lora_wan", dim=16, alpha=16),
        memory=MemorySpec(fp8_text_encoder=True),
        gpu_gb=24,
    )
    full = estimate_vram(request_from_plan(plan.model_copy(update={"memory": MemorySpec()})))
    fp8 = estimate_vram(request_from_plan(plan))
    assert request_from_plan(plan).fp8_text_encoder
    assert fp8.phases["text_encoder_caching"] < full.phases["text_encoder_caching"]


def test_cli_fits_exit_0_and_json_is_the_model(workspace: Path) -> None:
    result = runner.invoke(app, ["vram", "--model", "sdxl", "--resolution", "1024", "--gpu-gb", "24", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["fits"] is True and data["estimate_gb"] < 24 and data["breakdown"]


def test_cli_does_not_fit_exit_1_with_plan(workspace: Path) -> None:
    result = runner.invoke(app, ["vram", "--model", "wan2.1-t2v-14b", "--resolution", "1280x720", "--rank", "32", "--gpu-gb", "24"])
    assert result.exit_code == 1
    assert "Does not fit" in result.stdout and "Cheapest changes" in result.stdout
    assert "Sequence:" not in result.stdout and "small patches (tokens)" in result.stdout


def test_cli_bad_input_exit_2(workspace: Path) -> None:
    result = runner.invoke(app, ["vram", "--model", "sdxl", "--resolution", "12x", "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""


def test_cli_models_lists_the_catalog(workspace: Path) -> None:
    result = runner.invoke(app, ["models", "--json"])
    assert result.exit_code == 0
    ids = {m["id"]: m for m in json.loads(result.stdout)["models"]}
    assert ids["pony"]["caption_style"] == "booru" and ids["wan2.2-t2v-a14b"]["experts"] == ["low 0-875", "high 875-1000"]
    # FLUX captions are read in full by T5 (512 tokens); only CLIP-L stops at 77
    assert ids["flux1-dev"]["token_limits"] == {"CLIP-L": 77, "T5-XXL": 512}
    assert ids["wan2.2-i2v-a14b"]["block_swap_max"] == 39 and ids["wan2.1-t2v-1.3b"]["block_swap_max"] == 29
    table = runner.invoke(app, ["models"], env={"COLUMNS": "220"}).stdout
    assert "512 (T5-XXL)" in table


@pytest.mark.anyio
async def test_mcp_estimate_vram_and_list_models(workspace: Path) -> None:
    from mcp import Client

    from mcp_server.server import build_server

    async with Client(build_server()) as client:
        result = await client.call_tool(
            "estimate_vram", {"model": "wan2.1-t2v-14b", "resolution": "1280x720", "rank": 32, "gpu_gb": 24}
        )
        assert not result.is_error
        assert result.structured_content["fits"] is False and result.structured_content["fit_plan"]
        bad = await client.call_tool("estimate_vram", {"model": "nope", "resolution": "1024"})
        assert bad.is_error and "Unknown model family" in bad.content[0].text
        listing = await client.call_tool("list_models", {})
        assert len(listing.structured_content["models"]) >= 10
