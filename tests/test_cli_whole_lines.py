"""What an artist copies from the CLI (commands, paths, fixes) is printed whole, even at 80 columns."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loragate.cli import app
from tests.media import write_caption, write_image
from tests.plan_helpers import wan_dataset

runner = CliRunner()


def test_a_long_path_in_a_finding_is_one_unbroken_line(tmp_path: Path) -> None:
    deep = tmp_path / "my training sets" / "characters" / "mira_the_silver_haired_traveller_2025_final"
    for k in range(2):
        write_image(deep / "10_mira" / f"mira_{k}.png", 64, 64, seed=k)
        write_caption(deep / "10_mira" / f"mira_{k}.txt", "mira")
    script = tmp_path / "train.sh"
    script.write_text(f"accelerate launch sdxl_train_network.py --pretrained_model_name_or_path sd_xl_base_1.0.safetensors "
                      f"--train_data_dir '{deep}' --resolution 1024 --output_dir out --output_name mira "
                      "--network_module networks.lora --learning_rate 1e-4 --mixed_precision bf16 --max_train_epochs 10 "
                      "--sdpa\n")
    result = runner.invoke(app, ["validate", str(script), "--no-check-paths"], env={"COLUMNS": "80"})
    assert result.exit_code == 1
    assert f"{deep}/10_mira" in result.output  # far wider than 80 columns, on one line
    assert "fix: Add --caption_extension .txt to the command." in result.output
    assert f"at {script}:1" in result.output
    assert "…" not in result.output


def test_help_shows_every_option_name_whole() -> None:
    result = runner.invoke(app, ["plan", "new", "--help"], env={"COLUMNS": "80"})
    for option in ("--together / --one-after-another", "--caption-extension", "--trainer-python", "--replace"):
        assert option in result.output
    assert "…" not in result.output


def test_gate_3_install_line_is_printed_whole(workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from loragate.plan.gate2 import generate_config
    from tests.envkit import H100, fake_nvml, use_nvml

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LORAGATE_TRAINER_PYTHON", raising=False)
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    use_nvml(monkeypatch, fake_nvml([H100]))
    plan = generate_config("mira", "wan2.1-t2v-1.3b", wan_dataset(workspace), "mira", gpu_gb=24).plan
    result = runner.invoke(app, ["env", "--plan", "mira"], env={"COLUMNS": "80"})
    assert result.exit_code == 1
    line = next(ln for ln in result.output.splitlines() if "git clone" in ln)
    assert f"cd {plan.trainer_dir} && python3 -m venv venv && venv/bin/python -m pip install torch==" in line
    assert "--index-url https://download.pytorch.org/whl/" in line and "venv/bin/python -m pip install -e ." in line
    assert "…" not in result.output
