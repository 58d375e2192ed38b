"""new_plan: every value filled from the family, the preset, the dataset and the platform."""

from __future__ import annotations

from pathlib import Path

import pytest

from loragate.catalog.models import family_ids
from loragate.core.errors import LoragateError
from loragate.plan.fit import SAFETY_MARGIN, estimate_gb
from loragate.plan.new import new_plan
from tests.plan_helpers import family_dataset, flat_dataset, kohya_dataset, wan_dataset

EXPLAINED = ("network.dim", "network.alpha", "optimizer.learning_rate", "optimizer.type", "optimizer.lr_scheduler",
             "schedule.max_train_epochs", "schedule.batch_size", "memory.mixed_precision", "dataset.resolution",
             "training_type", "trigger")


@pytest.mark.parametrize("family", family_ids())
def test_every_family_and_preset_gives_an_explained_plan(family: str, workspace: Path) -> None:
    data = family_dataset(family, workspace)
    for preset in ("quick", "standard", "thorough"):
        plan = new_plan("mira", family, data, "mira", preset=preset, gpu_gb=24)
        assert plan.preset == preset and plan.model == family
        missing = [k for k in EXPLAINED if not plan.explanations.get(k)]
        assert not missing, missing
        assert plan.commands and plan.commands[-1].stage == "train"
        assert plan.schedule.max_train_epochs >= 1 and plan.network.dim >= 4


def test_paths_stay_out_of_the_dataset_and_the_grimoire(workspace: Path) -> None:
    data = wan_dataset(workspace)
    plan = new_plan("mira", "wan2.1-t2v-1.3b", data, "mira")
    assert plan.dataset.cache_dir and not plan.dataset.cache_dir.startswith(str(data))
    assert all(s.cache_dir and not s.cache_dir.startswith(str(data)) for s in plan.dataset.subsets)
    assert plan.output_dir == str(workspace / "output" / "mira")
    assert "grimoire" not in plan.output_dir
    assert plan.dataset_toml == str(workspace / "grimoire" / "training" / "mira" / "dataset.toml")
    assert plan.weights.dit == str(workspace / "models" / "wan2.1_t2v_1.3B_bf16.safetensors")


@pytest.mark.parametrize(("platform", "root"), [("runpod", "/workspace"), ("modal", "/root")])
def test_platform_paths(platform: str, root: str, workspace: Path) -> None:
    data = wan_dataset(workspace)
    plan = new_plan("mira", "wan2.2-t2v-a14b", data, "mira", platform=platform)
    assert {s.path for s in plan.dataset.subsets} == {f"{root}/datasets/mira/Images", f"{root}/datasets/mira/Videos"}
    assert plan.dataset.cache_dir == f"{root}/cache/mira"
    assert plan.output_dir == f"{root}/output/mira"
    assert plan.trainer_dir == f"{root}/musubi-tuner"
    assert plan.dataset_toml == f"{root}/grimoire/training/mira/dataset.toml"
    assert plan.weights.dit == f"{root}/models/wan2.2_t2v_low_noise_14B_fp16.safetensors"
    assert plan.dataset.path == str(data), "the local folder stays the one Gate 1 fingerprints"


def test_weights_overrides_and_unknown_roles(workspace: Path) -> None:
    data = flat_dataset(workspace)
    plan = new_plan("mira", "sdxl", data, "mira", weights={"base_model": "/m/my_model.safetensors"})
    assert plan.weights.base_model == "/m/my_model.safetensors"
    with pytest.raises(LoragateError, match="Unknown weights role"):
        new_plan("mira", "sdxl", data, "mira", weights={"unet": "/m/x.safetensors"})


def test_kohya_repeats_and_schedule(workspace: Path) -> None:
    plan = new_plan("mira", "sd15", kohya_dataset(workspace, images=4, repeats=10), "mira")
    [subset] = plan.dataset.subsets
    assert subset.num_repeats == 10 and subset.count == 4
    steps_per_epoch = -(-4 * 10 // plan.schedule.batch_size)
    total = plan.schedule.max_train_epochs * steps_per_epoch
    assert 0.9 * 2000 <= total <= 1.1 * 2000 + steps_per_epoch  # the standard SD preset aims at ~2000 steps
    assert plan.optimizer.lr_warmup_steps == round(0.05 * total)


def test_wan21_14b_on_24gb_uses_fp8_and_block_swap(workspace: Path) -> None:
    plan = new_plan("mira", "wan2.1-t2v-14b", wan_dataset(workspace), "mira", gpu_gb=24)
    assert plan.memory.fp8_base and not plan.memory.fp8_scaled  # scaled fp8 is not used on Wan 2.1
    assert 0 < plan.memory.blocks_to_swap <= 39
    assert estimate_gb(plan) * SAFETY_MARGIN <= 24
    assert all((f - 1) % 4 == 0 for f in plan.dataset.target_frames)


def test_wan22_experts_and_fp16(workspace: Path) -> None:
    plan = new_plan("mira", "wan2.2-i2v-a14b", wan_dataset(workspace), "mira", gpu_gb=80, experts_together=True)
    assert [(e.expert, e.min_timestep, e.max_timestep) for e in plan.experts] == [("high", 900, 1000), ("low", 0, 900)]
    assert plan.memory.mixed_precision == "fp16" and plan.experts_together
    assert plan.timesteps is not None and plan.timesteps.preserve_distribution_shape
    low = new_plan("mira", "wan2.2-i2v-a14b", wan_dataset(workspace), "mira", expert="low")
    assert [e.expert for e in low.experts] == ["low"] and not low.experts_together


def test_frames_chosen_by_the_artist_are_kept(workspace: Path) -> None:
    plan = new_plan("mira", "wan2.1-t2v-1.3b", wan_dataset(workspace), "mira", frames=[1, 17], gpu_gb=24)
    assert plan.dataset.target_frames == [1, 17]
    with pytest.raises(LoragateError, match="4n\\+1"):
        new_plan("mira", "wan2.1-t2v-1.3b", wan_dataset(workspace), "mira", frames=[1, 16])


@pytest.mark.parametrize("name", ["../escape", "a/b", "x;rm -rf", "", ".hidden", "a" * 80, "name with space"])
def test_hostile_names_are_refused(name: str, workspace: Path) -> None:
    with pytest.raises(LoragateError):
        new_plan(name, "sd15", flat_dataset(workspace), "mira")
    assert not (workspace / "grimoire").exists() or not any((workspace / "grimoire").rglob("plan.json"))


def test_bad_requests_say_what_to_do(workspace: Path) -> None:
    data = flat_dataset(workspace)
    with pytest.raises(LoragateError, match="Wan 2.2"):
        new_plan("mira", "sdxl", data, "mira", expert="high")
    with pytest.raises(LoragateError, match="Unknown model family"):
        new_plan("mira", "sdxl-turbo", data, "mira")
    with pytest.raises(LoragateError, match="does not exist"):
        new_plan("mira", "sdxl", workspace / "nope", "mira")
    (workspace / "notes.txt").write_text("not a folder")
    with pytest.raises(LoragateError, match="is a file, not a folder"):
        new_plan("mira", "sdxl", workspace / "notes.txt", "mira")
    with pytest.raises(LoragateError, match="trigger"):
        new_plan("mira", "sdxl", data, " ")
    with pytest.raises(LoragateError, match="multiple of 16"):
        new_plan("mira", "sdxl", data, "mira", resolution=(1000, 1000))


def test_explanations_describe_the_values_that_run(workspace: Path) -> None:
    """The artist's overrides and the memory fit change values; config.md must explain those, not the preset's."""
    from loragate.catalog.presets import get_preset

    preset = get_preset("sdxl")
    plan = new_plan("mira", "sdxl", flat_dataset(workspace, images=6), "mira", gpu_gb=12, rank=64,
                    learning_rate=3e-4, optimizer="AdamW")
    why, sched = plan.explanations, plan.schedule
    assert sched.batch_size < preset.batch_size, "the 12 GB card should force a smaller batch"
    assert "Rank 64" in why["network.dim"] and "Alpha 32" in why["network.alpha"]
    assert "0.0003" in why["optimizer.learning_rate"] and why["optimizer.type"].startswith("Optimizer AdamW:")
    assert f"Batch {sched.batch_size}:" in why["schedule.batch_size"] and "fits" in why["schedule.batch_size"]
    # a smaller batch keeps the preset's length in steps, not its number of passes
    per_epoch = -(-6 * preset.num_repeats // sched.batch_size)
    total = sched.max_train_epochs * per_epoch
    assert preset.target_steps <= total < preset.target_steps + per_epoch
    assert f"About {total} training steps" in why["schedule.max_train_epochs"]
    assert f"{plan.optimizer.lr_warmup_steps} steps" in why["optimizer.lr_warmup_steps"]


def test_kohya_folder_repeats_are_what_config_md_shows(workspace: Path) -> None:
    from loragate.plan.render import render_config_md

    plan = new_plan("mira", "sd15", kohya_dataset(workspace, images=4, repeats=10), "mira")
    row = next(line for line in render_config_md(plan).splitlines() if line.startswith("| dataset.num_repeats"))
    assert "| 10 |" in row and "10 time" in row


def test_relative_paths_are_made_absolute_because_commands_run_in_the_trainer_folder(
        workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = wan_dataset(workspace)
    here = workspace / "typed_here"
    (here / "models").mkdir(parents=True)
    (here / "models" / "my_dit.safetensors").write_bytes(b"")
    monkeypatch.chdir(here)
    plan = new_plan("mira", "wan2.1-t2v-1.3b", data, "mira", weights={"dit": "models/my_dit.safetensors"},
                    models_dir="models", output_dir="out", trainer_dir="musubi-tuner", trainer_python="venv/bin/python")
    assert plan.weights.dit == str(here / "models" / "my_dit.safetensors")  # exists where the command was typed
    assert plan.weights.vae == str(here / "models" / "wan_2.1_vae.safetensors")
    assert plan.output_dir == str(workspace / "out")  # not there yet: under the workspace
    assert plan.trainer_dir == str(workspace / "musubi-tuner")
    assert plan.trainer_python == str(workspace / "venv" / "bin" / "python")
    paths = [a for c in plan.commands for a in c.argv if "/" in a and not a.startswith(("src/", "--"))]
    assert paths and all(Path(a).is_absolute() for a in paths), paths
    pod = new_plan("mira", "wan2.1-t2v-1.3b", data, "mira", platform="runpod", weights={"dit": "models/my_dit.safetensors"},
                   trainer_python="python3")
    assert pod.weights.dit == "/workspace/models/my_dit.safetensors" and pod.trainer_python == "python3"


@pytest.mark.parametrize("family", family_ids())
def test_config_md_explains_every_value_the_commands_carry(family: str, workspace: Path) -> None:
    from loragate.plan.render import _value_at

    data = family_dataset(family, workspace)
    plan = new_plan("mira", family, data, "mira", gpu_gb=24)
    why = plan.explanations
    wanted = {"network.module", "memory.attention", "memory.cache_latents", "schedule.seed", "dataset.resolution"}
    wanted |= {f"weights.{role}" for role, path in plan.weights.model_dump().items() if path}
    if plan.timesteps is not None:
        wanted.add("timesteps.timestep_sampling")
    if family == "flux1-dev":
        wanted |= {"timesteps.guidance_scale", "timesteps.model_prediction_type"}
        # flux_shift does not read a shift, and the command passes none: nothing to explain
        assert "timesteps.discrete_flow_shift" not in why and "--discrete_flow_shift" not in plan.commands[-1].argv
    if plan.experts:
        wanted |= {"experts", "timesteps.preserve_distribution_shape"}
    assert wanted <= set(why), sorted(wanted - set(why))
    # every row shows a value the plan has
    assert [key for key in why if _value_at(plan, key) == "-"] == []


def test_clip_lengths_follow_the_clips(workspace: Path) -> None:
    """40 frames at 30 fps are about 21 frames at Wan's 16: 33- and 81-frame pieces could never be cut."""
    from loragate.plan.gate2 import generate_config

    data = wan_dataset(workspace, clip_frames=40, fps=30)
    plan = new_plan("mira", "wan2.1-t2v-1.3b", data, "mira", gpu_gb=80)
    assert plan.dataset.longest_clip_frames == 21 and plan.dataset.target_frames == [1, 21]
    assert next(s for s in plan.dataset.subsets if s.kind == "video").samples == 2 * 2  # each clip: 1 and 21 frames
    chosen = generate_config("long", "wan2.1-t2v-1.3b", data, "mira", gpu_gb=80, frames=[1, 33])
    [hit] = [f for f in chosen.gate2.findings if f.code == "PLAN_FRAMES_LONGER_THAN_CLIPS"]
    assert "clip lengths of 1 and 21 frames" in hit.fix and chosen.plan.dataset.target_frames == [1, 33]


@pytest.mark.parametrize(("text", "said"), [("{garbage", "not valid JSON"), ("{}", "'name' is missing"), ('{"name": 3}', "'name' is wrong")])
def test_a_damaged_plan_file_says_what_is_wrong(text: str, said: str, tmp_path: Path) -> None:
    from loragate.core.plan import load_plan

    path = tmp_path / "plan.json"
    path.write_text(text)
    with pytest.raises(LoragateError, match=said):
        load_plan(path)
