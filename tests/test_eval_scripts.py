"""loragate eval through the trainers' own generation scripts (stand-ins with their real flags), and the export."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from PIL import Image

from loragate.evaluate.run import EvalRequest, evaluate
from loragate.plan.store import save_plan
from tests.eval_helpers import WAN_KEYS, trained_project, write_lora
from tests.plan_helpers import FAKES
from tests.runs_fixtures import fakes_env, wan_plan  # noqa: F401 - fixture


def _sd_project(workspace: Path, **options: object):
    return trained_project(workspace, trainer_dir=str(FAKES / "sd-scripts"), trainer_python=sys.executable, **options)


def test_sdxl_grid_is_one_gen_img_process_per_checkpoint(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LORAGATE_LOCK_DIR", str(workspace.parent / "locks"))
    _sd_project(workspace)
    report = evaluate(EvalRequest(project="mira", engine="scripts", max_standard_prompts=2, weights=[0.5, 1.0]))
    assert report.engine == "scripts" and report.verdict == "GO", [c.error for c in report.cells]
    assert all(c.output and Path(c.output).is_file() for c in report.cells)
    run_dir = Path(report.measures[0].grid).parent  # type: ignore[arg-type]
    log = (run_dir / "generate.log").read_text()
    assert log.count("$ ") == 3 and "sdxl_gen_img.py" in log and "--network_weights" in log
    lines = (run_dir / "cells" / "run-00" / "prompts.txt").read_text().splitlines()
    # the first checkpoint's process also makes the shared weight-0 row: multiplier and seed per line
    assert sorted({line.split(" --am ")[1].split()[0] for line in lines}) == ["0", "0.5", "1"]
    assert all(" --d 1234 " in line and " --f c0-" in line for line in lines)
    assert all(m.takes_effect for m in report.measures)


def test_a_checkpoint_with_no_effect_is_caught_through_the_scripts(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LORAGATE_LOCK_DIR", str(workspace.parent / "locks"))
    _sd_project(workspace)
    plan_out = workspace / "output" / "mira"
    write_lora(plan_out / "mira.safetensors", effect=0.0)  # the final file learned nothing
    report = evaluate(EvalRequest(project="mira", engine="scripts", max_standard_prompts=1, weights=[1.0], steps=6))
    run_dir = Path(report.measures[0].grid).parent  # type: ignore[arg-type]
    assert " --s 6 " in (run_dir / "cells" / "run-00" / "prompts.txt").read_text()  # a quicker look: the steps asked for
    by_label = {m.checkpoint: m.takes_effect for m in report.measures}
    assert by_label["final"] is False and by_label["epoch 2 (early)"] is True
    assert report.verdict == "NO-GO"


def test_wan22_experts_get_both_loras_and_clips_become_strips(workspace: Path, fakes_env: Path) -> None:  # noqa: F811
    plan = wan_plan(workspace, experts=True)
    plan.dataset.video_count = 2  # a clip dataset: the grid is made of short clips
    save_plan(plan)
    out = Path(plan.output_dir)
    for name in ("mira_low", "mira_high"):
        write_lora(out / f"{name}-000001.safetensors", WAN_KEYS)
        write_lora(out / f"{name}.safetensors", WAN_KEYS)
    # Lightning LoRAs speed sampling up rather than add a look: a small pull of their own
    lightning = [str(write_lora(workspace / f"lightning_{e}.safetensors", WAN_KEYS, effect=0.1)) for e in ("low", "high")]
    report = evaluate(EvalRequest(project="mira", engine="scripts", max_standard_prompts=1, weights=[1.0], lightning=lightning))
    assert report.verdict == "GO", [c.error for c in report.cells] + [f.message for f in report.findings]
    run_dir = Path(report.measures[0].grid).parent  # type: ignore[arg-type]
    log = (run_dir / "generate.log").read_text()
    first = next(line for line in log.splitlines() if line.startswith("$ ") and "mira_low.safetensors" in line)
    assert f"--lora_weight {out}/mira_low.safetensors {lightning[0]}" in first
    assert f"--lora_weight_high_noise {out}/mira_high.safetensors {lightning[1]}" in first
    assert "--infer_steps 4" in first and "--save_merged_model" not in log
    assert any("Lightning" in n for n in report.notes) and any("both experts" in n for n in report.notes)
    assert all(c.output and c.output.endswith(".mp4") for c in report.cells)
    assert report.measures[0].animations and Image.open(report.measures[0].animations[0]).n_frames > 1


def test_export_writes_workflows_and_commands_without_running(workspace: Path) -> None:
    _sd_project(workspace)
    report = evaluate(EvalRequest(project="mira", engine="export", max_standard_prompts=1, weights=[1.0]))
    assert report.verdict is None and not report.cells
    workflows = [Path(p) for p in report.exported if p.endswith(".json") and "/workflows/" in p]
    assert len(workflows) == 1 + 3
    nodes = json.loads(workflows[-1].read_text())
    assert {n["class_type"] for n in nodes.values()} >= {"CheckpointLoaderSimple", "LoraLoader", "KSampler", "SaveImage"}
    script = next(Path(p) for p in report.exported if p.endswith("commands.sh"))
    assert script.read_text().count("sdxl_gen_img.py") == 3
    assert not (workspace / "grimoire/training/mira/eval.json").exists()


def test_evaluation_never_runs_beside_a_training(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from loragate.core.errors import LoragateError
    from loragate.runs.lock import acquire_gpus, release_gpus

    monkeypatch.setenv("LORAGATE_LOCK_DIR", str(workspace.parent / "locks"))
    _sd_project(workspace)
    acquire_gpus([0], "other", "job-1", pid=os.getpid())  # a live training holds the card
    try:
        with pytest.raises(LoragateError, match="GPU 0 is busy: the training of project 'other'"):
            evaluate(EvalRequest(project="mira", engine="scripts", max_standard_prompts=1, weights=[1.0]))
    finally:
        release_gpus([0], "job-1")
    assert not list((workspace / "grimoire/training/mira").glob("eval-runs/*/cells/*/*.png"))


def test_a_v_prediction_sdxl_is_drawn_as_v_prediction(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # sdxl_gen_img.py has no --v_parameterization: gen_img.py --sdxl samples a v-pred model (sd-scripts gen_img.py:1758)
    monkeypatch.setenv("LORAGATE_LOCK_DIR", str(workspace.parent / "locks"))
    _sd_project(workspace, model="noobai-xl-vpred")
    report = evaluate(EvalRequest(project="mira", engine="scripts", max_standard_prompts=1, weights=[1.0]))
    assert report.engine == "scripts" and report.verdict == "GO", [(f.code, f.message) for f in report.findings]
    log = (Path(report.measures[0].grid).parent / "generate.log").read_text()  # type: ignore[arg-type]
    assert "gen_img.py --ckpt" in log.replace("sdxl_gen_img", "X") and "--sdxl" in log
    assert "--v_parameterization" in log and "--zero_terminal_snr" in log
