"""`plan import`: an artist's own setup read back into a plan.

The round trip runs over every family, preset and training type the catalogue holds (families
added to models.toml are covered without touching this file): the plan's commands and dataset
TOML, read back, give the same plan.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from loragate.backends import get_backend
from loragate.catalog.models import family_ids, get_family
from loragate.catalog.presets import LEVELS, TRAINING_TYPES
from loragate.cli import app
from loragate.core.errors import LoragateError
from loragate.plan.import_plan import ImportRequest, import_plan, plan_from_setup
from loragate.core.plan import TrainingPlan
from loragate.plan.new import new_plan
from loragate.plan.train_script import render_train_sh
from tests.plan_helpers import flat_dataset, kohya_dataset, pairs_dataset, wan_dataset

runner = CliRunner()

# What a trainer's files cannot say: when the plan was made and the prose explaining it.
NOT_IN_THE_FILES = {"created_at", "explanations"}


def _facts(plan: TrainingPlan) -> dict[str, Any]:
    out = plan.model_dump(mode="json", exclude=NOT_IN_THE_FILES)
    if out["sampling"]:
        out["sampling"].pop("note")
    return out


def _export(plan: TrainingPlan) -> str:
    """The plan's commands as a command file, and its dataset TOML where the commands name it."""
    toml = Path(plan.dataset_toml or "")
    toml.parent.mkdir(parents=True, exist_ok=True)
    toml.write_text(get_backend(plan.backend).dataset_toml(plan))
    return "\n".join(shlex.join(c.argv) for c in plan.commands)


def _request(plan: TrainingPlan, **extra: Any) -> ImportRequest:
    return ImportRequest(name=plan.name, trigger=plan.trigger, training_type=plan.training_type, preset=plan.preset,
                         gpu_gb=plan.gpu_gb, platform=plan.platform, experts_together=plan.experts_together, **extra)


def _dataset(family: str, root: Path) -> Path:
    if get_family(family).control_images:
        return pairs_dataset(family, root)
    return wan_dataset(root) if get_family(family).video else kohya_dataset(root)


@pytest.mark.parametrize("family", family_ids())
def test_round_trip_every_family_preset_and_type(family: str, workspace: Path) -> None:
    data = _dataset(family, workspace)
    for training_type in TRAINING_TYPES:
        for preset in LEVELS:
            plan = new_plan("mira", family, data, "mira", preset=preset, training_type=training_type, gpu_gb=24)
            back, findings = plan_from_setup(_request(plan, command=_export(plan)))
            assert _facts(back) == _facts(plan), (family, training_type, preset)
            assert [f for f in findings if f.severity != "info"] == [], (family, training_type, preset)


@pytest.mark.parametrize("family", family_ids())
def test_round_trip_from_train_sh(family: str, workspace: Path, tmp_path: Path) -> None:
    """The train.sh loragate writes (cd, exports, experts started together) imports as the same plan."""
    plan = new_plan("mira", family, _dataset(family, workspace), "mira", gpu_gb=80)
    _export(plan)
    script = tmp_path / "train.sh"
    script.write_text(render_train_sh(plan))
    back, findings = plan_from_setup(_request(plan, files=[str(script)]))
    assert _facts(back) == _facts(plan)
    assert not [f for f in findings if f.severity != "info"]



LIGHTNING_VARIANTS: list[tuple[list[str], list[str], float]] = [
    ([], [], 1.0), (["both"], [], 1.0), (["high"], [], 0.8), (["low"], ["high"], 1.0)]


@pytest.mark.parametrize("family", [f for f in family_ids() if get_family(f).experts and get_family(f).trainer == "musubi"])
@pytest.mark.parametrize(("merge", "premerged", "strength"), LIGHTNING_VARIANTS)
def test_round_trip_with_lightning(family: str, merge: list[str], premerged: list[str], strength: float, workspace: Path) -> None:
    """Lightning stacked at inference, merged by the trainer into one or both experts, or pre-merged:
    the script's --base_weights come back as the merged experts; what the script cannot say (the files
    only stacked, the pre-merged experts) is given on import as on `plan new`."""
    from loragate.lightning.choice import LightningChoice

    files = {e: str(workspace / "models" / f"{e}_noise_model.safetensors") for e in ("high", "low")}
    choice = LightningChoice(high_noise=files["high"], low_noise=files["low"], merge=merge, premerged=premerged,  # type: ignore[arg-type]
                             strength=strength)
    plan = new_plan("mira", family, _dataset(family, workspace), "mira", gpu_gb=80, lightning=choice)
    assert plan.lightning is not None
    told = choice.model_copy(update={"merge": []})  # the script says which experts it merges
    back, findings = plan_from_setup(_request(plan, command=_export(plan), lightning=told))
    assert _facts(back) == _facts(plan), (merge, premerged)
    assert not [f for f in findings if f.severity != "info"]
    if merge == ["both"]:  # both files are in the script: nothing needs saying
        alone, _ = plan_from_setup(_request(plan, command=_export(plan)))
        assert _facts(alone) == _facts(plan)


def test_lightning_merge_import_says_what_is_missing(workspace: Path) -> None:
    from loragate.lightning.choice import LightningChoice

    files = {e: str(workspace / "models" / f"{e}_noise_model.safetensors") for e in ("high", "low")}
    plan = new_plan("mira", "wan2.2-t2v-a14b", wan_dataset(workspace), "mira", gpu_gb=80,
                    lightning=LightningChoice(high_noise=files["high"], low_noise=files["low"], merge=["high"]))
    with pytest.raises(LoragateError, match="does not name the low-noise expert's Lightning file") as missing:
        plan_from_setup(_request(plan, command=_export(plan)))
    assert "--lightning-low" in (missing.value.fix or "")
    other = LightningChoice(high_noise=str(workspace / "other_high.safetensors"), low_noise=files["low"])
    with pytest.raises(LoragateError, match="but .*other_high.safetensors was given"):
        plan_from_setup(_request(plan, command=_export(plan), lightning=other))
    twice = shlex.join(["--base_weights_multiplier", "0.5"])
    both = plan.model_copy(update={"lightning": plan.lightning.model_copy(update={"merged": ["high", "low"]})})  # type: ignore[union-attr]
    both.commands = get_backend("musubi").commands(both)
    mixed = re.sub(r"--base_weights_multiplier \S+", twice, _export(both), count=1)
    assert twice in mixed
    with pytest.raises(LoragateError, match="different strengths"):
        plan_from_setup(_request(plan, command=mixed))
    strong = re.sub(r"--base_weights_multiplier \S+", "--base_weights_multiplier 2.5", _export(both))
    with pytest.raises(LoragateError, match="--base_weights_multiplier 2.5") as too_strong:
        plan_from_setup(_request(plan, command=strong))
    assert "2 or less" in (too_strong.value.fix or "")


def test_lightning_file_written_relative_is_the_same_file(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The script names the merged file by a relative path and the artist gives the same relative
    path: one file, read the same way on both sides, not a contradiction."""
    from loragate.lightning.choice import LightningChoice

    monkeypatch.chdir(workspace)
    files = {e: str(workspace / "models" / f"{e}_noise_model.safetensors") for e in ("high", "low")}
    plan = new_plan("mira", "wan2.2-t2v-a14b", wan_dataset(workspace), "mira", gpu_gb=80,
                    lightning=LightningChoice(high_noise=files["high"], low_noise=files["low"], merge=["high"]))
    command = _export(plan).replace(files["high"], "models/high_noise_model.safetensors")
    assert "models/high_noise_model.safetensors" in command
    told = LightningChoice(high_noise="models/high_noise_model.safetensors", low_noise=files["low"])
    back, _ = plan_from_setup(_request(plan, command=command, lightning=told))
    assert back.lightning is not None and back.lightning.high_noise == files["high"]


ARTIST_WAN22 = """#!/bin/bash
# my wan 2.2 character lora
cd ~/musubi-tuner
DIT_LOW={models}/wan2.2_t2v_low_noise_14B_fp16.safetensors
DIT_HIGH={models}/wan2.2_t2v_high_noise_14B_fp16.safetensors
python src/musubi_tuner/wan_cache_latents.py --dataset_config {toml} --vae {models}/wan_2.1_vae.safetensors
python src/musubi_tuner/wan_cache_text_encoder_outputs.py --dataset_config {toml} \\
  --t5 {models}/models_t5_umt5-xxl-enc-bf16.pth --batch_size 16
accelerate launch --num_cpu_threads_per_process 1 --mixed_precision fp16 src/musubi_tuner/wan_train_network.py \\
  --task t2v-A14B --dit $DIT_HIGH --dataset_config {toml} --sdpa --mixed_precision fp16 --fp8_base \\
  --gradient_checkpointing --network_module networks.lora_wan --network_dim 32 --network_alpha 16 \\
  --optimizer_type adamw8bit --learning_rate 1e-4 --timestep_sampling shift --discrete_flow_shift 12 \\
  --min_timestep 875 --max_timestep 1000 --preserve_distribution_shape --max_train_epochs 40 \\
  --save_every_n_epochs 5 --seed 7 --max_grad_norm 0.5 --output_dir {out} --output_name mira_high
accelerate launch --num_cpu_threads_per_process 1 --mixed_precision fp16 src/musubi_tuner/wan_train_network.py \\
  --task t2v-A14B --dit $DIT_LOW --dataset_config {toml} --sdpa --mixed_precision fp16 --fp8_base \\
  --gradient_checkpointing --network_module networks.lora_wan --network_dim 32 --network_alpha 16 \\
  --optimizer_type adamw8bit --learning_rate 1e-4 --timestep_sampling shift --discrete_flow_shift 12 \\
  --min_timestep 0 --max_timestep 875 --preserve_distribution_shape --max_train_epochs 40 \\
  --save_every_n_epochs 5 --seed 7 --max_grad_norm 0.5 --output_dir {out} --output_name mira_low
python ~/sd-scripts/sdxl_gen_img.py --ckpt /models/sdxl.safetensors --prompt "mira" --outdir {out}/test
"""

ARTIST_TOML = """[general]
resolution = [512, 512]
caption_extension = ".txt"
batch_size = 2
enable_bucket = true

[[datasets]]
image_directory = "{data}/Images"
cache_directory = "{cache}/img"
num_repeats = 3

[[datasets]]
video_directory = "{data}/Videos"
cache_directory = "{cache}/vid"
target_frames = [1, 17]
frame_extraction = "head"
"""


def _artist_setup(workspace: Path, tmp_path: Path) -> tuple[Path, Path]:
    data = wan_dataset(workspace)
    toml = tmp_path / "my_dataset.toml"
    toml.write_text(ARTIST_TOML.format(data=data, cache=tmp_path / "cache"))
    script = tmp_path / "train_mira.sh"
    script.write_text(ARTIST_WAN22.format(models="/models", toml=toml, out=workspace / "out"))
    return script, toml


def test_an_artists_wan22_script_becomes_a_plan(workspace: Path, tmp_path: Path) -> None:
    script, toml = _artist_setup(workspace, tmp_path)
    plan, findings = plan_from_setup(ImportRequest(name="mira", files=[str(script), str(toml)], trigger="mira", gpu_gb=80))
    assert plan.model == "wan2.2-t2v-a14b" and plan.backend == "musubi"
    assert [(e.expert, e.min_timestep, e.max_timestep, e.output_name) for e in plan.experts] == [
        ("high", 875, 1000, "mira_high"), ("low", 0, 875, "mira_low")]
    assert plan.weights.dit == "/models/wan2.2_t2v_low_noise_14B_fp16.safetensors"
    assert plan.weights.dit_high_noise == "/models/wan2.2_t2v_high_noise_14B_fp16.safetensors"
    assert plan.weights.t5 == "/models/models_t5_umt5-xxl-enc-bf16.pth"
    assert (plan.network.dim, plan.network.alpha, plan.optimizer.learning_rate) == (32, 16, 1e-4)
    assert plan.memory.fp8_base and plan.memory.mixed_precision == "fp16"
    assert plan.timesteps is not None and plan.timesteps.discrete_flow_shift == 12
    assert (plan.schedule.max_train_epochs, plan.schedule.save_every_n_epochs, plan.schedule.seed) == (40, 5, 7)
    assert plan.schedule.batch_size == 2 and plan.dataset.resolution == (512, 512)
    assert [(s.kind, s.num_repeats, s.count) for s in plan.dataset.subsets] == [("image", 3, 3), ("video", 1, 2)]
    assert plan.dataset.target_frames == [1, 17] and plan.dataset.path == str(workspace / "datasets" / "mira")
    # what the plan cannot hold is said, with where it was written
    dropped = [f for f in findings if f.code == "IMPORT_FLAG_DROPPED"]
    assert {f.evidence["flag"] for f in dropped} == {"--max_grad_norm"}
    assert all("train_mira.sh:" in str(f.evidence["where"]) for f in dropped)
    assert "runs without it" in dropped[0].message
    skipped = [f for f in findings if f.code == "IMPORT_COMMAND_DROPPED"]
    assert [f.evidence["script"] for f in skipped] == ["sdxl_gen_img.py"] and "will not run it" in skipped[0].message


def test_import_registers_like_plan_new_and_passes_gate_2(workspace: Path, tmp_path: Path) -> None:
    script, toml = _artist_setup(workspace, tmp_path)
    request = ImportRequest(name="mira", files=[str(script), str(toml)], trigger="mira", gpu_gb=80)
    result = import_plan(request)
    assert result.gate2.verdict == "GO", [f.message for f in result.gate2.findings if f.severity == "block"]
    folder = workspace / "grimoire" / "training" / "mira"
    assert (folder / "plan.json").is_file() and (folder / "train.sh").is_file()
    assert json.loads((folder / "gates.json").read_text())
    assert toml.read_text().startswith("[general]"), "the artist's own TOML is never rewritten"
    with pytest.raises(LoragateError, match="already has a plan"):
        import_plan(request)
    again = import_plan(request.model_copy(update={"replace": True}))
    assert again.previous_plan and Path(again.previous_plan).is_file()


def test_sdscripts_command_line_with_its_config_file(workspace: Path, tmp_path: Path) -> None:
    data = flat_dataset(workspace)
    (tmp_path / "ds.toml").write_text(
        f'[general]\ncaption_extension = ".txt"\nenable_bucket = true\n\n[[datasets]]\nresolution = 1024\nbatch_size = 1\n\n'
        f'  [[datasets.subsets]]\n  image_dir = "{data}"\n  num_repeats = 2\n')
    (tmp_path / "cfg.toml").write_text('[network]\nnetwork_dim = 8\nnetwork_alpha = 4.0\n[optim]\nlearning_rate = 5e-5\n')
    command = (f"accelerate launch sdxl_train_network.py --pretrained_model_name_or_path /m/ponyDiffusionV6XL.safetensors "
               f"--dataset_config {tmp_path / 'ds.toml'} --config_file {tmp_path / 'cfg.toml'} --network_module networks.lora "
               f"--output_dir {workspace / 'out'} --output_name mira --mixed_precision bf16 --cache_latents --xformers "
               f"--max_train_epochs 8")
    plan, findings = plan_from_setup(ImportRequest(name="mira", command=command, trigger="mira", gpu_gb=24))
    assert plan.model == "pony" and plan.weights.base_model == "/m/ponyDiffusionV6XL.safetensors"
    assert (plan.network.dim, plan.network.alpha, plan.optimizer.learning_rate) == (8, 4.0, 5e-5)
    assert plan.memory.attention == "xformers" and plan.dataset.subsets[0].num_repeats == 2
    assert plan.dataset.resolution == (1024, 1024) and plan.dataset.image_count == 4
    added = {f.evidence["flag"] for f in findings if f.code == "IMPORT_FLAG_ADDED"}
    assert "--save_model_as" in added


def test_the_family_can_be_named_and_a_wrong_one_is_refused(workspace: Path) -> None:
    plan = new_plan("mira", "sdxl", flat_dataset(workspace), "mira", gpu_gb=24)
    back, _ = plan_from_setup(_request(plan, command=_export(plan), model="illustrious"))
    assert back.model == "illustrious"
    with pytest.raises(LoragateError, match="does not know which model"):
        plan_from_setup(_request(plan, command=f"python qwen_image_train_thing.py --dataset_config {plan.dataset_toml}"))


def test_what_cannot_be_imported_is_said(workspace: Path, tmp_path: Path) -> None:
    with pytest.raises(LoragateError, match="Nothing to import"):
        plan_from_setup(ImportRequest(name="mira", trigger="mira"))
    with pytest.raises(LoragateError, match="No training command"):
        toml = tmp_path / "ds.toml"
        toml.write_text('[general]\nresolution = [512, 512]\n[[datasets]]\nimage_directory = "/x"\ncache_directory = "/c"\n')
        plan_from_setup(ImportRequest(name="mira", trigger="mira", files=[str(toml)]))
    with pytest.raises(LoragateError, match="dataset TOML /nowhere/ds.toml could not be read"):
        plan_from_setup(ImportRequest(name="mira", trigger="mira",
                                      command="python wan_train_network.py --task t2v-1.3B --dataset_config /nowhere/ds.toml"))
    with pytest.raises(LoragateError, match="--network_dim 0 .*must be at least 1"):
        cmd = "accelerate launch train_network.py --dataset_config {t} --network_dim 0 --pretrained_model_name_or_path /m.ckpt"
        toml = tmp_path / "sd.toml"
        toml.write_text(f'[[datasets]]\n[[datasets.subsets]]\nimage_dir = "{flat_dataset(workspace)}"\n')
        plan_from_setup(ImportRequest(name="mira", trigger="mira", command=cmd.format(t=toml)))


def test_cli_plan_import(workspace: Path, tmp_path: Path) -> None:
    script, toml = _artist_setup(workspace, tmp_path)
    made = runner.invoke(app, ["plan", "import", "mira", str(script), str(toml), "--trigger", "mira", "--gpu-gb", "80", "--json"])
    assert made.exit_code == 0, made.output
    out = json.loads(made.stdout)
    assert out["plan"]["model"] == "wan2.2-t2v-a14b" and out["gate2"]["verdict"] == "GO"
    assert any(f["code"] == "IMPORT_FLAG_DROPPED" for f in out["not_carried"])
    human = runner.invoke(app, ["plan", "import", "mira", str(script), str(toml), "--trigger", "mira", "--replace"])
    assert human.exit_code in (0, 1) and "--max_grad_norm" in human.output
    refused = runner.invoke(app, ["plan", "import", "mira", str(script), "--trigger", "mira", "--type", "portrait"])
    assert refused.exit_code == 2 and "training_type" in refused.output and "bug" not in refused.output
    # the Lightning files the artist renders with, which a script that does not merge them cannot say
    lit = ["--lightning-high", "/models/high_noise_model.safetensors", "--lightning-low", "/models/low_noise_model.safetensors"]
    stacked = runner.invoke(app, ["plan", "import", "mira", str(script), str(toml), "--trigger", "mira", "--replace", "--json", *lit])
    assert stacked.exit_code in (0, 1), stacked.output
    lightning = json.loads(stacked.stdout)["plan"]["lightning"]
    assert lightning["low_noise"] == "/models/low_noise_model.safetensors" and lightning["merged"] == []
    half = runner.invoke(app, ["plan", "import", "mira", str(script), "--trigger", "mira", "--lightning-high", "/h.safetensors"])
    assert half.exit_code == 2 and "--lightning-low" in half.output


@pytest.mark.anyio
async def test_mcp_import_plan(workspace: Path, tmp_path: Path) -> None:
    from mcp import Client

    from mcp_server.server import build_server

    inside = workspace / "setup"
    inside.mkdir()
    script, toml = _artist_setup(workspace, inside)
    async with Client(build_server()) as client:
        made = await client.call_tool("import_plan", {"name": "mira", "trigger": "mira", "gpu_gb": 80,
                                                       "files": [str(script), str(toml)]})
        assert not made.is_error, made.content
        assert made.structured_content["plan"]["model"] == "wan2.2-t2v-a14b"
        assert made.structured_content["plan"]["lightning"] is None
        lit = {"high_noise": str(inside / "high_noise_model.safetensors"), "low_noise": str(inside / "low_noise_model.safetensors"),
               "premerged": ["low"]}
        stacked = await client.call_tool("import_plan", {"name": "mira", "trigger": "mira", "gpu_gb": 80, "replace": True,
                                                          "files": [str(script), str(toml)], "lightning": lit})
        assert not stacked.is_error, stacked.content
        assert stacked.structured_content["plan"]["lightning"]["premerged"] == ["low"]
        again = await client.call_tool("import_plan", {"name": "mira", "trigger": "mira", "files": [str(script)]})
        assert again.is_error and "already has a plan" in again.content[0].text
        outside = await client.call_tool("import_plan", {"name": "x", "trigger": "mira", "files": ["/etc/passwd"]})
        assert outside.is_error


LAUNCHER = '''import subprocess

RANK = 24
MODEL = "/m/sd_xl_base_1.0.safetensors"


def main():
    cmd = ["accelerate", "launch", "sdxl_train_network.py", "--pretrained_model_name_or_path", MODEL,
           "--dataset_config", "{toml}", "--network_module", "networks.lora", "--network_dim", str(RANK),
           "--network_alpha", "12", "--output_dir", "{out}", "--output_name", "mira", "--mixed_precision", "bf16",
           "--max_train_epochs", "6", "--learning_rate", "3e-4"]
    subprocess.run(cmd, check=True)


main()
'''


def test_a_python_launcher_is_read_without_running_it(workspace: Path, tmp_path: Path) -> None:
    toml = tmp_path / "ds.toml"
    toml.write_text(f'[[datasets]]\nresolution = [832, 1216]\n[[datasets.subsets]]\nimage_dir = "{flat_dataset(workspace)}"\n')
    launcher = tmp_path / "train.py"
    launcher.write_text(LAUNCHER.format(toml=toml, out=workspace / "out"))
    plan, findings = plan_from_setup(ImportRequest(name="mira", files=[str(launcher)], trigger="mira", gpu_gb=24))
    assert plan.model == "sdxl" and (plan.network.dim, plan.network.alpha) == (24, 12)
    assert plan.dataset.resolution == (832, 1216) and plan.schedule.max_train_epochs == 6
    # sd-scripts reads ".caption" when the TOML does not say: the plan keeps what the trainer would do
    assert plan.dataset.caption_extension == ".caption"
    assert not (tmp_path / "out").exists(), "nothing was run"
    assert all(f.code.startswith("IMPORT_") for f in findings)


def test_sd_scripts_folders_given_by_flags(workspace: Path) -> None:
    """Without a dataset TOML sd-scripts reads `N_name` folders in --train_data_dir; the plan writes them into its own."""
    data = kohya_dataset(workspace, repeats=7)
    command = (f"accelerate launch train_network.py --pretrained_model_name_or_path /m/v1-5-pruned-emaonly.safetensors "
               f"--train_data_dir {data} --resolution 768,512 --enable_bucket --caption_extension .txt --train_batch_size 2 "
               f"--network_module networks.lora --network_dim 16 --network_alpha 8 --output_dir {workspace / 'out'} "
               f"--output_name mira --max_train_epochs 4 --mixed_precision fp16")
    plan, findings = plan_from_setup(ImportRequest(name="mira", command=command, trigger="mira", gpu_gb=12))
    assert plan.model == "sd15"
    assert [(s.path, s.num_repeats, s.count) for s in plan.dataset.subsets] == [(str(data / "7_mira"), 7, 4)]
    assert plan.dataset.resolution == (768, 512) and plan.schedule.batch_size == 2 and plan.dataset.enable_bucket
    moved = {f.evidence["flag"] for f in findings if f.code == "IMPORT_FLAG_CHANGED" and f.severity == "info"}
    assert {"--train_data_dir", "--resolution", "--train_batch_size"} <= moved
    with pytest.raises(LoragateError, match="no `N_name` folders"):
        plan_from_setup(ImportRequest(name="mira", command=command.replace(str(data), str(data / "7_mira")), trigger="mira"))
