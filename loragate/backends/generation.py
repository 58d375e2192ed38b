"""The trainers' own generation scripts as data (loragate/data/generation.toml): which script draws
a family's pictures, and the argv of one grid cell filled in from the family's template.

The evaluation (loragate.evaluate) hands the backend its cells and gets back the processes to run;
only the backends know the scripts' flag names.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from loragate.backends.argv import Argv, fmt, python_of
from loragate.catalog.datafile import read_data_toml
from loragate.catalog.flags import script_flags
from loragate.catalog.models import ModelFamily, get_family
from loragate.core.errors import LoragateError
from loragate.core.plan import TrainingPlan, WeightPaths
from loragate.dataset.scan import IMAGE_EXTENSIONS  # musubi's own list: what a control/ folder may hold

# lightx2v Wan2.2-Lightning: 4 steps at CFG 1 (the release's model card; Wan2GP issue #748 "cfg:1, steps:4")
LIGHTNING_STEPS = 4
CELL_VALUES = {"prompt", "seed", "steps", "width", "height", "frames", "output", "output_type", "task", "lora", "weight"}


class CellSpec(BaseModel):
    """Everything one generated picture depends on."""

    prompt: str
    seed: int
    weight: float
    width: int
    height: int
    steps: int
    frames: int = 1
    lora: str | None = Field(description="LoRA file; for Wan 2.2 the low-noise expert's (None: that expert has none).")
    lora_high: str | None = Field(default=None, description="Wan 2.2: the high-noise expert's LoRA (the same file when one LoRA covers both).")
    prefix: str = Field(description="Output file name prefix.")


class GenCommand(BaseModel):
    argv: list[str]
    cwd: str | None = None
    cells: list[int] = Field(description="Indexes of the grid cells this process makes.")
    output_dir: str
    prompt_file: str | None = Field(default=None, description="gen_img's --from_file, written before it runs.")
    prompt_text: str | None = None


class Generator(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key in the data file is an error

    script: str
    builder: Literal["per_cell", "gen_img", "wan"]
    argv: list[str] = []
    lora: list[str] = []
    lora_modules: list[str] = []
    memory: dict[Literal["fp8_base", "fp8_scaled", "blocks_to_swap"], str] = {}
    precision: dict[Literal["bf16", "fp16"], str] = {}
    start_image: str | None = None
    start_options: list[str] = []
    lycoris: str | None = None
    lora_prefixes: list[str] = []

    def placeholders(self) -> set[str]:
        return {part for item in self.argv + self.lora for part in _names(item)}


class GeneratorsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    generator: dict[str, Generator]


def _names(item: str) -> list[str]:
    """The "{name}"s inside one argv item."""
    return [chunk.split("}", 1)[0] for chunk in item.split("{")[1:] if "}" in chunk]


@lru_cache(maxsize=1)
def load_generators() -> dict[str, Generator]:
    generators = GeneratorsFile.model_validate(read_data_toml("generation.toml")).generator
    for key, gen in generators.items():
        unknown = gen.placeholders() - set(WeightPaths.model_fields) - CELL_VALUES
        if unknown:
            raise LoragateError(f"generation.toml: {key} names {sorted(unknown)}, which is neither a weight role nor a cell value.",
                                "Fix loragate/data/generation.toml.")
    return generators


def generator_for(family: ModelFamily) -> Generator | None:
    """The family's generator, else its parent's (a variant), else None."""
    generators = load_generators()
    return generators.get(family.id) or (generators.get(family.variant_of) if family.variant_of else None)


def require_generator(family: ModelFamily) -> Generator:
    gen = generator_for(family)
    if gen is None:
        raise LoragateError(
            f"The evaluation has no generation command for {family.display_name}: loragate/data/generation.toml names no script for it.",
            "Judge the LoRA by the trainer's own samples (the progression sheet samples.png in the project folder), or load it in ComfyUI by hand.",
        )
    return gen


def script_for(family: ModelFamily) -> str:
    """The generation script's path in the trainer checkout."""
    return require_generator(family).script


def check_flags(argv: list[str], script: str) -> None:
    """Every option must be one the script's parser has (loragate/data/flags); a wrong one here is
    loragate's own bug, caught before a GPU process starts."""
    known = script_flags(script)
    unknown = [item for item in argv if item.startswith("--") and item not in known]
    if unknown:
        raise LoragateError(f"{Path(script).name} has no option {', '.join(unknown)}.", "This is a loragate bug: please report it.")


def start_image(plan: TrainingPlan, family: ModelFamily) -> str | None:
    """The starting picture an edit or image-to-video model needs: the first picture of the dataset's
    control/ folder (the pairs it learnt from), or the dataset's first picture (image-to-video)."""
    if family.control_images:
        folders = [s.control_path for s in plan.dataset.subsets if s.control_path]
        what = "control/ folder with starting pictures"
    elif family.i2v:
        folders = [s.path for s in plan.dataset.subsets if s.kind == "image"]
        what = "pictures to start the clips from"
    else:
        return None
    for folder in folders:
        found = sorted(p for p in Path(str(folder)).glob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        if found:
            return str(found[0])
    if folders and not any(Path(str(f)).is_dir() for f in folders):
        raise LoragateError(
            f"{family.display_name} starts every picture from a picture of the dataset, and {folders[0]} is not on this machine.",
            "Run `loragate eval` where the dataset is (the machine that trained), or judge the LoRA by the trainer's own samples.",
        )
    raise LoragateError(
        f"{family.display_name} starts every picture from another picture, and the plan's dataset has no {what} to take one from.",
        f"Add pictures there ({plan.dataset.path}), or judge the LoRA by the trainer's own samples.",
    )


def refusal(plan: TrainingPlan, family: ModelFamily) -> str | None:
    """Why the family's script cannot load this plan's LoRA, in words, or None."""
    gen = require_generator(family)
    if gen.lora_modules and plan.network.module not in gen.lora_modules:
        return (f"{Path(gen.script).name} loads only {' or '.join(gen.lora_modules)} files, and this plan trains "
                f"{plan.network.module} (the script's --lora_weights help says so).")
    return None


def _fill(items: list[str], values: dict[str, str | None]) -> list[str]:
    """The template with its "{name}"s filled in; an option whose value is unset goes with it."""
    out: list[str] = []
    for item in items:
        names = _names(item)
        if not names:
            out.append(item)
            continue
        if any(values.get(n) is None for n in names):
            if out and out[-1].startswith("--"):
                out.pop()
            continue
        for name in names:
            item = item.replace("{" + name + "}", str(values[name]))
        out.append(item)
    return out


def cell_command(plan: TrainingPlan, index: int, cell: CellSpec, out: Path, start: str | None = None) -> GenCommand:
    """One process of a per-cell generator for one grid cell."""
    family = get_family(plan.model)
    gen = require_generator(family)
    mem = plan.memory
    weights = {role: getattr(plan.weights, role) for role in WeightPaths.model_fields}
    values: dict[str, str | None] = {
        **weights, "task": family.task, "prompt": cell.prompt, "seed": fmt(cell.seed), "steps": fmt(cell.steps),
        "width": fmt(cell.width), "height": fmt(cell.height), "frames": fmt(cell.frames), "output": str(out),
        "output_type": "video" if cell.frames > 1 else "images", "lora": cell.lora, "weight": f"{cell.weight:g}",
    }
    argv = Argv(python_of(plan), gen.script)
    argv.items += _fill(gen.argv, values) + _fill(gen.lora, values)
    if gen.lycoris and cell.lora and plan.network.module != family.network_module:
        argv.switch(gen.lycoris)  # a LoHa / LoKr, which this script loads only through LyCORIS
    if start and gen.start_image:
        argv.opt(gen.start_image, start)
        argv.items += gen.start_options
    argv.switch(gen.memory.get("fp8_base", ""), bool(mem.fp8_base and "fp8_base" in gen.memory))
    argv.switch(gen.memory.get("fp8_scaled", ""), bool(mem.fp8_scaled and "fp8_scaled" in gen.memory))
    if mem.blocks_to_swap and "blocks_to_swap" in gen.memory:
        argv.opt(gen.memory["blocks_to_swap"], mem.blocks_to_swap)
    if mem.mixed_precision in gen.precision:
        argv.switch(gen.precision[mem.mixed_precision])
    check_flags(argv.items, gen.script)
    return GenCommand(argv=argv.items, cwd=plan.trainer_dir, cells=[index], output_dir=str(out))
