"""The supervisor starts whatever its job id looks like, says why when it cannot, and nothing ever
signals a process group that loragate did not start (pids are recycled quickly on a busy machine)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from loragate.core.errors import LoragateError
from loragate.runs import launch as launch_module
from loragate.runs.job import Job, ProcessRecord, read_job, utcnow, write_job
from loragate.runs.launch import launch
from loragate.runs.lock import read_lock
from loragate.runs.process import is_started_group, signal_group
from loragate.runs.stop import stop
from loragate.workspace import project_dir
from tests.runs_fixtures import fakes_env, pass_gates, wait_for_job, wan_plan  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("fakes_env")


def test_a_job_id_that_looks_like_an_option_still_launches(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = wan_plan(workspace)
    pass_gates(workspace, plan)
    monkeypatch.setattr(launch_module, "new_job_id", lambda: "-Xy_looks-like-a-flag")
    result = launch("mira")
    assert result.job_id == "-Xy_looks-like-a-flag"
    assert wait_for_job("mira", workspace).status == "complete"
    log = project_dir("mira") / "supervisor.log"
    deadline = time.monotonic() + 30  # the last line follows the job's final write
    while "exits with code" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    text = log.read_text()
    assert "-Xy_looks-like-a-flag started" in text and "exits with code 0: job complete" in text


def test_a_supervisor_that_cannot_start_says_why(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = wan_plan(workspace)
    pass_gates(workspace, plan)
    real = launch_module.supervisor_argv
    monkeypatch.setattr(launch_module, "supervisor_argv", lambda *a: [*real(*a), "--bogus"])
    with pytest.raises(LoragateError) as err:
        launch("mira")
    assert "exited at once (code 2)" in err.value.message and "unrecognized arguments: --bogus" in err.value.message
    assert read_lock(0) is None  # the GPU is not left marked as busy


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)


def test_stop_never_signals_a_group_that_got_a_recorded_pid_later(workspace: Path) -> None:
    """job.json names pids from an hour ago; processes alive under those pids now are someone else's."""
    trainer, supervisor = _sleeper(), _sleeper()
    try:
        hour_ago = utcnow() - timedelta(hours=1)
        folder = project_dir("old", create=True)
        job = Job(job_id="j1", project="old", status="running", output_dir=str(folder / "out"), output_names=["old"],
                  supervisor_pid=supervisor.pid, created_at=hour_ago,
                  processes=[ProcessRecord(role="train", argv=["x"], log=str(folder / "train.log"), pid=trainer.pid,
                                           status="running", started_at=hour_ago)])
        write_job(job)
        result = stop("old", interrupt_grace_s=0.2, terminate_grace_s=0.2)
        assert result.stopped and read_job("old").status == "stopped"
        assert trainer.poll() is None and supervisor.poll() is None  # both untouched
    finally:
        for proc in (trainer, supervisor):
            proc.kill()
            proc.wait()


def test_own_group_and_reserved_ids_are_never_signalled() -> None:
    assert signal_group(os.getpgrp(), 0) is False
    assert signal_group(0, 0) is False and signal_group(1, 0) is False
    assert not is_started_group(os.getpgrp(), None)
    proc = _sleeper()
    try:
        assert is_started_group(proc.pid, utcnow())
        assert signal_group(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
        proc.wait()
