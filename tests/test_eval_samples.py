"""Samples while training: the plan asks both trainers for them at each checkpoint, and the
monitor gathers them into one progression sheet."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from PIL import Image

from loragate.evaluate.samples import find_samples, progression_sheet, project_sample_sheet
from loragate.plan.gate2 import generate_config
from loragate.core.plan import ExpertPlan
from loragate.plan.new import new_plan
from loragate.vram import estimate_vram
from loragate.vram.plan import request_from_plan
from tests.fakes.faketrainer import render
from tests.plan_helpers import fake_weights, flat_dataset, wan_dataset


def _flag(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv else None


def test_sdxl_plan_samples_at_every_checkpoint_with_a_file_the_trainer_parses(workspace: Path) -> None:
    result = generate_config("mira", "sdxl", flat_dataset(workspace), "mira", gpu_gb=24, weights=fake_weights(workspace, "sdxl"))
    plan = result.plan
    argv = plan.commands[-1].argv
    assert _flag(argv, "--sample_every_n_epochs") == str(plan.schedule.save_every_n_epochs)
    assert "--sample_at_first" in argv
    prompts = Path(result.files["sample_prompts.txt"])
    assert _flag(argv, "--sample_prompts") == str(prompts)
    lines = [line for line in prompts.read_text().splitlines() if not line.startswith("#")]
    width, height = plan.dataset.resolution
    for line in lines:
        # the trainers split options on " --": prompt, then w, h, d (seed), s (steps)
        text, *options = line.split(" --")
        assert "mira" in text
        assert options == [f"w {width}", f"h {height}", "d 1234", "s 28"]
    assert "sample pictures" in plan.explanations["sampling.prompts_file"]
    # the dry run's short run makes no samples
    from loragate.backends import get_backend

    short = get_backend("sdscripts").commands(plan, max_train_steps=3)[-1].argv
    assert "--sample_prompts" not in short


def test_wan22_samples_name_vae_t5_and_only_the_low_noise_run(workspace: Path) -> None:
    plan = new_plan("mira", "wan2.2-t2v-a14b", wan_dataset(workspace), "mira", gpu_gb=80, expert="both",
                    weights=fake_weights(workspace, "wan2.2-t2v-a14b"))
    trains = [c for c in plan.commands if c.stage == "train"]
    by_expert = {c.expert: c.argv for c in trains}
    assert "--sample_prompts" in by_expert["low"] and "--sample_prompts" not in by_expert["high"]
    low = by_expert["low"]
    assert _flag(low, "--vae") == plan.weights.vae and _flag(low, "--t5") == plan.weights.t5
    assert "low-noise expert only" in plan.explanations["sampling.prompts_file"]
    from loragate.evaluate.prompts import sample_prompts_text

    assert " --f 17 " in sample_prompts_text(plan)  # clips: 17 frames, 4n+1
    assert isinstance(plan.experts[0], ExpertPlan)


def test_the_estimate_counts_sampling_memory(workspace: Path) -> None:
    plan = new_plan("mira", "wan2.1-t2v-1.3b", wan_dataset(workspace), "mira", gpu_gb=80, weights=fake_weights(workspace, "wan2.1-t2v-1.3b"))
    with_samples = estimate_vram(request_from_plan(plan), use_correction=False)
    plan.sampling = None
    without = estimate_vram(request_from_plan(plan), use_correction=False)
    assert {"sampling", "sample_prompt_encoding"} <= set(with_samples.phases) and "sampling" not in without.phases
    # while a sample is made the model and the LoRA's training state stay on the card, and the VAE joins them
    from loragate.vram.estimate import raw_terms

    phases, _, _ = raw_terms(request_from_plan(new_plan("mira", "wan2.1-t2v-1.3b", wan_dataset(workspace), "mira", gpu_gb=80,
                                                        weights=fake_weights(workspace, "wan2.1-t2v-1.3b"))))
    assert phases["sampling"]["weights"] == phases["training"]["weights"] and phases["sampling"]["vae"] > 0
    assert with_samples.estimate_gb >= without.estimate_gb


def test_progression_sheet_rows_are_checkpoints_and_columns_prompts(tmp_path: Path) -> None:
    out = tmp_path / "output"
    (out / "sample").mkdir(parents=True)
    for epoch in (0, 2, 4):
        for prompt in range(3):
            stamp = f"2026120{epoch + 1}101010"
            # sd-scripts names (.png) and an older duplicate that the newer file replaces
            (out / "sample" / f"mira_e{epoch:06d}_{prompt:02d}_{stamp}_1234.png").write_bytes(render.png(1234 + prompt, "x", epoch / 4))
    (out / "sample" / "mira_e000002_00_20260101000000_1234.png").write_bytes(render.png(1, "old", 0))
    (out / "sample" / "other_e000002_00_20260101000000_1234.png").write_bytes(render.png(1, "other", 0))
    assert len(find_samples(out, ["mira"])) == 9
    sheet = progression_sheet(out, ["mira"], ["full body", "close-up", "sitting"], tmp_path / "samples.png", "mira")
    assert sheet.rows == ["before training", "epoch 2", "epoch 4"] and sheet.columns == ["full body", "close-up", "sitting"]
    image = Image.open(sheet.sheet)  # type: ignore[arg-type]
    assert image.width > 3 * 64 and image.height > 3 * 64


def test_monitor_returns_the_sheet_of_a_run_with_samples(workspace: Path) -> None:
    """The trainer stand-in writes samples like the trainers do; the monitor finds them by name."""
    from loragate.plan.store import load_project_plan
    from loragate.runs.monitor import monitor
    from tests.monitor_helpers import make_job, tqdm, train_argv

    generate_config("mira", "sdxl", flat_dataset(workspace), "mira", gpu_gb=24, weights=fake_weights(workspace, "sdxl"))
    plan = load_project_plan("mira")

    class Args:
        sample_prompts = str(workspace / "grimoire/training/mira/sample_prompts.txt")
        output_dir = plan.output_dir
        output_name = "mira"

    for epoch in (0, 1, 2):
        render.write_samples(Args, epoch, musubi=False)
        time.sleep(1.01)  # the timestamp in the name has one-second steps
    log = workspace / "grimoire/training/mira/train.log"
    log.write_text("".join(tqdm(n, 50, 0.1) for n in range(1, 5)), encoding="utf-8")
    make_job("mira", [{"role": "train", "argv": train_argv(Path(plan.output_dir), "mira"), "log": str(log), "pid": os.getpid(), "status": "running"}],
             output_dir=Path(plan.output_dir), output_names=["mira"])
    report = monitor("mira")
    assert report.samples_sheet and Path(report.samples_sheet).name == "samples.png"
    assert "![samples at each checkpoint](samples.png)" in Path(report.progress_md).read_text()  # type: ignore[arg-type]
    sheet = project_sample_sheet("mira")
    assert sheet.rows == ["before training", "epoch 1", "epoch 2"] and len(sheet.columns) == 4
    assert all(re.match(r"mira_e00000\d_0\d_\d{14}_1234\.png", p.name) for p in (Path(plan.output_dir) / "sample").iterdir())
