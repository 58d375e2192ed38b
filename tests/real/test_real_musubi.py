"""musubi-tuner for real on the CPU, through loragate's commands: Wan 2.1 t2v-1.3B caching then
training, from `plan new` to a LoRA and a continued run, and the failures an artist meets, each
read from the trainer's own output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.e2ekit import wait_until
from tests.real.realkit import Studio, dataset, finding, rerun_gates, truncated

pytestmark = pytest.mark.real_trainer
MODEL = "wan2.1-t2v-1.3b"


@pytest.fixture
def studio(tmp_path: Path, musubi: Path, umt5_hf_home: Path) -> Studio:
    return Studio.make(tmp_path, musubi, umt5_hf_home, "MUSUBI_TUNER_DIR")


def weights_args(weights: dict[str, Path], **override: Path) -> list[str]:
    return [arg for role, path in {**weights, **override}.items() for arg in ("--weights", f"{role}={path}")]


def stage(dry: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in dry["steps"] if s["stage"] == name)


def test_wan_from_plan_to_a_lora_caching_again_when_the_caches_are_gone(studio: Studio, wan_weights: dict[str, Path]) -> None:
    data = studio.workspace / "datasets" / "mira"
    dataset(data / "Images")
    code, audit = studio.cli_json("audit", str(data), "--trigger", "mira", "--model", MODEL, "--type", "character", "--name", "wan")
    assert (code, audit["verdict"]) == (0, "GO"), audit["findings"]
    plan = studio.plan("wan", MODEL, data, *weights_args(wan_weights), epochs=2)
    assert plan["device"] == "cpu" and [c["stage"] for c in plan["commands"]] == ["cache_latents", "cache_text_encoder", "train"]
    folder = studio.project("wan")
    code, checked = studio.cli_json("validate", str(folder / "train.sh"), str(folder / "dataset.toml"))
    assert code == 0, checked
    code, env = studio.cli_json("env", "--plan", "wan")
    assert (code, env["verdict"]) == (0, "GO"), [(f["code"], f["message"]) for f in env["findings"] if f["severity"] != "info"]
    assert env["trainer"]["path"] == str(studio.checkout) and env["torch"]["torch"]["version"].endswith("+cpu")
    assert all(t["cached"] for t in env["resources"]["tokenizers"]), env["resources"]["tokenizers"]
    code, dry = studio.cli_json("dry-run", "wan", "--steps", "2")
    assert (code, dry["verdict"]) == (0, "GO"), dry["findings"]
    assert dry["caching_done"] and dry["steps_completed"] == 2

    # the caches disappear between the dry run and the launch: training finds no items, the supervisor caches again
    shutil.rmtree(plan["dataset"]["cache_dir"])
    code, handle = studio.cli_json("launch", "wan")
    assert code == 0, handle

    def done() -> dict[str, Any] | None:
        code, report = studio.cli_json("monitor", "wan")
        assert code == 0 and report["status"] in ("RUNNING", "COMPLETE"), (report["status"], report["cause"], report["events"])
        return report if report["status"] == "COMPLETE" else None

    report = wait_until(done, 1800, interval=5)
    assert any("caching the dataset again" in e for e in report["events"]), report["events"]
    out = studio.workspace / "output" / "wan"
    assert sorted(p.name for p in out.glob("*.safetensors")) == ["wan-000001.safetensors", "wan.safetensors"]
    assert report["streams"][0]["tensorboard"] and "scalars" in report["streams"][0]["tensorboard"], report["streams"]
    assert (folder / "loss.png").exists() and "proves nothing about GPU memory" in (folder / "progress.md").read_text()

    code, continued = studio.cli_json("continue", "wan", "--from", str(out / "wan-000001.safetensors"))
    assert code == 0 and continued["gates_to_rerun"], continued
    rerun_gates(studio, continued["gates_to_rerun"])  # Gate 2 again, then the dry run, as `continue` says
    dry = json.loads((folder / "dry-run.json").read_text())
    argv = stage(dry, "train")["argv"]
    assert dry["verdict"] == "GO" and argv[argv.index("--network_weights") + 1] == str(out / "wan-000001.safetensors")


def dry_run_of(studio: Studio, name: str, data: Path, weights: dict[str, Path], env: dict[str, str] | None = None) -> dict[str, Any]:
    studio.plan(name, MODEL, data, *weights_args(weights), epochs=1)
    code, dry = studio.cli_json("dry-run", name, "--steps", "2", env=env)
    assert code in (0, 1), dry
    return dry


def test_wan_failures_read_from_the_real_output(studio: Studio, wan_weights: dict[str, Path], tmp_path: Path) -> None:
    data = studio.workspace / "datasets" / "mira"
    dataset(data / "Images")

    # images without caption files: musubi skips them, caches nothing and exits 0
    bare = studio.workspace / "datasets" / "bare"
    dataset(bare / "Images", captions=False)
    dry = dry_run_of(studio, "bare", bare, wan_weights)
    hit = finding(dry, "DRY_NO_SAMPLES")
    assert stage(dry, "cache_latents")["exit_code"] == 0 and len(dry["steps"]) == 1 and dry["verdict"] == "NO-GO"
    assert "caption file" in hit["message"] and "found 0 images" in hit["evidence"]["line"]

    # a VAE download cut off: safetensors says so while caching latents
    cut_vae = truncated(wan_weights["vae"], tmp_path / "vae-cut.safetensors", 100_000_000)
    dry = dry_run_of(studio, "cutvae", data, {**wan_weights, "vae": cut_vae})
    hit = finding(dry, "DRY_WEIGHTS_CORRUPT")
    assert hit["evidence"]["flag"] == "--vae" and "VAE" in hit["message"]

    # no umT5 tokenizer in the offline cache: Gate 3 says so, and so does the caching step
    empty_hf = tmp_path / "hf-empty"
    empty_hf.mkdir()
    code, env = studio.cli_json("env", "--plan", "bare", env={"HF_HOME": str(empty_hf)})
    assert code == 1 and finding(env, "ENV_TOKENIZER_MISSING")["severity"] == "block"
    dry = dry_run_of(studio, "offline", data, wan_weights, env={"HF_HOME": str(empty_hf)})
    hit = finding(dry, "DRY_TOKENIZER_MISSING")
    assert stage(dry, "cache_latents")["ok"] and "offline" in hit["message"] and "loragate env" in hit["fix"]

    # a DiT download cut off: musubi's loader reads a tensor of the wrong size
    cut_dit = truncated(wan_weights["dit"], tmp_path / "dit-cut.safetensors", wan_weights["dit"].stat().st_size // 2)
    dry = dry_run_of(studio, "cutdit", data, {**wan_weights, "dit": cut_dit})
    hit = finding(dry, "DRY_WEIGHTS_CORRUPT")
    assert hit["evidence"]["flag"] == "--dit" and "is invalid for input of size" in hit["evidence"]["line"]
