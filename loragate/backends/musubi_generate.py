"""musubi-tuner's generation scripts for the evaluation grid.

- `wan_generate_video.py`: one process per cell. Wan 2.2 gets the low-noise LoRA in
  `--lora_weight` and the high-noise one in `--lora_weight_high_noise` (one file for both when the
  run trained both experts in one LoRA). Lightning LoRAs, when asked for, are stacked beside it
  at 1.0 for a 4-step preview; nothing is merged (`--save_merged_model` is never passed). The
  image-to-video tasks start from the dataset's first picture (`--image_path`).
- Qwen-Image (and -Edit), Z-Image, FLUX.2, FLUX.1 Kontext, HunyuanVideo 1.5: one process per
  cell from the family's template in loragate/data/generation.toml (loragate.backends.generation).
"""

from __future__ import annotations

from pathlib import Path

from loragate.backends.argv import Argv, python_of
from loragate.backends.generation import (
    LIGHTNING_STEPS,
    CellSpec,
    GenCommand,
    cell_command,
    check_flags,
    require_generator,
    start_image,
)
from loragate.catalog.models import ModelFamily
from loragate.core.plan import TrainingPlan


def wan_command(
    plan: TrainingPlan, family: ModelFamily, index: int, cell: CellSpec, out: Path, lightning: list[str] | None = None,
    start: str | None = None,
) -> GenCommand:
    script = require_generator(family).script
    w, mem = plan.weights, plan.memory
    lightning = lightning or []
    argv = Argv(python_of(plan), script)
    argv.opt("--task", family.task).opt("--dit", w.dit).opt("--dit_high_noise", w.dit_high_noise if family.experts else None)
    argv.opt("--vae", w.vae).opt("--t5", w.t5).opt("--clip", w.clip if family.i2v and not family.experts else None)
    own = [cell.lora] if cell.lora else []
    argv.many("--lora_weight", own + lightning[:1])
    argv.many("--lora_multiplier", [f"{cell.weight:g}"] * len(own) + ["1"] * len(lightning[:1]))
    if family.experts:
        high = [cell.lora_high] if cell.lora_high else []
        argv.many("--lora_weight_high_noise", high + lightning[1:2])
        argv.many("--lora_multiplier_high_noise", [f"{cell.weight:g}"] * len(high) + ["1"] * len(lightning[1:2]))
    # the I2V tasks open --image_path unconditionally (wan_generate_video.py prepare_i2v_inputs)
    argv.opt("--image_path", start if family.i2v else None)
    argv.opt("--prompt", cell.prompt).opt("--seed", cell.seed)
    argv.many("--video_size", [str(cell.height), str(cell.width)])  # height then width (the script's order)
    argv.opt("--video_length", cell.frames).opt("--infer_steps", LIGHTNING_STEPS if lightning else cell.steps)
    if lightning:
        argv.opt("--guidance_scale", 1.0)  # distilled Lightning LoRAs run without classifier-free guidance
    argv.switch("--fp8", mem.fp8_base).switch("--fp8_scaled", mem.fp8_scaled)
    if mem.blocks_to_swap:
        argv.opt("--blocks_to_swap", mem.blocks_to_swap)
    argv.opt("--output_type", "video" if cell.frames > 1 else "images").opt("--save_path", str(out))
    check_flags(argv.items, script)
    return GenCommand(argv=argv.items, cwd=plan.trainer_dir, cells=[index], output_dir=str(out))


def generation_commands(plan: TrainingPlan, family: ModelFamily, cells: list[CellSpec], out: Path, lightning: list[str]) -> list[GenCommand]:
    """One process per cell, each writing into its own folder under `out`."""
    start = start_image(plan, family)
    if require_generator(family).builder == "wan":
        return [wan_command(plan, family, i, cell, out / cell.prefix, lightning, start) for i, cell in enumerate(cells)]
    return [cell_command(plan, i, cell, out / cell.prefix, start) for i, cell in enumerate(cells)]
