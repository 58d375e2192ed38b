"""The supervisor's out-of-memory ladder and the placement of the two Wan 2.2 experts."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from loragate.plan.store import load_project_plan
from loragate.runs.launch import launch
from loragate.runs.lock import pid_alive
from tests.runs_fixtures import fakes_env, pass_gates, wait_for_job, wan_plan  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("fakes_env")

def test_oom_ladder_recovers_and_reports_in_plain_words(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = wan_plan(workspace, batch=4, resolution=1024)
    pass_gates(workspace, plan)
    monkeypatch.setenv("FAKE_VRAM_GB", "6.3")  # batch 4 and 2 do not fit in the stand-in, batch 1 does
    launch("mira")
    job = wait_for_job("mira", workspace)
    assert job.status == "complete", job.cause
    retries = [e.message for e in job.events if e.kind == "oom_retry"]
    assert len(retries) == 2 and job.oom_retries == 2
    assert "batch size halved from 4 to 2" in retries[0] and "from 2 to 1" in retries[1]
    assert json.loads(Path(job.plan_file).read_text())["schedule"]["batch_size"] == 1
    assert load_project_plan("mira").schedule.batch_size == 4  # the gated plan is never rewritten
    assert (workspace / "grimoire/training/mira/train.attempt1.log").exists()
    deadline = time.monotonic() + 30  # the supervisor renders progress.md last, once the GPU is free
    while pid_alive(job.supervisor_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    progress = (workspace / "grimoire/training/mira/progress.md").read_text(encoding="utf-8")
    assert "**Status: COMPLETE**" in progress
    assert "Retry 1 of 3" in progress and "Retry 2 of 3" in progress and "batch size halved from 4 to 2" in progress

def test_oom_ladder_gives_up_after_three_retries(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = wan_plan(workspace, batch=4, resolution=1024)
    pass_gates(workspace, plan)
    monkeypatch.setenv("FAKE_VRAM_GB", "2")
    launch("mira")
    job = wait_for_job("mira", workspace)
    assert job.status == "failed" and job.oom_retries == 3
    assert "after 3 retries" in job.cause
    assert [e.kind for e in job.events].count("oom_retry") == 3

def test_caching_oom_gets_the_change_for_caching(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Text-encoder caching out of memory: the fp8 text encoder, not a smaller batch that would not help."""
    plan = wan_plan(workspace, batch=2)
    pass_gates(workspace, plan)
    monkeypatch.setenv("FAKE_STAGES", "cache_text_encoder")
    monkeypatch.setenv("FAKE_VRAM_GB", "8")  # the stand-in's T5 needs 12 GB, 6.5 GB in fp8
    launch("mira")
    job = wait_for_job("mira", workspace)
    assert job.status == "complete", job.cause
    [retry] = [e.message for e in job.events if e.kind == "oom_retry"]
    assert "while caching the text-encoder outputs" in retry and "text encoder read in fp8" in retry
    attempt = json.loads(Path(job.plan_file).read_text())
    assert attempt["memory"]["fp8_text_encoder"] and attempt["schedule"]["batch_size"] == 2


def test_the_ladder_follows_the_phase_that_ran_out(workspace: Path) -> None:
    from loragate.runs.fit import next_oom_change
    from loragate.vram import cheaper_changes, request_from_plan

    plan = wan_plan(workspace, batch=4, resolution=1024)
    training = next_oom_change(plan, "training")
    assert training and training.plan.schedule.batch_size == 2 and not training.plan.memory.fp8_text_encoder
    caching = next_oom_change(plan, "text_encoder_caching")
    assert caching and caching.plan.memory.fp8_text_encoder and caching.plan.schedule.batch_size == 4
    # the same list Gate 2's fit plan is built from
    assert training.description == cheaper_changes(request_from_plan(plan), "training")[0].description


def test_wan22_experts_run_together_on_two_gpus(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = wan_plan(workspace, experts=True, together=True)
    pass_gates(workspace, plan)
    monkeypatch.setenv("LORAGATE_GPUS", "0,1")
    launch("mira")
    job = wait_for_job("mira", workspace)
    assert job.status == "complete", job.cause
    trains = {p.role: p for p in job.processes if p.role.startswith("train")}
    assert {trains["train-low"].gpu, trains["train-high"].gpu} == {0, 1}
    assert "each on its own GPU" in (job.placement or "")
    assert (Path(plan.output_dir) / "mira_low.safetensors").exists() and (Path(plan.output_dir) / "mira_high.safetensors").exists()
