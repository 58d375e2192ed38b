"""Launch behind the gates, the detached supervisor, the OOM ladder, the GPU lock, stop and continue."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from loragate.core.errors import LoragateError
from loragate.plan.store import load_project_plan
from loragate.runs.job import read_job
from loragate.runs.launch import launch
from loragate.runs.lock import acquire_gpus, read_lock
from loragate.runs.resume import continue_run
from loragate.runs.stop import stop
from tests.media import write_caption
from tests.runs_fixtures import fakes_env, pass_gates, wait_for_job, wan_plan  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("fakes_env")


def test_refused_with_stale_gate_after_caption_edit(workspace: Path) -> None:
    plan = wan_plan(workspace)
    pass_gates(workspace, plan)
    time.sleep(0.01)
    write_caption(Path(plan.dataset.subsets[0].path) / "img00.txt", "mira woman, edited", "utf-8")
    with pytest.raises(LoragateError) as err:
        launch("mira")
    assert "Gate 1" in err.value.message and "stale" in err.value.message
    assert err.value.next is not None and err.value.next.action == "audit_dataset"
    assert read_job("mira") is None  # nothing started


def test_supervisor_outlives_its_caller(workspace: Path) -> None:
    plan = wan_plan(workspace)
    pass_gates(workspace, plan)
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(Path(__file__).parents[1])!r})
        from loragate.runs.launch import launch
        print(launch("mira").job_id)
        os._exit(0)
    """)
    env_root = str(workspace)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180,
                         env={**__import__("os").environ, "LORAGATE_ROOT": env_root, "FAKE_STEP_SECONDS": "0.3"})
    assert out.returncode == 0, out.stderr
    job_id = out.stdout.strip().splitlines()[-1]
    running = read_job("mira")
    assert running is not None and running.job_id == job_id and running.status == "running"  # caller gone, job alive
    job = wait_for_job("mira", workspace)
    assert job.status == "complete", job.cause
    assert (Path(plan.output_dir) / "mira.safetensors").exists()
    assert read_lock(0) is None  # released at the end
    assert any(e.kind == "completed" for e in job.events)


def test_one_training_per_gpu(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_STEP_SECONDS", "0.5")
    first = wan_plan(workspace, name="mira")
    second = wan_plan(workspace, name="other")
    pass_gates(workspace, first)
    pass_gates(workspace, second)
    launch("mira")
    with pytest.raises(LoragateError) as err:
        launch("other")
    assert "GPU 0 is busy" in err.value.message and "mira" in err.value.message
    stop("mira", interrupt_grace_s=2, terminate_grace_s=2)


def test_stale_lock_of_dead_process_is_taken_over(workspace: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    acquire_gpus([0], "crashed", "old-job", pid=dead.pid)
    plan = wan_plan(workspace)
    pass_gates(workspace, plan)
    result = launch("mira")
    assert any("crashed" in n and "taken over" in n for n in result.notes)
    assert wait_for_job("mira", workspace).status == "complete"


def test_stop_is_graceful_then_forceful(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = wan_plan(workspace)
    pass_gates(workspace, plan)
    monkeypatch.setenv("FAKE_HANG_AFTER", "1")
    launch("mira")
    deadline = time.monotonic() + 120  # caching comes first; a loaded machine is slow to get there
    while time.monotonic() < deadline:
        job = read_job("mira")
        if job and any(p.role == "train" and p.pid for p in job.processes):
            break
        time.sleep(0.1)
    started = time.monotonic()
    result = stop("mira", interrupt_grace_s=1, terminate_grace_s=1)
    assert result.stopped and time.monotonic() - started < 15
    job = read_job("mira")
    assert job.status == "stopped" and "Stopped on request" in job.cause
    assert read_lock(0) is None
    assert stop("mira").stopped is False  # nothing left to stop


def test_continue_uses_network_weights_and_makes_gates_stale(workspace: Path) -> None:
    plan = wan_plan(workspace)
    pass_gates(workspace, plan)
    launch("mira")
    assert wait_for_job("mira", workspace).status == "complete"
    checkpoint = Path(plan.output_dir) / "mira-000001.safetensors"
    result = continue_run("mira", str(checkpoint), learning_rate=5e-5, epochs=3)
    new = load_project_plan("mira")
    assert new.network.weights == str(checkpoint) and new.optimizer.learning_rate == 5e-5
    assert new.output_name != plan.output_name  # the first LoRA is kept
    # the epochs and file name changed: the disk Gate 3 judged too
    assert [s.action for s in result.gates_to_rerun] == ["check_plan", "validate_env", "dry_run"]
    assert "Gate 2" in result.message and "Gate 4" in result.message
    with pytest.raises(LoragateError, match="Gate 2"):
        launch("mira")
    from loragate.backends import get_backend

    train = [c for c in get_backend("musubi").commands(new) if c.stage == "train"][0].argv
    assert train[train.index("--network_weights") + 1] == str(checkpoint)
    assert "--resume" not in train
