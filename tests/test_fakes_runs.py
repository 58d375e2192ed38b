"""The stand-ins print the real formats, write the real files, and fail the ways the real trainers do."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loragate.runs.richlog import log_lines
from tests.fakes_helpers import (
    ACCELERATE, MUSUBI, MUSUBI_SRC, SD_SCRIPTS, python, run, wan_cache, wan_dit, wan_project, wan_train_args,
)
from tests.media import write_caption, write_image, write_safetensors_header

TQDM = re.compile(r"steps: +\d+%\|[ ▏▎▍▌▋▊▉█]{10}\| \d+/\d+ \[\d\d:\d\d<(\d\d:\d\d|\?), +[\d.]+(it/s|s/it), avr_loss=[\d.e-]+\]")


@pytest.fixture
def wan(tmp_path: Path) -> dict[str, Path]:
    return wan_project(tmp_path)


def test_musubi_pipeline_through_accelerate_writes_caches_checkpoints_and_events(wan: dict[str, Path], tmp_path: Path) -> None:
    wan_cache(wan, tmp_path)
    names = sorted(p.name for p in wan["cache"].iterdir())
    assert "p0_0064x0048_wan.safetensors" in names and "p0_wan_te.safetensors" in names and len(names) == 8

    argv = [str(ACCELERATE), "launch", "--num_cpu_threads_per_process", "1", "--mixed_precision", "bf16",
            str(MUSUBI / "wan_train_network.py"),
            *wan_train_args(wan, "--max_train_epochs", "3", "--save_every_n_epochs", "1", "--logging_dir", str(tmp_path / "logs"))]
    done = run(argv, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "override steps. steps for 3 epochs is / 指定エポックまでのステップ数: 12" in done.stdout
    assert "  total optimization steps / 学習ステップ数: 12" in done.stdout
    assert "\nepoch 1/3\n" in done.stdout and "\nepoch 3/3\n" in done.stdout
    assert f"\nsaving checkpoint: {wan['out'] / 'mylora-000001.safetensors'}" in done.stdout
    updates = done.stderr.split("\r")
    assert sum(1 for u in updates if TQDM.match(u)) >= 12  # one \r-separated update per step
    assert any(u.startswith("steps: 100%|██████████| 12/12 [") for u in updates)
    assert "INFO:musubi_tuner.hv_train_network:model saved." in done.stderr
    # per-epoch files except for the last epoch, then the final file
    assert sorted(p.name for p in wan["out"].iterdir()) == ["mylora-000001.safetensors", "mylora-000002.safetensors", "mylora.safetensors"]
    from safetensors import safe_open

    with safe_open(str(wan["out"] / "mylora.safetensors"), framework="numpy") as f:
        assert f.metadata()["ss_steps"] == "12"
    events = list((tmp_path / "logs").glob("*/network_train/events.out.tfevents.*"))
    assert len(events) == 1


def test_step_checkpoints_and_max_steps(wan: dict[str, Path], tmp_path: Path) -> None:
    wan_cache(wan, tmp_path)
    done = run(python(MUSUBI_SRC / "wan_train_network.py", *wan_train_args(wan, "--max_train_steps", "7", "--save_every_n_steps", "3")), tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in wan["out"].iterdir()) == [
        "mylora-step00000003.safetensors", "mylora-step00000006.safetensors", "mylora.safetensors"]
    assert "7/7 [" in done.stderr


def test_training_without_cache_fails_with_musubi_message(wan: dict[str, Path], tmp_path: Path) -> None:
    done = run(python(MUSUBI_SRC / "wan_train_network.py", *wan_train_args(wan)), tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith(
        "ValueError: No training items found in the dataset. Please ensure that the latent/Text Encoder cache has been created beforehand.")


def test_i2v_task_on_t2v_cache_fails(wan: dict[str, Path], tmp_path: Path) -> None:
    wan_cache(wan, tmp_path)
    wan_dit(wan["dit"], in_dim=36)
    argv = wan_train_args(wan)
    argv[argv.index("t2v-14B")] = "i2v-A14B"
    done = run(python(MUSUBI_SRC / "wan_train_network.py", *argv), tmp_path)
    assert done.returncode == 1 and done.stderr.splitlines()[-1] == "KeyError: 'latents_image'"


def test_oom_above_budget_and_the_ladder_makes_it_fit(wan: dict[str, Path], tmp_path: Path) -> None:
    wan_cache(wan, tmp_path)
    env = {"FAKE_VRAM_GB": "16"}
    script = MUSUBI_SRC / "wan_train_network.py"
    plain = run(python(script, *wan_train_args(wan, "--max_train_steps", "3")), tmp_path, env)
    assert plain.returncode == 1
    assert "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate" in plain.stderr.splitlines()[-1]
    assert not wan["out"].exists()
    fp8 = run(python(script, *wan_train_args(wan, "--max_train_steps", "3", "--fp8_base")), tmp_path, env)
    assert fp8.returncode == 1  # 14.3 GB of fp8 weights plus LoRA and context still exceed 16 GB
    fitted = run(python(script, *wan_train_args(wan, "--max_train_steps", "3", "--fp8_base", "--blocks_to_swap", "20", "--gradient_checkpointing")), tmp_path, env)
    assert fitted.returncode == 0, fitted.stderr
    assert (wan["out"] / "mylora.safetensors").exists()


def test_oom_at_text_encoder_caching_only_when_asked_for_that_stage(wan: dict[str, Path], tmp_path: Path) -> None:
    argv = python(MUSUBI_SRC / "wan_cache_text_encoder_outputs.py", "--dataset_config", str(wan["toml"]), "--t5", str(wan["t5"]))
    assert run(argv, tmp_path, {"FAKE_VRAM_GB": "8"}).returncode == 0  # default FAKE_STAGES=train
    failed = run(argv, tmp_path, {"FAKE_VRAM_GB": "8", "FAKE_STAGES": "cache_text_encoder"})
    assert failed.returncode == 1 and "torch.OutOfMemoryError: CUDA out of memory." in failed.stderr
    assert run([*argv, "--fp8_t5"], tmp_path, {"FAKE_VRAM_GB": "8", "FAKE_STAGES": "cache_text_encoder"}).returncode == 0


def test_nan_loss_after_step(wan: dict[str, Path], tmp_path: Path) -> None:
    wan_cache(wan, tmp_path)
    done = run(python(MUSUBI_SRC / "wan_train_network.py", *wan_train_args(wan, "--max_train_steps", "5")), tmp_path, {"FAKE_NAN_AFTER": "2"})
    updates = [u for u in done.stderr.split("\r") if u.startswith("steps:")]
    assert "avr_loss=nan" not in updates[2] and "2/5" in updates[2]
    assert updates[3].rstrip().endswith("avr_loss=nan]")


def test_killed_by_the_host(wan: dict[str, Path], tmp_path: Path) -> None:
    wan_cache(wan, tmp_path)
    done = run(python(MUSUBI_SRC / "wan_train_network.py", *wan_train_args(wan, "--max_train_steps", "9")), tmp_path, {"FAKE_KILL_AFTER": "2"})
    assert done.returncode == -signal.SIGKILL
    assert "Traceback" not in done.stderr and "2/9 [" in done.stderr


def test_hang_stays_alive_and_silent(wan: dict[str, Path], tmp_path: Path) -> None:
    wan_cache(wan, tmp_path)
    log = tmp_path / "train.log"
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("FAKE_")} | {"FAKE_HANG_AFTER": "2"}
    with open(log, "wb") as handle:
        proc = subprocess.Popen(python(MUSUBI_SRC / "wan_train_network.py", *wan_train_args(wan, "--max_train_steps", "9")),
                                cwd=tmp_path, env=env, stdout=handle, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while b"2/9 [" not in log.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.1)
        size = log.stat().st_size
        time.sleep(0.5)
        assert proc.poll() is None and log.stat().st_size == size
    finally:
        proc.terminate()
        proc.wait(10)


def test_exit_zero_without_training(wan: dict[str, Path], tmp_path: Path) -> None:
    wan_cache(wan, tmp_path)
    done = run(python(MUSUBI_SRC / "wan_train_network.py", *wan_train_args(wan)), tmp_path, {"FAKE_NO_DATA": "1"})
    assert done.returncode == 0 and not wan["out"].exists()


def test_missing_module_and_missing_or_damaged_weights(wan: dict[str, Path], tmp_path: Path) -> None:
    wan_cache(wan, tmp_path)
    script = MUSUBI_SRC / "wan_train_network.py"
    module = run(python(script, *wan_train_args(wan)), tmp_path, {"FAKE_MISSING_MODULE": "bitsandbytes"})
    assert module.returncode == 1 and module.stderr.splitlines()[-1] == "ModuleNotFoundError: No module named 'bitsandbytes'"
    wan["dit"].unlink()
    missing = run(python(script, *wan_train_args(wan)), tmp_path)
    assert missing.stderr.splitlines()[-1] == f"FileNotFoundError: [Errno 2] No such file or directory: '{wan['dit']}'"
    wan["dit"].write_bytes(b"\xff" * 64)
    damaged = run(python(script, *wan_train_args(wan)), tmp_path)
    assert damaged.stderr.splitlines()[-1] == "safetensors_rust.SafetensorError: Error while deserializing header: HeaderTooLarge"


def test_dit_dtype_must_match_mixed_precision(wan: dict[str, Path], tmp_path: Path) -> None:
    wan_cache(wan, tmp_path)
    wan_dit(wan["dit"], dtype="F16")
    done = run(python(MUSUBI_SRC / "wan_train_network.py", *wan_train_args(wan)), tmp_path)
    assert done.stderr.splitlines()[-1] == "AssertionError: DiT weights are in fp16, mixed precision must be fp16 or no"


def _sd_data(root: Path) -> Path:
    for i in range(2):
        write_image(root / "train" / "5_sks" / f"i{i}.png", 64, 64, seed=i)
        write_caption(root / "train" / "5_sks" / f"i{i}.txt", "sks dog")
    write_safetensors_header(root / "base.safetensors", {"w": ("F16", [1])})
    return root / "train"


def test_sdscripts_no_data_found_exits_zero(tmp_path: Path) -> None:
    train = _sd_data(tmp_path)
    done = run(python(SD_SCRIPTS / "sdxl_train_network.py", "--pretrained_model_name_or_path", str(tmp_path / "base.safetensors"),
                      "--train_data_dir", str(train / "5_sks"), "--resolution", "64", "--output_dir", "out", "--output_name", "x"), tmp_path)
    assert done.returncode == 0
    # rich wraps the record at 80 columns when COLUMNS is unset, as the real one does
    assert "ERROR    No data found." in done.stderr
    assert "ERROR No data found. Please verify arguments (train_data_dir must be the parent of folders with images)" in \
        "\n".join(log_lines(done.stderr))
    assert not (tmp_path / "out").exists()


def test_sdscripts_trains_with_epoch_and_step_names(tmp_path: Path) -> None:
    train = _sd_data(tmp_path)
    done = run(python(SD_SCRIPTS / "train_network.py", "--pretrained_model_name_or_path", str(tmp_path / "base.safetensors"),
                      "--train_data_dir", str(train), "--resolution", "64", "--caption_extension", ".txt", "--output_dir", "out",
                      "--output_name", "x", "--max_train_epochs", "2", "--save_every_n_epochs", "1", "--save_every_n_steps", "4"), tmp_path)
    assert done.returncode == 0, done.stderr
    assert "  num train images * repeats / 学習画像の数×繰り返し回数: 10" in done.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "x-000001.safetensors", *[f"x-step{s:08d}.safetensors" for s in (4, 8, 12, 16)], "x.safetensors"]  # 20 steps
    assert re.search(r"(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d| {19}) INFO     model saved\.", done.stderr)


def test_accelerate_stand_in_rejects_unknown_launch_options(tmp_path: Path) -> None:
    done = run([str(ACCELERATE), "launch", "--frobnicate", "x.py"], tmp_path)
    assert done.returncode == 2 and "unrecognized arguments: --frobnicate" in done.stderr
    failed = run([sys.executable, str(ACCELERATE), "launch", "--mixed_precision=bf16", str(SD_SCRIPTS / "train_network.py"), "--bad"], tmp_path)
    # the script's argparse exits 2; accelerate raises CalledProcessError and exits 1
    assert failed.returncode == 1 and "error: unrecognized arguments: --bad" in failed.stderr
    assert "returned non-zero exit status 2." in failed.stderr
