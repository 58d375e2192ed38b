"""The real generation scripts' parsers read every family's evaluation command as loragate means it:
the model files by role, the LoRA with its weight, prompt, seed, steps, size, output folder, model
selector and starting picture (tests/contract/probe.py imports the scripts' own parsers).

Skips, saying how to run it, without SD_SCRIPTS_DIR / MUSUBI_TUNER_DIR or ../shared/trainers/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loragate.backends import generation_commands
from loragate.backends.generation import CellSpec, GenCommand, generator_for, start_image
from loragate.catalog.models import ModelFamily, family_ids, get_family
from loragate.core.plan import TrainingPlan
from loragate.plan.new import new_plan
from tests.contract.realcode import ask
from tests.plan_helpers import family_dataset
from tests.test_eval_families import model_files

# script -> the parsed names of prompt, seed, steps and output folder, and how the size is given
MUSUBI_IMAGE = {"prompt": "prompt", "seed": "seed", "steps": "infer_steps", "output": "save_path", "size": "image_size"}
SD_MINIMAL = {"prompt": "prompt", "seed": "seed", "steps": "steps", "output": "output_dir", "size": "width height"}
MEANS: dict[str, dict[str, str]] = {
    "qwen_image_generate_image.py": MUSUBI_IMAGE, "zimage_generate_image.py": MUSUBI_IMAGE,
    "flux_2_generate_image.py": MUSUBI_IMAGE, "flux_kontext_generate_image.py": MUSUBI_IMAGE,
    "hv_1_5_generate_video.py": {**MUSUBI_IMAGE, "size": "video_size"},
    "wan_generate_video.py": {**MUSUBI_IMAGE, "size": "video_size"},
    "flux_minimal_inference.py": SD_MINIMAL, "sd3_minimal_inference.py": SD_MINIMAL,
}
# weight role -> the option's parsed name where the two differ (the scripts' docs)
ROLE_DEST = {"flux_kontext_generate_image.py": {"t5xxl": "text_encoder1", "clip_l": "text_encoder2"},
             "gen_img.py": {"base_model": "ckpt"}, "sdxl_gen_img.py": {"base_model": "ckpt"}}
CELL = CellSpec(prompt="mira woman, close-up portrait", seed=1234, weight=0.7, width=832, height=1216, steps=12, frames=1,
                lora="/runs/mira/mira.safetensors", lora_high="/runs/mira/mira.safetensors", prefix="c0-w0_7-p00")


def _intended(plan: TrainingPlan, family: ModelFamily, command: GenCommand, script: str) -> dict[str, Any]:
    """dest -> value loragate means the script to read."""
    want: dict[str, Any] = {}
    for role in family.weights_files:
        want[ROLE_DEST.get(script, {}).get(role, "ckpt_path" if role == "base_model" else role)] = getattr(plan.weights, role)
    if script in ("gen_img.py", "sdxl_gen_img.py"):
        return {**want, "outdir": command.output_dir, "from_file": command.prompt_file, "network_weights": [CELL.lora],
                "network_mul": [1.0], "network_module": [plan.network.module],
                **({"v_parameterization": True, "sdxl": True} if family.v_prediction else {})}
    means = MEANS[script]
    want.update({means["prompt"]: CELL.prompt, means["seed"]: CELL.seed, means["steps"]: CELL.steps, means["output"]: command.output_dir})
    if means["size"] == "width height":
        want.update(width=CELL.width, height=CELL.height, lora_weights=[f"{CELL.lora};{CELL.weight:g}"])
    else:
        want.update({means["size"]: [CELL.height, CELL.width], "lora_weight": [CELL.lora], "lora_multiplier": [CELL.weight]})
    if script in ("qwen_image_generate_image.py", "flux_2_generate_image.py"):
        want["model_version"] = family.task
    if script == "wan_generate_video.py":
        want.update(task=family.task, video_length=CELL.frames)
    if family.model_type:
        want["model_type"] = family.model_type
    if script == "flux_kontext_generate_image.py":
        want["lycoris"] = plan.network.module != family.network_module
    start = start_image(plan, family)
    if start:
        dest = "image_path" if family.i2v else "control_image_path"
        want[dest] = [start] if script == "qwen_image_generate_image.py" else start
    return want


def test_every_family_generation_command_reads_as_loragate_means(checkouts: dict[str, Path], workspace: Path) -> None:
    requests: dict[str, list[dict[str, Any]]] = {"sdscripts": [], "musubi": []}
    expected: dict[str, list[tuple[str, dict[str, Any]]]] = {"sdscripts": [], "musubi": []}
    # every family, and a LoHa where a script loads it only through LyCORIS (musubi docs/loha_lokr.md)
    for number, (fid, options) in enumerate([(fid, {}) for fid in family_ids()] + [("flux1-kontext-dev", {"network": "loha"})]):
        family = get_family(fid)
        assert generator_for(family) is not None, fid
        root = workspace / f"{number:02d}"
        plan = new_plan("mira", fid, family_dataset(fid, root), "mira", gpu_gb=24, weights=model_files(root, fid), **options)  # type: ignore[arg-type]
        for command in generation_commands(plan.backend)(plan, family, [CELL], root / "out", []):
            script = Path(command.argv[1]).name
            requests[plan.backend].append({"op": "parse", "script": script, "argv": command.argv[2:]})
            expected[plan.backend].append((f"{fid} {script}", _intended(plan, family, command, script)))
    problems: list[str] = []
    for trainer, checkout in checkouts.items():
        for (label, want), answer in zip(expected[trainer], ask(trainer, checkout, requests[trainer])):
            if "error" in answer:
                problems.append(f"{label}: {answer['error']}")
                continue
            got = answer["args"]
            problems += [f"{label} {key}: loragate means {value!r}, the script reads {got.get(key)!r}"
                         for key, value in want.items() if got.get(key) != value]
    assert expected["musubi"] and expected["sdscripts"] and not problems, "\n".join(problems)
