"""The shell entry points in scripts/: each explains its flags, translates them to loragate's, and
passes loragate's exit code through."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.media import write_image
from tests.plan_helpers import fake_weights, flat_dataset

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
ENTRY_POINTS = [
    "dataset-audit.sh", "find-duplicates.sh", "calculate-vram.sh", "generate-config.sh",
    "validate-environment.sh", "dry-run.sh", "launch-training.sh", "monitor-training.sh", "eval-grid.sh",
    "provider-spinup.sh", "provider-validate.sh", "provider-teardown.sh",
]
LOGS = Path(__file__).parent / "fixtures" / "logs"


def _loragate() -> str:
    found = shutil.which("loragate", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if not found:
        pytest.skip("the loragate console script is not installed")
    return found


def run(script: str, *args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "LORAGATE_BIN": _loragate(), "COLUMNS": "200", **(env or {})}
    return subprocess.run(["bash", str(SCRIPTS / script), *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("script", ENTRY_POINTS)
def test_every_entry_point_explains_its_flags(script: str, tmp_path: Path) -> None:
    text = (SCRIPTS / script).read_text()
    assert text.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in text
    assert os.access(SCRIPTS / script, os.X_OK)
    result = run(script, "--help", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith(script)
    assert "Exit:" in result.stdout and "set -euo" not in result.stdout
    flags = {"calculate-vram.sh": ["--model", "--resolution", "--batch", "--rank"],
             "generate-config.sh": ["--backend", "--preset", "--model"],
             "validate-environment.sh": ["--backend", "--model-size", "--dataset-size", "--json"],
             "dry-run.sh": ["--config", "--backend", "--steps"],
             "launch-training.sh": ["--config", "--backend", "--output"],
             "monitor-training.sh": ["--log", "--epochs"],
             "eval-grid.sh": ["--lora", "--model", "--prompt", "--trigger"],
             "provider-spinup.sh": ["--provider", "--gpu", "--config", "--max-usd"],
             "provider-validate.sh": ["--config"],
             "provider-teardown.sh": ["--config", "--instance"]}.get(script, [])
    for flag in flags:
        assert f"  {flag} " in result.stdout, flag


def test_audit_exit_codes_pass_through(workspace: Path) -> None:
    data = flat_dataset(workspace)
    good = run("dataset-audit.sh", str(data), "--trigger", "mira", "--json", cwd=workspace)
    assert good.returncode in (0, 1) and json.loads(good.stdout)["verdict"] in ("GO", "NO-GO")
    write_image(data / "uncaptioned.png", 64, 64, seed=7)
    bad = run("dataset-audit.sh", str(data), "--trigger", "mira", "--json", cwd=workspace)
    assert bad.returncode == 1 and json.loads(bad.stdout)["verdict"] == "NO-GO"
    clean = run("find-duplicates.sh", str(data), "--json", cwd=workspace)
    assert clean.returncode == 0, clean.stderr
    shutil.copy(data / "img00.png", data / "copy_of_img00.png")
    copies = run("find-duplicates.sh", str(data), "--json", cwd=workspace)
    assert copies.returncode == 1 and "copy_of_img00.png" in copies.stdout
    missing = run("dataset-audit.sh", str(workspace / "nowhere"), cwd=workspace)
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_vram_fits_or_not(workspace: Path) -> None:
    fits = run("calculate-vram.sh", "--model", "sd15", "--resolution", "512", "--batch", "1", "--rank", "8", "--gpu-gb", "80", "--json", cwd=workspace)
    assert fits.returncode == 0 and json.loads(fits.stdout)["model"] == "sd15"
    tight = run("calculate-vram.sh", "--model", "wan2.1-t2v-14b", "--resolution", "832x480", "--batch", "4", "--rank", "64", "--gpu-gb", "8", cwd=workspace)
    assert tight.returncode == 1


def test_config_dry_run_and_launch_translate_names_and_refuse_mismatches(workspace: Path) -> None:
    data = flat_dataset(workspace)
    weights = fake_weights(workspace, "sdxl")
    made = run("generate-config.sh", "--backend", "kohya", "--preset", "quick", "--model", "sdxl", "--name", "mira_v1",
               "--dataset", str(data), "--trigger", "mira", "--gpu-gb", "24", "--weights", f"base_model={weights['base_model']}",
               "--output", str(workspace / "out"), "--json", cwd=workspace)
    assert made.returncode in (0, 1), made.stderr
    plan = json.loads(made.stdout)["plan"]
    assert plan["backend"] == "sdscripts" and plan["preset"] == "quick" and plan["output_dir"] == str(workspace / "out")
    plan_file = workspace / "grimoire" / "training" / "mira_v1" / "plan.json"
    assert plan_file.is_file()

    wrong = run("generate-config.sh", "--backend", "musubi", "--model", "sdxl", "--name", "other", "--dataset", str(data),
                "--trigger", "mira", cwd=workspace)
    assert wrong.returncode == 2 and "trains with sdscripts" in wrong.stderr
    assert not (workspace / "grimoire" / "training" / "other").exists()

    # A plan.json path works from any folder: the workspace is taken from it.
    elsewhere = workspace.parent
    env = {"LORAGATE_ROOT": ""}
    dry = run("dry-run.sh", "--config", str(plan_file), "--backend", "musubi", cwd=elsewhere, env=env)
    assert dry.returncode == 2 and "is for sdscripts" in dry.stderr
    output = run("launch-training.sh", "--config", str(plan_file), "--output", str(elsewhere / "x"), cwd=elsewhere, env=env)
    assert output.returncode == 2 and "writes its LoRA files to" in output.stderr
    gates = run("launch-training.sh", "--config", str(plan_file), "--backend", "kohya", "--output", str(workspace / "out"), cwd=elsewhere, env=env)
    assert gates.returncode == 1 and "Gate 1" in gates.stderr  # no gate has passed (NO-GO): nothing starts
    assert not (workspace / "grimoire" / "training" / "mira_v1" / "job.json").exists()


def test_environment_notes_informational_sizes_and_keeps_json_clean(workspace: Path) -> None:
    result = run("validate-environment.sh", "--backend", "kohya", "--model-size", "6.5", "--dataset-size", "30", "--json", cwd=workspace)
    assert result.returncode in (0, 1)
    assert json.loads(result.stdout)["backend"] == "sdscripts"
    assert "--model-size 6.5" in result.stderr and "--dataset-size 30" in result.stderr
    other = run("validate-environment.sh", "--backend", "ai-toolkit", cwd=workspace)
    assert other.returncode == 2 and "kohya" in other.stderr


def test_monitor_reads_a_log(workspace: Path) -> None:
    running = workspace / "train.log"
    running.write_bytes((LOGS / "musubi-complete.log").read_bytes()[:1200])  # a run still going
    result = run("monitor-training.sh", "--log", str(running), "--epochs", "4", "--json", cwd=workspace)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "RUNNING" and report["total_epochs"] == 4
    # The full log says the LoRA was saved: complete, though the file is on the machine that trained.
    copied = run("monitor-training.sh", "--log", str(LOGS / "musubi-complete.log"), "--epochs", "4", "--json", cwd=workspace)
    report = json.loads(copied.stdout)
    assert copied.returncode == 0 and report["status"] == "COMPLETE" and "not on this machine" in report["cause"]
    bad = run("monitor-training.sh", "--bogus", cwd=workspace)
    assert bad.returncode == 2 and "unknown option" in bad.stderr
