"""sd-scripts for real on the CPU, through loragate's commands: SD 1.5 (train_network.py) and SDXL
(sdxl_train_network.py, bf16) from `plan new` to a LoRA and a continued run, and the failures an
artist meets, each read from the trainer's own output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2ekit import wait_until
from tests.real.realkit import Studio, dataset, finding, rerun_gates, truncated

pytestmark = pytest.mark.real_trainer


@pytest.fixture
def studio(tmp_path: Path, sd_scripts: Path, clip_hf_home: Path) -> Studio:
    return Studio.make(tmp_path, sd_scripts, clip_hf_home, "SD_SCRIPTS_DIR")


def gates_to_dry_run(studio: Studio, name: str, model: str, data: Path, weights: Path, epochs: int = 2) -> dict[str, Any]:
    """Gate 1, the plan (with `validate` on its files), Gate 3 against the trainer's real venv, the dry run."""
    code, audit = studio.cli_json("audit", str(data), "--trigger", "mira", "--model", model, "--type", "character", "--name", name)
    assert (code, audit["verdict"]) == (0, "GO"), audit["findings"]
    plan = studio.plan(name, model, data, "--weights", f"base_model={weights}", epochs=epochs)
    assert plan["device"] == "cpu"
    folder = studio.project(name)
    code, checked = studio.cli_json("validate", str(folder / "train.sh"), str(folder / "dataset.toml"))
    assert code == 0, checked
    code, env = studio.cli_json("env", "--plan", name)
    assert (code, env["verdict"]) == (0, "GO"), [(f["code"], f["message"]) for f in env["findings"] if f["severity"] != "info"]
    assert env["trainer"]["path"] == str(studio.checkout) and env["trainer"]["python"] == str(studio.python)
    assert env["torch"]["torch"]["version"].endswith("+cpu")
    installed = {d["name"]: d["installed"] for d in env["trainer"]["dependencies"]}
    pins = {line.split("==")[0].lower(): line.split("==")[1] for line in (studio.checkout / "requirements.txt").read_text().split()
            if "==" in line}
    assert installed["transformers"] == pins["transformers"] and installed["accelerate"] == pins["accelerate"]
    assert "VRAM" in finding(env, "ENV_CPU_RUN")["message"]
    code, dry = studio.cli_json("dry-run", name, "--steps", "2")
    assert (code, dry["verdict"]) == (0, "GO"), dry["findings"]
    assert dry["steps_completed"] == 2 and dry["seconds_per_step"] > 0
    assert "proves nothing about GPU memory" in (folder / "dry-run.md").read_text()
    return dry


def launch_to_complete(studio: Studio, name: str) -> dict[str, Any]:
    code, handle = studio.cli_json("launch", name)
    assert code == 0 and handle["status"] in ("starting", "running"), handle

    def done() -> dict[str, Any] | None:
        code, report = studio.cli_json("monitor", name)
        assert code == 0 and report["status"] in ("RUNNING", "COMPLETE"), (report["status"], report["cause"], report["events"])
        return report if report["status"] == "COMPLETE" else None

    return wait_until(done, 1800, interval=5)


def test_sd15_from_plan_to_a_lora_then_continued_from_its_checkpoint(studio: Studio, sd15_weights: Path) -> None:
    data = dataset(studio.workspace / "datasets" / "mira")
    gates_to_dry_run(studio, "mira", "sd15", data, sd15_weights, epochs=3)
    report = launch_to_complete(studio, "mira")
    out = studio.workspace / "output" / "mira"
    files = sorted(p.name for p in out.glob("*.safetensors"))
    assert files == ["mira-000001.safetensors", "mira-000002.safetensors", "mira.safetensors"], files
    assert [c["file"] for c in report["checkpoints"] if c["kind"] == "final"] == ["mira.safetensors"]
    assert report["step"] == report["total_steps"] == 3
    assert report["streams"][0]["tensorboard"] and "scalars" in report["streams"][0]["tensorboard"], report["streams"]
    progress = (studio.project("mira") / "progress.md").read_text()
    assert "COMPLETE" in progress and "proves nothing about GPU memory" in progress
    assert (studio.project("mira") / "loss.png").stat().st_size > 1000
    log = (studio.project("mira") / "train.log").read_text(errors="replace")
    # loragate gives the trainer a wide console, so rich keeps each record on one line
    assert any("Loading dataset config from" in line and "dataset.toml" in line for line in log.splitlines()), log[:3000]
    assert "model saved." in log

    code, continued = studio.cli_json("continue", "mira", "--from", str(out / "mira-000002.safetensors"), "--lr", "0.00005")
    assert code == 0 and continued["gates_to_rerun"], continued
    rerun_gates(studio, continued["gates_to_rerun"])  # what `continue` says to run again: Gate 2, then the dry run
    dry = json.loads((studio.project("mira") / "dry-run.json").read_text())
    argv = dry["steps"][0]["argv"]
    assert argv[argv.index("--network_weights") + 1] == str(out / "mira-000002.safetensors") and "--resume" not in argv
    assert dry["verdict"] == "GO" and "load network weights from" in Path(dry["steps"][0]["log"]).read_text(errors="replace")


def dry_run_of(studio: Studio, name: str, data: Path, weights: Path, change: Any = None) -> dict[str, Any]:
    """A plan for `data` (edited by `change`, as a person edits plan.json), then its dry run."""
    studio.plan(name, "sd15", data, "--weights", f"base_model={weights}", epochs=1)
    if change is not None:
        studio.edit_plan(name, change)
    code, dry = studio.cli_json("dry-run", name, "--steps", "2")
    assert code in (0, 1), dry
    return dry


def test_sd15_failures_read_from_the_real_output(studio: Studio, sd15_weights: Path) -> None:
    data = dataset(studio.workspace / "datasets" / "mira")

    # a download cut off: safetensors cannot read the header
    cut = truncated(sd15_weights, studio.workspace / "models" / "cut.safetensors", 1_000_000)
    dry = dry_run_of(studio, "cut", data, cut)
    hit = finding(dry, "DRY_WEIGHTS_CORRUPT")
    assert "base model" in hit["message"] and "Download it again" in hit["fix"] and dry["verdict"] == "NO-GO"

    # an option this sd-scripts does not know: argparse refuses it, accelerate exits 1
    dry = dry_run_of(studio, "flag", data, sd15_weights,
                     lambda p: p["optimizer"].__setitem__("extra_flags", ["--no_such_option", "3"]))
    hit = finding(dry, "DRY_BAD_FLAG")
    assert "--no_such_option" in hit["message"] and dry["steps"][0]["exit_code"] == 1

    # a dataset folder with nothing in it, and one that does not exist: sd-scripts exits 0 after "No data found"
    empty = studio.workspace / "datasets" / "empty"
    empty.mkdir(parents=True)
    for name, folder in (("empty", empty), ("nowhere", studio.workspace / "datasets" / "nowhere")):
        dry = dry_run_of(studio, name, data, sd15_weights,
                         lambda p, f=folder: p["dataset"]["subsets"][0].__setitem__("path", str(f)))
        hit = finding(dry, "DRY_NO_SAMPLES")
        assert dry["steps"][0]["exit_code"] == 0 and dry["verdict"] == "NO-GO", name
        assert "found no training samples" in hit["message"] and "No data found" in hit["evidence"]["line"]

    # images without captions: sd-scripts warns and trains on empty captions; the dry run says so
    bare = dataset(studio.workspace / "datasets" / "bare", captions=False)
    dry = dry_run_of(studio, "bare", bare, sd15_weights)
    assert dry["steps_completed"] == 2
    hit = finding(dry, "DRY_CAPTIONS_MISSING")
    assert hit["severity"] == "warn" and "no caption file for 2 image(s)" in hit["message"]
    code, watched = studio.cli_json("monitor", "--log", dry["steps"][0]["log"])
    assert (code, watched["status"]) == (0, "COMPLETE"), (watched["cause"], watched["fix"])
    assert any(a["code"] == "CAPTIONS_MISSING" for a in watched["anomalies"]), watched["anomalies"]


def test_sdxl_in_bf16_from_plan_to_a_lora(studio: Studio, sdxl_weights: Path) -> None:
    data = dataset(studio.workspace / "datasets" / "mira")
    dry = gates_to_dry_run(studio, "xl", "sdxl", data, sdxl_weights, epochs=2)
    argv = dry["steps"][0]["argv"]
    assert argv[argv.index("--mixed_precision") + 1] == "bf16" and "--full_bf16" in argv and "--cache_text_encoder_outputs" in argv
    report = launch_to_complete(studio, "xl")
    files = sorted(p.name for p in (studio.workspace / "output" / "xl").glob("*.safetensors"))
    assert files == ["xl-000001.safetensors", "xl.safetensors"], files
    assert report["streams"][0]["tensorboard"] and "scalars" in report["streams"][0]["tensorboard"]


def test_a_v_prediction_sdxl_dry_runs_with_its_flags(studio: Studio, sdxl_weights: Path) -> None:
    # NoobAI-XL V-Pred is SDXL trained to predict v: the real sdxl_train_network.py takes
    # --v_parameterization --zero_terminal_snr (train_network.py get_noise_pred_and_target)
    data = dataset(studio.workspace / "datasets" / "mira")
    dry = gates_to_dry_run(studio, "vp", "noobai-xl-vpred", data, sdxl_weights, epochs=1)
    argv = dry["steps"][0]["argv"]
    assert "--v_parameterization" in argv and "--zero_terminal_snr" in argv


def test_a_lycoris_plan_stops_at_gate3_when_the_trainer_lacks_lycoris(studio: Studio, sd15_weights: Path) -> None:
    # sd-scripts imports --network_module by name; its requirements do not include LyCORIS
    data = dataset(studio.workspace / "datasets" / "mira")
    plan = studio.plan("loha", "sd15", data, "--weights", f"base_model={sd15_weights}", "--network", "loha")
    assert plan["network"]["module"] == "lycoris.kohya"
    code, env = studio.cli_json("env", "--plan", "loha")
    assert (code, env["verdict"]) == (1, "NO-GO")
    missing = finding(env, "ENV_DEP_MISSING")
    assert "lycoris-lora" in missing["message"] and "pip install lycoris-lora" in missing["fix"]
