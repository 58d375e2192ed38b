"""Adopting a training whose supervisor was killed (kill -9) while its trainer runs on: a new
supervisor takes the job and the GPU over, watches the trainer it did not start, and finishes the
record as a supervised run would; what is left to run (the other Wan 2.2 expert, OOM retries)
runs under it. Refused plainly when there is nothing to adopt, and the second time."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from mcp import Client
from mcp.types import ElicitResult
from typer.testing import CliRunner

from loragate.cli import app
from loragate.core.errors import LoragateError
from loragate.runs.adopt import adopt
from loragate.runs.job import read_job
from loragate.runs.launch import launch
from loragate.runs.lock import read_lock
from loragate.runs.monitor import monitor
from loragate.runs.process import group_alive
from mcp_server.server import build_server
from tests.runs_fixtures import fakes_env, pass_gates, wait_for_job, wan_plan  # noqa: F401 - fixture
from tests.test_runs_orphan import _kill_supervisor, _training_started

pytestmark = pytest.mark.usefixtures("fakes_env")


def _orphan(workspace: Path, **plan_kw: object) -> int:
    """A launched training whose supervisor was killed; returns the running trainer's group."""
    plan = wan_plan(workspace, **plan_kw)  # type: ignore[arg-type]
    pass_gates(workspace, plan)
    launch("mira")
    job = _training_started("mira")
    trainer = next(p.pid for p in job.processes if p.role.startswith("train") and p.pid)
    _kill_supervisor(job)
    assert group_alive(trainer)
    return trainer


def test_adopted_run_is_supervised_again_and_completes_with_its_lora(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_STEP_SECONDS", "0.2")
    trainer = _orphan(workspace)
    orphaned = monitor("mira", plot=False)
    assert "loragate adopt mira" in (orphaned.fix or "")
    assert [(s.action, s.args) for s in orphaned.next_steps] == [("adopt_run", {"project": "mira"}), ("stop", {"project": "mira"})]
    with pytest.raises(LoragateError) as relaunch:
        launch("mira")
    assert relaunch.value.next is not None and relaunch.value.next.action == "adopt_run"

    result = adopt("mira")
    assert result.status == "running" and result.groups == [trainer]
    report = monitor("mira", plot=False)
    assert report.status == "RUNNING" and report.supervised is True and report.supervision is None and report.next_steps == []
    deadline = time.monotonic() + 10  # the lock names the new supervisor and the trainer's group it took over
    while time.monotonic() < deadline and trainer not in getattr(read_lock(0), "groups", {}):
        time.sleep(0.05)
    held = read_lock(0)
    assert held is not None and held.pid == result.supervisor_pid and trainer in held.groups

    with pytest.raises(LoragateError) as twice:
        adopt("mira")
    assert "no orphan to adopt" in twice.value.message and str(result.supervisor_pid) in twice.value.message

    job = wait_for_job("mira", workspace)
    assert job.status == "complete", job.cause
    record = next(p for p in job.processes if p.role == "train")
    assert record.status == "succeeded" and record.exit_code is None  # how it ended is read, its code was lost
    final = monitor("mira", plot=False)
    assert final.status == "COMPLETE" and final.checkpoints
    assert any(Path(c.path).name == "mira.safetensors" for c in final.checkpoints)
    progress = Path(final.progress_md or "").read_text()
    assert "adopted" in progress and "cannot change the settings" in progress
    assert read_lock(0) is None


def test_adopting_runs_the_wan22_expert_still_to_come(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_STEP_SECONDS", "0.1")
    _orphan(workspace, experts=True, together=False)
    adopt("mira")
    job = wait_for_job("mira", workspace)
    assert job.status == "complete", job.cause
    trains = [p for p in job.processes if p.role.startswith("train")]
    assert sorted(p.role for p in trains) == ["train-high", "train-low"] and {p.status for p in trains} == {"succeeded"}
    assert sum(p.exit_code is None for p in trains) == 1  # the adopted one; the other the new supervisor started
    for name in ("mira_low.safetensors", "mira_high.safetensors"):
        assert (Path(job.output_dir) / name).is_file()


def test_a_trainer_that_fails_after_adoption_reads_failed_with_its_cause(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # runs out of GPU memory after step 3 (of 6) in every attempt: the adopted one, then each retry the new
    # supervisor starts with cheaper settings (so OOM recovery works again), then it gives up
    monkeypatch.setenv("FAKE_STEP_SECONDS", "1.5")
    monkeypatch.setenv("FAKE_OOM_AFTER", "3")
    _orphan(workspace)
    adopt("mira")
    job = wait_for_job("mira", workspace, timeout=300)
    assert job.status == "failed" and "out of GPU memory" in (job.cause or ""), job.cause
    assert job.oom_retries >= 1 and any(e.kind == "oom_retry" for e in job.events)
    report = monitor("mira", plot=False)
    assert report.status == "FAILED" and "memory" in (report.cause or "")
    assert read_lock(0) is None


def test_adopt_with_nothing_to_adopt_says_so_in_every_door(workspace: Path) -> None:
    wan_plan(workspace)
    with pytest.raises(LoragateError) as none:
        adopt("mira")
    assert "no launched training" in none.value.message
    done = CliRunner().invoke(app, ["adopt", "mira"])
    assert done.exit_code == 2 and "nothing to adopt" in done.output


@pytest.mark.anyio
async def test_adopt_run_tool_refuses_before_asking_when_nothing_is_orphaned(workspace: Path) -> None:
    wan_plan(workspace)
    asked: list[str] = []

    async def callback(context, params):  # noqa: ANN001, ANN202
        asked.append(params.message)
        return ElicitResult(action="accept", content={"proceed": True})

    async with Client(build_server(), mode="legacy", elicitation_callback=callback) as client:
        tool = next(t for t in (await client.list_tools()).tools if t.name == "adopt_run")
        assert (tool.meta or {}).get("anthropic/requiresUserInteraction") is True
        result = await client.call_tool("adopt_run", {"project": "mira"})
    assert result.is_error and "nothing to adopt" in result.content[0].text and asked == []


@pytest.mark.anyio
async def test_adopt_run_tool_adopts_after_the_user_confirms(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_STEP_SECONDS", "1.0")  # slow enough that the training outlives two tool calls on a busy machine
    _orphan(workspace)
    answer = {"action": "decline"}

    async def callback(context, params):  # noqa: ANN001, ANN202
        if answer["action"] == "decline":
            return ElicitResult(action="decline")
        return ElicitResult(action="accept", content={"proceed": True})

    async with Client(build_server(), mode="legacy", elicitation_callback=callback) as client:
        declined = await client.call_tool("adopt_run", {"project": "mira"})
        assert declined.structured_content["adopted"] is False
        answer["action"] = "accept"
        adopted = await client.call_tool("adopt_run", {"project": "mira"})
        assert adopted.structured_content["adopted"] is True, adopted.content
    job = read_job("mira")
    assert job is not None and job.supervisor_pid == adopted.structured_content["job"]["supervisor_pid"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and monitor("mira", plot=False).supervised is not True:
        time.sleep(0.1)
    assert monitor("mira", plot=False).supervised is True


def test_an_adopted_expert_that_ended_reads_complete_while_the_other_trains_on(tmp_path: Path) -> None:
    # its end is recorded without an exit code; its quiet log must not read as a stall for hours
    from loragate.runs.job import ProcessRecord
    from loragate.runs.logparse import LogFacts
    from loragate.runs.monitor import _classify
    from tests.media import write_safetensors_header

    write_safetensors_header(tmp_path / "mira_high.safetensors", {"lora_unet_x.lora_down.weight": ("F16", [4, 8])})
    argv = ["accelerate", "launch", "wan_train_network.py", "--output_dir", str(tmp_path), "--output_name", "mira_high"]
    proc = ProcessRecord(role="train-high", expert="high", argv=argv, log=str(tmp_path / "train-high.log"), pid=1, status="succeeded")
    facts = LogFacts(step=6, total_steps=6, seconds_per_step=0.1)
    status, cause, _ = _classify(facts, proc, False, 5 * 3600.0, Path(proc.log), [], supervised=True)
    assert status == "COMPLETE", cause
