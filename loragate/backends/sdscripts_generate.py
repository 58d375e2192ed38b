"""sd-scripts' generation scripts for the evaluation grid.

- `gen_img.py` (SD 1.5, v-prediction SDXL with --sdxl) / `sdxl_gen_img.py` (SDXL): one process per
  LoRA file for the whole grid; each line of the `--from_file` prompt file carries its own weight
  (`--am`), seed (`--d`) and output file name (`--f`), as the scripts' prompt parser reads them.
- `flux_minimal_inference.py` (FLUX.1 dev, Chroma) and `sd3_minimal_inference.py` (SD 3.5): one
  process per cell from the family's template in loragate/data/generation.toml, the LoRA as
  `path;multiplier`.
"""

from __future__ import annotations

from pathlib import Path

from loragate.backends.argv import Argv, python_of
from loragate.backends.generation import CellSpec, GenCommand, cell_command, check_flags, require_generator
from loragate.catalog.models import ModelFamily
from loragate.core.plan import TrainingPlan


def gen_img_command(plan: TrainingPlan, family: ModelFamily, lora: str, cells: list[tuple[int, CellSpec]], out: Path) -> GenCommand:
    """One sd-scripts gen_img process for every cell of one checkpoint."""
    script = require_generator(family).script
    prompt_file = out / "prompts.txt"
    lines = []
    for _, cell in cells:
        text = " ".join(cell.prompt.replace(" --", " -").split())
        lines.append(f"{text} --w {cell.width} --h {cell.height} --s {cell.steps} --d {cell.seed} --am {cell.weight:g} --f {cell.prefix}.png")
    argv = Argv(python_of(plan), script)
    argv.opt("--ckpt", plan.weights.base_model).opt("--outdir", str(out)).opt("--from_file", str(prompt_file))
    argv.opt("--network_module", plan.network.module).opt("--network_weights", lora).opt("--network_mul", 1.0)
    argv.opt("--sampler", "euler_a").opt("--scale", 7.0).opt("--images_per_prompt", 1).switch("--sdpa")
    # gen_img.py draws SDXL with --sdxl (sd-scripts gen_img.py:1758-1810)
    argv.switch("--sdxl", script == "gen_img.py" and family.scripts.get("train", "").startswith("sdxl"))
    argv.switch("--v_parameterization", family.v_prediction).switch("--zero_terminal_snr", family.zero_terminal_snr)
    argv.switch("--bf16", plan.memory.mixed_precision == "bf16").switch("--fp16", plan.memory.mixed_precision == "fp16")
    check_flags(argv.items, script)
    return GenCommand(argv=argv.items, cwd=plan.trainer_dir, cells=[i for i, _ in cells], output_dir=str(out),
                      prompt_file=str(prompt_file), prompt_text="\n".join(lines) + "\n")


def generation_commands(plan: TrainingPlan, family: ModelFamily, cells: list[CellSpec], out: Path, lightning: list[str]) -> list[GenCommand]:
    """gen_img: one process per LoRA file (`out/run-NN`); the others one per cell (`out/<cell prefix>`)."""
    if require_generator(family).builder == "gen_img":
        by_lora: dict[str, list[tuple[int, CellSpec]]] = {}
        for index, cell in enumerate(cells):
            by_lora.setdefault(cell.lora or "", []).append((index, cell))
        return [gen_img_command(plan, family, lora, group, out / f"run-{n:02d}") for n, (lora, group) in enumerate(by_lora.items())]
    return [cell_command(plan, i, cell, out / cell.prefix) for i, cell in enumerate(cells)]
