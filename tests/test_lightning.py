"""Wan 2.2 Lightning: the two forms through the plan, the trainer commands, Gates 2 and 3, the
validator, the evaluation grid and the registration, with Lightning-shaped LoRA headers built here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loragate.catalog.models import get_family
from loragate.cli import app
from loragate.environment.resources import ram_need
from loragate.core.errors import LoragateError
from loragate.backends.musubi_generate import wan_command
from loragate.evaluate.run import plan_lightning
from loragate.backends.generation import CellSpec
from loragate.evaluate.workflows import build_workflow, lora_nodes, model_names
from loragate.lightning.checks import extra_disk_gb, file_findings
from loragate.lightning.choice import LightningChoice
from loragate.lightning.files import expert_by_name, inspect_lightning, task_by_name
from loragate.plan.gate2 import generate_config
from loragate.core.plan import TrainingPlan
from loragate.plan.new import new_plan
from loragate.registry.register import checked_with
from loragate.registry.studio_loras import RegisteredLora, render_entry
from loragate.validate import validate_commands, validate_files
from tests.media import write_safetensors_header
from tests.plan_helpers import wan_dataset

RELEASE = "Wan2.2-{task}-A14B-4steps-lora-250928"


def lightning_lora(path: Path, naming: str = "musubi", width: int = 5120, blocks: int = 40, rank: int = 64,
                   image_layers: bool = False, in_channels: int | None = None) -> Path:
    """A Lightning-shaped LoRA header: attention and FFN layers of every block, in musubi's naming
    (lora_unet_blocks_N_self_attn_q.lora_down.weight) or the release's (diffusion_model.blocks.N.self_attn.q.lora_A.weight)."""
    layers = ["self_attn.q", "self_attn.k", "cross_attn.k", "ffn.0"] + (["cross_attn.k_img", "cross_attn.v_img"] if image_layers else [])
    tensors: dict[str, tuple[str, list[int]]] = {}

    def add(module: str, inputs: list[int]) -> None:
        if naming == "musubi":
            base = "lora_unet_" + module.replace(".", "_")
            tensors[f"{base}.lora_down.weight"] = ("BF16", [rank, *inputs])
            tensors[f"{base}.lora_up.weight"] = ("BF16", [width, rank])
            tensors[f"{base}.alpha"] = ("BF16", [])
        else:
            base = "diffusion_model." + module
            tensors[f"{base}.lora_A.weight"] = ("BF16", [rank, *inputs])
            tensors[f"{base}.lora_B.weight"] = ("BF16", [width, rank])
            tensors[f"{base}.alpha"] = ("BF16", [])

    for block in range(blocks):
        for layer in layers:
            add(f"blocks.{block}.{layer}", [width])
    if in_channels:
        add("patch_embedding", [in_channels, 1, 2, 2])
    return write_safetensors_header(path, tensors)


def release(root: Path, task: str = "T2V", naming: str = "musubi", **shape: object) -> dict[str, Path]:
    folder = root / "models" / RELEASE.format(task=task)
    return {e: lightning_lora(folder / f"{e}_noise_model.safetensors", naming, **shape) for e in ("high", "low")}  # type: ignore[arg-type]


def plan_with(workspace: Path, files: dict[str, Path], model: str = "wan2.2-t2v-a14b", gpu_gb: float = 80, **choice: object) -> TrainingPlan:
    lightning = LightningChoice(high_noise=str(files["high"]), low_noise=str(files["low"]), **choice)  # type: ignore[arg-type]
    return new_plan("mira", model, wan_dataset(workspace), "mira", gpu_gb=gpu_gb, lightning=lightning)


def trains(plan: TrainingPlan) -> dict[str, list[str]]:
    return {c.expert or "": c.argv for c in plan.commands if c.stage == "train"}


def after(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv else None


# ------------------------------------------------------------------ names and headers
def test_file_names_and_headers_say_expert_task_rank_and_naming(tmp_path: Path) -> None:
    assert expert_by_name("/m/Wan2.2-T2V-A14B-4steps-lora-250928/high_noise_model.safetensors") == "high"
    assert expert_by_name("Wan2.2-Lightning_I2V-A14B-4steps-lora_LOW_fp16.safetensors") == "low"
    assert expert_by_name("lightx2v_4steps.safetensors") is None
    assert task_by_name("/m/Wan2.2-I2V-A14B-4steps-lora-rank64-Seko-V1/low_noise_model.safetensors") == "i2v"
    info = inspect_lightning(lightning_lora(tmp_path / "x" / "low_noise_model.safetensors", "release", rank=64))
    assert (info.is_lora, info.key_format, info.rank, info.blocks, info.width) == (True, "release", 64, 40, 5120)
    musubi = inspect_lightning(lightning_lora(tmp_path / "y.safetensors", rank=32, image_layers=True, in_channels=36))
    assert (musubi.key_format, musubi.rank, musubi.image_layers, musubi.in_channels) == ("lora_unet", 32, True, 36)


# ------------------------------------------------------------------ the plan and the trainer commands
def test_default_form_trains_on_the_base_and_records_the_files(workspace: Path) -> None:
    files = release(workspace)
    plan = plan_with(workspace, files)
    assert plan.lightning is not None and plan.lightning.merged == [] and plan.lightning.low_noise == str(files["low"])
    assert all("--base_weights" not in argv for argv in trains(plan).values())
    assert "stacked on top when you render" in plan.explanations["lightning"]
    assert plan.sampling is not None and "without Lightning" in plan.sampling.note


def test_merging_puts_each_experts_own_file_in_its_own_run(workspace: Path) -> None:
    files = release(workspace)
    plan = plan_with(workspace, files, merge=["both"], strength=0.8)
    runs = trains(plan)
    assert after(runs["high"], "--base_weights") == str(files["high"])
    assert after(runs["low"], "--base_weights") == str(files["low"])
    assert after(runs["low"], "--base_weights_multiplier") == "0.8"
    one = plan_with(workspace, files, merge=["low"])
    assert "--base_weights" not in trains(one)["high"] and "high-noise expert trains on the plain base" in one.lightning.note  # type: ignore[union-attr]


@pytest.mark.parametrize("model,choice,words", [
    ("wan2.1-t2v-14b", {}, "one model"),
    ("wan2.2-t2v-a14b", {"merge": ["low"], "premerged": ["low"]}, "twice"),
])
def test_choices_that_cannot_work_are_refused(workspace: Path, model: str, choice: dict, words: str) -> None:
    with pytest.raises(LoragateError, match=words):
        plan_with(workspace, release(workspace), model=model, **choice)


def test_merging_an_expert_the_plan_does_not_train_and_one_file_for_both(workspace: Path) -> None:
    files = release(workspace)
    with pytest.raises(LoragateError, match="does not train the low-noise"):
        new_plan("mira", "wan2.2-t2v-a14b", wan_dataset(workspace), "mira", gpu_gb=80, expert="high",
                 lightning=LightningChoice(high_noise=str(files["high"]), low_noise=str(files["low"]), merge=["low"]))
    with pytest.raises(LoragateError, match="same file"):
        plan_with(workspace, {"high": files["high"], "low": files["high"]})


def test_gate2_says_which_form_and_blocks_a_merge_into_scaled_fp8(workspace: Path) -> None:
    files = release(workspace)
    data = wan_dataset(workspace)
    pick = {"high_noise": str(files["high"]), "low_noise": str(files["low"])}
    stacked = generate_config("stack", "wan2.2-t2v-a14b", data, "mira", gpu_gb=80, lightning=pick)
    assert {f.code for f in stacked.gate2.findings} >= {"PLAN_LIGHTNING_STACKED"}
    big = generate_config("big", "wan2.2-t2v-a14b", data, "mira", gpu_gb=80, lightning={**pick, "merge": ["both"]})
    assert big.gate2.verdict == "GO" and "PLAN_LIGHTNING_MERGED" in {f.code for f in big.gate2.findings}
    # a 24 GB card would need scaled 8-bit weights, where the merge shrinks to nothing: the plan keeps 16-bit and swaps blocks
    merged = generate_config("merge", "wan2.2-t2v-a14b", data, "mira", gpu_gb=24, lightning={**pick, "merge": ["both"]})
    assert not merged.plan.memory.fp8_base and not merged.plan.memory.fp8_scaled and merged.plan.memory.blocks_to_swap > 0
    said = next(f for f in merged.gate2.findings if f.code == "PLAN_LIGHTNING_MERGED")
    assert "never --fp8_scaled" in said.message and "--lightning-premerged" in said.message
    premerged = generate_config("pre", "wan2.2-t2v-a14b", data, "mira", gpu_gb=24, lightning={**pick, "premerged": ["both"]})
    assert premerged.plan.memory.fp8_scaled and "WAN_BASE_WEIGHTS_FP8_SCALED" not in {f.code for f in premerged.gate2.findings}


def test_ram_and_disk_count_the_lightning_files(workspace: Path) -> None:
    files = release(workspace)
    family = get_family("wan2.2-t2v-a14b")
    stacked, merged = plan_with(workspace, files), plan_with(workspace, files, merge=["both"])
    ram_stacked, ram_merged = ram_need(stacked, family), ram_need(merged, family)
    assert ram_stacked and ram_merged and ram_merged[0] > ram_stacked[0] and "Lightning" in ram_merged[1]
    assert extra_disk_gb(stacked, family) > 0  # both files travel with the plan (cloud volume)


# ------------------------------------------------------------------ Gate 3: the files' headers
def gate3(plan: TrainingPlan) -> dict[str, tuple[str, str]]:
    return {f.code: (f.severity, f.message) for f in file_findings(plan, get_family(plan.model))}


def test_right_files_pass_with_their_rank_reported(workspace: Path) -> None:
    found = gate3(plan_with(workspace, release(workspace), merge=["both"]))
    assert {sev for sev, _ in found.values()} == {"info"}
    assert "rank 64" in found["ENV_LIGHTNING_FILE"][1]


def test_swapped_files_the_other_task_and_release_naming(workspace: Path) -> None:
    files = release(workspace)
    swapped = gate3(plan_with(workspace, {"high": files["low"], "low": files["high"]}))
    assert swapped["ENV_LIGHTNING_WRONG_EXPERT"][0] == "block"
    i2v = gate3(plan_with(workspace, release(workspace, task="I2V")))
    assert i2v["ENV_LIGHTNING_TASK"][0] == "block" and "I2V" in i2v["ENV_LIGHTNING_TASK"][1]
    t2v_for_i2v = gate3(plan_with(workspace, release(workspace / "b", in_channels=16), model="wan2.2-i2v-a14b"))
    assert t2v_for_i2v["ENV_LIGHTNING_TASK"][0] == "block"
    named = release(workspace / "c", naming="release")
    assert gate3(plan_with(workspace, named, merge=["low"]))["ENV_LIGHTNING_NAMING"][0] == "block"  # merges nothing in musubi
    assert gate3(plan_with(workspace, named))["ENV_LIGHTNING_NAMING"][0] == "info"  # ComfyUI reads it


def test_wan21_files_a_model_and_a_missing_file(workspace: Path) -> None:
    old = release(workspace, image_layers=True)
    assert gate3(plan_with(workspace, old))["ENV_LIGHTNING_TASK"][0] == "warn"
    small = release(workspace / "s", width=1536, blocks=30)
    assert "Wan 1.3B" in gate3(plan_with(workspace, small))["ENV_LIGHTNING_SIZE"][1]
    models = workspace / "models"
    dit = write_safetensors_header(models / "high_noise_lightning.safetensors", {"blocks.0.self_attn.q.weight": ("BF16", [5120, 5120])})
    files = release(workspace)
    assert gate3(plan_with(workspace, {"high": dit, "low": files["low"]}))["ENV_LIGHTNING_NOT_LORA"][0] == "block"
    gone = {"high": models / "nowhere_high.safetensors", "low": files["low"]}
    assert gate3(plan_with(workspace, gone))["ENV_LIGHTNING_MISSING"][0] == "warn"
    assert gate3(plan_with(workspace, gone, merge=["high"]))["ENV_LIGHTNING_MISSING"][0] == "block"


# ------------------------------------------------------------------ the validator on an artist's script
def test_validate_reads_the_lightning_headers_in_a_script(tmp_path: Path) -> None:
    named = release(tmp_path, naming="release")
    train = ["accelerate", "launch", "wan_train_network.py", "--task", "t2v-A14B", "--dit", "wan2.2_t2v_low_noise_14B_fp16.safetensors",
             "--base_weights", str(named["low"]), "--min_timestep", "0", "--max_timestep", "875"]
    report = validate_commands([train], {}, check_paths=True)
    hits = {f.code: f for f in report.findings}
    assert hits["WAN_BASE_WEIGHTS_NAMING"].severity == "block" and "convert_lora.py" in hits["WAN_BASE_WEIGHTS_NAMING"].fix
    assert "low-noise expert" in hits["WAN_LIGHTNING_MERGED"].message
    as_dit = [*train[:6], str(named["low"]), *train[7:]]
    assert "WAN_LIGHTNING_AS_MODEL" in {f.code for f in validate_commands([as_dit], {}, check_paths=True).findings}


def test_validate_cli_names_both_forms(tmp_path: Path, workspace: Path) -> None:
    script = tmp_path / "train.sh"
    script.write_text(
        "accelerate launch wan_train_network.py --task t2v-A14B --dit /m/wan2.2_t2v_low_noise_14B_fp16.safetensors "
        "--dit_high_noise /m/wan2.2_t2v_high_noise_14B_fp16.safetensors --base_weights "
        "/m/Wan2.2-T2V-A14B-4steps-lora-250928/high_noise_model.safetensors --sdpa\n"
        "python wan_generate_video.py --task t2v-A14B --lora_weight mine.safetensors "
        "/m/Wan2.2-T2V-A14B-4steps-lora-250928/low_noise_model.safetensors --infer_steps 4\n")
    report = validate_files([script], check_paths=False)
    hits = {f.code: f for f in report.findings}
    assert hits["WAN_BASE_WEIGHTS_ONE_EXPERT"].severity == "block"
    assert "merged base" in hits["WAN_LIGHTNING_MERGED"].message and "Lightning" in hits["WAN_LIGHTNING_MERGED"].message
    assert "stacks Lightning" in hits["WAN_LIGHTNING_STACKED"].message


# ------------------------------------------------------------------ evaluation and registration
def test_eval_grid_stacks_the_plans_lightning_in_scripts_and_comfyui(workspace: Path) -> None:
    files = release(workspace)
    plan = plan_with(workspace, files)
    family = get_family(plan.model)
    stack = plan_lightning(plan)
    assert stack == [str(files["low"]), str(files["high"])]
    cell = CellSpec(prompt="mira walking", seed=1, weight=1.0, width=480, height=832, steps=30, frames=17,
                    lora="out/mira_low.safetensors", lora_high="out/mira_high.safetensors", prefix="c0")
    argv = wan_command(plan, family, 0, cell, workspace / "o", stack).argv
    assert argv[argv.index("--lora_weight") + 1: argv.index("--lora_weight") + 3] == ["out/mira_low.safetensors", str(files["low"])]
    assert after(argv, "--infer_steps") == "4" and after(argv, "--guidance_scale") == "1"
    assert "--save_merged_model" not in argv
    workflow = build_workflow(cell, family, model_names(plan, stack))
    assert lora_nodes(workflow).count("low_noise_model.safetensors") == 1 and "high_noise_model.safetensors" in lora_nodes(workflow)
    samplers = [n["inputs"] for n in workflow.values() if n["class_type"].startswith("KSampler")]
    assert all(s["steps"] == 4 and s["cfg"] == 1.0 for s in samplers)


def test_registration_says_it_was_checked_with_lightning(workspace: Path) -> None:
    files = release(workspace)
    merged = plan_with(workspace, files, merge=["low"])
    said = checked_with(merged, plan_lightning(merged))
    assert said and "low_noise_model.safetensors" in said and "base + Lightning (low-noise)" in said
    assert checked_with(merged, []) is None
    entry = RegisteredLora(name="mira", file="f", type="character", trigger="mira", weight=1.0, base_model="Wan", date="2026-01-01",
                           preset="standard", rank=16, checked_with=said)
    assert any(line.startswith("- **Checked with**: Lightning stacked") for line in render_entry(entry, []))


# ------------------------------------------------------------------ the doors
def test_cli_plan_new_takes_the_lightning_options(workspace: Path) -> None:
    files = release(workspace)
    made = CliRunner().invoke(app, ["plan", "new", "mira", "--model", "wan2.2-t2v-a14b", "--dataset", str(wan_dataset(workspace)),
                                    "--trigger", "mira", "--gpu-gb", "80", "--lightning-high", str(files["high"]),
                                    "--lightning-low", str(files["low"]), "--lightning-merge", "high", "--json"])
    assert made.exit_code == 0, made.output
    plan = json.loads(made.stdout)["plan"]
    assert plan["lightning"]["merged"] == ["high"] and plan["lightning"]["high_noise"] == str(files["high"])
    half = CliRunner().invoke(app, ["plan", "new", "x", "--model", "wan2.2-t2v-a14b", "--dataset", str(wan_dataset(workspace)),
                                    "--trigger", "mira", "--lightning-high", str(files["high"])])
    assert half.exit_code == 2 and "both files" in half.output


@pytest.mark.anyio
async def test_mcp_generate_config_takes_the_same_choice(workspace: Path) -> None:
    from mcp import Client

    from mcp_server.server import build_server

    release(workspace)
    wan_dataset(workspace)
    folder = f"models/{RELEASE.format(task='T2V')}"
    async with Client(build_server()) as client:
        made = await client.call_tool("generate_config", {
            "name": "mira", "model": "wan2.2-t2v-a14b", "dataset": "datasets/mira", "trigger": "mira", "gpu_gb": 80,
            "lightning": {"high_noise": f"{folder}/high_noise_model.safetensors", "low_noise": f"{folder}/low_noise_model.safetensors"}})
        assert not made.is_error, made
        spec = made.structured_content["plan"]["lightning"]
        assert spec["low_noise"] == str(workspace / folder / "low_noise_model.safetensors") and spec["merged"] == []
        escaped = await client.call_tool("generate_config", {
            "name": "esc", "model": "wan2.2-t2v-a14b", "dataset": "datasets/mira", "trigger": "mira",
            "lightning": {"high_noise": "/etc/passwd", "low_noise": f"{folder}/low_noise_model.safetensors"}})
        assert escaped.is_error


@pytest.mark.parametrize("platform,root", [("modal", "/root"), ("runpod", "/workspace")])
def test_cloud_procedures_carry_the_lightning_files(workspace: Path, platform: str, root: str) -> None:
    from loragate.cloud.carry import lightning_files

    release(workspace)
    folder = f"models/{RELEASE.format(task='T2V')}"
    choice = LightningChoice(high_noise=f"{folder}/high_noise_model.safetensors", low_noise=f"{folder}/low_noise_model.safetensors",
                             merge=["both"])
    plan = new_plan("mira", "wan2.2-t2v-a14b", wan_dataset(workspace), "mira", gpu_gb=80, platform=platform, lightning=choice)
    assert after(trains(plan)["low"], "--base_weights") == f"{root}/{folder}/low_noise_model.safetensors"
    carried = {what: (remote, local) for what, remote, local in lightning_files(plan, root)}
    assert carried["Lightning (high-noise)"] == (f"{root}/{folder}/high_noise_model.safetensors", workspace / folder / "high_noise_model.safetensors")
    assert len(carried) == 2


def test_a_premerged_expert_with_the_plain_release_name_is_questioned(workspace: Path) -> None:
    files = release(workspace)
    family = get_family("wan2.2-t2v-a14b")
    plain = plan_with(workspace, files, premerged=["low"])  # the plan's default low-noise file: the plain release's name
    assert plain.experts[1].dit.endswith(family.weights_files["dit"])
    assert gate3(plain)["ENV_LIGHTNING_PREMERGED_PLAIN"][0] == "warn"
    renamed = new_plan("mira", "wan2.2-t2v-a14b", wan_dataset(workspace), "mira", gpu_gb=80,
                       weights={"dit": str(workspace / "models" / "wan2.2_t2v_low_noise_lightning_merged.safetensors")},
                       lightning=LightningChoice(high_noise=str(files["high"]), low_noise=str(files["low"]), premerged=["low"]))
    assert "ENV_LIGHTNING_PREMERGED_PLAIN" not in gate3(renamed)


def test_the_dry_run_reads_a_merge_that_merged_nothing() -> None:
    from loragate.runs.quiet import quiet_findings

    log = ["merging module: /m/low_noise_model.safetensors with multiplier 1.0", "create LoRA network from weights",
           "INFO create LoRA for U-Net/DiT: 0 modules.", "all weights merged: /m/low_noise_model.safetensors",
           "INFO create LoRA for U-Net/DiT: 400 modules."]
    found = quiet_findings(log, "DRY")
    assert [(f.code, f.severity) for f in found] == [("DRY_NOTHING_MERGED", "block")]
    assert not quiet_findings([line for line in log if ": 0 modules" not in line], "DRY")
