"""The monitor on a live trainer stand-in: running, then complete, reading only what is new."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from loragate.runs.job import read_job, write_job
from loragate.runs.monitor import monitor
from tests.fakes_helpers import MUSUBI_SRC, python, wan_cache, wan_project, wan_train_args
from tests.monitor_helpers import make_job


def test_live_run_is_followed_to_completion(workspace: Path, tmp_path: Path) -> None:
    p = wan_project(tmp_path)
    wan_cache(p, tmp_path)
    argv = python(MUSUBI_SRC / "wan_train_network.py", *wan_train_args(p, "--max_train_epochs", "5", "--save_every_n_epochs", "1"))
    log = workspace / "grimoire/training/live/train.log"
    log.parent.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAKE_")} | {"FAKE_STEP_SECONDS": "0.15"}
    with open(log, "wb") as handle:
        proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=handle, stderr=subprocess.STDOUT)
    make_job("live", [{"role": "train", "argv": argv, "log": str(log), "pid": proc.pid, "status": "running"}],
             output_dir=p["out"], output_names=["mylora"])
    try:
        deadline = time.monotonic() + 30
        seen = None
        total_read = 0
        while time.monotonic() < deadline:
            seen = monitor("live", plot=False)
            total_read += seen.bytes_read
            if seen.step and seen.step >= 3:
                break
            time.sleep(0.2)
        assert seen is not None and seen.status == "RUNNING" and seen.total_steps == 20
        assert seen.eta_seconds is not None and seen.eta_seconds > 0
        code = proc.wait(60)
    finally:
        proc.kill()
    job = read_job("live")
    job.processes[0].exit_code, job.processes[0].status = code, "succeeded"
    write_job(job)
    done = monitor("live")
    assert done.status == "COMPLETE" and done.step == 20 and done.epoch == 5
    assert total_read + done.bytes_read == log.stat().st_size  # every byte read once over all the polls
    assert [c.file for c in done.checkpoints] == [f"mylora-{e:06d}.safetensors" for e in range(1, 5)] + ["mylora.safetensors"]
    assert done.prunable == ["mylora-000001.safetensors"]
