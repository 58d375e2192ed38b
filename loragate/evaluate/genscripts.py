"""The trainers' own generation scripts as argv lists, checked against their real flags.

- sd-scripts `gen_img.py` (SD 1.5) / `sdxl_gen_img.py` (SDXL): one process per checkpoint for
  the whole grid; each line of the `--from_file` prompt file carries its own weight (`--am`), seed
  (`--d`) and output file name (`--f`), as the scripts' prompt parser reads them.
- sd-scripts `flux_minimal_inference.py`: one process per cell, the LoRA as `path;multiplier`.
- musubi-tuner `wan_generate_video.py`: one process per cell. Wan 2.2 gets the low-noise LoRA in
  `--lora_weight` and the high-noise one in `--lora_weight_high_noise` (one file for both when the
  run trained both experts in one LoRA). Lightning LoRAs, when asked for, are stacked beside it
  at 1.0 for a 4-step preview; nothing is merged (`--save_merged_model` is never passed).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from loragate.backends.argv import Argv, python_of
from loragate.catalog.flags import script_flags
from loragate.catalog.models import ModelFamily
from loragate.core.errors import LoragateError
from loragate.evaluate.workflows import LIGHTNING_STEPS, CellSpec
from loragate.core.plan import TrainingPlan

SD_SCRIPT = {"sd": "gen_img.py", "sdxl": "sdxl_gen_img.py", "flux": "flux_minimal_inference.py"}
WAN_SCRIPT = "src/musubi_tuner/wan_generate_video.py"


class GenCommand(BaseModel):
    argv: list[str]
    cwd: str | None = None
    cells: list[int] = Field(description="Indexes of the grid cells this process makes.")
    output_dir: str
    prompt_file: str | None = Field(default=None, description="gen_img's --from_file, written before it runs.")
    prompt_text: str | None = None


def script_for(family: ModelFamily) -> str:
    if family.group == "wan":
        return WAN_SCRIPT
    if family.group == "flux":
        return SD_SCRIPT["flux"]
    train = family.scripts.get("train", "")
    # sdxl_gen_img.py has no --v_parameterization; gen_img.py --sdxl does (sd-scripts gen_img.py:1758-1810)
    return SD_SCRIPT["sdxl"] if train.startswith("sdxl") and not family.v_prediction else SD_SCRIPT["sd"]


def check_flags(argv: list[str], script: str) -> None:
    """Every option must be one the script's parser has (loragate/data/flags); a wrong one here is
    loragate's own bug, caught before a GPU process starts."""
    known = script_flags(script)
    unknown = [item for item in argv if item.startswith("--") and item not in known]
    if unknown:
        raise LoragateError(f"{Path(script).name} has no option {', '.join(unknown)}.", "This is a loragate bug: please report it.")


def _precision(argv: Argv, plan: TrainingPlan) -> None:
    argv.switch("--bf16", plan.memory.mixed_precision == "bf16").switch("--fp16", plan.memory.mixed_precision == "fp16")


def gen_img_command(plan: TrainingPlan, family: ModelFamily, lora: str, cells: list[tuple[int, CellSpec]], out: Path) -> GenCommand:
    """One sd-scripts gen_img process for every cell of one checkpoint."""
    script = script_for(family)
    prompt_file = out / "prompts.txt"
    lines = []
    for _, cell in cells:
        text = " ".join(cell.prompt.replace(" --", " -").split())
        lines.append(f"{text} --w {cell.width} --h {cell.height} --s {cell.steps} --d {cell.seed} --am {cell.weight:g} --f {cell.prefix}.png")
    argv = Argv(python_of(plan), script)
    argv.opt("--ckpt", plan.weights.base_model).opt("--outdir", str(out)).opt("--from_file", str(prompt_file))
    argv.opt("--network_module", plan.network.module).opt("--network_weights", lora).opt("--network_mul", 1.0)
    argv.opt("--sampler", "euler_a").opt("--scale", 7.0).opt("--images_per_prompt", 1).switch("--sdpa")
    sdxl_on_gen_img = script == SD_SCRIPT["sd"] and family.scripts.get("train", "").startswith("sdxl")
    argv.switch("--sdxl", sdxl_on_gen_img)
    argv.switch("--v_parameterization", family.v_prediction).switch("--zero_terminal_snr", family.zero_terminal_snr)
    _precision(argv, plan)
    check_flags(argv.items, script)
    return GenCommand(argv=argv.items, cwd=plan.trainer_dir, cells=[i for i, _ in cells], output_dir=str(out),
                      prompt_file=str(prompt_file), prompt_text="\n".join(lines) + "\n")


def flux_command(plan: TrainingPlan, index: int, cell: CellSpec, out: Path) -> GenCommand:
    script = SD_SCRIPT["flux"]
    w = plan.weights
    argv = Argv(python_of(plan), script)
    argv.opt("--ckpt_path", w.base_model).opt("--clip_l", w.clip_l).opt("--t5xxl", w.t5xxl).opt("--ae", w.ae)
    argv.opt("--prompt", cell.prompt).opt("--seed", cell.seed).opt("--steps", cell.steps).opt("--guidance", 3.5)
    argv.opt("--width", cell.width).opt("--height", cell.height).opt("--output_dir", str(out))
    argv.opt("--dtype", "bfloat16").many("--lora_weights", [f"{cell.lora};{cell.weight:g}"] if cell.lora else [])
    check_flags(argv.items, script)
    return GenCommand(argv=argv.items, cwd=plan.trainer_dir, cells=[index], output_dir=str(out))


def wan_command(
    plan: TrainingPlan, family: ModelFamily, index: int, cell: CellSpec, out: Path, lightning: list[str] | None = None,
) -> GenCommand:
    w, mem = plan.weights, plan.memory
    lightning = lightning or []
    argv = Argv(python_of(plan), WAN_SCRIPT)
    argv.opt("--task", family.task).opt("--dit", w.dit).opt("--dit_high_noise", w.dit_high_noise if family.experts else None)
    argv.opt("--vae", w.vae).opt("--t5", w.t5).opt("--clip", w.clip if family.i2v and not family.experts else None)
    own = [cell.lora] if cell.lora else []
    argv.many("--lora_weight", own + lightning[:1])
    argv.many("--lora_multiplier", [f"{cell.weight:g}"] * len(own) + ["1"] * len(lightning[:1]))
    if family.experts:
        high = [cell.lora_high] if cell.lora_high else []
        argv.many("--lora_weight_high_noise", high + lightning[1:2])
        argv.many("--lora_multiplier_high_noise", [f"{cell.weight:g}"] * len(high) + ["1"] * len(lightning[1:2]))
    argv.opt("--prompt", cell.prompt).opt("--seed", cell.seed)
    argv.many("--video_size", [str(cell.height), str(cell.width)])  # height then width (the script's order)
    argv.opt("--video_length", cell.frames).opt("--infer_steps", LIGHTNING_STEPS if lightning else cell.steps)
    if lightning:
        argv.opt("--guidance_scale", 1.0)  # distilled Lightning LoRAs run without classifier-free guidance
    argv.switch("--fp8", mem.fp8_base).switch("--fp8_scaled", mem.fp8_scaled)
    if mem.blocks_to_swap:
        argv.opt("--blocks_to_swap", mem.blocks_to_swap)
    argv.opt("--output_type", "video" if cell.frames > 1 else "images").opt("--save_path", str(out))
    check_flags(argv.items, WAN_SCRIPT)
    return GenCommand(argv=argv.items, cwd=plan.trainer_dir, cells=[index], output_dir=str(out))
