"""Python launchers read without running them; files that are not trainer setups said for what they are."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from loragate.cli import app
from loragate.core.errors import LoragateError
from loragate.validate import validate_files
from tests.media import write_image
from tests.validate_helpers import WAN_DS

LAUNCHER = '''#!/usr/bin/env python3
"""Train a Wan 2.2 T2V LoRA on RunPod."""
import argparse
import os
import subprocess
from pathlib import Path

# ---- config ----
OUTPUT_NAME = "mira_wan"
MUSUBI = Path("/workspace/musubi-tuner")
MODELS = "/workspace/models"
LEARNING_RATE = 2e-4
RANK = 32
EPOCHS = 16
EXPERT = "high"
USE_FP8 = True
EXTRA = {"save_every_n_epochs": 1, "seed": 42}


def build(args):
    dit = f"{MODELS}/wan2.2_t2v_{EXPERT}_noise_14B_fp16.safetensors"
    cmd = ["accelerate", "launch", "--num_cpu_threads_per_process", "1", "--mixed_precision", "fp16",
           str(MUSUBI / "src/musubi_tuner/wan_train_network.py"),
           "--task", "t2v-A14B", "--dit", dit, "--dataset_config", "ds.toml", "--sdpa",
           "--mixed_precision", "fp16", "--network_module", "networks.lora_wan",
           "--network_dim", str(RANK), "--network_alpha", str(RANK), "--optimizer_type", "adamw8bit",
           "--learning_rate", f"{LEARNING_RATE}", "--timestep_sampling", "shift", "--discrete_flow_shift", "3.0",
           "--max_train_epochs", str(EPOCHS), "--output_dir", os.path.join("/workspace/out", OUTPUT_NAME),
           "--output_name", OUTPUT_NAME, "--gradient_checkpointing", "--preserve_distribution_shape"]
    if EXPERT == "high":
        cmd += ["--min_timestep", "875", "--max_timestep", "{MAX_T}"]
    else:
        cmd += ["--min_timestep", "0", "--max_timestep", "875"]
    if USE_FP8:
        cmd.extend(["--fp8_base", "--fp8_scaled"])
    for key, value in EXTRA.items():
        cmd += [f"--{key}", str(value)]
    cmd += ["--vae", args.vae]
    if args.resume:
        cmd += ["--network_weights", args.resume]
    return cmd


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vae")
    parser.add_argument("--resume")
    subprocess.run(build(parser.parse_args()), check=True)


if __name__ == "__main__":
    main()
'''


def _launcher(tmp_path: Path, text: str = LAUNCHER) -> Path:
    (tmp_path / "ds.toml").write_text(WAN_DS)
    path = tmp_path / "train_runpod_t2v.py"
    path.write_text(text)
    return path


def test_a_python_launcher_is_read_from_its_config_block(tmp_path: Path) -> None:
    path = _launcher(tmp_path, LAUNCHER.replace('"{MAX_T}"', '"1000"'))
    report = validate_files([path, tmp_path / "ds.toml"], check_paths=False)
    assert [(i.script, i.stage, i.expert) for i in report.invocations] == [("wan_train_network.py", "train", "high")]
    assert report.model == "wan2.2-t2v-a14b"
    assert report.verdict == "GO", [f.message for f in report.findings if f.severity == "block"]
    not_read = [f for f in report.findings if f.code == "PY_NOT_READ"]
    # --vae comes from the script's own arguments, --network_weights only when --resume is given
    assert any("--vae" in f.message and "args.vae" in f.message and "command-line arguments" in f.message
               for f in not_read)
    assert any("--network_weights" in f.message and "args.resume" in f.message for f in not_read)
    assert all(f.evidence["line"] > 0 for f in not_read)


def test_a_launcher_with_wrong_values_in_its_config_is_caught(tmp_path: Path) -> None:
    # the config block picks the low-noise expert and sets a learning rate that is not a number
    text = LAUNCHER.replace('"{MAX_T}"', '"1000"').replace('EXPERT = "high"', 'EXPERT = "low"').replace(
        "RANK = 32", "RANK = 32\nLEARNING_RATE = 'fast'")
    report = validate_files([_launcher(tmp_path, text), tmp_path / "ds.toml"], check_paths=False)
    bad = [f for f in report.findings if f.code == "FLAG_BAD_VALUE"]
    line = next(n for n, t in enumerate(text.splitlines(), 1) if '"--learning_rate"' in t)
    assert bad and bad[0].evidence["flag"] == "--learning_rate" and bad[0].evidence["line"] == line
    assert report.invocations[0].expert == "low" and report.verdict == "NO-GO"
    assert report.invocations[0].source.endswith(f":{line - 5}")  # where the list starts


def test_values_the_script_computes_are_reported_not_judged(tmp_path: Path) -> None:
    path = _launcher(tmp_path, LAUNCHER.replace('"{MAX_T}"', "os.environ['MAX_T']"))
    report = validate_files([path, tmp_path / "ds.toml"], check_paths=False)
    hit = next(f for f in report.findings if f.code == "PY_NOT_READ" and f.evidence["flag"] == "--max_timestep")
    assert "environment variable" in hit.message
    assert not [f for f in report.findings if f.code == "FLAG_BAD_VALUE"]  # no verdict on a value never seen


def test_a_python_file_without_a_trainer_command_says_so(tmp_path: Path) -> None:
    path = tmp_path / "helper.py"
    path.write_text("import subprocess\nsubprocess.run(get_command())\n")
    with pytest.raises(LoragateError, match="helper.py is a Python script, but no trainer command could be read"):
        validate_files([path])
    path.write_text("def broken(:\n")
    with pytest.raises(LoragateError, match="cannot be read as Python"):
        validate_files([path])


@pytest.mark.parametrize("name,kind", [("photo.jpg", "a JPEG image"), ("README.md", "a Markdown document")])
def test_a_picture_or_readme_is_named_for_what_it_is_and_exits_2(tmp_path: Path, name: str, kind: str) -> None:
    path = tmp_path / name
    if name.endswith(".jpg"):
        write_image(path, 64, 64)
    else:
        path.write_text("# My LoRA\n\nIt's trained on Mira's pictures; don't share them.\n\n- 25 photos\n")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert f"is {kind}" in result.output and "SHELL_PARSE_ERROR" not in result.output
