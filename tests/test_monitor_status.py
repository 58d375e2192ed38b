"""The monitor's status and cause for each way a run ends, from job.json and the logs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loragate.core.errors import LoragateError
from loragate.runs.monitor import monitor
from tests.monitor_helpers import fixture_log, make_job, tqdm, train_argv, write_lora


@pytest.fixture
def alive_pid():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def _age(path: Path, seconds: float) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_complete_run_lists_checkpoints(workspace: Path) -> None:
    out = workspace / "out"
    log = fixture_log("musubi-complete.log", workspace / "grimoire/training/p/train.log", out)
    for name in ("mylora-000001", "mylora-000002", "mylora-000003", "mylora"):
        write_lora(out / f"{name}.safetensors")
    make_job("p", [{"role": "train", "argv": train_argv(out), "log": str(log), "pid": 999999, "status": "succeeded", "exit_code": 0}],
             status="complete", output_dir=out)
    r = monitor("p")
    assert r.status == "COMPLETE" and r.cause is None
    assert (r.step, r.total_steps, r.epoch, r.total_epochs) == (12, 12, 4, 4)
    assert [c.file for c in r.checkpoints][-1] == "mylora.safetensors"
    assert {c.kind for c in r.checkpoints} == {"epoch", "final"}


def test_exit_zero_without_final_file_fails(workspace: Path) -> None:
    out = workspace / "out"
    log = fixture_log("musubi-complete.log", workspace / "grimoire/training/p/train.log", out)
    make_job("p", [{"role": "train", "argv": train_argv(out), "log": str(log), "status": "succeeded", "exit_code": 0}], output_dir=out)
    r = monitor("p")
    assert r.status == "FAILED" and ".safetensors" in r.cause


def test_cuda_oom(workspace: Path) -> None:
    log = fixture_log("musubi-oom.log", workspace / "grimoire/training/p/train.log", workspace / "out")
    make_job("p", [{"role": "train", "argv": train_argv(workspace / "out"), "log": str(log), "status": "failed", "exit_code": 1}])
    r = monitor("p")
    assert r.status == "FAILED" and "ran out of memory" in r.cause and r.fix


def test_killed_by_the_host(workspace: Path) -> None:
    log = fixture_log("musubi-killed.log", workspace / "grimoire/training/p/train.log", workspace / "out")
    make_job("p", [{"role": "train", "argv": train_argv(workspace / "out"), "log": str(log), "status": "failed", "exit_code": -9}])
    r = monitor("p")
    assert r.status == "FAILED" and "killed by the host" in r.cause and "memory" in r.cause
    assert r.step == 4


def test_traceback_last_line_is_the_cause(workspace: Path) -> None:
    log = fixture_log("sdxl-assert.log", workspace / "grimoire/training/p/train.log", workspace / "out")
    make_job("p", [{"role": "train", "argv": train_argv(workspace / "out"), "log": str(log), "status": "failed", "exit_code": 1}])
    r = monitor("p")
    assert r.status == "FAILED" and "AssertionError: network for Text Encoder cannot be trained" in r.cause


def test_no_data_exit_zero(workspace: Path) -> None:
    log = fixture_log("sdscripts-no-data.log", workspace / "grimoire/training/p/train.log", workspace / "out")
    make_job("p", [{"role": "train", "argv": train_argv(workspace / "out"), "log": str(log), "status": "failed", "exit_code": 0}])
    r = monitor("p")
    assert r.status == "FAILED" and "no training samples" in r.cause


def test_nan_while_still_running_is_a_failure(workspace: Path, alive_pid: int) -> None:
    log = fixture_log("musubi-nan.log", workspace / "grimoire/training/p/train.log", workspace / "out")
    make_job("p", [{"role": "train", "argv": train_argv(workspace / "out"), "log": str(log), "pid": alive_pid, "status": "running"}])
    r = monitor("p")
    assert r.status == "FAILED" and "NaN at step 6" in r.cause
    assert [a.code for a in r.anomalies] == ["LOSS_NAN"]


def _running_log(path: Path, steps: int, total: int, seconds_per_step: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("running training / 学習開始\n" + "".join(tqdm(n, total, 0.1, seconds_per_step) for n in range(1, steps + 1)), encoding="utf-8")
    return path


def test_running_with_eta(workspace: Path, alive_pid: int) -> None:
    log = _running_log(workspace / "grimoire/training/p/train.log", 40, 100, 0.5)
    make_job("p", [{"role": "train", "argv": train_argv(workspace / "out"), "log": str(log), "pid": alive_pid, "status": "running"}])
    r = monitor("p")
    assert r.status == "RUNNING" and r.step == 40 and r.rate == pytest.approx(2.0)
    assert r.eta_seconds == pytest.approx(30.0)  # 60 steps left at 2 steps per second
    assert r.vram_gb is None  # no GPU here: not measured rather than a guess


def test_stall_threshold_scales_with_step_time(workspace: Path, alive_pid: int) -> None:
    log = _running_log(workspace / "grimoire/training/p/train.log", 10, 100, 60.0)  # a minute per step
    make_job("p", [{"role": "train", "argv": train_argv(workspace / "out"), "log": str(log), "pid": alive_pid, "status": "running"}])
    _age(log, 15 * 60)
    assert monitor("p").status == "RUNNING"  # 15 silent minutes is normal at 60 s per step (limit 20 min)
    _age(log, 25 * 60)
    r = monitor("p")
    assert r.status == "STALLED" and "25 minutes" in r.cause and r.streams[0].stall_after_seconds == 1200

    fast = _running_log(workspace / "grimoire/training/p/train.log", 10, 100, 0.5)
    _age(fast, 15 * 60)
    assert monitor("p").status == "STALLED"  # at 0.5 s per step, 15 minutes of silence is a hang


def test_process_gone_without_exit_code(workspace: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    log = _running_log(workspace / "grimoire/training/p/train.log", 5, 100, 0.5)
    make_job("p", [{"role": "train", "argv": train_argv(workspace / "out"), "log": str(log), "pid": gone.pid, "status": "running"}])
    r = monitor("p")
    assert r.status == "FAILED" and "gone without an exit code" in r.cause


def test_two_experts_combined(workspace: Path, alive_pid: int) -> None:
    folder = workspace / "grimoire/training/p"
    high = _running_log(folder / "train-high.log", 30, 100, 0.5)
    low = fixture_log("musubi-oom.log", folder / "train-low.log", workspace / "out")
    procs = [
        {"role": "train-high", "expert": "high", "argv": train_argv(workspace / "out", "mylora_high"), "log": str(high), "pid": alive_pid, "status": "running"},
        {"role": "train-low", "expert": "low", "argv": train_argv(workspace / "out", "mylora_low"), "log": str(low), "status": "failed", "exit_code": 1},
    ]
    make_job("p", procs, output_names=["mylora_high", "mylora_low"])
    r = monitor("p")
    assert r.status == "FAILED" and r.cause.startswith("The low-noise expert:") and "out of memory" in r.cause
    assert [(s.expert, s.status) for s in r.streams] == [("high", "RUNNING"), ("low", "FAILED")]
    assert r.logs == [str(high), str(low)]

    fixture_log("musubi-killed.log", low, workspace / "out")  # the retry is running now
    make_job("p", [procs[0], {**procs[1], "status": "running", "exit_code": None, "pid": alive_pid}], output_names=["mylora_high", "mylora_low"])
    r = monitor("p")
    assert r.status == "RUNNING" and r.step == 30 + 4 and r.total_steps == 100 + 9 and r.loss is None


def test_caching_stage_is_watched_before_training_starts(workspace: Path, alive_pid: int) -> None:
    folder = workspace / "grimoire/training/p"
    cache_log = folder / "cache-latents.log"
    cache_log.parent.mkdir(parents=True, exist_ok=True)
    cache_log.write_text("INFO:musubi_tuner.wan_cache_latents:Load dataset config from ds.toml\n", encoding="utf-8")
    make_job("p", [
        {"role": "cache_latents", "argv": ["python", "wan_cache_latents.py"], "log": str(cache_log), "pid": alive_pid, "status": "running"},
        {"role": "train", "argv": train_argv(workspace / "out"), "log": str(folder / "train.log")},
    ], events=["Out of memory: retrying with the batch halved (2 to 1)."])
    r = monitor("p")
    assert r.status == "RUNNING" and r.streams[0].role == "cache_latents"
    assert r.events and r.events[0].endswith("Out of memory: retrying with the batch halved (2 to 1).")


def test_unknown_project_and_missing_job(workspace: Path) -> None:
    with pytest.raises(LoragateError, match="no project named"):
        monitor("nope")
    (workspace / "grimoire/training/idle").mkdir(parents=True)
    with pytest.raises(LoragateError, match="has not been launched"):
        monitor("idle")


def test_log_mode_says_when_the_log_is_missing_or_a_folder(tmp_path: Path) -> None:
    with pytest.raises(LoragateError, match="does not exist"):
        monitor(log=tmp_path / "nope.log")
    with pytest.raises(LoragateError, match="is a folder, not a file"):
        monitor(log=tmp_path)


def test_log_mode_without_a_job(workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    log = fixture_log("sdxl-ansi-complete.log", tmp_path / "logs/train.log", out)
    r = monitor(log=log)
    # the log says the LoRA was saved: complete, though the file is on the machine that trained, not here
    assert r.status == "COMPLETE" and "not on this machine" in r.cause and "style.safetensors" in r.cause
    write_lora(out / "style.safetensors")
    write_lora(out / "style-000001.safetensors")
    r = monitor(log=log)
    assert r.status == "COMPLETE" and r.cause is None and [c.file for c in r.checkpoints] == ["style-000001.safetensors", "style.safetensors"]
    assert Path(r.progress_md).parent.is_relative_to(Path(os.environ["LORAGATE_CACHE_DIR"]))


def test_stopped_on_request(workspace: Path) -> None:
    log = _running_log(workspace / "grimoire/training/p/train.log", 5, 100, 0.5)
    make_job("p", [{"role": "train", "argv": train_argv(workspace / "out"), "log": str(log), "status": "stopped", "exit_code": -15}],
             status="stopped")
    r = monitor("p")
    assert r.status == "FAILED" and "stopped on request" in r.cause
    assert "`loragate continue p --from FILE`" in r.fix and "`loragate launch p`" in r.fix  # the project's own name


@pytest.mark.parametrize(("ending", "words"), [
    ("train.sh: line 3: 41234 Killed                  python wan_train_network.py --dit dit.safetensors\n", "system memory (RAM)"),
    ("Segmentation fault (core dumped)\n", "segmentation fault"),
    ("Traceback (most recent call last):\n  File \"t.py\", line 9, in <module>\n    step()\n"
     "RuntimeError: CUDA error: an illegal memory access was encountered\n", "illegal memory access"),
])
def test_log_mode_death_at_the_end_of_the_log_is_a_failure(tmp_path: Path, ending: str, words: str) -> None:
    """A trainer run from a shell script: what the shell or Python wrote last says it died, at once
    (not RUNNING until the stall limit). The shell's line may be glued to tqdm's unfinished status."""
    log = _running_log(tmp_path / "logs/train.log", 12, 100, 0.5)
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(ending)
    r = monitor(log=log)
    assert r.status == "FAILED" and words in r.cause and r.fix, (r.status, r.cause)
    assert r.step == 12


def test_log_mode_quiet_log_says_the_process_cannot_be_seen(tmp_path: Path) -> None:
    log = _running_log(tmp_path / "logs/train.log", 12, 100, 0.5)
    r = monitor(log=log)
    assert r.status == "RUNNING"  # written just now: the log itself shows the trainer at work
    _age(log, 3 * 60)  # longer than 5 steps and a minute, shorter than the stall limit
    r = monitor(log=log)
    assert r.status == "UNKNOWN" and "can't see the trainer's process in --log mode" in r.cause
    assert "nvidia-smi" in r.fix and r.eta_seconds is None
    _age(log, 20 * 60)
    assert monitor(log=log).status == "STALLED"


def _expert(folder: Path, out: Path, expert: str, pid: int, steps: int, seconds_per_step: float, loss: float) -> dict:
    log = folder / f"train-{expert}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("running training / 学習開始\n" + "".join(tqdm(n, 100, loss, seconds_per_step) for n in range(1, steps + 1)), encoding="utf-8")
    return {"role": f"train-{expert}", "expert": expert, "argv": train_argv(out, f"mylora_{expert}"), "log": str(log), "pid": pid, "status": "running"}


def test_two_experts_at_once_have_a_combined_top_line(workspace: Path, alive_pid: int) -> None:
    """Loss and speed per expert on the top line, the slower expert's speed and time left."""
    folder, out = workspace / "grimoire/training/p", workspace / "out"
    make_job("p", [_expert(folder, out, "high", alive_pid, 40, 0.5, 0.125), _expert(folder, out, "low", alive_pid, 20, 1.0, 0.0875)],
             output_names=["mylora_high", "mylora_low"])
    r = monitor("p")
    assert r.status == "RUNNING" and r.loss is None
    assert r.rate == pytest.approx(1.0)  # the low-noise expert is the slower one
    assert r.eta_seconds == pytest.approx(80.0)  # its 80 steps left at 1 s each (the other needs 30 s)
    text = Path(r.progress_md).read_text()
    assert "Loss (smoothed by the trainer): high 0.1250, low 0.0875" in text
    assert "Speed: high 0.50 s/step, low 1.00 s/step" in text


def test_experts_one_after_the_other_count_the_one_still_to_come(workspace: Path, alive_pid: int) -> None:
    folder, out = workspace / "grimoire/training/p", workspace / "out"
    make_job("p", [_expert(folder, out, "high", alive_pid, 40, 0.5, 0.125)], output_names=["mylora_high", "mylora_low"])
    r = monitor("p")
    assert r.status == "RUNNING"
    assert r.eta_seconds == pytest.approx(30.0 + 50.0)  # 60 steps left, then the low-noise expert's 100 at the same speed
