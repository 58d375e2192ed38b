"""A training that loses its supervisor: kill -9 of the supervisor leaves the trainer running. The
training (its process groups) keeps the GPU, monitor says supervision is gone, a new launch refuses,
stop ends it; one that finishes unsupervised reads COMPLETE; a launch that died before its
supervisor started does not read RUNNING forever."""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest

from loragate.core.errors import LoragateError
from loragate.runs.job import Job, read_job, utcnow, write_job
from loragate.runs.launch import launch
from loragate.runs.lock import read_lock
from loragate.runs.monitor import monitor
from loragate.runs.process import group_alive
from loragate.runs.stop import stop
from tests.runs_fixtures import fakes_env, pass_gates, wan_plan  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("fakes_env")


def _training_started(name: str, timeout: float = 120) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = read_job(name)
        if job and any(p.role.startswith("train") and p.pid for p in job.processes):
            return job
        time.sleep(0.1)
    raise AssertionError("training never started")


def _kill_supervisor(job: Job) -> None:
    assert job.supervisor_pid
    os.kill(job.supervisor_pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(job.supervisor_pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def test_orphaned_trainer_keeps_the_gpu_is_reported_and_can_be_stopped(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_STEP_SECONDS", "0.5")
    first, second = wan_plan(workspace, name="mira"), wan_plan(workspace, name="other")
    pass_gates(workspace, first)
    pass_gates(workspace, second)
    launch("mira")
    job = _training_started("mira")
    trainer = next(p.pid for p in job.processes if p.role.startswith("train"))
    _kill_supervisor(job)
    assert group_alive(trainer)

    report = monitor("mira", plot=False)
    assert report.status == "RUNNING" and report.supervised is False
    assert "supervisor" in (report.supervision or "") and "out-of-memory recovery" in (report.supervision or "")
    assert "loragate stop mira" in (report.fix or "") and "loragate monitor mira" in (report.fix or "")

    with pytest.raises(LoragateError) as same:
        launch("mira")
    assert "unsupervised" in same.value.message and "second copy" in same.value.message
    with pytest.raises(LoragateError) as other:
        launch("other")
    assert "GPU 0 is busy" in other.value.message
    assert read_lock(0) is not None and read_lock(0).project == "mira"

    result = stop("mira", interrupt_grace_s=1, terminate_grace_s=1)
    assert result.stopped and not group_alive(trainer)
    assert read_lock(0) is None


def test_a_trainer_that_finished_unsupervised_reads_complete(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_STEP_SECONDS", "0.2")
    plan = wan_plan(workspace)
    pass_gates(workspace, plan)
    launch("mira")
    job = _training_started("mira")
    trainer = next(p.pid for p in job.processes if p.role.startswith("train"))
    _kill_supervisor(job)
    deadline = time.monotonic() + 180
    while group_alive(trainer) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not group_alive(trainer)
    report = monitor("mira", plot=False)
    assert report.status == "COMPLETE", (report.cause, report.fix)


def test_a_launch_killed_before_its_supervisor_started_does_not_read_running_forever(workspace: Path) -> None:
    plan = wan_plan(workspace)
    write_job(Job(job_id="abc", project="mira", output_dir=plan.output_dir, created_at=utcnow() - timedelta(minutes=5)))
    report = monitor("mira", plot=False)
    assert report.status == "FAILED" and "before training began" in (report.cause or "")
    fresh = Job(job_id="def", project="mira", output_dir=plan.output_dir)
    write_job(fresh)
    assert monitor("mira", plot=False).status == "RUNNING"  # just launched: the supervisor is on its way


def test_launch_rechecks_the_disk_gate_3_saw(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    from collections import namedtuple

    plan = wan_plan(workspace)
    pass_gates(workspace, plan)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**12, 10**12 - 1024, 1024))
    with pytest.raises(LoragateError) as err:
        launch("mira")
    assert "filled up since Gate 3" in err.value.message
    assert read_job("mira") is None and read_lock(0) is None
