"""loragate eval through the trainer's own generation script for the families beyond SD, SDXL, FLUX.1
dev and Wan video: Qwen-Image (and -Edit), Z-Image, FLUX.2, FLUX.1 Kontext, HunyuanVideo 1.5, Wan 2.1
T2I (musubi-tuner) and SD 3.5, Chroma, NoobAI-XL v-pred (sd-scripts). The stand-ins parse with the
real scripts' flags and load a LoRA only through the layers its network targets, so a grid that
changes with the weight shows the LoRA went in with its multiplier.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import time
from pathlib import Path

import pytest

from loragate.backends.generation import generator_for
from loragate.catalog.models import family_ids, get_family
from loragate.core.errors import LoragateError
from loragate.evaluate.lora_keys import PREFIXES, architecture
from loragate.evaluate.run import EvalRequest, evaluate
from loragate.plan.new import new_plan
from loragate.plan.store import save_plan
from tests.eval_helpers import write_lora
from tests.media import write_safetensors_header
from tests.plan_helpers import FAKES, control_dataset, family_dataset, wan_dataset

NEW_FAMILIES = (
    "qwen-image", "qwen-image-edit", "qwen-image-edit-2509", "qwen-image-edit-2511", "zimage", "flux2-dev",
    "flux2-klein-base-4b", "flux2-klein-base-9b", "flux1-kontext-dev", "hunyuan-video-1.5-t2v", "hunyuan-video-1.5-i2v",
    "wan2.1-t2i-14b", "sd3.5-large", "sd3.5-medium", "chroma", "noobai-xl-vpred",
    "wan2.1-i2v-14b",  # not new, but its script opens --image_path, which the grid gave it only from here on
)
# what each family's command must say beyond the script's name (the real scripts' docs)
EXPECTED: dict[str, tuple[str, ...]] = {
    "qwen-image": ("--model_version original", "--guidance_scale 4.0", "--negative_prompt ' '"),
    "qwen-image-edit": ("--model_version edit", "--control_image_path", "--resize_control_to_official_size"),
    "qwen-image-edit-2509": ("--model_version edit-2509", "--control_image_path"),
    "qwen-image-edit-2511": ("--model_version edit-2511", "--control_image_path", "--resize_control_to_official_size"),
    "zimage": ("--text_encoder", "--guidance_scale 4.0"),
    "flux2-dev": ("--model_version dev",),
    "flux2-klein-base-4b": ("--model_version klein-base-4b",),
    "flux2-klein-base-9b": ("--model_version klein-base-9b",),
    "flux1-kontext-dev": ("--text_encoder1", "--text_encoder2", "--control_image_path"),
    "hunyuan-video-1.5-t2v": ("--byt5", "--video_length", "--output_type video"),
    "hunyuan-video-1.5-i2v": ("--image_encoder", "--image_path"),
    "wan2.1-t2i-14b": ("--task t2i-14B", "--video_length 1", "--output_type images"),
    "sd3.5-large": ("--clip_g", "--cfg_scale 5.0"),
    "sd3.5-medium": ("--clip_g",),
    "chroma": ("--model_type chroma", "--apply_t5_attn_mask", "--cfg_scale 4.0", "--negative_prompt"),
    "noobai-xl-vpred": ("--sdxl", "--v_parameterization", "--zero_terminal_snr"),
    "wan2.1-i2v-14b": ("--task i2v-14B", "--clip", "--image_path"),
}


def lora_keys(family: str) -> tuple[str, ...]:
    """Two LoRA layers named as the family's network names them."""
    facts = get_family(family)
    gen = generator_for(facts)
    prefixes = (gen.lora_prefixes if gen and gen.lora_prefixes else None) or PREFIXES[architecture(facts)]
    return (f"{prefixes[0]}0_attn_to_q", f"{prefixes[0]}1_mlp_fc1")


def model_files(root: Path, family: str) -> dict[str, str]:
    """A header-only file for every weight role the family names (the stand-ins check they exist)."""
    roles = dict(get_family(family).weights_files)
    return {role: str(write_safetensors_header(root / "models" / f"{role}.safetensors", {"w": ("BF16", [8])})) for role in roles}


def eval_project(root: Path, family: str, data: Path | None = None, **options: object):
    """A plan of `family` with the stand-in trainer, two checkpoints and the final LoRA."""
    facts = get_family(family)
    trainer = FAKES / ("musubi-tuner" if facts.trainer == "musubi" else "sd-scripts")
    data = data or family_dataset(family, root)
    plan = new_plan("mira", family, data, "mira", gpu_gb=80, weights=model_files(root, family),  # type: ignore[arg-type]
                    trainer_dir=str(trainer), trainer_python=sys.executable, **options)
    save_plan(plan)
    out = Path(plan.output_dir)
    stamp = time.time() - 1000
    for n, name in enumerate(("mira-000002", "mira-000004", "mira")):
        path = write_lora(out / f"{name}.safetensors", lora_keys(family))
        os.utime(path, (stamp + n, stamp + n))
    return plan


def _commands(report_grid: str | None) -> list[str]:
    log = (Path(str(report_grid)).parent / "generate.log").read_text()
    return [line[2:] for line in log.splitlines() if line.startswith("$ ")]


@pytest.mark.parametrize("family", NEW_FAMILIES)
def test_each_new_family_draws_its_grid_with_its_own_script(workspace: Path, monkeypatch: pytest.MonkeyPatch, family: str) -> None:
    monkeypatch.setenv("LORAGATE_LOCK_DIR", str(workspace.parent / "locks"))
    plan = eval_project(workspace, family)
    report = evaluate(EvalRequest(project="mira", engine="scripts", max_standard_prompts=1, weights=[1.0]))
    assert report.engine == "scripts" and report.verdict == "GO", [c.error for c in report.cells] + [f.message for f in report.findings]
    assert all(c.output and Path(c.output).is_file() for c in report.cells)
    assert all(m.takes_effect for m in report.measures)  # the LoRA was loaded at its weight: the pictures moved
    commands = _commands(report.measures[0].grid)
    script = Path(generator_for(get_family(family)).script).name  # type: ignore[union-attr]
    assert commands and all(shlex.split(c)[1].endswith(script) for c in commands)
    final = str(Path(plan.output_dir) / "mira.safetensors")
    with_lora = next(c for c in commands if final in c)
    for piece in EXPECTED[family]:
        assert piece in with_lora, f"{family}: {piece!r} not in {with_lora}"
    if get_family(family).control_images:
        assert f"--control_image_path {plan.dataset.subsets[0].control_path}/img00.jpg" in with_lora
        assert any("starts every picture from" in n for n in report.notes)


def test_a_gen_img_family_is_one_process_per_lora_the_others_one_per_picture(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LORAGATE_LOCK_DIR", str(workspace.parent / "locks"))
    eval_project(workspace, "qwen-image")
    report = evaluate(EvalRequest(project="mira", engine="scripts", max_standard_prompts=2, weights=[0.5, 1.0]))
    commands = _commands(report.measures[0].grid)
    # 2 prompts x (weight 0 once + 2 weights x 3 checkpoints): one musubi process per picture
    assert len(report.cells) == len(commands) == 14
    multipliers = sorted({shlex.split(c)[shlex.split(c).index("--lora_multiplier") + 1] for c in commands})
    assert multipliers == ["0", "0.5", "1"]
    assert {shlex.split(c)[shlex.split(c).index("--seed") + 1] for c in commands} == {"1234"}


def test_a_new_family_exports_commands_without_comfyui_workflows(workspace: Path) -> None:
    eval_project(workspace, "flux1-kontext-dev")
    report = evaluate(EvalRequest(project="mira", engine="export", max_standard_prompts=1, weights=[1.0]))
    assert not [p for p in report.exported if "/workflows/" in p]
    script = next(Path(p) for p in report.exported if p.endswith("commands.sh"))
    assert script.read_text().count("flux_kontext_generate_image.py") == 4


def test_a_kontext_loha_is_loaded_through_lycoris(workspace: Path) -> None:
    # musubi-tuner docs/loha_lokr.md: FLUX.1 Kontext needs --lycoris for LoHa/LoKr; Qwen-Image loads them itself
    for family, switch in (("flux1-kontext-dev", True), ("qwen-image", False)):
        shutil.rmtree(workspace / "grimoire", ignore_errors=True)
        eval_project(workspace / family, family, network="loha")
        report = evaluate(EvalRequest(project="mira", engine="export", max_standard_prompts=1, weights=[1.0]))
        lines = [line for line in Path(next(p for p in report.exported if p.endswith("commands.sh"))).read_text().splitlines()
                 if "_generate_image.py" in line]
        assert lines and all(("--lycoris" in line) == switch for line in lines if "mira.safetensors" in line or "mira-0" in line)


def test_auto_never_picks_comfyui_for_a_family_without_a_workflow(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LORAGATE_LOCK_DIR", str(workspace.parent / "locks"))
    plan = eval_project(workspace, "zimage")
    report = evaluate(EvalRequest(project="mira", max_standard_prompts=1, weights=[1.0]))
    assert report.engine == "scripts" and any("no ComfyUI workflow for Z-Image" in n for n in report.notes)
    plan.trainer_dir = str(workspace / "no-trainer-here")
    save_plan(plan)
    report = evaluate(EvalRequest(project="mira", max_standard_prompts=1, weights=[1.0]))
    assert report.engine == "export" and any("the trainer's commands were exported" in n for n in report.notes)


def test_comfyui_is_refused_for_a_family_it_has_no_workflow_for(workspace: Path) -> None:
    eval_project(workspace, "zimage")
    with pytest.raises(LoragateError, match="no ComfyUI workflow for Z-Image") as caught:
        evaluate(EvalRequest(project="mira", engine="comfyui", max_standard_prompts=1, weights=[1.0]))
    assert "--engine scripts" in (caught.value.fix or "")


@pytest.mark.parametrize(("family", "script"), [("sd3.5-large", "sd3_minimal_inference.py"), ("chroma", "flux_minimal_inference.py")])
def test_a_network_the_minimal_inference_scripts_cannot_load_is_refused_in_words(workspace: Path, family: str, script: str) -> None:
    eval_project(workspace, family, network="loha")
    with pytest.raises(LoragateError, match=f"{script} loads only") as caught:
        evaluate(EvalRequest(project="mira", engine="scripts", max_standard_prompts=1, weights=[1.0]))
    assert "lycoris.kohya" in caught.value.message and "samples" in (caught.value.fix or "")


def test_an_edit_model_without_starting_pictures_is_refused_in_words(workspace: Path) -> None:
    plan = eval_project(workspace, "qwen-image-edit", data=control_dataset(workspace))
    control = Path(str(plan.dataset.subsets[0].control_path))
    for picture in control.iterdir():
        picture.unlink()
    with pytest.raises(LoragateError, match="starts every picture from another picture") as caught:
        evaluate(EvalRequest(project="mira", engine="scripts", max_standard_prompts=1, weights=[1.0]))
    assert "control/ folder" in caught.value.message
    control.rmdir()  # a dataset on another machine: which picture is first cannot be known here
    with pytest.raises(LoragateError, match="is not on this machine") as caught:
        evaluate(EvalRequest(project="mira", engine="export", max_standard_prompts=1, weights=[1.0]))
    assert "where the dataset is" in (caught.value.fix or "")


def test_image_to_video_without_a_picture_in_the_dataset_is_refused_in_words(workspace: Path) -> None:
    data = wan_dataset(workspace, images=0)
    eval_project(workspace, "hunyuan-video-1.5-i2v", data=data)
    with pytest.raises(LoragateError, match="no pictures to start the clips from"):
        evaluate(EvalRequest(project="mira", engine="export", max_standard_prompts=1, weights=[1.0]))


def test_every_family_has_a_generation_script_with_a_flag_list() -> None:
    from loragate.catalog.flags import known_scripts

    for family in family_ids():
        gen = generator_for(get_family(family))
        assert gen is not None, f"{family} has no entry in loragate/data/generation.toml"
        assert Path(gen.script).name in known_scripts(), f"{family}: {gen.script} has no flag list"


def test_a_wrong_lora_for_a_new_family_blocks_before_any_picture(workspace: Path) -> None:
    plan = eval_project(workspace, "qwen-image")
    write_lora(Path(plan.output_dir) / "mira.safetensors", lora_keys("hunyuan-video-1.5-t2v"))
    report = evaluate(EvalRequest(project="mira", engine="scripts", max_standard_prompts=1, weights=[1.0]))
    assert not report.cells  # nothing was spent on pictures that could not show the LoRA
    assert any(f.code == "EVAL_LORA_KEYS" and "Qwen-Image" in f.message for f in report.findings)
