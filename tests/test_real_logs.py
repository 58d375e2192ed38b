"""Logs the real trainers wrote (tests/fixtures/real-logs/, captured on a CPU machine with
tests/real/, paths scrubbed), read by `loragate monitor --log` and the failure classifier. No
trainer needed: this keeps checking real output where the real-trainer tier does not run.

Most were written with COLUMNS unset, so sd-scripts' rich records are wrapped over several lines,
as in a log an artist pastes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loragate.cli import app
from loragate.runs.classify import classify_failure
from loragate.runs.logparse import LogParser, split_segments
from loragate.runs.quiet import quiet_findings
from loragate.runs.richlog import log_lines

REAL = Path(__file__).parent / "fixtures" / "real-logs"
SD_ARGV = ["accelerate", "launch", "train_network.py", "--pretrained_model_name_or_path", "/models/sd15.safetensors"]
runner = CliRunner()

# log -> (status, words the cause must hold)
MONITOR = {
    "sd15-complete.log": ("COMPLETE", "not on this machine"),
    "sd15-no-captions.log": ("COMPLETE", "not on this machine"),
    "sd15-empty-dataset.log": ("FAILED", "found no training samples"),
    "sd15-wrong-train-data-dir.log": ("FAILED", "found no training samples"),
    "sd15-truncated-weights.log": ("FAILED", "damaged or incomplete"),
    "sd15-unknown-flag.log": ("FAILED", "does not know the option(s) --no_such_option"),
    "wan-cache-latents-no-captions.log": ("FAILED", "no image or clip"),
    "wan-cache-latents-empty-dataset.log": ("FAILED", "no image or clip"),
    "wan-cache-latents-truncated-vae.log": ("FAILED", "damaged or incomplete"),
    "wan-train-before-text-encoder-cache.log": ("FAILED", "found no training samples"),
}


def monitor_log(name: str, tmp_path: Path) -> dict:
    log = tmp_path / name
    shutil.copy(REAL / name, log)  # a fresh copy: an old file would read as a log gone quiet
    done = runner.invoke(app, ["monitor", "--log", str(log), "--json"])
    assert done.exit_code in (0, 1), done.output
    return json.loads(done.stdout)


@pytest.mark.parametrize("name", sorted(MONITOR))
def test_monitor_reads_real_logs_right(name: str, tmp_path: Path, workspace: Path) -> None:
    status, words = MONITOR[name]
    report = monitor_log(name, tmp_path)
    assert (report["status"], words in (report["cause"] or "")) == (status, True), (report["cause"], report["fix"])


def test_every_captured_log_has_a_case() -> None:
    assert sorted(p.name for p in REAL.glob("*.log")) == sorted(MONITOR)


def test_captions_the_trainer_ignored_are_a_warning(tmp_path: Path, workspace: Path) -> None:
    report = monitor_log("sd15-no-captions.log", tmp_path)
    warning = next(a for a in report["anomalies"] if a["code"] == "CAPTIONS_MISSING")
    assert "no caption file for 2 image(s)" in warning["message"]
    findings = quiet_findings(log_lines((REAL / "sd15-no-captions.log").read_text()), "DRY")
    assert [(f.code, f.severity) for f in findings] == [("DRY_CAPTIONS_MISSING", "warn")]
    assert classify_failure("train", 0, (REAL / "sd15-no-captions.log").read_text(), SD_ARGV, steps_completed=2) is None


def test_the_slow_first_step_is_not_counted(tmp_path: Path, workspace: Path) -> None:
    # steps: 1/4 at 00:10 (loading the optimizer, warming up), 4/4 at 00:35; tqdm itself says 8.95 s/it
    report = monitor_log("sd15-complete.log", tmp_path)
    assert report["streams"][0]["seconds_per_step"] == pytest.approx(25 / 3, abs=0.01)


@pytest.mark.parametrize("name,stage,code,kind,flag", [
    ("sd15-empty-dataset.log", "train", 0, "no_samples", None),
    ("sd15-wrong-train-data-dir.log", "train", 0, "no_samples", None),
    ("sd15-truncated-weights.log", "train", 1, "weights_corrupt", "--pretrained_model_name_or_path"),
    ("sd15-unknown-flag.log", "train", 1, "bad_flag", "--no_such_option"),
    ("wan-cache-latents-no-captions.log", "cache_latents", 0, "no_samples", None),
    ("wan-cache-latents-empty-dataset.log", "cache_latents", 0, "no_samples", None),
    ("wan-cache-latents-truncated-vae.log", "cache_latents", 1, "weights_corrupt", "--vae"),
    ("wan-train-before-text-encoder-cache.log", "train", 1, "no_samples", None),
])
def test_classifier_on_real_output(name: str, stage: str, code: int, kind: str, flag: str | None) -> None:
    """The exit codes are the real ones: sd-scripts exits 0 after "No data found", musubi's caching 0
    having found nothing."""
    argv = SD_ARGV if name.startswith("sd15") else ["python", "wan_cache_latents.py", "--vae", "/models/wan2.1_t2v_1.3B/vae.safetensors"]
    failure = classify_failure(stage, code, (REAL / name).read_text(), argv)
    assert failure is not None and (failure.kind, failure.flag) == (kind, flag), failure


def test_wrapped_rich_records_read_whole() -> None:
    parser = LogParser()
    segments, _ = split_segments((REAL / "sd15-empty-dataset.log").read_bytes())
    parser.feed_segments(segments)
    assert parser.facts.no_data and parser.facts.no_data.startswith("ERROR No data found. Please verify arguments (train_data_dir must")
