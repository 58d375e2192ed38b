"""Gate 4 on the trainer stand-ins: GO with measured steps, and each failure said plainly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loragate.cli.nextstep import command_line
from loragate.core.errors import LoragateError
from loragate.gates.ledger import read_ledger
from loragate.runs.dryrun import dry_run
from tests.media import write_caption
from tests.runs_fixtures import H100, fake_gpus, fakes_env, wan_plan  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("fakes_env")


def test_dry_run_go_records_gate_4_and_uses_scratch(workspace: Path) -> None:
    plan = wan_plan(workspace)
    report = dry_run("mira", steps=3)
    assert report.verdict == "GO" and report.steps_completed == 3
    assert report.seconds_per_step is not None and report.seconds_per_step > 0
    assert [s.stage for s in report.steps] == ["cache_latents", "cache_text_encoder", "train"]
    folder = workspace / "grimoire" / "training" / "mira"
    scratch = folder / "dry-run" / "output"
    assert (scratch / "mira.safetensors").exists()
    assert not Path(plan.output_dir).exists()  # the real output folder is untouched
    record = read_ledger("mira").latest["dry_run"]
    assert record.verdict == "GO" and set(record.subject) == {"dataset", "caption_extension", "plan", "machine"}
    saved = json.loads((folder / "dry-run.json").read_text())
    assert saved["steps_completed"] == 3 and saved["caching_done"] is True
    assert "Steps completed**: 3 of 3" in (folder / "dry-run.md").read_text()


@pytest.mark.parametrize("steps", [1, 6])
def test_steps_out_of_range_is_a_clear_error(workspace: Path, steps: int) -> None:
    wan_plan(workspace)
    with pytest.raises(LoragateError, match="2 to 5"):
        dry_run("mira", steps=steps)


def test_weights_missing_names_the_flag(workspace: Path) -> None:
    plan = wan_plan(workspace)
    Path(plan.weights.dit).unlink()
    report = dry_run("mira", steps=2)
    assert report.verdict == "NO-GO"
    f = next(f for f in report.findings if f.severity == "block")
    assert f.code == "DRY_WEIGHTS_MISSING" and f.evidence["flag"] == "--dit"
    assert read_ledger("mira").latest["dry_run"].verdict == "NO-GO"


def test_caption_encoding_error(workspace: Path) -> None:
    plan = wan_plan(workspace)
    write_caption(Path(plan.dataset.subsets[0].path) / "img01.txt", "caf\xe9 \xff", "latin-1")
    report = dry_run("mira", steps=2)
    f = next(f for f in report.findings if f.severity == "block")
    assert f.code == "DRY_CAPTION_ENCODING" and f.evidence["stage"] == "cache_text_encoder"


def test_zero_samples_when_trainer_exits_zero(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wan_plan(workspace)
    monkeypatch.setenv("FAKE_NO_DATA", "1")
    report = dry_run("mira", steps=2)
    assert report.verdict == "NO-GO"
    assert report.steps[-1].exit_code == 0
    assert {f.code for f in report.findings} & {"DRY_NO_SAMPLES", "DRY_NOTHING_TRAINED"}


@pytest.mark.parametrize(("stages", "where"), [("cache_text_encoder", "caching the text-encoder outputs"), ("train", "running a training step")])
def test_oom_at_caching_vs_training(workspace: Path, monkeypatch: pytest.MonkeyPatch, stages: str, where: str) -> None:
    wan_plan(workspace)
    monkeypatch.setenv("FAKE_STAGES", stages)
    monkeypatch.setenv("FAKE_VRAM_GB", "1")
    report = dry_run("mira", steps=2)
    f = next(f for f in report.findings if f.severity == "block")
    assert f.code == "DRY_CUDA_OOM" and f.evidence["where"] == where


def test_killed_by_host_and_missing_module(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wan_plan(workspace)
    monkeypatch.setenv("FAKE_KILL_AFTER", "1")
    report = dry_run("mira", steps=3)
    f = next(f for f in report.findings if f.severity == "block")
    assert f.code == "DRY_HOST_OOM" and "RAM" in f.message
    monkeypatch.delenv("FAKE_KILL_AFTER")
    monkeypatch.setenv("FAKE_MISSING_MODULE", "bitsandbytes")
    report = dry_run("mira", steps=3)
    f = next(f for f in report.findings if f.severity == "block")
    assert f.code == "DRY_MISSING_MODULE" and "pip install bitsandbytes" in f.fix


def test_hang_hits_the_stage_timeout(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wan_plan(workspace)
    monkeypatch.setenv("FAKE_HANG_AFTER", "1")
    report = dry_run("mira", steps=3, timeouts={"train": 3})
    f = next(f for f in report.findings if f.severity == "block")
    assert f.code == "DRY_TIMEOUT" and report.steps[-1].timed_out


def test_experts_planned_together_run_at_once_on_one_gpu(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Launch would start both Wan 2.2 experts at once on the H100; so does the dry run, and it
    measures what the card held with both loaded."""
    fake_gpus(monkeypatch, workspace, [H100])
    monkeypatch.setenv("FAKE_STEP_SECONDS", "0.3")  # long enough for the sampler to see both at once
    wan_plan(workspace, experts=True, together=True)
    report = dry_run("mira", steps=3)
    assert report.verdict == "GO", report.findings
    trains = [s for s in report.steps if s.stage == "train"]
    assert {s.expert for s in trains} == {"high", "low"} and all(s.together and s.gpu == 0 for s in trains)
    assert report.placement and "at once on one GPU" in report.placement
    assert report.peak_vram_gb is not None and report.combined_peak_vram_gb is not None
    assert report.combined_peak_vram_gb > 1.5 * report.peak_vram_gb  # both models on the card at the same time
    assert report.wall_seconds_per_step == pytest.approx(max(s.seconds_per_step or 0 for s in trains), abs=1e-3)
    md = (workspace / "grimoire" / "training" / "mira" / "dry-run.md").read_text()
    assert "Both experts at once (measured)" in md and "high, at once" in md


def test_experts_that_fit_alone_but_not_together_fail_the_dry_run(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An 50 GB card holds one 14B expert, not two: the dry run must find out before launch does."""
    fake_gpus(monkeypatch, workspace, [H100])
    monkeypatch.setenv("FAKE_VRAM_GB", "50")
    monkeypatch.setenv("FAKE_STEP_SECONDS", "0.3")
    wan_plan(workspace, experts=True, together=True)
    report = dry_run("mira", steps=3)
    assert report.verdict == "NO-GO"
    f = next(f for f in report.findings if f.severity == "block")
    assert f.code == "DRY_EXPERTS_OOM_TOGETHER" and "at the same time" in f.message
    # the next step re-plans with the experts one after the other, as each door says it
    assert "one after the other" in f.fix and f.next is not None
    assert (f.next.action, f.next.args["name"], f.next.args["experts_together"]) == ("generate_config", "mira", False)
    assert command_line(f.next).startswith("loragate plan new mira --model ") and "--one-after-another" in command_line(f.next)
    # one after the other, each expert has the card to itself and the same budget is enough
    wan_plan(workspace, experts=True, together=False)
    report = dry_run("mira", steps=2)
    assert report.verdict == "GO", report.findings
    assert not any(s.together for s in report.steps) and report.combined_peak_vram_gb is None


def test_experts_together_on_two_gpus_each_get_a_card(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_gpus(monkeypatch, workspace, [H100, H100])
    monkeypatch.setenv("FAKE_VRAM_GB", "50")
    wan_plan(workspace, experts=True, together=True)
    report = dry_run("mira", steps=2)
    assert report.verdict == "GO", report.findings
    assert sorted(s.gpu for s in report.steps if s.stage == "train") == [0, 1]
    assert report.placement and "each on its own GPU" in report.placement
